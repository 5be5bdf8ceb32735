"""Lua's ``funcs`` module (``async``, ``new`` and executors, futures), the ``ctx`` module and
``process.with_context`` spawners: function calls and the context values that travel with
them. ``funcs.call`` and ``executor:call`` block (``blocking.py``); every call goes through
:func:`wippy.funcs.call`, which runs the function in a frame of its own.

Context values (plain data, :mod:`wippy.runtime.contexts`) reach a function call through
``wippy.funcs`` (the frame inherits its caller's, plus an executor's ``with_context``), and a
Lua or Python process spawned with a spawner's context as a first spawn argument that the
runtime takes off before the process's code runs, on whichever OS process or node that is.
Workflows spawned with a context do not receive it. ``with_actor``/``with_scope``/
``with_options`` are accepted and not applied here (security contexts belong to the security
module).
"""
from __future__ import annotations

from typing import Any

from .. import channel as _channel
from .. import funcs as _funcs
from .. import security as _security
from ..errors import LuaFailure, WippyError
from ..registry.entry import Kind
from ..runtime import codeload, durable
from ..runtime import contexts as _contexts
from ..runtime import table as _runtime
from .api import (
    ApiError,
    FutureDone,
    New,
    current_ctx,
    error_object,
    field,
    function,
    lua_value,
    method,
    text,
)
from .engine import from_lua, is_lua_table, to_lua

__all__ = ["context_values"]

#: The kinds a spawner's context values reach (a workflow's arguments are its journal's).
_TAKE_CONTEXT = frozenset({Kind.PROCESS_LUA.value, Kind.PROCESS_PY.value})


def context_values(v: Any, what: str = "context") -> dict[str, Any]:
    """A Lua table of context values as a dict (``{}`` for nil)."""
    if v is None:
        return {}
    data = from_lua(v) if is_lua_table(v) else None
    if not isinstance(data, dict):
        raise ApiError("INVALID", f"{what} values must be a table with string keys")
    return data


def _merged(old: Any, new: Any) -> Any:
    merged = {**context_values(old), **context_values(new)}
    return lua_value(merged) if merged else None


# -- ctx -------------------------------------------------------------------------------------
@function("ctx", "get")
def ctx_get(key: Any = None) -> Any:
    k = text(key, "key")
    if not k:
        raise ApiError("INVALID", "ctx.get: empty key")
    values = _funcs.context(current_ctx().pid)
    if k not in values:
        raise ApiError("NOT_FOUND", f"context value '{k}' not found")
    return lua_value(values[k])


@function("ctx", "all")
def ctx_all() -> Any:
    ctx = current_ctx()
    return ctx.state.lua.table_from(to_lua(ctx.state, _funcs.context(ctx.pid)) or {})


# -- futures ---------------------------------------------------------------------------------
class _Future:
    __slots__ = ("done", "channel", "canceled")

    def __init__(self) -> None:
        self.done: FutureDone | None = None
        self.channel = _channel.Channel(1)
        self.canceled = False

    def resolve(self, done: FutureDone) -> None:
        if self.done is None:
            self.done = done
            self.channel.send_nowait(done)


def _start_call(ctx: Any, fid: str, plain: list, values: dict[str, Any] | None) -> _Future:
    fut = _Future()

    async def task() -> None:
        try:
            value = await _funcs.call(fid, *plain, context=values)
        except WippyError as exc:
            fut.resolve(FutureDone(None, exc))
        except Exception as exc:  # noqa: BLE001 - the error belongs to whoever reads the future
            fut.resolve(FutureDone(None, LuaFailure("INTERNAL", f"{type(exc).__name__}: {exc}")))
        else:
            fut.resolve(FutureDone(value, None))
    ctx.rt.start_task(ctx.proc, task())
    return fut


def _async(fid: Any, args: tuple, values: dict[str, Any] | None) -> Any:
    if durable.current() is not None:
        raise ApiError("INVALID", "funcs.async is not journaled: a workflow calls its "
                                  "activities with funcs.call")
    ctx = current_ctx()
    fut = _start_call(ctx, _funcs.check_id(text(fid, "function id")),
                      [from_lua(a) for a in args], values)
    return New((b"Future", fut, fut.channel))


