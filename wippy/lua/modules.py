"""Wippy's Lua API, the non-blocking half of the globals: ``process``, ``channel``, ``errors``,
and ``require`` with the list of modules an entry may ask for. The modules themselves are in
``stdmods.py`` (``json``, ``logger``, ``uuid``, ``env``, ``io``), ``regmod.py`` (``registry``,
``events``), ``timemod.py`` (``time``) and ``wfmod.py`` (``workflow``); the blocking calls are in
``blocking.py``. See ``api.py`` for the conventions: arguments arrive as raw lupa values
(``bytes`` for strings), results go back Lua-ready.
"""
from __future__ import annotations

import logging
from typing import Any

from .. import channel as _channel
from ..core.wire import check_topic
from ..errors import EntryNotFound, InvalidMessage
from ..runtime import table as _runtime
from .api import (
    MEMBERS,
    ApiError,
    Raise,
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
    unavailable,
)
from .chunks import builtin_chunk, types_chunks
from .engine import from_lua, is_lua_table, message_payload

__all__ = ["BUILTIN_MODULES", "GLOBAL_MODULES", "LUA_LIBS"]

log = logging.getLogger("wippy.lua")

#: Modules a Lua entry may list in ``modules:`` and ``require`` (Wippy's names).
BUILTIN_MODULES = frozenset({"time", "json", "logger", "registry", "events", "funcs", "uuid",
                             "env", "io", "system", "workflow", "security", "ctx", "base64",
                             "compress", "yaml", "hash", "crypto", "eval_runner", "text",
                             "expr", "http", "sql", "store", "queue", "metrics", "fs", "exec",
                             "templates", "html"})
#: Names ``require`` resolves to the global of the same name, listed or not.
GLOBAL_MODULES = frozenset({"process", "channel", "errors", "coroutine", "string", "table",
                            "math", "os", "utf8"})
#: Lua-side libraries (``lib/<name>.lua``) the prelude may ask for.
LUA_LIBS = frozenset({"base", "coroutine", "types", "errors", "errmeta", "order"})


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


@internal("table_create")
def _table_create(narr: Any = None, nrec: Any = None) -> Any:
    return current_ctx().state.lua.table()


@internal("string_cast")
def _string_cast(_lib: Any = None, v: Any = None, *rest: Any) -> Any:
    """Typed Lua's ``string(x)`` (the ``__call`` of the string library, so ``_lib`` is the
    library) before the type values are loaded: the lossless conversions Lua makes (a
    number's text), else an ``Invalid`` error raised where it was called."""
    t = type(v)
    if t is bytes:
        return v
    if t is int:
        return str(v).encode()
    if t is float:
        text_ = "%.14g" % v
        if text_.lstrip("-").isdigit():
            text_ += ".0"
        return text_.encode()
    got = "nil" if v is None else "boolean" if t is bool else "table"
    raise Raise("INVALID", f"string: expected string, got {got}")


@internal("print")
def _print(line: bytes) -> None:
    ctx = current_ctx()
    log.info("%s %s: %s", ctx.pid, ctx.entry_id, line.decode("utf-8", "replace"))


# -- errors ----------------------------------------------------------------------------------
# The `errors` global is lib/errors.lua; error objects' fields are read here (errkinds.py).
for _i, _name in enumerate(("kind", "message", "retryable", "details", "stack"), 1):
    field("Error", _name, _i)


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
    data = message_payload(payload)
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
for _i, _scope in enumerate(("LOCAL", "EVENTUAL", "CONSISTENT", "STRONG")):
    constant("process.registry", _scope, _i)


@function("process.registry")
def lookup(name: Any) -> bytes:
    n = text(name, "name")
    p = _rt().names.get(n)
    if p is None:
        raise ApiError("NOT_FOUND", f"no process registered as '{n}'")
    return p.encode()


function("process", "upgrade")(unavailable("process.upgrade"))


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


@method("Channel", "close")
def channel_close(handle: Any, topic: Any, _: Any) -> bool:
    handle.close()
    return True
