"""Driving Lua processes from wippy's scheduler, and the blocking half of the Lua API.

A Lua process is a wippy process whose task runs :func:`drive`: it resumes the process's Lua
coroutine for one slice, then looks at what came back:

* nothing: the count hook preempted the slice: run again after the timers that are due;
* ``(REQ.x, args...)``: a blocking call (``inbox:receive()``, ``time.sleep``, ``process.exec``,
  ``funcs.call``...): perform it with wippy's Python API, awaiting like any Python process, and
  resume Lua with ``ok, values...``;
* the coroutine ended: ``true, value`` or ``false, kind, message, stack``.

``coroutine.spawn`` starts another task of the same process that drives another coroutine of the
same Lua state. A ``function.lua`` call (``funcs.call`` from Lua or Python) runs in a Lua state of
its own, driven inside the caller's task.

States are pooled (``engine.acquire``/``release``): a state whose process ended without being
killed gets a fresh per-process layer (``new_process`` in the prelude) and serves the next spawn,
which then costs a chunk load and a coroutine instead of a new Lua runtime.
"""
from __future__ import annotations

import functools
import logging
import sys
from typing import Any, Callable

from .. import channel as _channel
from .. import events as _events
from .. import funcs as _funcs
from .. import process as _process
from .. import registry as _registry
from .. import system as _system
from .. import time as _wtime
from .. import workflow as _workflow
from ..errors import ChannelClosed, EntryNotFound, InvalidMessage, LimitExceeded, WippyError
from ..runtime import durable, scheduler
from ..runtime import table as _runtime
from ..runtime.threads import to_thread
from . import api, engine, limits, modules, timemod, wfmod  # noqa: F401 - they register the API
from .api import (
    BLOCKING,
    ApiError,
    FutureDone,
    LuaFailure,
    LuaRef,
    New,
    Raise,
    blocking,
    current_ctx,
    error_result,
    function,
    internal,
    method,
    receive_result,
    received,
    req_numbers,
    text,
)
from .chunks import compile_entry, prelude
from .engine import LuaError, LuaMemoryError, from_lua, to_lua

__all__ = ["entry_runner", "LuaFailure", "drive"]

log = logging.getLogger("wippy.lua")

HOST_LIMITS_TTL_S = 1.0     # host entries' limits are cached this long (a registry read per
                            # spawn would cost more than the rest of the spawn)


# -- per-process context ---------------------------------------------------------------------
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


class Ctx:
    """What the Python side knows about the process (or function call) a Lua state runs."""

    __slots__ = ("state", "rt", "proc", "pid", "entry_id", "entry", "args", "exit_exc",
                 "slots", "next_slot", "objects", "_allow", "_terminal", "collected")

    def __init__(self, rt: Any, proc: Any, entry: dict[str, Any], args: tuple) -> None:
        self.rt = rt
        self.proc = proc
        self.pid = proc.pid
        self.entry = entry
        self.entry_id = entry["id"]
        self.args = args
        self.exit_exc: BaseException | None = None
        self.slots: dict[int, Any] = {}        # Lua values parked while they sit in a channel
        self.next_slot = 0
        self.objects: dict[Any, Any] = {}      # inbox/events/listen channel objects (same each call)
        self._allow: dict[str, tuple[frozenset, dict]] | None = None
        self._terminal: bool | None = None
        self.collected = False
        lim = limits.resolve((entry.get("data") or {}).get("limits"), _host_entry_limits(rt))
        self.state = engine.acquire(prelude(), api.dispatch, lim.max_memory, lim.max_cpu,
                                    f"{proc.pid} {self.entry_id}")
        self.state.ctx = self

    def new_obj(self, *fields: Any) -> Any:
        return self.state.exports[b"new_obj"](*fields)

    def park(self, value: Any) -> LuaRef:
        self.next_slot += 1
        self.slots[self.next_slot] = value
        return LuaRef(self.next_slot)

    @property
    def terminal(self) -> bool:
        if self._terminal is None:
            rt = self.rt
            stored = rt.store.get(rt.host_id) if rt.store is not None else None
            self._terminal = rt.host_id == "wippy:terminal" or bool(
                stored and stored.get("kind") == "terminal.host")
        return self._terminal

    def allowlist(self, entry_id: str) -> tuple[frozenset, dict]:
        """(modules, imports) of the entry (or library) whose code calls ``require``."""
        if self._allow is None:
            self._allow = {}
        got = self._allow.get(entry_id)
        if got is None:
            e = self.entry if entry_id == self.entry_id else (
                self.rt.store.get(entry_id) if self.rt.store is not None else None)
            if e is None:
                raise EntryNotFound(f"entry {entry_id} not found")
            data = e.get("data") or {}
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
            msg = f"memory limit exceeded (max_memory {limits.describe_bytes(st.max_memory or 0)})"
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
    """After a preempted slice: run again after the timers that are due now (a zero-delay timer,
    not the run queue, so a neighbour's due timer runs before our next slice)."""
    sched = scheduler.get()
    sched.call_later(0.0, _wake, sched, sched.new_wait())
    await scheduler.suspend()


