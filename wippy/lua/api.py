"""How Python functions become Wippy's Lua API, and the conventions at the boundary.

Lua reaches Python through exactly one function, :func:`dispatch` (an upvalue of the prelude):
``py(n, ...)`` runs op number ``n``. API members are *described* to Lua, which then makes a
closure of one of a few factory prototypes (``prelude.lua``), once per Lua state:

======  ========================================================  ==========================
kind    Lua member                                                registered with
======  ========================================================  ==========================
``f``   ``function(...) return ret(py(op, ...)) end``             :func:`function`
``m``   the same with the object's fields first (``self[1..3]``)  :func:`method`
``b``   ``function(...) return ret(co_yield(req, ...)) end``      :func:`blocking` (driver)
``mb``  the blocking call with the object's fields first          :func:`blocking` (driver)
``g``   ``function(self) return self[i] end``                     :func:`field`
``c``   a constant                                                :func:`constant`
``t``   a nested lazy table (``process.registry``)                :func:`subtable`
``o``   an object made once per state (``time.utc``)               ``MEMBERS`` directly
======  ========================================================  ==========================

Rejected: exposing Python callables or objects directly (lupa wraps each in a userdata with
bookkeeping: ~400 bytes per object per Lua state, ~10 KB for one module); one Lua prototype per
API function (~400 bytes each in every state).

Calling conventions: functions receive raw lupa values (``bytes`` for Lua strings, lupa tables)
and return a Lua-ready value or tuple (bytes, numbers, booleans, None, Lua objects, handles),
or :class:`New` for an object. Errors are exceptions (``ApiError`` with Wippy's kind, any
``WippyError``; ``ValueError``/``TypeError`` become ``INVALID``), which Lua receives as
``nil, err``. A process that ends itself inside a call (``terminate`` of its own PID, a failed
link, a workflow whose code no longer matches its journal) gets ``ok = nil``: Lua yields, and
the driver ends the process.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from ..errors import (
    LinkFailed,
    LuaFailure,
    NondeterminismError,
    Terminated,
    WippyError,
)
from ..runtime.proc import Event, Message
from . import engine, errkinds
from .engine import LuaMemoryError, to_lua

__all__ = ["function", "method", "field", "constant", "subtable", "raw_op", "dispatch", "New",
           "ApiError", "text", "received", "receive_result", "LuaRef", "TimeValue", "FutureDone", "op_numbers",
           "MEMBERS", "current_ctx", "error_result", "error_object", "lua_value", "Raise", "LuaFailure",
           "blocking", "BLOCKING", "req_numbers", "unavailable"]

log = logging.getLogger("wippy.lua")

MEMBERS: dict[str, dict[str, tuple[str, Any]]] = {}   # table ("@Class" for classes) -> name -> desc
_OPS: list[Callable[..., Any]] = []
_OP_NAMES: dict[str, int] = {}


class ApiError(WippyError):
    """An error for Lua's ``nil, err`` with Wippy's kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Raise(ApiError):
    """An error Lua raises where the API was called, instead of returning ``nil, err``."""


class New(tuple):
    """Returned by an API function: a new Lua object ``New((b"Class", field1, ...))``."""

    __slots__ = ()


def _register(name: str, fn: Callable[..., Any]) -> int:
    if name in _OP_NAMES:
        raise RuntimeError(f"Lua op {name} registered twice")
    _OP_NAMES[name] = len(_OPS)
    _OPS.append(fn)
    return _OP_NAMES[name]


def op_numbers() -> dict[str, int]:
    """Op name -> number (the numbers Lua sources get for ``OP.<name>``)."""
    return dict(_OP_NAMES)


def _api(fn: Callable[..., Any]) -> Callable[..., tuple]:
    @functools.wraps(fn)
    def call(*args: Any) -> tuple:
        try:
            r = fn(*args)
        except (Terminated, LinkFailed, NondeterminismError) as exc:  # the caller ends
            st = engine.current()
            if st is not None:
                st.ctx.exit_exc = exc
                st.killed = st.killed or "exit"
            return (None,)
        except LuaMemoryError:
            st = engine.current()
            if st is not None:
                st.killed = st.killed or "memory"
            return (None,)
        except (WippyError, ValueError, TypeError, KeyError, OverflowError) as exc:
            return error_result(exc)
        t = type(r)
        if t is tuple:
            return (True, *r)
        if t is New:
            return (2, *r)
        return (True, r)
    return call


