"""Wippy's Lua API, the non-blocking half: ``process``, ``channel``, ``errors`` and the modules
``json``, ``logger``, ``registry``, ``events``, ``uuid``, ``env``, ``io`` (``time`` is in
``timemod.py``, ``workflow`` in ``wfmod.py``; the blocking calls are in ``driver.py``). See
``api.py`` for the conventions: arguments arrive as raw lupa values (``bytes`` for strings),
results go back Lua-ready. Inside a workflow's own code, ``uuid.v1/v4/v7`` are journaled
(through :mod:`wippy.runtime.durable`, as ``workflow.uuid`` is).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time as _stdtime
import uuid as _uuid
from typing import Any, Callable

from .. import channel as _channel
from .. import events as _events
from .. import registry as _registry
from ..core.wire import check_topic
from ..errors import EntryNotFound, InvalidMessage
from ..runtime import durable
from ..runtime import table as _runtime
from .api import (
    MEMBERS,
    ApiError,
    New,
    constant,
    current_ctx,
    field,
    function,
    internal,
    lua_value,
    method,
    raw_op,
    subtable,
    text,
)
from .chunks import builtin_chunk, types_chunks
from .engine import from_lua, is_lua_table

__all__ = ["BUILTIN_MODULES", "GLOBAL_MODULES", "LUA_LIBS", "version_arg"]

log = logging.getLogger("wippy.lua")

#: Modules a Lua entry may list in ``modules:`` and ``require`` (Wippy's names).
BUILTIN_MODULES = frozenset({"time", "json", "logger", "registry", "events", "funcs", "uuid",
                             "env", "io", "system", "workflow"})
#: Names ``require`` resolves to the global of the same name, listed or not.
GLOBAL_MODULES = frozenset({"process", "channel", "errors", "coroutine", "string", "table",
                            "math", "os", "utf8"})
#: Lua-side libraries (``lib/<name>.lua``) the prelude may ask for.
LUA_LIBS = frozenset({"base", "coroutine", "types"})


def _rt() -> Any:
    return _runtime.get()


def _me() -> Any:
    return current_ctx().proc


# -- internals -------------------------------------------------------------------------------
@raw_op("lua_lib")
def _lua_lib(name: bytes) -> bytes:
    n = name.decode()
    if n not in LUA_LIBS:
        raise ValueError(f"no Lua library {n}")
    if n == "types":            # type values are shared, mutable tables: no reuse of this state
        current_ctx().state.reusable = False
    code = builtin_chunk(n)
    assert code is not None
    return code


@raw_op("types_code")
def _types_code() -> tuple:
    return types_chunks()


@raw_op("require")
def _require(entry: bytes, name: bytes) -> tuple:
    """(what, ...): ("module",) | ("global",) | ("library", id, chunk, chunkname) | (False, msg)."""
    mod = name.decode("utf-8", "replace")
    if mod in GLOBAL_MODULES:
        return (b"global",)
    ctx = current_ctx()
    entry_id = entry.decode()
    try:
        modules, imports = ctx.allowlist(entry_id)
        if mod in imports:
            code, chunk = ctx.library(imports[mod])
            return (b"library", imports[mod].encode(), code, chunk.encode())
    except (ApiError, EntryNotFound) as exc:
        return (False, f"require('{mod}'): {exc}".encode())
    if mod not in modules:
        return (False, f"module '{mod}' is not allowed: add it to the 'modules' (or "
                       f"'imports') of {entry_id}".encode())
    if mod not in BUILTIN_MODULES:
        return (False, f"module '{mod}' is not available in wippy".encode())
    if mod == "io" and not ctx.terminal:
        return (False, b"module 'io' works only on a terminal host (wippy run -x ...)")
    return (b"module",)


@internal("print")
def _print(line: bytes) -> None:
    ctx = current_ctx()
    log.info("%s %s: %s", ctx.pid, ctx.entry_id, line.decode("utf-8", "replace"))


# -- errors ----------------------------------------------------------------------------------
KINDS = ("UNKNOWN", "INVALID", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "TIMEOUT",
         "CANCELED", "UNAVAILABLE", "INTERNAL", "CONFLICT", "RATE_LIMITED", "LIMIT_EXCEEDED")
for _k in KINDS:
    constant("errors", _k, _k)
for _i, _name in enumerate(("kind", "message", "retryable", "details", "stack"), 1):
    field("Error", _name, _i)


def _error_fields(e: Any) -> tuple | None:
    """(kind, message, retryable, details, stack) of a Lua error object, or None."""
    if not is_lua_table(e):
        return None
    kind, msg = e[1], e[2]          # error objects are {kind, message, retryable, details, stack}
    if type(kind) is bytes and type(msg) is bytes:
        return (kind, msg, e[3], e[4], e[5])
    return None


@function("errors")
def new(x: Any, y: Any = None) -> Any:
    if _error_fields(x) is not None:
        return x
    if is_lua_table(x):
        kind = x[b"kind"] or b"UNKNOWN"
        msg = x[b"message"]
        return New((b"Error", kind, msg if type(msg) is bytes else text(msg or b"", "message").encode(),
                    x[b"retryable"], x[b"details"]))
    if type(x) is bytes and y is not None and x.decode("utf-8", "replace") in KINDS:
        return New((b"Error", x, text(y, "message").encode()))     # errors.new(kind, message)
    return New((b"Error", b"UNKNOWN", x if type(x) is bytes else str(x).encode()))


@function("errors")
def wrap(err: Any, message: Any = None) -> Any:
    if err is None:
        return None
    f = _error_fields(err)
    if f is None:
        f = (b"UNKNOWN", err if type(err) is bytes else str(err).encode(), None, None, None)
    prefix = b"" if message is None else text(message, "message").encode() + b": "
    return New((b"Error", f[0], prefix + f[1], f[2], f[3], f[4]))


@function("errors", "is")
def is_(err: Any, kind: Any) -> bool:
    f = _error_fields(err)
    return f is not None and f[0] == kind


@function("errors")
def call_stack(err: Any) -> Any:
    f = _error_fields(err)
    if f is None or type(f[4]) is not bytes:
        return None
    frames = [{"source": src, "line": int(line), "name": name}
              for src, line, name in re.findall(r"\n\s*([^:\n]+):(\d+): in ([^\n]+)",
                                                f[4].decode("utf-8", "replace"))]
    return lua_value({"thread": "main", "frames": frames})


# -- process ---------------------------------------------------------------------------------
@function("process")
def pid() -> bytes:
    return _me().pid.encode()


MEMBERS.setdefault("process", {})["id"] = MEMBERS["process"]["pid"]


@function("process")
def send(dest: Any, topic: Any, *payload: Any) -> bool:
    ctx = current_ctx()
    if ctx.exit_exc is not None:
        raise ApiError("CANCELED", "the process is exiting")
    if not payload:
        data = None
    elif len(payload) == 1:
        data = from_lua(payload[0])
    else:
        data = [from_lua(p) for p in payload]
    _rt().send(ctx.pid, text(dest, "destination"), text(topic, "topic"), data)
    return True


def _spawner(flags: int) -> Any:
    def spawn(id: Any, host: Any, *args: Any) -> bytes:
        ctx = current_ctx()
        plain = [from_lua(a) for a in args]
        return _rt().spawn(ctx.pid, text(id, "entry id"), text(host, "host"), plain, flags).encode()
    return spawn


for _flags, _name in ((0, "spawn"), (1, "spawn_monitored"), (2, "spawn_linked"),
                      (3, "spawn_linked_monitored")):
    function("process", _name)(_spawner(_flags))


@function("process")
def terminate(dest: Any) -> bool:
    _rt().terminate(current_ctx().pid, text(dest, "destination"))
    return True


@function("process")
def cancel(dest: Any, reason: Any = None) -> bool:
    _rt().cancel(current_ctx().pid, text(dest, "destination"),
                 "" if reason is None else text(reason, "reason"))
    return True


def _watch(kind: str, on: bool) -> Any:
    def watch(dest: Any) -> bool:
        rt = _rt()
        getattr(rt, kind)(_me(), text(dest, "destination"), on)
        return True
    return watch


for _kind in ("monitor", "link"):
    function("process", _kind)(_watch(_kind, True))
    function("process", "un" + _kind)(_watch(_kind, False))


def _channel_obj(key: Any, make: Any, topic: Any = False) -> Any:
    ctx = current_ctx()
    obj = ctx.objects.get(key)
    if obj is None:
        obj = ctx.objects[key] = ctx.new_obj(b"Channel", make(), topic)
    return obj


@function("process")
def inbox() -> Any:
    return _channel_obj("inbox", lambda: _me().inbox())


@function("process")
def events() -> Any:
    return _channel_obj("events", lambda: _me().events())


@function("process")
def listen(topic: Any, options: Any = None) -> Any:
    t = text(topic, "topic")
    try:
        check_topic(t)
    except InvalidMessage as exc:
        raise ApiError("INVALID", str(exc)) from None
    as_message = is_lua_table(options) and options[b"message"] is True
    return _channel_obj(("listen", t, as_message), lambda: _me().listen(t),
                        t.encode() if as_message else False)


@function("process")
def unlisten(ch: Any) -> bool:
    if not is_lua_table(ch) or not isinstance(ch[1], _channel.Channel):
        raise ApiError("INVALID", "unlisten expects a channel from process.listen")
    handle = ch[1]
    ctx = current_ctx()
    for key in [k for k, v in ctx.objects.items() if type(k) is tuple and v[1] is handle]:
        del ctx.objects[key]
    _me().unlisten(handle)
    return True


@function("process")
def set_options(opts: Any) -> bool:
    if not is_lua_table(opts):
        raise ApiError("INVALID", "set_options expects a table")
    trap = opts[b"trap_links"]
    if trap is not None:
        _me().trap_links = bool(trap)
    return True


@function("process")
def get_options() -> Any:
    return lua_value({"trap_links": _me().trap_links})


subtable("process", "event", "process.event")
for _e in ("EXIT", "LINK_DOWN", "CANCEL"):
    constant("process.event", _e, _e)
subtable("process", "registry", "process.registry")
subtable("system", "supervisor", "system.supervisor")
subtable("system", "process", "system.process")


@function("system.process", "pid")
def system_pid() -> int:
    return os.getpid()
for _i, _scope in enumerate(("LOCAL", "EVENTUAL", "CONSISTENT", "STRONG")):
    constant("process.registry", _scope, _i)


@function("process.registry")
def lookup(name: Any) -> bytes:
    n = text(name, "name")
    p = _rt().names.get(n)
    if p is None:
        raise ApiError("NOT_FOUND", f"no process registered as '{n}'")
    return p.encode()


def _unavailable(what: str) -> Any:
    def fn(*args: Any) -> Any:
        raise ApiError("UNAVAILABLE", f"{what} is not available in wippy")
    return fn


for _name in ("upgrade", "with_context", "with_options"):
    function("process", _name)(_unavailable(f"process.{_name}"))


# -- channels --------------------------------------------------------------------------------
@function("channel", "new")
def channel_new(size: Any = None) -> Any:
    if size is None:
        size = 0
    if type(size) is float and size.is_integer():
        size = int(size)
    if type(size) is not int or size < 0:
        raise ApiError("INVALID", "channel.new: size must be an integer >= 0")
    return New((b"Channel", _channel.Channel(size), False))


field("Message", "topic", 1)
field("Message", "from", 2)
field("Payload", "data", 1)


@method("Channel", "close")
def channel_close(handle: Any, topic: Any, _: Any) -> bool:
    handle.close()
    return True


# -- json ------------------------------------------------------------------------------------
def _no_nan(v: Any) -> Any:
    if type(v) is float and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if type(v) is list:
        return [_no_nan(x) for x in v]
    if type(v) is dict:
        return {k: _no_nan(x) for k, x in v.items()}
    return v


@function("json")
def encode(v: Any) -> bytes:
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
    return out.encode()


@function("json")
def decode(s: Any) -> Any:
    if type(s) is not bytes or not s:
        raise ApiError("INVALID", "json.decode expects a non-empty string")
    try:
        data = json.loads(s)
    except ValueError as exc:
        raise ApiError("INTERNAL", f"json.decode: {exc}") from None
    return lua_value(data)


for _name in ("validate", "validate_string"):
    function("json", _name)(_unavailable(f"json.{_name} (JSON schema)"))


# -- logger ----------------------------------------------------------------------------------
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}


def _log(level: int, name: Any, extra: Any, message: Any, fields: Any) -> None:
    logger = logging.getLogger("wippy.lua" + ("." + text(name) if name is not None else ""))
    if not logger.isEnabledFor(level):
        return
    ctx = current_ctx()
    merged: dict[str, Any] = {}
    for src in (extra, fields):
        if src is not None:
            data = from_lua(src)
            if isinstance(data, dict):
                merged.update(data)
    msg = "" if message is None else text(message, "message")
    if merged:
        msg += " " + " ".join(f"{k}={json.dumps(v, default=repr)}" for k, v in merged.items())
    logger.log(level, "%s %s: %s", ctx.pid, ctx.entry_id, msg)


def _module_level(level: int) -> Any:
    def log_(*args: Any) -> bool:
        if args and is_lua_table(args[0]):      # logger:info(...) on the module table
            args = args[1:]
        message = args[0] if args else None
        fields = args[1] if len(args) > 1 else None
        _log(level, None, None, message, fields)
        return True
    return log_


def _object_level(level: int) -> Any:
    def log_(name: Any, extra: Any, _: Any, message: Any = None, fields: Any = None) -> bool:
        _log(level, name, extra, message, fields)
        return True
    return log_


def _merge(a: Any, b: Any) -> Any:
    merged: dict[str, Any] = {}
    for src in (a, b):
        if src is not None:
            data = from_lua(src)
            if isinstance(data, dict):
                merged.update(data)
    return lua_value(merged) if merged else None


for _name, _level in _LEVELS.items():
    function("logger", _name)(_module_level(_level))
    method("Logger", _name)(_object_level(_level))


@function("logger", "with")
def logger_with(*args: Any) -> Any:
    fields = args[-1] if args else None
    return New((b"Logger", None, _merge(None, fields)))


@function("logger", "named")
def logger_named(*args: Any) -> Any:
    name = text(args[-1] if args else None, "name")
    if not name:
        raise ApiError("INVALID", "logger:named: empty name")
    return New((b"Logger", name.encode(), None))


@method("Logger", "with")
def logger_obj_with(name: Any, extra: Any, _: Any, fields: Any = None) -> Any:
    return New((b"Logger", name, _merge(extra, fields)))


@method("Logger", "named")
def logger_obj_named(name: Any, extra: Any, _: Any, sub: Any = None) -> Any:
    s = text(sub, "name")
    if not s:
        raise ApiError("INVALID", "logger:named: empty name")
    full = s if name is None else text(name) + "." + s
    return New((b"Logger", full.encode(), extra))


# -- registry --------------------------------------------------------------------------------
# Over wippy.registry: reads come from this host's LMDB reader; changes go to the node, and a
# process that applied a change sees it in its next read (S3).
def _reg() -> Any:
    return _registry


def _entries(lst: list) -> Any:
    return lua_value(sorted(lst, key=lambda e: e["id"]))


@function("registry")
def get(id: Any) -> Any:
    return lua_value(_reg().get(text(id, "entry id")))


@function("registry")
def find(flt: Any = None) -> Any:
    f = from_lua(flt) if flt is not None else {}
    if not isinstance(f, dict):
        raise ApiError("INVALID", "registry.find expects a table of filters")
    return _entries(_reg().find(f))


@function("registry")
def parse_id(id: Any) -> Any:
    ns, _, name = text(id, "entry id").rpartition(":")
    return lua_value({"ns": ns, "name": name})


def version_arg(v: Any) -> int:
    """A registry version argument (a Version object or an integer) as an int."""
    if is_lua_table(v) and type(v[1]) is int:       # a Version object
        return v[1]
    if type(v) is int:
        return v
    raise ApiError("INVALID", "a registry version (a Version or an integer) expected")


@function("registry")
def current_version() -> Any:
    return New((b"Version", int(_reg().current_version())))


@function("registry")
def versions() -> Any:
    return _list_of(current_ctx(), [int(v) for v in _reg().versions()])


def _list_of(ctx: Any, ids: list[int]) -> Any:
    t = ctx.state.lua.table()
    for i, v in enumerate(ids, 1):
        t[i] = ctx.new_obj(b"Version", v)
    return t


@function("registry")
def history() -> Any:
    return lua_value(_reg().history())


@function("registry")
def snapshot() -> Any:
    return New((b"Snapshot", _reg().snapshot()))


@function("registry")
def snapshot_at(v: Any) -> Any:
    return New((b"Snapshot", _reg().snapshot_at(version_arg(v))))


@function("registry")
def build_delta(old: Any, new: Any) -> Any:
    a, b = from_lua(old, empty=list), from_lua(new, empty=list)
    if not isinstance(a, list) or not isinstance(b, list):
        raise ApiError("INVALID", "build_delta expects two lists of entries")
    return lua_value(_reg().build_delta(a, b))


field("Version", "id", 1)


@method("Version", "string")
def version_string(v: int, _a: Any, _b: Any) -> bytes:
    return f"v{v}".encode()


@method("Version", "previous")
def version_previous(v: int, _a: Any, _b: Any) -> Any:
    return New((b"Version", v - 1)) if v and v > 0 else None


@method("Version", "next")
def version_next(v: int, _a: Any, _b: Any) -> Any:
    store = _rt().store
    cur = store.version() if store is not None else None
    return New((b"Version", v + 1)) if cur is not None and v < cur else None


@method("Snapshot", "entries")
def snapshot_entries(snap: Any, _a: Any, _b: Any) -> Any:
    return _entries(snap.entries())


@method("Snapshot", "get")
def snapshot_get(snap: Any, _a: Any, _b: Any, id: Any = None) -> Any:
    return lua_value(snap.get(text(id, "entry id")))


@method("Snapshot", "find")
def snapshot_find(snap: Any, _a: Any, _b: Any, flt: Any = None) -> Any:
    f = from_lua(flt) if flt is not None else {}
    return _entries(snap.find(f if isinstance(f, dict) else {}))


@method("Snapshot", "namespace")
def snapshot_namespace(snap: Any, _a: Any, _b: Any, ns: Any = None) -> Any:
    return _entries(snap.namespace(text(ns, "namespace")))


@method("Snapshot", "version")
def snapshot_version(snap: Any, _a: Any, _b: Any) -> Any:
    return New((b"Version", int(snap.version())))


@method("Snapshot", "changes")
def snapshot_changes(snap: Any, _a: Any, _b: Any) -> Any:
    return New((b"Changes", snap.changes()))


def _entry_arg(e: Any) -> dict:
    data = from_lua(e)
    if not isinstance(data, dict):
        raise ApiError("INVALID", "an entry table {id, kind, meta, data} expected")
    return data


@method("Changes", "create")
def changes_create(ch: Any, _a: Any, _b: Any, entry: Any = None) -> Any:
    ch.create(_entry_arg(entry))
    return New((b"Changes", ch))


@method("Changes", "update")
def changes_update(ch: Any, _a: Any, _b: Any, entry: Any = None) -> Any:
    ch.update(_entry_arg(entry))
    return New((b"Changes", ch))


@method("Changes", "delete")
def changes_delete(ch: Any, _a: Any, _b: Any, id: Any = None) -> Any:
    ch.delete(from_lua(id))
    return New((b"Changes", ch))


@method("Changes", "ops")
def changes_ops(ch: Any, _a: Any, _b: Any) -> Any:
    return lua_value(ch.ops())


# -- events ----------------------------------------------------------------------------------
@function("events", "send")
def events_send(system: Any, kind: Any, path: Any, data: Any = None) -> bool:
    s, k, p = text(system, "system"), text(kind, "kind"), text(path, "path")
    if not s or not k or not p:
        raise ApiError("INVALID", "events.send: system, kind and path must not be empty")
    return _events.send(s, k, p, from_lua(data))


field("Subscription", "channel", 2)


# -- uuid ------------------------------------------------------------------------------------
def _uuid_arg(v: Any) -> _uuid.UUID:
    try:
        return _uuid.UUID(text(v, "uuid"))
    except ValueError:
        raise ApiError("INVALID", f"invalid UUID {text(v)!r}") from None


def _v7() -> _uuid.UUID:
    ms = _stdtime.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    n = ((ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
         | 0b10 << 62 | (rand & ((1 << 62) - 1)))
    return _uuid.UUID(int=n)


_VARIANTS = {_uuid.RFC_4122: "RFC4122", _uuid.RESERVED_NCS: "NCS",
             _uuid.RESERVED_MICROSOFT: "Microsoft", _uuid.RESERVED_FUTURE: "Future"}


def _journaled_uuid(make: Callable[[], str]) -> bytes:
    """A UUID from ``make``; inside a workflow's own code, a journaled ``uuid`` step."""
    wf = durable.current()
    return (make() if wf is None else wf.uuid(make)).encode()


