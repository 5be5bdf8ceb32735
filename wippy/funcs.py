"""``wippy.funcs``: call ``function.py`` entries (``call``) or start them (``async_``).

A function runs inside the calling process's host, in the caller's context: ``call`` awaits it
in the caller's task; ``async_`` runs it as another task of the caller and returns a
:class:`Future`. (``async`` is a Python keyword, hence ``async_``; ``getattr(funcs, "async")``
works too.)
"""
from __future__ import annotations

import inspect
from typing import Any

from .errors import InvalidMessage, ProcessFailed, WippyError
from .registry.entry import FUNCTION_KINDS
from .runtime import codeload
from .runtime import scheduler as _sched
from .runtime import table as _rt

__all__ = ["call", "async_", "Future"]




def _function(id: str) -> Any:
    fn, _ = codeload.resolve(_rt.get().store, id, None, FUNCTION_KINDS)
    return fn


async def call(id: str, *args: Any) -> Any:
    """Run function entry ``id`` with ``args`` and return its result (raises its error).
    Inside a workflow this is an activity: its result is journaled (see wippy.workflow)."""
    from .workflow import current
    wf = current()
    if wf is not None and not wf.in_activity:
        return await wf.call(id, args)
    fn = _function(id)
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


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
    from .workflow import current
    wf = current()
    if wf is not None and not wf.in_activity:
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