def _wake(sched: Any, w: Any) -> None:
    sched.wake(w, None)


async def drive(ctx: Ctx, co: Any) -> Any:
    """Run Lua coroutine ``co`` to its end; returns what it returned (a tuple)."""
    state = ctx.state
    value: Any = None
    reqs = BLOCKING
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
        if state.killed is not None:
            if ctx.exit_exc is not None:
                raise ctx.exit_exc
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
        if type(n) is not int:                # coroutine.yield() at the top: let others run
            value = None
            await _requeue()
            continue
        if not ctx.collected:                 # first time it waits: drop the start-up garbage
            ctx.collected = True                # (~5 KB per idle process otherwise)
            state.exports[b"collect"]()
        try:
            if n == _RECV:                      # inline: one frame less per blocked process
                try:
                    value = receive_result(ctx, await args[0].receive(), args[1])
                except ChannelClosed:
                    value = (True, None, False)
                continue
            value = await reqs[n](ctx, *args)
        except _workflow.NondeterminismError:
            state.killed = state.killed or "exit"   # the workflow fails: no nil, err to Lua
            raise
        except (WippyError, ValueError, TypeError) as exc:
            value = error_result(exc)
        except LuaMemoryError:
            state.killed = state.killed or "memory"
            raise ctx.limit_error() from None
        if type(value) is New:
            value = (2, *value)


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
    if kind == "LIMIT_EXCEEDED":
        st = ctx.state
        if st.killed is None:
            st.killed = {"memory": "memory", "stack": "stack"}.get(msg, "cpu")
        raise ctx.limit_error()
    if stack:
        log.debug("Lua %s (%s) failed: %s", ctx.pid, ctx.entry_id, stack)
    raise LuaFailure(kind, msg, stack)


async def run_entry(entry: dict[str, Any], code: bytes, *args: Any) -> Any:
    """Run a process.lua / function.lua entry's method with ``args`` in a Lua state."""
    rt = _runtime.get()
    ctx = Ctx(rt, rt.current(), entry, args)
    state = ctx.state
    try:
        method_name = ((entry.get("data") or {}).get("method") or "main").encode()
        co = state.exports[b"main"].coroutine(code, ctx.entry_id.encode(), method_name,
                                              *[to_lua(state, a) for a in args])
        return _finish(ctx, await drive(ctx, co))
    finally:
        ctx.slots.clear()
        ctx.objects.clear()
        engine.release(state)


def entry_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of Lua entries (``process.lua``, ``function.lua``, and the main of a
    ``workflow.lua``): an async callable that runs the entry's method in the calling task."""
    code, _ = compile_entry(entry)
    engine.enable_watchdog()
    return functools.partial(run_entry, entry, code)   # an async callable, one frame less


# -- coroutine.spawn and funcs.async ---------------------------------------------------------
@internal("spawn_task")
def _spawn_task(fn: Any, *args: Any) -> bool:
    ctx = current_ctx()
    co = ctx.state.exports[b"task"].coroutine(fn, *args)

    async def task() -> None:
        out = await drive(ctx, co)
        if type(out) is tuple and out[0] is False:
            _finish(ctx, out)
    ctx.rt.start_task(ctx.proc, task())
    return True


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


def _start_call(ctx: Ctx, fid: str, plain: list) -> _Future:
    fut = _Future()

    async def task() -> None:
        try:
            value = await _funcs.call(fid, *plain)
        except WippyError as exc:
            fut.resolve(FutureDone(None, exc))
        except Exception as exc:  # noqa: BLE001 - the error belongs to whoever reads the future
            fut.resolve(FutureDone(None, LuaFailure("INTERNAL", f"{type(exc).__name__}: {exc}")))
        else:
            fut.resolve(FutureDone(value, None))
    ctx.rt.start_task(ctx.proc, task())
    return fut


