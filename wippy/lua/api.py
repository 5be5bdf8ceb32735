"""The Python half of Wippy's Lua API: the non-blocking calls (``py(OP.x, ...)`` in Lua).

Every function registered with :func:`op` is reachable from the prelude and the built-in
modules under ``OP.<name>``; it receives raw lupa values (``bytes`` for Lua strings, lupa tables)
and returns a tuple ``(True, values...)``. Failures are exceptions, turned by :func:`dispatch`
into ``(False, kind, message)``, which Lua turns into ``nil, err``. A process that ends itself
from inside a call (``terminate`` of its own PID, a failed link) gets ``(None,)``: Lua then
yields to the driver, which ends the process.

Calls run inside a slice, so the current Lua state (and its process, via the scheduler's current
task) is known; nothing here keeps a reference from Lua to a state, which would make a cycle
that neither garbage collector can see.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time as _stdtime
import uuid as _uuid
from typing import Any, Callable

from .. import channel as _channel
from .. import runtime as _runtime
from .. import time as _wtime
from ..durations import parse_duration
from ..errors import EntryNotFound, InvalidMessage, ProcessNotFound, WippyError
from ..proc import Event, Message
from ..registry import match, public_entry
from ..runtime import LinkFailed, Terminated
from . import engine, timefmt
from .engine import LuaMemoryError, from_lua, to_lua

__all__ = ["OPS", "op", "dispatch", "encode", "LuaRef", "TimeValue", "FutureDone", "ApiError",
           "text", "BUILTIN_MODULES"]

log = logging.getLogger("wippy.lua")
OPS: dict[str, Callable[..., tuple]] = {}

#: Modules a Lua entry may list in ``modules:`` and ``require`` (Wippy's names).
BUILTIN_MODULES = frozenset({"time", "json", "logger", "registry", "events", "funcs", "uuid",
                             "env", "io"})
GLOBAL_MODULES = frozenset({"process", "channel", "errors", "coroutine", "string", "table",
                            "math", "os", "utf8"})


class ApiError(WippyError):
    """An error for Lua's ``nil, err`` with Wippy's kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def op(fn: Callable[..., tuple]) -> Callable[..., tuple]:
    """Register ``fn`` as ``OP.<name>`` (a trailing underscore is dropped)."""
    OPS[fn.__name__.rstrip("_")] = fn
    return fn


_TABLE: list[Callable[..., tuple]] = []


def numbering() -> dict[str, int]:
    """Op name -> number, fixed for the life of the OS process (set when the first Lua source
    is compiled); the functions are looked up by number."""
    if not _TABLE:
        _TABLE.extend(OPS[name] for name in sorted(OPS))
    return {name: i for i, name in enumerate(sorted(OPS))}


def dispatch(n: int, *args: Any) -> tuple:
    """The one Python function Lua can call (an upvalue of the prelude, never a global)."""
    try:
        return _TABLE[n](*args)
    except (Terminated, LinkFailed) as exc:     # the caller ended itself
        st = engine.current()
        if st is not None:
            st.ctx.exit_exc = exc
        return (None,)
    except LuaMemoryError:
        st = engine.current()
        if st is not None:
            st.killed = "memory"
        return (None,)
    except WippyError as exc:
        return (False, exc.kind.encode(), str(exc).encode())
    except (ValueError, TypeError, KeyError) as exc:
        return (False, b"INVALID", str(exc).encode())
    except Exception as exc:  # noqa: BLE001 - any bug here is the caller's error, not a host crash
        log.exception("Lua API call failed")
        return (False, b"INTERNAL", f"{type(exc).__name__}: {exc}".encode())


# -- values that travel through channels ---------------------------------------------------
class LuaRef:
    """A Lua value that stays in its process's state: only its slot number is in the channel."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = id


class TimeValue(float):
    """What a Lua timer channel carries (unix seconds): Lua receives a Time object."""

    __slots__ = ()


class FutureDone:
    """What a ``funcs.async`` future's channel carries: the result or the error."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


def text(v: Any, what: str = "argument") -> str:
    """A Lua string (bytes) as str; raises INVALID for anything else."""
    if type(v) is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError:
            raise ApiError("INVALID", f"{what} is not valid UTF-8") from None
    if type(v) is str:
        return v
    if v is None:
        raise ApiError("INVALID", f"{what} is missing")
    if type(v) in (int, float):
        return str(v)
    raise ApiError("INVALID", f"{what} must be a string")