@function("funcs", "async")
def funcs_async(fid: Any = None, *args: Any) -> Any:
    return _async(fid, args, None)


field("Future", "response", 2)
field("Future", "channel", 2)


@method("Future")
def is_complete(fut: Any, ch: Any, _: Any) -> bool:
    return fut.done is not None


@method("Future")
def is_canceled(fut: Any, ch: Any, _: Any) -> bool:
    return fut.canceled


@method("Future")
def result(fut: Any, ch: Any, _: Any) -> Any:
    done = fut.done
    if done is None:
        return (None, None)
    if done.error is not None:
        raise done.error if isinstance(done.error, WippyError) else LuaFailure(
            "INTERNAL", str(done.error))
    return New((b"Payload", to_lua(current_ctx().state, done.value)))


@method("Future")
def error(fut: Any, ch: Any, _: Any) -> Any:
    done = fut.done
    if done is None or done.error is None:
        return (None, False)
    return (error_object(current_ctx(), done.error), True)


@method("Future")
def cancel(fut: Any, ch: Any, _: Any) -> bool:
    if fut.done is not None:
        return False
    fut.canceled = True
    fut.resolve(FutureDone(None, LuaFailure("CANCELED", "the future was canceled")))
    return True


# -- executors: Executor {context values, actor, scope}; with_actor/with_scope are secmod's ----
@function("funcs", "new")
def funcs_new() -> Any:
    return New((b"Executor", None, None, None))


@method("Executor", "with_context")
def executor_with_context(values: Any, actor: Any, scope: Any, more: Any = None) -> Any:
    if more is None:
        raise ApiError("INVALID", "with_context: values are required")
    return New((b"Executor", _merged(values, more), actor, scope))


@method("Executor", "with_options")
def executor_with_options(values: Any, actor: Any, scope: Any, *args: Any) -> Any:
    return New((b"Executor", values, actor, scope))      # options: accepted, not used


@method("Executor", "async")
def executor_async(values: Any, actor: Any, scope: Any, fid: Any = None, *args: Any) -> Any:
    if actor is not None or scope is not None:     # never silently under the caller's authority
        raise ApiError("UNAVAILABLE", "executor:async under an actor or scope is not available "
                                      "in wippy: use executor:call")
    return _async(fid, args, context_values(values) or None)


# -- spawners: Spawner {context values, actor, scope}; with_actor/with_scope are secmod's -----
@function("process", "with_context")
def process_with_context(values: Any = None) -> Any:
    return New((b"Spawner", _merged(None, values), None, None))


@function("process", "with_options")
def process_with_options(options: Any = None) -> Any:
    return New((b"Spawner", None, None, None))


@method("Spawner", "with_context")
def spawner_with_context(values: Any, actor: Any, scope: Any, more: Any = None) -> Any:
    return New((b"Spawner", _merged(values, more), actor, scope))


@method("Spawner", "with_options")
def spawner_with_options(values: Any, actor: Any, scope: Any, *args: Any) -> Any:
    return New((b"Spawner", values, actor, scope))       # options: accepted, not used


def _spawner_spawn(flags: int) -> Any:
    def spawn(values: Any, actor: Any, scope: Any, id: Any = None, host: Any = None,
              *args: Any) -> bytes:
        ctx = current_ctx()
        rt = _runtime.get()
        entry_id = text(id, "entry id")
        plain = [from_lua(a) for a in args]
        data = context_values(values)
        if data and codeload.kind_of(rt.store, entry_id) in _TAKE_CONTEXT:
            plain = _contexts.carry(data, plain)
        if actor is None and scope is None:
            return rt.spawn(ctx.pid, entry_id, text(host, "host"), plain, flags).encode()
        # with_actor / with_scope: the child acts as them, which needs process.security
        child = _security.spawn_context(actor, scope)
        return rt.spawn(ctx.pid, entry_id, text(host, "host"), plain, flags,
                        security=child).encode()
    return spawn


for _flags, _name in ((0, "spawn"), (1, "spawn_monitored"), (2, "spawn_linked"),
                      (3, "spawn_linked_monitored")):
    method("Spawner", _name)(_spawner_spawn(_flags))