@function("funcs", "async")
def funcs_async(fid: Any, *args: Any) -> Any:
    if durable.current() is not None:
        raise ApiError("INVALID", "funcs.async is not journaled: a workflow calls its "
                                  "activities with funcs.call")
    ctx = current_ctx()
    fut = _start_call(ctx, text(fid, "function id"), [from_lua(a) for a in args])
    return New((b"Future", fut, fut.channel))


@function("funcs", "new")
def funcs_new() -> Any:
    return New((b"Executor",))


for _name in ("with_context", "with_actor", "with_scope", "with_options"):
    def _same(_a: Any, _b: Any, _c: Any, *args: Any) -> Any:
        return New((b"Executor",))       # context, actor, scope, options: accepted, not used
    method("Executor", _name)(_same)


@method("Executor", "async")
def executor_async(_a: Any, _b: Any, _c: Any, fid: Any = None, *args: Any) -> Any:
    return funcs_async(fid, *args)


api.field("Future", "response", 2)
api.field("Future", "channel", 2)


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
    return (current_ctx().new_obj(b"Error", b"INTERNAL", str(done.error).encode()), True)


@method("Future")
def cancel(fut: Any, ch: Any, _: Any) -> bool:
    if fut.done is not None:
        return False
    fut.canceled = True
    fut.resolve(FutureDone(None, LuaFailure("CANCELED", "the future was canceled")))
    return True


# -- blocking calls --------------------------------------------------------------------------
_RECV = 0                  # ch:receive(), handled inside drive()


@blocking(None, "receive", method_of="Channel")
async def _recv(ctx: Ctx, ch: Any, topic: Any, _: Any) -> tuple:
    try:
        return receive_result(ctx, await ch.receive(), topic)
    except ChannelClosed:
        return (True, None, False)


assert req_numbers()["@Channel.receive"] == _RECV


def _outgoing(ctx: Ctx, value: Any) -> Any:
    t = type(value)
    if t is bytes or t is int or t is float or t is bool or value is None:
        return value
    return ctx.park(value)


@blocking(None, "send", method_of="Channel")
async def _send(ctx: Ctx, ch: Any, topic: Any, _: Any, value: Any = None) -> tuple:
    v = _outgoing(ctx, value)
    try:
        await ch.send(v)
    except ChannelClosed:
        if type(v) is LuaRef:
            ctx.slots.pop(v.id, None)
        raise Raise("INVALID", "send on a closed channel") from None
    return (True, True)


@blocking("channel", "select")
async def _select(ctx: Ctx, cases: Any) -> tuple:
    if not engine.is_lua_table(cases):
        raise Raise("INVALID", "channel.select: a table of cases expected")
    n = len(cases)
    spec = []                                # (case table, channel object, is_send, value)
    for i in range(1, n + 1):
        c = cases[i]
        chobj: Any = c[1] if engine.is_lua_table(c) else None
        handle = chobj[1] if engine.is_lua_table(chobj) else None
        if not isinstance(handle, _channel.Channel):
            raise Raise("INVALID", f"channel.select: case {i} is not a channel case")
        spec.append((chobj, handle, bool(c[2]), c[3]))
    ops = [h.case_send(_outgoing(ctx, v)) if is_send else h.case_receive()
           for _, h, is_send, v in spec]
    try:
        res = await _channel.select(*ops, default=cases[b"default"] is True)
    except ChannelClosed:
        res = None
    lua = ctx.state.lua
    out: Any = None
    kept = None
    if res is None:
        out = (3, b"INVALID", b"send on a closed channel")
    elif res.default:
        out = (True, lua.table_from({b"default": True, b"ok": True}))
    else:
        for (chobj, handle, is_send, value), (_, ch, sent) in zip(spec, ops):
            if ch is not res.channel:
                continue
            if is_send:
                if sent is res.value:
                    kept = sent
                    out = (True, lua.table_from({b"channel": chobj, b"value": value, b"ok": True}))
                    break
            else:
                got = {b"channel": chobj, b"ok": bool(res.ok)}
                if res.ok:
                    got[b"value"] = received(ctx, res.value, chobj[2])
                out = (True, lua.table_from(got))
                break
    for _, _, sent in ops:                   # values parked for send cases that did not fire
        if type(sent) is LuaRef and sent is not kept:
            ctx.slots.pop(sent.id, None)
    return out or (False, b"INTERNAL", b"select: no case matched")