@function("uuid")
def v1() -> bytes:
    return _journaled_uuid(lambda: str(_uuid.uuid1()))


@function("uuid")
def v4() -> bytes:
    return _journaled_uuid(lambda: str(_uuid.uuid4()))


@function("uuid")
def v7() -> bytes:
    return _journaled_uuid(lambda: str(_v7()))


@function("uuid")
def v3(ns: Any, name: Any) -> bytes:
    return str(_uuid.uuid3(_uuid_arg(ns), text(name, "name"))).encode()


@function("uuid")
def v5(ns: Any, name: Any) -> bytes:
    return str(_uuid.uuid5(_uuid_arg(ns), text(name, "name"))).encode()


@function("uuid")
def validate(v: Any = None) -> bool:
    if type(v) is not bytes:
        return False
    try:
        _uuid.UUID(v.decode())
    except (ValueError, UnicodeDecodeError):
        return False
    return True


@function("uuid")
def version(v: Any) -> int:
    return _uuid_arg(v).version or 0


@function("uuid")
def variant(v: Any) -> bytes:
    return _VARIANTS.get(_uuid_arg(v).variant, "Invalid").encode()


@function("uuid", "parse")
def uuid_parse(v: Any) -> Any:
    u = _uuid_arg(v)
    info: dict[str, Any] = {"version": u.version, "variant": _VARIANTS.get(u.variant, "Invalid")}
    if u.version == 7:
        info["timestamp"] = (u.int >> 80) // 1000
    elif u.version == 1:
        info["timestamp"] = (u.time - 0x01B21DD213814000) // 10_000_000
        info["node"] = f"{u.node:012x}"
    return lua_value(info)