def raw_op(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an internal op under ``OP.<name>`` (used by name in the Lua sources)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _register(name, fn)
        return fn
    return deco


def internal(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an internal op with the API conventions (``ret(py(OP.<name>, ...))`` in Lua)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _register(name, _api(fn))
        return fn
    return deco


def function(table: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``table.name`` (a module function) implemented by the decorated function."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        member = name or fn.__name__.rstrip("_")
        n = _register(f"{table}.{member}", _api(fn))
        MEMBERS.setdefault(table, {})[member] = ("f", n)
        return fn
    return deco


def method(cls: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register method ``name`` of class ``cls``: called as ``fn(f1, f2, f3, *args)`` with the
    object's first three fields."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        member = name or fn.__name__.rstrip("_")
        n = _register(f"@{cls}.{member}", _api(fn))
        MEMBERS.setdefault("@" + cls, {})[member] = ("m", n)
        return fn
    return deco


# Blocking calls: async handlers the driver awaits when Lua yields ``(REQ.x, args...)``.
BLOCKING: list[Callable[..., Any]] = []
_REQ_NAMES: dict[str, int] = {}


def blocking(table: str | None, name: str, method_of: str | None = None) -> Callable[..., Any]:
    """Register an async handler ``handler(ctx, *args)`` for a blocking call: a member of
    ``table`` (kind ``b``), a method of class ``method_of`` (kind ``mb``: gets the object's three
    fields first), or, with neither, an internal request the prelude names ``REQ.<name>``."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = f"@{method_of}.{name}" if method_of else f"{table}.{name}" if table else name
        _REQ_NAMES[key] = len(BLOCKING)
        BLOCKING.append(fn)
        if method_of:
            MEMBERS.setdefault("@" + method_of, {})[name] = ("mb", _REQ_NAMES[key])
        elif table:
            MEMBERS.setdefault(table, {})[name] = ("b", _REQ_NAMES[key])
        return fn
    return deco


def req_numbers() -> dict[str, int]:
    """Blocking call name -> number (the numbers Lua sources get for ``REQ.<name>``)."""
    return dict(_REQ_NAMES)


def unavailable(what: str) -> Callable[..., Any]:
    """An API member Wippy has and wippy does not: it fails with ``UNAVAILABLE``."""
    def fn(*args: Any) -> Any:
        raise ApiError("UNAVAILABLE", f"{what} is not available in wippy")
    return fn


def field(cls: str, name: str, index: int) -> None:
    MEMBERS.setdefault("@" + cls, {})[name] = ("g", index)


def constant(table: str, name: str, value: Any) -> None:
    MEMBERS.setdefault(table, {})[name] = ("c", value.encode() if isinstance(value, str) else value)


def subtable(table: str, name: str, sub: str) -> None:
    MEMBERS.setdefault(table, {})[name] = ("t", sub.encode())


def dispatch(n: int, *args: Any) -> Any:
    """The one Python function Lua can call."""
    return _OPS[n](*args)


@raw_op("describe")
def _describe(table: bytes, name: Any) -> tuple:
    if type(name) is not bytes:
        return (None, None)
    members = MEMBERS.get(table.decode())
    if members is None:
        return (None, None)
    desc = members.get(name.decode("utf-8", "replace"))
    if desc is None:
        return (None, None)
    kind, value = desc
    if kind == "o":                      # an object constant: (class, fields...)
        return (b"o", *value)
    return (kind.encode(), value)


@raw_op("fatal")
def _fatal(why: bytes) -> None:
    st = engine.current()
    if st is not None and st.killed is None:
        st.killed = {b"memory": "memory", b"stack": "stack"}.get(why, "memory")


# -- values ----------------------------------------------------------------------------------
def current_ctx() -> Any:
    st = engine.current()
    if st is None:
        raise RuntimeError("a Lua API call outside a Lua slice")
    return st.ctx


def text(v: Any, what: str = "argument") -> str:
    """A Lua string (bytes) as str; raises INVALID for anything else."""
    t = type(v)
    if t is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError:
            raise ApiError("INVALID", f"{what} is not valid UTF-8") from None
    if t is str:
        return v
    if v is None:
        raise ApiError("INVALID", f"{what} is missing")
    if t is int or t is float:
        return str(v)
    raise ApiError("INVALID", f"{what} must be a string")


def lua_value(v: Any) -> Any:
    """Plain Python data -> a Lua value, in the current state."""
    st = engine.current()
    assert st is not None
    return to_lua(st, v)


class LuaRef:
    """A Lua value that stays in its process: only its slot number is in the channel."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = id


class TimeValue(int):
    """What a Lua timer channel carries (unix nanoseconds): Lua receives a Time object."""

    __slots__ = ()


class FutureDone:
    """What a ``funcs.async`` future's channel carries: the result or the error."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


def received(ctx: Any, v: Any, topic: Any = None) -> Any:
    """A value taken from a channel -> the Lua value the receiver gets. Objects (messages,
    events, times, payloads) are made by the prelude's ``new_obj`` (a call into Lua from here:
    cheaper per state than Lua code to decode them). ``topic``: the channel is a
    ``process.listen(topic, {message = true})`` channel, whose payloads become messages."""
    t = type(v)
    st = ctx.state
    if t is LuaRef:
        out = ctx.slots.pop(v.id, None)
    elif t is Message:
        return ctx.new_obj(b"Message", v.topic.encode(), v.sender.encode() if v.sender else None,
                           to_lua(st, v.payload))
    elif t is Event:
        ev: dict[bytes, Any] = {b"kind": v.kind.encode()}
        if v.from_:
            ev[b"from"] = v.from_.encode()
        if v.reason is not None:
            ev[b"reason"] = v.reason.encode()
        if v.kind != "CANCEL":
            res = v.result
            result: dict[bytes, Any] = {}
            if res is not None and res.value is not None:
                result[b"value"] = to_lua(st, res.value)
            err = res.error if res is not None else None
            if err is not None:
                result[b"error"] = error_object(ctx, err)
            ev[b"result"] = st.lua.table_from(result)
        out = st.lua.table_from(ev)
    elif t is TimeValue:
        out = ctx.new_obj(b"Time", int(v), b"Local", None)
    elif t is FutureDone:
        if v.error is not None:
            return error_object(ctx, v.error)
        return ctx.new_obj(b"Payload", to_lua(st, v.value))
    elif t is bytes or t is int or t is float or t is bool or v is None:
        out = v
    else:
        out = to_lua(st, v)
    if topic:
        return ctx.new_obj(b"Message", topic, None, out)
    return out


def receive_result(ctx: Any, v: Any, topic: Any = None) -> tuple:
    """What a channel receive resumes Lua with: ``(True, value, True)``, or ``(4, class,
    fields...)`` for an object the prelude makes (no call back into Lua from here: a message
    is the hot path)."""
    t = type(v)
    if topic:
        return (4, b"Message", topic, None, received(ctx, v))
    if t is Message:
        return (4, b"Message", v.topic.encode(), v.sender.encode() if v.sender else None,
                to_lua(ctx.state, v.payload))
    if t is TimeValue:
        return (4, b"Time", int(v), b"Local", None)
    return (True, received(ctx, v), True)


def error_result(exc: BaseException, state: Any = None) -> tuple:
    """What Lua receives for an exception: ``nil, err`` (or, for :class:`Raise`, a raised
    error), the error object the prelude builds from Wippy's fields. ``state``: the Lua state
    (default: the one whose slice runs now)."""
    if not isinstance(exc, WippyError) and isinstance(exc, (ValueError, TypeError, KeyError,
                                                              OverflowError)):
        exc = ApiError("INVALID", str(exc))
    kind, msg, retryable, details = errkinds.fields(exc)
    if details is not None:
        st = state if state is not None else engine.current()
        details = to_lua(st, details) if st is not None else None
    return (3 if isinstance(exc, Raise) else False, kind, msg, retryable, details)


def error_object(ctx: Any, exc: BaseException) -> Any:
    """A Lua error object for ``exc`` (an EXIT's error, a failed future)."""
    kind, msg, retryable, details = errkinds.fields(exc)
    if details is not None:
        details = to_lua(ctx.state, details)
    return ctx.new_obj(b"Error", kind, msg, retryable, details)
