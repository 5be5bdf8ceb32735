"""Driving Lua processes from wippy's scheduler.

A Lua process is a wippy process whose task runs :func:`drive`: it resumes the process's Lua
coroutine for one slice, then looks at what came back:

* nothing: the count hook preempted the slice: run again after the timers that are due;
* ``(REQ.x, args...)``: a blocking call (``inbox:receive()``, ``time.sleep``, ``process.exec``,
  ``funcs.call``...): await its handler (``blocking.py``) and resume Lua with
  ``ok, values...``;
* the coroutine ended: ``true, value`` or ``false, kind, message, stack``.

``coroutine.spawn`` starts another task of the same process that drives another coroutine of the
same Lua state. A ``function.lua`` call (``funcs.call`` from Lua or Python) runs in a Lua state of
its own, driven inside the caller's task.

States are pooled (``statepool.acquire``/``release``): a state whose process ended without being
killed gets a fresh per-process layer (``new_process`` in the prelude) and serves the next spawn,
which then costs a chunk load and a coroutine instead of a new Lua runtime.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from .. import workflow as _workflow
from ..errors import ChannelClosed, InvalidMessage, LuaFailure, WippyError
from ..runtime import scheduler
from ..runtime import table as _runtime
from . import api, blocking, codecmods, cryptomods, engine, errkinds, evalmod, funcmod, httpmod, modules, payloadmod, regmod, resmods, secmod, sqlmod, stdmods, statepool, sysmod, textmod, timemod, timers, watchdog, wfmod  # noqa: F401 - they register the API
from . import execmod, fsmod, htmlmod, tplmod  # noqa: F401 - fs, exec, html, templates
from .api import (
    BLOCKING,
    New,
    current_ctx,
    error_result,
    internal,
    receive_result,
)
from .blocking import RECEIVE
from .chunks import compile_entry
from .ctx import Ctx
from .engine import LuaError, LuaMemoryError, from_lua, to_lua

__all__ = ["entry_runner", "LuaFailure", "drive", "Ctx"]

log = logging.getLogger("wippy.lua")


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
            if n == RECEIVE:                      # inline: one frame less per blocked process
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
            value = error_result(exc, state)
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
    out = out + (None,) * (6 - len(out))
    _, kind, msg, stack, retryable, details = out[:6]
    if kind == b"LimitExceeded" and stack is None:      # the prelude saw a limit end the code
        st = ctx.state
        if st.killed is None:
            st.killed = {b"memory": "memory", b"stack": "stack"}.get(msg, "cpu")
        raise ctx.limit_error()
    try:
        data = from_lua(details) if details is not None else None
    except InvalidMessage:
        data = None
    failure = errkinds.lua_failure(kind if kind is not None else b"Internal", msg, stack,
                                   retryable, data)
    if failure.stack:
        log.debug("Lua %s (%s) failed: %s", ctx.pid, ctx.entry_id, failure.stack)
    raise failure


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
        statepool.release(state)


def entry_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of Lua entries (``process.lua``, ``function.lua``, and the main of a
    ``workflow.lua``): an async callable that runs the entry's method in the calling task."""
    code, _ = compile_entry(entry)
    watchdog.enable_watchdog()
    return functools.partial(run_entry, entry, code)   # an async callable, one frame less


# -- coroutine.spawn -------------------------------------------------------------------------
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
