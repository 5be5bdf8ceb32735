"""Driving Lua processes from wippy's scheduler.

A Lua process is a wippy process whose task runs :func:`drive`: it resumes the process's Lua
coroutine for one slice, then looks at what came back:

* nothing: the count hook preempted the slice: go to the back of the run queue;
* ``(REQ.x, args...)``: a blocking call (``inbox:receive()``, ``time.sleep``, ``process.exec``,
  ``funcs.call``...): perform it with wippy's Python API, awaiting like any Python process, and
  resume Lua with ``ok, values...``;
* the coroutine ended: the process's result (``true, value``) or error (``false, kind, msg``).

``coroutine.spawn`` starts another task of the same process that drives another coroutine of the
same Lua state. A ``function.lua`` call (``funcs.call`` from Lua or Python) runs in a fresh Lua
state of its own, driven inside the caller's task.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from importlib import resources
from typing import Any, Callable

from .. import channel as _channel
from .. import funcs as _funcs
from .. import process as _process
from .. import runtime as _runtime
from .. import scheduler
from .. import time as _wtime
from ..errors import (ChannelClosed, EntryNotFound, InvalidMessage, LimitExceeded, WippyError)
from ..threads import to_thread
from . import api, engine, limits
from .api import ApiError, FutureDone, LuaRef, encode, error_result, op, text
from .engine import LuaError, LuaMemoryError, LuaState, from_lua, to_lua

__all__ = ["entry_runner", "call_function", "LuaFailure", "REQS", "builtin_chunk"]

log = logging.getLogger("wippy.lua")

HOST_LIMITS_TTL_S = 1.0     # how long a host entry's limits are cached (a registry read each spawn
                            # would cost more than the rest of the spawn)


class LuaFailure(WippyError):
    """A Lua process or function ended with an error (Wippy's ``kind`` is kept)."""

    def __init__(self, kind: str, message: str, stack: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.stack = stack


# -- sources ---------------------------------------------------------------------------------
REQS: dict[str, Callable[..., Any]] = {}
_REQ_TABLE: list[Callable[..., Any]] = []


def request(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register an async handler for ``REQ.<name>`` (a blocking call from Lua)."""
    REQS[fn.__name__.strip("_")] = fn
    return fn


_NUMBERS: dict[str, dict[str, int]] | None = None


def _numbers() -> dict[str, dict[str, int]]:
    global _NUMBERS
    if _NUMBERS is None:
        names = sorted(REQS)
        _REQ_TABLE.extend(REQS[n] for n in names)
        _NUMBERS = {"OP": api.numbering(), "REQ": {n: i for i, n in enumerate(names)}}
    return _NUMBERS


_CONST = re.compile(rb"\b(OP|REQ)\.(\w+)")


def lua_source(path: str) -> bytes:
    """A Lua file of this package with ``OP.x`` / ``REQ.x`` replaced by their numbers."""
    nums = _numbers()
    raw = resources.files(__package__).joinpath(path).read_bytes()

    def sub(m: re.Match) -> bytes:
        table, name = m.group(1).decode(), m.group(2).decode()
        try:
            return str(nums[table][name]).encode()
        except KeyError:
            raise RuntimeError(f"{path}: unknown {table}.{name}") from None
    return _CONST.sub(sub, raw)


_BUILTIN: dict[str, bytes | None] = {}
_PRELUDE: bytes | None = None


def builtin_chunk(name: str) -> bytes | None:
    """Compiled ``lib/<name>.lua`` (a built-in module), or None."""
    if name not in _BUILTIN:
        res = resources.files(__package__).joinpath("lib", name + ".lua")
        _BUILTIN[name] = (engine.compile_chunk(lua_source(f"lib/{name}.lua"), f"wippy/{name}.lua",
                                               strip=True) if res.is_file() else None)
    return _BUILTIN[name]


def _prelude() -> bytes:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = engine.compile_chunk(lua_source("prelude.lua"), "wippy/prelude.lua", strip=True)
    return _PRELUDE


def _source_of(entry: dict[str, Any]) -> tuple[bytes, str]:
    """(source text, chunk name) of a Lua entry; files are read every time (the chunk cache
    keys on the text, so an edited file gives new code to new processes)."""
    src = (entry.get("data") or {}).get("source")
    if not isinstance(src, str) or not src:
        raise LuaFailure("INVALID", f"entry {entry['id']}: no Lua source")
    if src.startswith("file://"):
        path = os.path.normpath(os.path.join(entry.get("base_dir") or ".", src[len("file://"):]))
        try:
            with open(path, "rb") as fh:
                return fh.read(), os.path.basename(path)
        except OSError as exc:
            raise LuaFailure("NOT_FOUND", f"entry {entry['id']}: cannot read {path}: "
                                          f"{exc.strerror}") from None
    return src.encode(), entry["id"]


def compile_entry(entry: dict[str, Any]) -> tuple[bytes, str]:
    """(binary chunk, chunk name) of a Lua entry; raises LuaFailure on a syntax error."""
    src, name = _source_of(entry)
    try:
        return engine.compile_chunk(src, name), name
    except LuaError as exc:
        raise LuaFailure("INVALID", f"entry {entry['id']}: {exc}") from None


# -- per-state context -----------------------------------------------------------------------
_host_limits: dict[str, tuple[float, Any]] = {}


def _host_entry_limits(rt: Any) -> dict[str, Any] | None:
    now = scheduler.monotonic()
    hit = _host_limits.get(rt.host_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    stored = rt.store.get(rt.host_id) if rt.store is not None else None
    value = (stored.get("data") or {}).get("limits") if stored else None
    _host_limits[rt.host_id] = (now + HOST_LIMITS_TTL_S, value)
    return value


def _is_terminal(rt: Any) -> bool:
    if rt.host_id == "wippy:terminal":
        return True
    stored = rt.store.get(rt.host_id) if rt.store is not None else None
    return bool(stored and stored.get("kind") == "terminal.host")


class Ctx:
    """What the Python side knows about one Lua state: its process, entry and limits."""

    __slots__ = ("state", "rt", "proc", "pid", "entry_id", "entry", "args", "exit_exc",
                 "main_fn", "task_fn", "_allow", "_terminal")

    def __init__(self, rt: Any, proc: Any, entry: dict[str, Any], args: tuple) -> None:
        self.rt = rt
        self.proc = proc
        self.pid = proc.pid
        self.entry = entry
        self.entry_id = entry["id"]
        self.args = args
        self.exit_exc: BaseException | None = None
        self._allow: dict[str, tuple[frozenset, dict]] = {}
        self._terminal: bool | None = None
        lim = limits.resolve((entry.get("data") or {}).get("limits"), _host_entry_limits(rt))
        self.state = LuaState(lim.max_memory, lim.max_cpu, f"{proc.pid} {self.entry_id}")
        self.state.ctx = self
        exports = self.state.setup(_prelude(), api.dispatch)
        self.main_fn = exports[b"main"]
        self.task_fn = exports[b"task"]

    @property
    def terminal(self) -> bool:
        if self._terminal is None:
            self._terminal = _is_terminal(self.rt)
        return self._terminal

    def allowlist(self, entry_id: str) -> tuple[frozenset, dict]:
        """(modules, imports) of the entry (or library) whose code calls ``require``."""
        got = self._allow.get(entry_id)
        if got is None:
            e = self.entry if entry_id == self.entry_id else self.rt.store.get(entry_id)
            data = (e or {}).get("data") or {}
            got = (frozenset(data.get("modules") or ()), dict(data.get("imports") or {}))
            self._allow[entry_id] = got
        return got

    def library(self, lib_id: str) -> tuple[bytes, str]:
        e = self.rt.store.get(lib_id) if self.rt.store is not None else None
        if e is None:
            raise EntryNotFound(f"library {lib_id} not found")
        if e.get("kind") != "library.lua":
            raise ApiError("INVALID", f"import {lib_id} is a {e.get('kind')}, not a library.lua")
        code, name = compile_entry(e)
        return code, "@" + name

    def limit_error(self) -> LimitExceeded:
        st = self.state
        why = st.killed
        if why == "memory":
            msg = f"memory limit exceeded (max_memory {limits.describe_bytes(st.max_memory)})"
        elif why == "stack":
            msg = "stack overflow (recursion too deep)"
        elif why == "stuck":
            msg = (f"ran {engine.STUCK_S:g} s inside code that cannot be preempted "
                   "(a sort comparator, gsub callback, __tostring or xpcall handler)")
        else:
            msg = f"CPU time limit exceeded (max_cpu {st.max_cpu:g}s)"
        return LimitExceeded(f"Lua process {self.pid} ({self.entry_id}): {msg}")


# -- the driver ------------------------------------------------------------------------------
async def _requeue() -> None:
    sched = scheduler.get()
    sched.wake(sched.new_wait(), None)
    await scheduler.suspend()


async def drive(ctx: Ctx, co: Any) -> Any:
    """Run Lua coroutine ``co`` to its end; returns what it returned (a tuple)."""
    state = ctx.state
    value: Any = None
    reqs = _REQ_TABLE
    while True:
        try:
            out = state.resume(co, value)
        except LuaMemoryError:
            state.killed = state.killed or "memory"
            raise ctx.limit_error() from None
        except LuaError as exc:
            if ctx.exit_exc is not None:
                raise ctx.exit_exc from None
            if state.killed is not None:
                raise ctx.limit_error() from None
            raise LuaFailure("INTERNAL", str(exc)) from None
        if ctx.exit_exc is not None:
            raise ctx.exit_exc
        if state.killed is not None:
            raise ctx.limit_error()
        if not co:
            return out
        if out is None:                       # preempted by the hook
            value = None
            await _requeue()
            continue
        if type(out) is tuple:
            n, args = out[0], out[1:]
        else:
            n, args = out, ()
        if type(n) is not int:
            value = (False, b"INVALID", b"attempt to yield from outside a coroutine")
            continue
        try:
            value = await reqs[n](ctx, *args)
        except (WippyError, ValueError, TypeError) as exc:
            value = error_result(exc)
        except LuaMemoryError:
            state.killed = state.killed or "memory"
            raise ctx.limit_error() from None


def _finish(ctx: Ctx, out: Any) -> Any:
    if type(out) is not tuple:
        out = (out,)
    if out[0] is True:
        try:
            return from_lua(out[1]) if len(out) > 1 else None
        except InvalidMessage as exc:
            raise InvalidMessage(f"result of {ctx.entry_id}: {exc}") from None
    kind = out[1].decode() if len(out) > 1 and type(out[1]) is bytes else "INTERNAL"
    msg = out[2].decode("utf-8", "replace") if len(out) > 2 and type(out[2]) is bytes else "error"
    stack = out[3].decode("utf-8", "replace") if len(out) > 3 and type(out[3]) is bytes else None
    if kind == "LIMIT_EXCEEDED" and ctx.state.killed is not None:
        raise ctx.limit_error()
    if stack:
        log.debug("Lua %s (%s) failed: %s", ctx.pid, ctx.entry_id, stack)
    raise LuaFailure(kind, msg, stack)


async def run_entry(entry: dict[str, Any], code: bytes, args: tuple) -> Any:
    """Run a process.lua / function.lua entry's method with ``args`` in a new Lua state."""
    rt = _runtime.get()
    proc = rt.current()
    ctx = Ctx(rt, proc, entry, args)
    engine.enable_watchdog()
    method = ((entry.get("data") or {}).get("method") or "main").encode()
    state = ctx.state
    co = ctx.main_fn.coroutine(code, ctx.entry_id.encode(), method,
                               *[to_lua(state, a) for a in args])
    return _finish(ctx, await drive(ctx, co))


def entry_runner(store: Any, entry_id: str) -> Callable[..., Any]:
    """codeload's answer for a ``process.lua`` / ``function.lua`` entry: an async callable."""
    entry = store.get(entry_id) if store is not None else None
    if entry is None:
        raise EntryNotFound(f"entry {entry_id} not found in the registry")
    code, _ = compile_entry(entry)

    async def run(*args: Any) -> Any:
        return await run_entry(entry, code, args)
    run.__qualname__ = f"lua:{entry_id}"
    return run


async def call_function(fid: str, args: list) -> Any:
    """``funcs.call``: a function entry (Lua or Python) by id, in the calling task."""
    rt = _runtime.get()
    entry = rt.store.get(fid) if rt.store is not None else None
    if entry is None:
        raise EntryNotFound(f"function {fid} not found")
    kind = entry.get("kind")
    if kind == "function.lua":
        code, _ = compile_entry(entry)
        return await run_entry(entry, code, tuple(args))
    if kind == "function.py":
        return await _funcs.call(fid, *args)
    raise InvalidMessage(f"entry {fid} is a {kind}, not a function")


# -- non-blocking calls that need the driver ------------------------------------------------------
@op
def spawn_task(fn: Any, *args: Any) -> tuple:
    st = engine.current()
    assert st is not None
    ctx = st.ctx
    co = ctx.task_fn.coroutine(fn, *args)

    async def task() -> None:
        out = await drive(ctx, co)
        if type(out) is tuple and out[0] is False:
            _finish(ctx, out)
    ctx.rt.start_task(ctx.proc, task())
    return (True, True)


class _Future:
    __slots__ = ("done", "channel")

    def __init__(self) -> None:
        self.done: FutureDone | None = None
        self.channel = _channel.Channel(1)


@op
def funcs_async(fid: Any, *args: Any) -> tuple:
    st = engine.current()
    assert st is not None
    ctx = st.ctx
    name = text(fid, "function id")
    plain = [from_lua(a) for a in args]
    fut = _Future()

    async def task() -> None:
        try:
            value = await call_function(name, plain)
        except WippyError as exc:
            fut.done = FutureDone(None, exc)
        except Exception as exc:  # noqa: BLE001 - the error belongs to whoever reads the future
            fut.done = FutureDone(None, LuaFailure("INTERNAL", f"{type(exc).__name__}: {exc}"))
        else:
            fut.done = FutureDone(value, None)
        if not fut.channel.closed:
            fut.channel.send_nowait(fut.done)
    ctx.rt.start_task(ctx.proc, task())
    return (True, fut, fut.channel)


@op
def future_state(fut: Any) -> tuple:
    st = engine.current()
    assert st is not None
    if fut.done is None:
        return (True, False)
    return (True, True, *encode(st, fut.done)[1:])


@op
def future_cancel(fut: Any) -> tuple:
    if fut.done is None:
        fut.done = FutureDone(None, LuaFailure("CANCELED", "the future was canceled"))
        fut.channel.send_nowait(fut.done)
        return (True, True)
    return (True, False)


# -- blocking calls ------------------------------------------------------------------------------
@request
async def recv(ctx: Ctx, ch: Any) -> tuple:
    try:
        v = await ch.receive()
    except ChannelClosed:
        return (False,)
    return (True, *encode(ctx.state, v))


@request
async def send(ctx: Ctx, ch: Any, value: Any, ref: bool) -> tuple:
    try:
        await ch.send(LuaRef(value) if ref else value)
    except ChannelClosed:
        return (False, b"INVALID", b"send on a closed channel")
    return (True,)


@request
async def select(ctx: Ctx, default: bool, n: int, *quads: Any) -> tuple:
    cases = []
    for i in range(n):
        ch, is_send, value, ref = quads[4 * i: 4 * i + 4]
        if is_send:
            cases.append(ch.case_send(LuaRef(value) if ref else value))
        else:
            cases.append(ch.case_receive())
    try:
        res = await _channel.select(*cases, default=bool(default))
    except ChannelClosed:
        return (False, b"INVALID", b"send on a closed channel")
    if res.default:
        return (True, 0)
    for i, (opcode, ch, sent) in enumerate(cases):
        if ch is res.channel:
            if opcode == 1:                  # a send case: the value we sent comes back
                if sent is res.value:
                    return (True, i + 1, True)
            else:
                if not res.ok:
                    return (True, i + 1, False)
                return (True, i + 1, True, *encode(ctx.state, res.value))
    return (False, b"INTERNAL", b"select: no case matched")


@request
async def sleep(ctx: Ctx, d: Any) -> tuple:
    await _wtime.sleep(api.seconds(d))
    return (True,)


@request
async def exec_(ctx: Ctx, id: Any, host: Any, *args: Any) -> tuple:
    plain = [from_lua(a) for a in args]
    value = await _process.exec(text(id, "entry id"), text(host, "host"), *plain)
    return (True, to_lua(ctx.state, value))


@request
async def call(ctx: Ctx, fid: Any, *args: Any) -> tuple:
    plain = [from_lua(a) for a in args]
    value = await call_function(text(fid, "function id"), plain)
    return (True, to_lua(ctx.state, value))


@request
async def register(ctx: Ctx, name: Any, pid: Any = None) -> tuple:
    n = text(name, "name")
    if not n or n[:1] == "\0":
        raise ApiError("INVALID", "invalid name")
    await _process.registry.register(n, None if pid is None else text(pid, "pid"))
    return (True, True)


@request
async def unregister(ctx: Ctx, name: Any) -> tuple:
    return (True, await _process.registry.unregister(text(name, "name")))


@request
async def readline(ctx: Ctx) -> tuple:
    line = await to_thread(sys.stdin.buffer.readline)
    if not line:
        return (False, b"CANCELED", b"end of input")
    return (True, line.rstrip(b"\n").rstrip(b"\r"))


@request
async def read(ctx: Ctx, n: Any = None) -> tuple:
    size = int(n) if isinstance(n, (int, float)) and n > 0 else 1024
    data = await to_thread(sys.stdin.buffer.read1, size)
    if not data:
        return (False, b"CANCELED", b"end of input")
    return (True, data)


@request
async def subscribe(ctx: Ctx, system: Any, kind: Any = None) -> tuple:
    from . import bus
    ch = await bus.subscribe(text(system, "system"), None if kind is None else text(kind, "kind"))
    return (True, ch)


@request
async def unsubscribe(ctx: Ctx, ch: Any) -> tuple:
    from . import bus
    await bus.unsubscribe(ch)
    return (True, True)
