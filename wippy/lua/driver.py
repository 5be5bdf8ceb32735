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

States are pooled (``engine.acquire``/``release``): a state whose process ended without being
killed gets a fresh per-process layer (``new_process`` in the prelude) and serves the next spawn,
which then costs a chunk load and a coroutine instead of a new Lua runtime.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from .. import channel as _channel
from .. import funcs as _funcs
from .. import workflow as _workflow
from ..errors import ChannelClosed, InvalidMessage, LuaFailure, WippyError
from ..runtime import durable, scheduler
from ..runtime import table as _runtime
from . import api, blocking, engine, httpmod, modules, regmod, stdmods, timemod, wfmod  # noqa: F401 - they register the API
from .api import (
    BLOCKING,
    ApiError,
    FutureDone,
    New,
    current_ctx,
    error_result,
    function,
    internal,
    method,
    receive_result,
    text,
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
