"""One scheduler per host OS process: runs many processes' coroutines on one thread.

Design (S2, decided by measurement, see ``benchmarks/``): a hand-written run queue of plain
coroutines driven by ``coro.send``, with a timer heap, inside a loop that polls the zmq sockets
with ``zmq.Poller`` (timeout = next timer). Rejected alternatives:

* ``zmq.asyncio``: 2.3x the round-trip latency and 4.5x slower sends in the library notes.
* an asyncio loop with ``add_reader`` on the zmq FD: works, but every wake-up goes through
  Futures, Handles and the loop's ready queue; a spawn (create_task) costs ~5 us before the
  coroutine runs, which alone would miss the 100k spawns/s target, and a Task is ~1 KB more
  per idle process than our ``Task`` with ``__slots__``.

A suspension is a :class:`Wait`: the awaiting side registers it wherever it waits (a channel's
queue, a timer), then yields. Whoever completes it calls :meth:`Scheduler.wake`, which ignores
waits that are already done, so a ``select`` registered on several channels, a timeout racing a
message, or a task killed while it waits all resolve exactly once without unregistering.
"""
from __future__ import annotations

import heapq
import time as _time
import types
from collections import deque
from typing import Any, Callable, Coroutine

__all__ = ["Scheduler", "Task", "Wait", "TimerHandle", "suspend", "get", "monotonic"]

monotonic = _time.monotonic


class Wait:
    """One suspension of one task; resolved once, by a value or an exception."""

    __slots__ = ("task", "done")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.done = False


class Task:
    """A coroutine that belongs to a process (its main, or a ``coroutine.spawn``)."""

    __slots__ = ("coro", "proc", "wait", "finished", "on_done")

    def __init__(self, coro: Coroutine[Any, Any, Any], proc: Any,
                 on_done: Callable[[Task, Any, BaseException | None], None] | None) -> None:
        self.coro = coro
        self.proc = proc
        self.wait: Wait | None = None
        self.finished = False
        self.on_done = on_done


class TimerHandle:
    __slots__ = ("when", "fn", "args", "cancelled", "sched")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple, sched: Scheduler) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False
        self.sched = sched

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.sched._timer_cancelled()

    def __lt__(self, other: TimerHandle) -> bool:
        return self.when < other.when


COMPACT_AT = 1024   # cancelled timers tolerated in the heap before it may be rebuilt
STEP_BUDGET = 256   # awaits that complete at once before a task must let others run


async def yield_now() -> None:
    """Go to the back of the run queue (so a task whose awaits never block still shares)."""
    sched = get()
    sched.wake(sched.new_wait(), None)
    await suspend()


@types.coroutine
def suspend() -> Any:
    """Yield to the scheduler; returns the value the waker passed (or raises its exception)."""
    return (yield)


class Scheduler:
    """Run queue + timers. Single-threaded: only the host loop calls into it."""

    def __init__(self) -> None:
        self.ready: deque[tuple[Task, Any, BaseException | None]] = deque()
        self._timers: list[TimerHandle] = []
        self.current: Task | None = None
        self.budget = STEP_BUDGET
        self._ncancelled = 0
        self.turn = 0             # run_ready passes so far (per-turn caches compare it)

    # -- tasks ---------------------------------------------------------------------------
    def start(self, coro: Coroutine[Any, Any, Any], proc: Any,
              on_done: Callable[[Task, Any, BaseException | None], None] | None = None) -> Task:
        task = Task(coro, proc, on_done)
        self.ready.append((task, None, None))
        return task

    def new_wait(self) -> Wait:
        task = self.current
        if task is None:
            raise RuntimeError("a blocking wippy call was made outside a wippy process")
        w = Wait(task)
        task.wait = w
        return w

    def wake(self, w: Wait, value: Any = None) -> bool:
        if w.done:
            return False
        w.done = True
        self.ready.append((w.task, value, None))
        return True

    def wake_exc(self, w: Wait, exc: BaseException) -> bool:
        if w.done:
            return False
        w.done = True
        self.ready.append((w.task, None, exc))
        return True

    def kill(self, task: Task) -> None:
        """Stop a task that is not running now: its pending wait is voided, finally blocks run."""
        if task.finished:
            return
        task.finished = True
        if task.wait is not None:
            task.wait.done = True
        try:
            task.coro.close()
        except BaseException:  # a finally block that raises while dying: the task is gone anyway
            pass

    def run_ready(self) -> int:
        """Run every task that was ready when called; returns how many steps ran."""
        ready = self.ready
        n = len(ready)
        self.turn += 1
        for _ in range(n):
            task, value, exc = ready.popleft()
            if task.finished:
                continue
            self.current = task
            self.budget = STEP_BUDGET
            try:
                if exc is None:
                    task.coro.send(value)
                else:
                    task.coro.throw(exc)
            except StopIteration as stop:
                task.finished = True
                if task.on_done is not None:
                    task.on_done(task, stop.value, None)
            except BaseException as error:  # noqa: BLE001 - a process's crash is its exit reason
                task.finished = True
                if task.on_done is not None:
                    task.on_done(task, None, error)
            finally:
                self.current = None
        return n

    # -- timers --------------------------------------------------------------------------
    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        h = TimerHandle(when, fn, args, self)
        heapq.heappush(self._timers, h)
        return h

    def _timer_cancelled(self) -> None:
        """Cancelled timers leave the heap lazily; when they are most of it (a process that
        exits with an hour-long timer, thousands of times), rebuild it so they do not pin
        memory until their deadline."""
        self._ncancelled += 1
        if self._ncancelled > COMPACT_AT and self._ncancelled * 2 > len(self._timers):
            self._timers = [h for h in self._timers if not h.cancelled]
            heapq.heapify(self._timers)
            self._ncancelled = 0

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(monotonic() + max(0.0, delay), fn, *args)

    def fire_due(self) -> None:
        timers = self._timers
        if not timers:
            return
        now = monotonic()
        while timers and timers[0].when <= now:
            h = heapq.heappop(timers)
            if h.cancelled:
                self._ncancelled = max(0, self._ncancelled - 1)
            else:
                h.cancelled = True      # fired: stop() now reports False
                h.fn(*h.args)

    def next_delay(self) -> float | None:
        """Seconds until the next live timer, 0 when tasks are ready, None when idle."""
        if self.ready:
            return 0.0
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        if not timers:
            return None
        return max(0.0, timers[0].when - monotonic())


_SCHED: Scheduler | None = None


def get() -> Scheduler:
    """This OS process's scheduler (created on first use, after fork)."""
    global _SCHED
    if _SCHED is None:
        _SCHED = Scheduler()
    return _SCHED