@blocking("time", "sleep")
async def _sleep(ctx: Ctx, d: Any) -> tuple:
    await _wtime.sleep(timemod.seconds(d))
    return (True,)


@blocking("workflow", "start")
async def _workflow_start(ctx: Ctx, entry_id: Any, input: Any = None, opts: Any = None) -> tuple:
    name = None
    if opts is not None:
        if not engine.is_lua_table(opts):
            raise ApiError("INVALID", "workflow.start: options must be a table {name = ...}")
        if opts[b"name"] is not None:
            name = text(opts[b"name"], "name")
    pid = await _workflow.start(text(entry_id, "workflow id"), from_lua(input), name)
    return (True, pid.encode())


@blocking("process", "exec")
async def _exec(ctx: Ctx, id: Any, host: Any, *args: Any) -> tuple:
    plain = [from_lua(a) for a in args]
    value = await _process.exec(text(id, "entry id"), text(host, "host"), *plain)
    return (True, to_lua(ctx.state, value))


@blocking("process.registry", "register")
async def _register(ctx: Ctx, name: Any, pid: Any = None, scope: Any = None) -> tuple:
    n = text(name, "name")
    if not n or n[:1] == "\0":
        raise ApiError("INVALID", "invalid name")
    await _process.registry.register(n, None if pid is None else text(pid, "pid"))
    return (True, True)


@blocking("process.registry", "unregister")
async def _unregister(ctx: Ctx, name: Any, scope: Any = None) -> tuple:
    return (True, await _process.registry.unregister(text(name, "name")))


@blocking("funcs", "call")
async def _call(ctx: Ctx, fid: Any, *args: Any) -> tuple:
    # the one path for a function call (an activity inside a workflow): wippy.funcs.call
    value = await _funcs.call(text(fid, "function id"), *[from_lua(a) for a in args])
    return (True, to_lua(ctx.state, value))


@blocking(None, "call", method_of="Executor")
async def _executor_call(ctx: Ctx, _a: Any, _b: Any, _c: Any, fid: Any = None, *args: Any) -> tuple:
    return await _call(ctx, fid, *args)


@blocking(None, "apply", method_of="Changes")
async def _changes_apply(ctx: Ctx, ch: Any, _a: Any, _b: Any) -> Any:
    return New((b"Version", int(await ch.apply())))


@blocking("system.supervisor", "states")
async def _supervisor_states(ctx: Ctx) -> Any:
    return (True, to_lua(ctx.state, await _system.supervisor.states()))


@blocking("system.supervisor", "state")
async def _supervisor_state(ctx: Ctx, service_id: Any = None) -> Any:
    return (True, to_lua(ctx.state, await _system.supervisor.state(text(service_id, "service id"))))


@blocking("system", "exit")
async def _system_exit(ctx: Ctx, code: Any = 0) -> Any:
    return (True, await _system.exit(int(code or 0)))


@blocking("registry", "apply_version")
async def _apply_version(ctx: Ctx, v: Any) -> Any:
    return New((b"Version", int(await _registry.apply_version(modules.version_arg(v)))))


@blocking("io", "readline")
async def _readline(ctx: Ctx) -> tuple:
    line = await to_thread(sys.stdin.buffer.readline)
    if not line:
        return (False, b"CANCELED", b"end of input")
    return (True, line.rstrip(b"\n").rstrip(b"\r"))


@blocking("io", "read")
async def _read(ctx: Ctx, n: Any = None) -> tuple:
    size = int(n) if isinstance(n, (int, float)) and n > 0 else 1024
    data = await to_thread(getattr(sys.stdin.buffer, "read1"), size)
    if not data:
        return (False, b"CANCELED", b"end of input")
    return (True, data)


@function("events")
def subscribe(system: Any, kind: Any = None) -> Any:
    sub = _events.subscribe(text(system, "system"), None if kind is None else text(kind, "kind"))
    return New((b"Subscription", sub, sub.channel()))


@method("Subscription")
def close(sub: Any, _ch: Any, _: Any) -> bool:
    return sub.close()