@function("uuid", "format")
def uuid_format(v: Any, style: Any = None) -> bytes:
    u = _uuid_arg(v)
    s = "standard" if style is None else text(style, "format")
    if s == "standard":
        return str(u).encode()
    if s == "simple":
        return u.hex.encode()
    if s == "urn":
        return u.urn.encode()
    raise ApiError("INVALID", f"unknown UUID format {s!r} (standard, simple, urn)")


# -- env -------------------------------------------------------------------------------------
_ENV_OVERLAY: dict[str, str] = {}     # env.set: visible to this host's Lua processes only


@function("env", "get")
def env_get(key: Any) -> bytes:
    k = text(key, "key")
    if not k:
        raise ApiError("INVALID", "env.get: empty key")
    v = _ENV_OVERLAY.get(k, os.environ.get(k))
    if v is None:
        raise ApiError("NOT_FOUND", f"environment variable {k} is not set")
    return v.encode()


@function("env", "set")
def env_set(key: Any, value: Any) -> bool:
    k = text(key, "key")
    if not k:
        raise ApiError("INVALID", "env.set: empty key")
    _ENV_OVERLAY[k] = text(value, "value")
    return True


@function("env")
def get_all() -> Any:
    merged = dict(os.environ)
    merged.update(_ENV_OVERLAY)
    return lua_value(merged)