def encode(state: engine.LuaState, v: Any) -> tuple:
    """A value received from a channel -> (tag, ...) for the prelude's ``decode``."""
    t = type(v)
    if t is LuaRef:
        return (1, v.id)
    if t is Message:
        return (2, v.topic.encode(), v.sender.encode() if v.sender else None,
                to_lua(state, v.payload))
    if t is Event:
        err = v.result.error if v.result is not None else None
        value = to_lua(state, v.result.value) if v.result is not None else None
        return (3, v.kind.encode(), v.from_.encode() if v.from_ else None, value,
                err.kind.encode() if err is not None else None,
                str(err).encode() if err is not None else None,
                v.reason.encode() if v.reason is not None else None)
    if t is TimeValue:
        return (4, float(v))
    if t is FutureDone:
        if v.error is not None:
            e = v.error
            kind = e.kind if isinstance(e, WippyError) else "INTERNAL"
            return (5, None, kind.encode(), str(e).encode())
        return (5, to_lua(state, v.value))
    return (0, to_lua(state, v))


def error_result(exc: BaseException) -> tuple:
    if isinstance(exc, WippyError):
        return (False, exc.kind.encode(), str(exc).encode())
    return (False, b"INTERNAL", f"{type(exc).__name__}: {exc}".encode())


# -- context -------------------------------------------------------------------------------
def _state() -> engine.LuaState:
    st = engine.current()
    if st is None:
        raise RuntimeError("a Lua API call outside a Lua slice")
    return st


def _proc() -> Any:
    return _state().ctx.proc


def _rt() -> Any:
    return _runtime.get()


def _b(s: str | None) -> bytes | None:
    return None if s is None else s.encode()


# -- core ----------------------------------------------------------------------------------
_FATAL = {b"memory": "memory", b"stack": "stack"}


@op
def fatal(why: bytes) -> tuple:
    st = _state()
    if st.killed is None:
        st.killed = _FATAL.get(why, "memory")
    return (True,)


@op
def print_(line: bytes) -> tuple:
    ctx = _state().ctx
    log.info("%s %s: %s", ctx.pid, ctx.entry_id, line.decode("utf-8", "replace"))
    return (True,)


@op
def library_code(name: bytes) -> tuple:
    from .driver import builtin_chunk
    code = builtin_chunk(text(name))
    if code is None:
        raise ApiError("NOT_FOUND", f"no built-in module {text(name)!r}")
    return (True, code)


@op
def require(entry: bytes, name: bytes) -> tuple:
    mod = text(name, "module name")
    if mod in GLOBAL_MODULES:
        return (True, b"global")
    ctx = _state().ctx
    modules, imports = ctx.allowlist(text(entry))
    if mod in imports:
        lib_id = imports[mod]
        code, chunk = ctx.library(lib_id)
        return (True, b"library", lib_id.encode(), code, chunk.encode())
    if mod not in modules:
        raise ApiError("PERMISSION_DENIED", f"module '{mod}' is not allowed: add it to the "
                       f"'modules' (or 'imports') of entry {text(entry)}")
    if mod not in BUILTIN_MODULES:
        raise ApiError("NOT_FOUND", f"module '{mod}' is not available in wippy")
    if mod == "io" and not ctx.terminal:
        raise ApiError("UNAVAILABLE", "module 'io' works only on a terminal host "
                       "(wippy run -x ...)")
    return (True, b"module")


# -- process -------------------------------------------------------------------------------
@op
def pid() -> tuple:
    return (True, _proc().pid.encode())


@op
def send(dest: Any, topic: Any, *payload: Any) -> tuple:
    if not payload:
        data = None
    elif len(payload) == 1:
        data = from_lua(payload[0])
    else:
        data = [from_lua(p) for p in payload]
    _rt().send(_proc().pid, text(dest, "destination"), text(topic, "topic"), data)
    return (True, True)


@op
def spawn(flags: int, id: Any, host: Any, *args: Any) -> tuple:
    plain = [from_lua(a) for a in args]
    return (True, _rt().spawn(_proc().pid, text(id, "entry id"), text(host, "host"), plain,
                              int(flags)).encode())


