"""The node's orderly stop (S5): services in reverse dependency order, then the hosts.

Each level of services gets CANCEL and the shortest ``stop_timeout`` of the level (or the
node's ``--stop-timeout``); whatever still runs then is terminated, and the next level starts.
After the last level every host gets STOP (CANCEL to what is left, then the host exits). A
host still alive after the sum of those timeouts plus ``FORCE_GRACE_S`` is killed; so is every
host at a second signal.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from .svc import Svc

__all__ = ["Shutdown", "FORCE_GRACE_S", "HOST_STOP_TIMEOUT_S"]

log = logging.getLogger("wippy.node")

FORCE_GRACE_S = 2.0        # after the stop timeouts, how long hosts get before SIGKILL
STOP_POLL_S = 0.01         # how often a stopping level is checked for exits
HOST_STOP_TIMEOUT_S = 10.0  # a host's stop_timeout unless --stop-timeout says otherwise


class _Services(Protocol):
    def stop_levels(self) -> list[list[Svc]]: ...

    def mark_stopped(self) -> None: ...


class _Procs(Protocol):
    def cancel(self, pid: str, reason: str) -> None: ...

    def terminate(self, pid: str) -> None: ...


class _Hosts(Protocol):
    def stop_all(self, timeout: float, reason: str) -> None: ...

    def kill_all(self) -> None: ...


class Shutdown:
    """Carries out one orderly stop of the node (``begin``); ``kill`` forces it."""

    def __init__(self, services: _Services, procs: _Procs, hosts: _Hosts,
                 call_later: Callable[..., Any], clock: Callable[[], float],
                 stop_timeout: float | None = None) -> None:
        self._services = services
        self._procs = procs
        self._hosts = hosts
        self._call_later = call_later
        self._clock = clock
        self._stop_timeout = stop_timeout
        self._levels: list[list[Svc]] = []
        self.active = False
        self.exit_code: int | None = None

    @property
    def host_timeout(self) -> float:
        return self._stop_timeout if self._stop_timeout is not None else HOST_STOP_TIMEOUT_S

    def begin(self, code: int, reason: str) -> None:
        """Stop the node with exit ``code`` (the first call wins)."""
        if self.active:
            return
        log.info("stopping (%s)", reason)
        self.active = True
        self.exit_code = code
        self._levels = self._services.stop_levels()
        total = sum(max([s.spec.stop_timeout for s in lv] or [0]) for lv in self._levels)
        deadline = total + self.host_timeout + FORCE_GRACE_S
        self._call_later(deadline, self._deadline_passed, deadline)
        self._next_level()

    def kill(self) -> None:
        """Kill every host now (a second signal, or the stop's deadline passed)."""
        self._hosts.kill_all()

    def _deadline_passed(self, after: float) -> None:
        # the loop ends once every host has exited: reaching this means some have not
        log.warning("hosts still running %.0f s into the stop; killing them", after)
        self.kill()

    def _next_level(self) -> None:
        if not self._levels:
            self._services.mark_stopped()
            self._hosts.stop_all(self.host_timeout, "node stopping")
            return
        level = self._levels.pop(0)
        timeout = min([s.spec.stop_timeout for s in level] + [self._stop_timeout or 1e9])
        for svc in level:
            if svc.pid is not None:
                self._procs.cancel(svc.pid, "node stopping")
        self._call_later(STOP_POLL_S, self._check_level, level, self._clock() + timeout)

    def _check_level(self, level: list[Svc], deadline: float) -> None:
        running = [s for s in level if s.pid is not None]
        if running and self._clock() < deadline:
            self._call_later(STOP_POLL_S, self._check_level, level, deadline)
            return
        for svc in running:
            log.warning("service %s did not stop within its stop_timeout; terminating it",
                        svc.spec.id)
            self._procs.terminate(svc.pid or "")
        self._next_level()
