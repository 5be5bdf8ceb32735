"""How the node hears of signals: SIGINT and SIGTERM stop it in order, a second one kills its
hosts, and SIGCHLD (like every signal) wakes the loop, which reaps whatever exited.

A handler only records the signal: it may run in the middle of a timer-heap operation, so it
must not touch the scheduler. :func:`signal.set_wakeup_fd` writes to a pipe that the loop
polls, and the loop then calls :meth:`SignalCatcher.on_wake`, which acts. Ctrl-C reaches the
node and its process group, so a repeat within ``SIGNAL_REPEAT_S`` is the same signal.

Rejected: acting in the handler, which would run the stop at any point of the loop's work.
"""
from __future__ import annotations

import logging
import os
import signal
import time as _time
from typing import Any, Callable

from ..core import osproc

__all__ = ["SignalCatcher", "SIGNAL_REPEAT_S"]

log = logging.getLogger("wippy.node")

SIGNAL_REPEAT_S = 0.2      # a repeat within this is the same signal (sent to us and our group)


class SignalCatcher:
    """``stop(reason)`` at the first SIGINT or SIGTERM, ``kill()`` at the next one."""

    def __init__(self, stop: Callable[[str], None], kill: Callable[[], None],
                 clock: Callable[[], float] = _time.monotonic) -> None:
        self._stop = stop
        self._kill = kill
        self._clock = clock
        self._signals = 0
        self._pending: list[tuple[int, float]] = []
        self._last = 0.0
        self.wake_fd = -1          # the pipe's end the loop polls (set by :meth:`install`)

    def install(self) -> None:
        """Take over SIGINT, SIGTERM and SIGCHLD, and open the pipe that wakes the loop."""
        wake_r, wake_w = os.pipe()
        self.wake_fd = wake_r
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def on_wake(self) -> None:
        """The pipe is readable: empty it, reap every exited child, act on the signals."""
        try:
            os.read(self.wake_fd, 4096)
        except BlockingIOError:
            pass
        osproc.reap_all()
        while self._pending:
            signum, at = self._pending.pop(0)
            if self._signals and at - self._last < SIGNAL_REPEAT_S:
                continue        # the same Ctrl-C delivered twice (to us and to our group)
            self._signals += 1
            self._last = at
            if self._signals == 1:
                self._stop(f"signal {signal.Signals(signum).name}")
            else:
                log.warning("second signal: killing the hosts now")
                self._kill()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._pending.append((signum, self._clock()))