@op
def monitor(dest: Any, on: bool) -> tuple:
    rt = _rt()
    rt.monitor(_proc(), text(dest, "destination"), bool(on))
    return (True, True)


@op
def link(dest: Any, on: bool) -> tuple:
    rt = _rt()
    rt.link(_proc(), text(dest, "destination"), bool(on))
    return (True, True)


@op
def terminate(dest: Any) -> tuple:
    _rt().terminate(_proc().pid, text(dest, "destination"))
    return (True, True)


@op
def cancel(dest: Any, reason: Any = None) -> tuple:
    _rt().cancel(_proc().pid, text(dest, "destination"), "" if reason is None else text(reason))
    return (True, True)


@op
def inbox() -> tuple:
    return (True, _proc().inbox())


@op
def events() -> tuple:
    return (True, _proc().events())


@op
def listen(topic: Any) -> tuple:
    t = text(topic, "topic")
    if t[:1] == "@":
        raise ApiError("INVALID", f"topic '{t}' is reserved (topics starting with '@')")
    return (True, _proc().listen(t))


@op
def unlisten(ch: Any) -> tuple:
    if isinstance(ch, _channel.Channel):
        _proc().unlisten(ch)
    return (True, True)


@op
def set_options(opts: Any) -> tuple:
    o = from_lua(opts) if opts is not None else {}
    if not isinstance(o, dict):
        raise ApiError("INVALID", "set_options expects a table")
    if "trap_links" in o:
        _proc().trap_links = bool(o["trap_links"])
    return (True, True)


@op
def get_options() -> tuple:
    return (True, to_lua(_state(), {"trap_links": _proc().trap_links}))


@op
def lookup(name: Any) -> tuple:
    n = text(name, "name")
    p = _rt().names.get(n)
    if p is None:
        raise ApiError("NOT_FOUND", f"no process registered as '{n}'")
    return (True, p.encode())


# -- channels ------------------------------------------------------------------------------
@op
def chan_new(size: Any = None) -> tuple:
    if size is None:
        size = 0
    if type(size) is float and size.is_integer():
        size = int(size)
    if type(size) is not int or size < 0:
        raise ApiError("INVALID", "channel.new: size must be an integer >= 0")
    return (True, _channel.Channel(size))


@op
def chan_close(ch: Any) -> tuple:
    ch.close()
    return (True,)


# -- time ----------------------------------------------------------------------------------
def seconds(d: Any) -> float:
    """A Lua duration argument (already seconds, or a Go duration string) -> seconds."""
    if type(d) is float or type(d) is int:
        return float(d)
    try:
        return parse_duration(text(d, "duration"))
    except ValueError as exc:
        raise ApiError("INVALID", str(exc)) from None


class _Timer(_wtime.Timer):
    def _fire(self) -> None:
        self._ch.send_nowait(TimeValue(_wtime.now()))


class _Ticker(_wtime.Ticker):
    def _tick(self) -> None:
        if self._stopped or self._owner.exited:
            return
        self._ch.send_nowait(TimeValue(_wtime.now()))
        self._next += self._period
        self._arm()


@op
def time_now() -> tuple:
    return (True, _stdtime.time_ns())


@op
def time_timer(d: Any) -> tuple:
    s = seconds(d)
    if s <= 0:
        raise ApiError("INVALID", "timer duration must be positive")
    t = _Timer(s)
    return (True, t, t.channel())


@op
def time_after(d: Any) -> tuple:
    return (True, _Timer(max(0.0, seconds(d))).channel())


@op
def timer_stop(t: Any) -> tuple:
    return (True, bool(t.stop()))


@op
def timer_reset(t: Any, d: Any) -> tuple:
    t.reset(seconds(d))
    return (True, True)


@op
def time_ticker(d: Any) -> tuple:
    s = seconds(d)
    if s <= 0:
        raise ApiError("INVALID", "ticker duration must be positive")
    t = _Ticker(s)
    return (True, t, t.channel())


@op
def ticker_stop(t: Any) -> tuple:
    t.stop()
    return (True, True)


@op
def time_duration(d: Any) -> tuple:
    return (True, round(seconds(d) * 1e9))


