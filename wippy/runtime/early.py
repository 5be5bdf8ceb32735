"""Frames that arrive before the process they are for (a SPAWN still on its way).

A process spawned onto another OS process gets its PID at once, so its spawner may send to,
monitor, link, terminate or cancel it before the SPAWN frame has arrived there (frames from
different OS processes are not ordered with each other). Such frames wait here, for at most
``EARLY_KEEP_S``, and are handed back when the process is created. Whether a local id is still
to come is known from the highest spawn counter seen per spawner: ids are ``spawner.counter``
and each spawner counts up.
"""
from __future__ import annotations

from typing import Any

from ..core import wire
from .credits import Credits

__all__ = ["EARLY_KEEP_S", "EarlyFrames"]

EARLY_KEEP_S = 30.0   # how long a message for a not-yet-spawned PID waits for its SPAWN


class EarlyFrames:
    """The frames kept for local ids whose SPAWN has not arrived yet."""

    def __init__(self, sched: Any, credits: Credits) -> None:
        self.sched = sched
        self.credits = credits
        self.hwm: dict[int, int] = {}     # spawner serial -> highest counter seen here
        self.frames: dict[str, list[tuple[tuple, int]]] = {}   # local id -> [(frame, origin)]

    def not_yet_created(self, local: str) -> bool:
        """True if ``local`` is a spawned id whose SPAWN has not arrived here yet."""
        spawner, dot, counter = local.partition(".")
        if not dot:
            return False              # our own ids are created synchronously
        return int(counter) > self.hwm.get(int(spawner), 0)

    def keep(self, local: str, frame: tuple, origin: int = wire.NO_ORIGIN) -> None:
        """Hold ``frame`` (from OS process ``origin``) until ``local`` is created."""
        if local not in self.frames:
            self.frames[local] = []
            self.sched.call_later(EARLY_KEEP_S, self._drop, local)
        self.frames[local].append((frame, origin))

    def spawned(self, local: str) -> None:
        """The SPAWN of ``local`` (``spawner.counter``) arrived: it is no longer to come."""
        s, _, c = local.partition(".")
        s_i, c_i = int(s), int(c)
        if c_i > self.hwm.get(s_i, 0):
            self.hwm[s_i] = c_i

    def claim(self, local: str) -> list[tuple[tuple, int]] | None:
        """The frames kept for ``local``, now created, as ``[(frame, origin)]``."""
        return self.frames.pop(local, None)

    def _drop(self, local: str) -> None:
        """Nothing came to claim these frames: messages among them are credited as read."""
        for frame, origin in self.frames.pop(local, ()):
            if frame[0] == wire.Op.MSG:
                self.credits.dropped(origin, local)
