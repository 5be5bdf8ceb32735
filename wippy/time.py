"""``wippy.time``: sleep, after, timer, ticker with Wippy duration strings ("100ms", "1h30m").

Inside a workflow's own code ``now``, ``sleep`` (a durable timer) and ``after`` (a journaled due
time) go through the workflow's journal (:mod:`wippy.runtime.durable`), in integer nanoseconds
as Lua's do; this module converts to and from float seconds.
"""
from __future__ import annotations

import time as _stdtime
from typing import Any

from .channel import Channel
from .core.durations import parse_duration
from .runtime import durable as _durable
from .runtime import scheduler as _sched
from .runtime import table as _rt

__all__ = ["sleep", "after", "timer", "ticker", "now", "Timer", "Ticker", "parse_duration"]


def now() -> float:
    """Wall-clock time in seconds since the epoch (journaled inside a workflow)."""
    wf = _durable.current()
    if wf is None:
        return _stdtime.time()
    return wf.now() / _durable.NS


def _owner() -> Any:
    return _rt.get().current()


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


async def sleep(duration: str | float) -> None:
    """Suspend this task for ``duration`` (a durable timer inside a workflow)."""
    d = parse_duration(duration)
    wf = _durable.current()
    if wf is not None:
        due = await wf.timer(_ns(d))
        d = (due - _stdtime.time_ns()) / _durable.NS
        if d <= 0:
            return
    sched = _sched.get()
    w = sched.new_wait()
    h = sched.call_later(d, sched.wake, w, None)
    _owner().add_timer(h)
    await _sched.suspend()


def after(duration: str | float) -> Channel:
    """A channel that receives the time once, after ``duration`` (inside a workflow: at a
    journaled due time, which it carries)."""
    wf = _durable.current()
    if wf is None:
        return Timer(duration).channel()
    due = wf.after(max(0, _ns(parse_duration(duration))))
    return _DueTimer(due).channel()


class Timer:
    """A one-shot timer; ``channel()`` receives the time when it fires."""

    def __init__(self, duration: str | float) -> None:
        self._ch = Channel(1)
        self._handle: Any = None
        self._owner = _owner()
        self.reset(duration)

    def _fire(self) -> None:
        self._ch.send_nowait(now())

    def channel(self) -> Channel:
        return self._ch

    def stop(self) -> bool:
        """Stop the timer; True when it had not fired yet."""
        h = self._handle
        if h is None or h.cancelled:
            return False
        h.cancel()
        return True

    def reset(self, duration: str | float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        sched = _sched.get()
        self._handle = sched.call_later(parse_duration(duration), self._fire)
        self._owner.add_timer(self._handle)


class _DueTimer(Timer):
    """``time.after`` in a workflow: fires at a journaled due time (ns), carrying that time."""

    def __init__(self, due_ns: int) -> None:
        self._due_ns = due_ns
        super().__init__(max(0.0, (due_ns - _stdtime.time_ns()) / _durable.NS))

    def _fire(self) -> None:
        self._ch.send_nowait(self._due_ns / _durable.NS)


class Ticker:
    """Fires every ``duration``; a tick that finds the channel full is dropped (as in Go)."""

    def __init__(self, duration: str | float) -> None:
        self._period = parse_duration(duration)
        if self._period <= 0:
            raise ValueError("ticker duration must be positive")
        self._ch = Channel(1)
        self._owner = _owner()
        self._stopped = False
        self._next = _sched.monotonic() + self._period
        self._arm()

    def _arm(self) -> None:
        self._handle = _sched.get().call_at(self._next, self._tick)
        self._owner.add_timer(self._handle)

    def _tick(self) -> None:
        if self._stopped or self._owner.exited:
            return
        self._ch.send_nowait(now())
        self._next += self._period
        self._arm()

    def channel(self) -> Channel:
        return self._ch

    def stop(self) -> None:
        self._stopped = True
        self._handle.cancel()


def timer(duration: str | float) -> Timer:
    return Timer(duration)


def ticker(duration: str | float) -> Ticker:
    return Ticker(duration)