@op
def time_format(ns: int, layout: Any, offset: int, zone: Any) -> tuple:
    return (True, timefmt.format_time(int(ns), text(layout, "layout"), int(offset),
                                      "" if zone is None else text(zone)).encode())


@op
def time_parts(ns: int, offset: int) -> tuple:
    return (True, *timefmt.parts(int(ns), int(offset)))


@op
def time_parse(layout: Any, value: Any, offset: int = 0) -> tuple:
    return (True, timefmt.parse_time(text(layout, "layout"), text(value, "value"), int(offset)))


@op
def time_local_offset(ns: int) -> tuple:
    return (True, timefmt.local_offset(int(ns)))


@op
def time_date(y: int, mo: int, d: int, h: int, mi: int, s: int, ns: int, offset: Any) -> tuple:
    import calendar
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    off = timefmt.local_offset(secs * 1_000_000_000) if offset is None else int(offset)
    return (True, (secs - off) * 1_000_000_000 + int(ns))


# -- json ----------------------------------------------------------------------------------
@op
def json_encode(v: Any) -> tuple:
    try:
        data = from_lua(v, empty=list)
    except InvalidMessage as exc:
        raise ApiError("INTERNAL", f"json.encode: {exc}") from None
    try:
        out = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        out = json.dumps(_no_nan(data), ensure_ascii=False, separators=(",", ":"))
    except TypeError as exc:
        raise ApiError("INTERNAL", f"json.encode: {exc} (binary strings are not JSON)") from None
    return (True, out.encode())


def _no_nan(v: Any) -> Any:
    if type(v) is float and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if type(v) is list:
        return [_no_nan(x) for x in v]
    if type(v) is dict:
        return {k: _no_nan(x) for k, x in v.items()}
    return v


@op
def json_decode(s: Any) -> tuple:
    if type(s) is not bytes or not s:
        raise ApiError("INVALID", "json.decode expects a non-empty string")
    try:
        data = json.loads(s)
    except ValueError as exc:
        raise ApiError("INTERNAL", f"json.decode: {exc}") from None
    return (True, to_lua(_state(), data))


# -- logger --------------------------------------------------------------------------------
_LEVELS = {b"debug": logging.DEBUG, b"info": logging.INFO, b"warn": logging.WARNING,
           b"error": logging.ERROR}


@op
def log_(level: bytes, name: Any, message: Any, fields: Any, extra: Any) -> tuple:
    lvl = _LEVELS.get(level, logging.INFO)
    logger = logging.getLogger("wippy.lua" + ("." + text(name) if name is not None else ""))
    if not logger.isEnabledFor(lvl):
        return (True, True)
    ctx = _state().ctx
    merged: dict[str, Any] = {}
    for src in (extra, fields):
        if src is not None:
            data = from_lua(src)
            if isinstance(data, dict):
                merged.update(data)
    msg = "" if message is None else text(message, "message")
    if merged:
        msg += " " + " ".join(f"{k}={json.dumps(v, default=repr)}" for k, v in merged.items())
    logger.log(lvl, "%s %s: %s", ctx.pid, ctx.entry_id, msg)
    return (True, True)


# -- registry ------------------------------------------------------------------------------
@op
def registry_get(id: Any) -> tuple:
    store = _rt().store
    eid = text(id, "entry id")
    stored = store.get(eid) if store is not None else None
    if stored is None:
        raise EntryNotFound(f"entry {eid} not found")
    return (True, to_lua(_state(), public_entry(stored)))


@op
def registry_find(flt: Any) -> tuple:
    f = from_lua(flt) if flt is not None else {}
    if not isinstance(f, dict):
        raise ApiError("INVALID", "registry.find expects a table of filters")
    store = _rt().store
    entries = [] if store is None else [public_entry(e) for e in store.entries().values()]
    out = [e for e in entries if match(e, f)]
    out.sort(key=lambda e: e["id"])
    return (True, to_lua(_state(), out))


@op
def registry_version() -> tuple:
    store = _rt().store
    v = store.version() if store is not None else None
    if v is None:
        raise ApiError("UNAVAILABLE", "the registry has no version yet")
    return (True, v)


