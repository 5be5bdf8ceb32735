"""The start of the node's services at boot (S5): in dependency order, level by level.

The levels are :func:`wippy.supervision.services.start_levels` of the services to start (those with
``auto_start`` and every supervisor's children); within a level all start at once, a
supervisor's children in their list order. The next level starts once every service of the
one before has taken its first step (its host says so), has ended, or has not done so within
the longest ``start_timeout`` of its level, which is logged and not a failure: a service that
is slow to start is still starting, and one that failed is the restart policy's business.
:class:`~wippy.node.shutdown.Shutdown` walks the same levels backwards.

Rejected: starting every service at once and letting each wait for its dependencies. A
service is registered under its entry id only once it runs, so a dependent's first send could
find no one there; every service would need its own wait for what the node already knows.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from ..supervision import services
from .svc import Svc

__all__ = ["Startup"]

log = logging.getLogger("wippy.supervisor")


class Startup:
    """One boot's start of ``svcs`` (id -> service, as the manager keeps them): ``start``
    starts one and sets its PID (or leaves it None: nothing to wait for); ``call_later(delay,
    fn)`` returns a handle with ``cancel()``."""

    def __init__(self, svcs: dict[str, Svc], start: Callable[[Svc], None],
                 call_later: Callable[..., Any]) -> None:
        self._svcs = svcs
        self._start = start
        self._call_later = call_later
        self.booting = False
        self._levels: list[list[str]] = []
        self._waiting: set[str] = set()        # services of the level being started
        self._level_timer: Any = None

    def begin(self, order: dict[str, int]) -> None:
        """Start the first level (``order``: a supervisor's child -> its place in the list);
        ``booting`` stays True until the last level has started."""
        wanted = {s.spec.id: s.spec.depends_on for s in self._svcs.values()
                  if s.spec.auto_start or s.parent is not None}
        self._levels = [sorted(level, key=lambda i: (order.get(i, -1), i))
                        for level in services.start_levels(wanted)]
        self.booting = True
        self._next_level()

    def _next_level(self) -> None:
        if self._level_timer is not None:
            self._level_timer.cancel()
            self._level_timer = None
        while self._levels and not self._waiting:
            level = self._levels.pop(0)
            for sid in level:
                svc = self._svcs.get(sid)
                if svc is None:
                    continue
                self._start(svc)
                if svc.pid is not None:
                    self._waiting.add(svc.pid)
            if self._waiting:
                timeout = max(self._svcs[i].spec.start_timeout for i in level if i in self._svcs)
                self._level_timer = self._call_later(timeout, self._level_timed_out)
        if not self._levels and not self._waiting:
            self.booting = False

    def started(self, pid: str) -> None:
        """A service's process has taken its first step, or ended."""
        if pid in self._waiting:
            self._waiting.discard(pid)
            if not self._waiting:
                self._next_level()

    def _level_timed_out(self) -> None:
        self._level_timer = None
        for svc in self._svcs.values():
            if svc.pid in self._waiting:
                log.warning("service %s did not start within its start_timeout (%.1f s)",
                            svc.spec.id, svc.spec.start_timeout)
        self._waiting.clear()
        self._next_level()