# -- io (terminal host) ----------------------------------------------------------------------
def _joined(sep: str, args: tuple) -> bytes:
    parts = []
    for a in args:
        if type(a) is bytes:
            parts.append(a)
        elif type(a) is bool:
            parts.append(b"true" if a else b"false")
        elif a is None:
            parts.append(b"nil")
        elif type(a) is float and a.is_integer():
            parts.append(f"{a:.1f}".encode())
        else:
            parts.append(str(a).encode())
    return sep.encode().join(parts)


def _out(stream: Any, data: bytes, flush: bool) -> bool:
    try:
        stream.buffer.write(data)
        if flush:
            stream.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"write failed: {exc}") from None
    return True


@function("io")
def write(*args: Any) -> bool:
    return _out(sys.stdout, _joined("", args), False)


@function("io", "print")
def io_print(*args: Any) -> bool:
    return _out(sys.stdout, _joined("\t", args) + b"\n", False)


@function("io")
def eprint(*args: Any) -> bool:
    return _out(sys.stderr, _joined("\t", args) + b"\n", True)


@function("io")
def flush() -> bool:
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"flush failed: {exc}") from None
    return True


@function("io")
def args() -> Any:
    return lua_value([a for a in current_ctx().args if isinstance(a, str)])


function("io", "raw")(_unavailable("io.raw"))