# -- uuid ----------------------------------------------------------------------------------
def _uuid_arg(v: Any) -> _uuid.UUID:
    try:
        return _uuid.UUID(text(v, "uuid"))
    except ValueError:
        raise ApiError("INVALID", f"invalid UUID {text(v)!r}") from None


def _v7() -> _uuid.UUID:
    ms = _stdtime.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    n = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return _uuid.UUID(int=n)


_VARIANTS = {_uuid.RFC_4122: "RFC4122", _uuid.RESERVED_NCS: "NCS",
             _uuid.RESERVED_MICROSOFT: "Microsoft", _uuid.RESERVED_FUTURE: "Future"}


@op
def uuid(kind: bytes, a: Any = None, b: Any = None, c: Any = None) -> tuple:
    k = kind.decode()
    if k == "v1":
        return (True, str(_uuid.uuid1()).encode())
    if k == "v4":
        return (True, str(_uuid.uuid4()).encode())
    if k == "v7":
        return (True, str(_v7()).encode())
    if k in ("v3", "v5"):
        ns = _uuid_arg(a)
        name = text(b, "name")
        u = _uuid.uuid3(ns, name) if k == "v3" else _uuid.uuid5(ns, name)
        return (True, str(u).encode())
    if k == "validate":
        if type(a) is not bytes:
            return (True, False)
        try:
            _uuid.UUID(a.decode())
        except (ValueError, UnicodeDecodeError):
            return (True, False)
        return (True, True)
    u = _uuid_arg(a)
    if k == "version":
        return (True, u.version)
    if k == "variant":
        return (True, _VARIANTS.get(u.variant, "Invalid").encode())
    if k == "parse":
        info: dict[str, Any] = {"version": u.version, "variant": _VARIANTS.get(u.variant, "Invalid")}
        if u.version == 7:
            info["timestamp"] = (u.int >> 80) // 1000
        elif u.version == 1:
            info["timestamp"] = (u.time - 0x01B21DD213814000) // 10_000_000
            info["node"] = f"{u.node:012x}"
        return (True, to_lua(_state(), info))
    if k == "format":
        style = "standard" if b is None else text(b)
        if style == "standard":
            return (True, str(u).encode())
        if style == "simple":
            return (True, u.hex.encode())
        if style == "urn":
            return (True, u.urn.encode())
        raise ApiError("INVALID", f"unknown UUID format {style!r} (standard, simple, urn)")
    raise ApiError("INVALID", f"unknown uuid function {k}")


# -- env -----------------------------------------------------------------------------------
_ENV_OVERLAY: dict[str, str] = {}     # env.set: visible to this host's Lua processes only


@op
def env_get(key: Any) -> tuple:
    k = text(key, "key")
    if not k:
        raise ApiError("INVALID", "env.get: empty key")
    v = _ENV_OVERLAY.get(k, os.environ.get(k))
    if v is None:
        raise ApiError("NOT_FOUND", f"environment variable {k} is not set")
    return (True, v.encode())


@op
def env_set(key: Any, value: Any) -> tuple:
    k = text(key, "key")
    if not k:
        raise ApiError("INVALID", "env.set: empty key")
    _ENV_OVERLAY[k] = text(value, "value")
    return (True, True)


@op
def env_all() -> tuple:
    merged = dict(os.environ)
    merged.update(_ENV_OVERLAY)
    return (True, to_lua(_state(), merged))


# -- io (terminal host) --------------------------------------------------------------------
@op
def io_write(stream: int, data: bytes) -> tuple:
    out = sys.stdout if stream == 1 else sys.stderr
    try:
        out.buffer.write(data)
        if stream != 1:
            out.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"write failed: {exc}") from None
    return (True, True)


@op
def io_flush() -> tuple:
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"flush failed: {exc}") from None
    return (True, True)


@op
def io_args() -> tuple:
    return (True, to_lua(_state(), list(_state().ctx.args)))


# -- events --------------------------------------------------------------------------------
@op
def events_send(system: Any, kind: Any, path: Any, data: Any = None) -> tuple:
    from . import bus
    s, k, p = text(system, "system"), text(kind, "kind"), text(path, "path")
    if not s or not k or not p:
        raise ApiError("INVALID", "events.send: system, kind and path must not be empty")
    bus.publish(_proc().pid, s, k, p, from_lua(data))
    return (True, True)
