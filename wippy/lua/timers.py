"""Lua's ``time`` timers: ``time.after``, ``time.timer``, ``time.ticker`` and the ``Timer`` and
``Ticker`` objects, over wippy's timers (:mod:`wippy.time`). Each fires into a channel the Lua
process reads. Inside a workflow's own code ``time.after`` fires at a journaled due time
(:mod:`wippy.runtime.durable`), carrying that time, so a replay sees the same value.
"""
from __future__ import annotations

import time as _stdtime
from typing import Any

from .. import time as _wtime
from ..runtime import durable
from .api import ApiError, New, TimeValue, field, function, method
from .timemod import NS, ns_of, seconds

__all__ = ["LuaTimer", "LuaTicker"]


class LuaTimer(_wtime.Timer):
    def _fire(self) -> None:
        self._ch.send_nowait(TimeValue(_stdtime.time_ns()))


class LuaTicker(_wtime.Ticker):
    def _tick(self) -> None:
        if self._stopped or self._owner.exited:
            return
        self._ch.send_nowait(TimeValue(_stdtime.time_ns()))
        self._next += self._period
        self._arm()


class _DueTimer(_wtime.Timer):
    """``time.after`` in a workflow: fires at a journaled due time, carrying that time."""

    def __init__(self, due_ns: int) -> None:
        self._due_ns = due_ns
        super().__init__(max(0.0, (due_ns - _stdtime.time_ns()) / NS))

    def _fire(self) -> None:
        self._ch.send_nowait(TimeValue(self._due_ns))


@function("time", "after")
def after_(d: Any) -> Any:
    ns = max(0, ns_of(d))
    wf = durable.current()
    if wf is None:
        return New((b"Channel", LuaTimer(ns / NS).channel(), False))
    return New((b"Channel", _DueTimer(wf.after(ns)).channel(), False))


@function("time")
def timer(d: Any) -> Any:
    s = seconds(d)
    if s <= 0:
        raise ApiError("INVALID", "timer duration must be positive")
    t = LuaTimer(s)
    return New((b"Timer", t, t.channel()))


@function("time")
def ticker(d: Any) -> Any:
    s = seconds(d)
    if s <= 0:
        raise ApiError("INVALID", "ticker duration must be positive")
    t = LuaTicker(s)
    return New((b"Ticker", t, t.channel()))


for _cls in ("Timer", "Ticker"):
    field(_cls, "response", 2)
    field(_cls, "channel", 2)


@method("Timer", "stop")
def timer_stop(t: Any, ch: Any, _: Any) -> bool:
    return bool(t.stop())


@method("Timer", "reset")
def timer_reset(t: Any, ch: Any, _: Any, d: Any = None) -> bool:
    s = seconds(d)
    if s <= 0:
        raise ApiError("INVALID", "timer duration must be positive")
    t.reset(s)
    return True


@method("Ticker", "stop")
def ticker_stop(t: Any, ch: Any, _: Any) -> bool:
    t.stop()
    return True
