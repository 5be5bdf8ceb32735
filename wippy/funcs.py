"""``wippy.funcs``: call function entries (``call``) or start them (``async_``).

A function (``function.py`` or ``function.lua``) runs inside the calling process's host, in the
caller's context: ``call`` awaits it in the caller's task; ``async_`` runs it as another task of
the caller and returns a :class:`Future`. (``async`` is a Python keyword, hence ``async_``;
``getattr(funcs, "async")`` works too.)

:func:`call` is the one path for calling a function entry, from Python and from Lua (whose
``funcs.call``, ``executor:call`` and ``funcs.async`` come here): the entry is resolved through
the host's table of runners, and inside a workflow the call is an activity, journaled by the
workflow's journal (:mod:`wippy.runtime.durable`). Calling needs ``funcs.call`` on the entry;
a function an agent wrote runs with its author's authority as well as the caller's.
"""
from __future__ import annotations

import inspect
from typing import Any

from .errors import InvalidMessage, ProcessFailed, WippyError
from .runtime import durable as _durable
from .runtime import scheduler as _sched
from .runtime import table as _rt
from .security import context as _security

__all__ = ["call", "call_as", "async_", "Future"]


async def call(id: str, *args: Any) -> Any:
    """Run function entry ``id`` with ``args`` and return its result (raises its error).
    Inside a workflow this is an activity: its result is journaled (see wippy.workflow)."""
    wf = _durable.current()
    if wf is not None:
        return await wf.activity(id, lambda: _run(id, args))
    return await _run(id, args)


async def _run(id: str, args: tuple | list) -> Any:
    rt = _rt.get()
    rt.check("funcs.call", id)
    fn, is_coro = rt.function(id)
    author = rt.author(id)
    if author is not None:
        return await _run_authored(rt, author, fn, is_coro, args)
    if is_coro:
        return await fn(*args)
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _run_authored(rt: Any, author: Any, fn: Any, is_coro: bool, args: tuple | list) -> Any:
    """Run a function an agent wrote: for the call's duration the calling task also acts as
    its author (S9: code never has more authority than its author, whoever calls it)."""
    token = rt.act_as(_security.narrowed(rt.security(), author))
    try:
        result = await fn(*args) if is_coro else fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
    finally:
        rt.act_as_done(token)


async def call_as(ctx: Any, id: str, *args: Any) -> Any:
    """Call function ``id`` under another context (Wippy's ``executor:with_actor/with_scope``):
    needs ``funcs.security``; the call (and what it starts) acts as ``ctx`` instead of the
    caller, still narrowed by the author of what it runs."""
    rt = _rt.get()
    rt.check("funcs.security", "security")
    token = rt.act_as(ctx)
    try:
        return await call(id, *args)
    finally:
        rt.act_as_done(token)


class Future:
    """The pending result of :func:`async_`; ``await fut`` or ``await fut.result()``."""

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waits: list[_sched.Wait] = []

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        self._done, self._value, self._error = True, value, error
        sched = _sched.get()
        for w in self._waits:
            sched.wake(w, None)
        self._waits.clear()

    def done(self) -> bool:
        return self._done

    async def result(self) -> Any:
        if not self._done:
            self._waits.append(_sched.get().new_wait())
            await _sched.suspend()
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Any:
        return self.result().__await__()


def async_(id: str, *args: Any) -> Future:
    """Start function ``id`` as another task of this process; returns a :class:`Future`."""
    rt = _rt.get()
    me = rt.current()
    if _durable.current() is not None:
        raise InvalidMessage("funcs.async_ is not journaled inside a workflow: await "
                             "funcs.call (one activity at a time)")
    fut = Future()

    async def run() -> None:
        try:
            value = await call(id, *args)
        except WippyError as exc:
            fut._resolve(None, exc)
        except Exception as exc:  # noqa: BLE001 - the error belongs to whoever awaits
            fut._resolve(None, ProcessFailed(f"{type(exc).__name__}: {exc}"))
        else:
            fut._resolve(value, None)

    rt.start_task(me, run())
    return fut


globals()["async"] = async_
