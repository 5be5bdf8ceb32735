"""``wippy.to_thread``: run blocking or CPU-bound Python in a worker thread and await it.

Python processes are cooperative: a coroutine that computes for a second stalls every process
of its host. Use ``await wippy.to_thread(fn, *args)`` for blocking calls, or put CPU-heavy
processes on their own ``process.host`` (true parallelism needs OS processes: the GIL).

Completions come back through a pipe that the host loop polls, because the scheduler is not
thread-safe: threads only append to a deque and write one byte.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from . import scheduler

__all__ = ["to_thread", "wakeup_fd", "drain", "active"]

MAX_WORKERS = 8
_pool: ThreadPoolExecutor | None = None
_done: deque[tuple[scheduler.Wait, Any, BaseException | None]] = deque()
_pipe: tuple[int, int] | None = None


def active() -> bool:
    """True once ``to_thread`` was used here: the host loop then also polls the wakeup fd
    (until then it waits on its inbox alone, which is cheaper per message)."""
    return _pipe is not None


def wakeup_fd() -> int:
    global _pipe
    if _pipe is None:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        _pipe = (r, w)
    return _pipe[0]


def drain() -> None:
    """Called by the host loop when the wakeup fd is readable."""
    assert _pipe is not None
    try:
        os.read(_pipe[0], 65536)
    except BlockingIOError:
        pass
    sched = scheduler.get()
    while _done:
        w, value, exc = _done.popleft()
        if exc is None:
            sched.wake(w, value)
        else:
            sched.wake_exc(w, exc)


async def to_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` in a worker thread; returns its result or raises its error."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="wippy-thread")
    wakeup_fd()
    w = scheduler.get().new_wait()

    def work() -> None:
        try:
            _done.append((w, fn(*args, **kwargs), None))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            _done.append((w, None, exc))
        try:
            os.write(_pipe[1], b"\0")  # type: ignore[index]
        except BlockingIOError:
            pass

    _pool.submit(work)
    return await scheduler.suspend()
