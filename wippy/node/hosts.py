"""OS-level supervision of the node's host processes.

Forks each ``process.host``'s workers (through the zygote: ``fork``), follows each OS process
from starting to ready to dead, restarts it when it dies (the implicit root: at once, then
:func:`wippy.supervision.backoff.host_restart_delay`; never giving up) unless a ``supervisor``
entry owns it, and rescales a host when its entry's ``workers`` change.

A worker that is scaled away (or whose entry is deleted) is *retired*: it leaves the topology
(no new spawns), gets STOP (CANCEL to every process that listens to its events, the others end
at once, whatever is left ends after ``stop_timeout``), and is killed if it has not exited
``KILL_GRACE_S`` after that. Its death is announced like any other, so every monitor and link
of a process that was still there fires.

The node hears of what happens through :class:`HostEvents`; this module never touches a socket.
"""
from __future__ import annotations

import enum
import logging
import os
import signal
import time as _time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ..core import osproc, protocol
from ..errors import NodeError
from ..supervision.backoff import HostBackoff, host_restart_delay

__all__ = ["HostState", "HostProc", "HostEvents", "HostSupervisor", "wanted_workers",
           "BOOT_TIMEOUT_S", "KILL_GRACE_S"]

log = logging.getLogger("wippy.node")

BOOT_TIMEOUT_S = 30.0
KILL_GRACE_S = 2.0       # after a stop's stop_timeout, how long a host gets before SIGKILL


class HostState(str, enum.Enum):
    """Where one host OS process is in its life (``wippy ps`` shows it)."""

    STARTING = "starting"   # forked, not ready yet
    READY = "ready"         # receiving; in the topology
    STOPPING = "stopping"   # asked to stop (retired, node stopping) or killed on purpose
    DEAD = "dead"


@dataclass
class HostProc:
    """One host OS process (``serial`` is never reused)."""

    serial: int
    host_id: str
    slot: int                       # worker index within its host entry
    terminal: bool = False
    os_pid: int = 0
    state: HostState = HostState.STARTING
    forked_at: float = 0.0
    ready_at: float = 0.0           # 0 until it has been welcomed
    doomed: bool = False            # killed by its supervisor entry: not a failure
    retired: bool = False           # scaled down or deleted: stopped for good
    exit_reason: str = ""           # how it died ("killed by SIGKILL"), once it has


class HostEvents(Protocol):
    """What the node does when something happens to a host."""

    def host_retiring(self, hp: HostProc) -> None:
        """``hp`` is about to be stopped for good (its services should move)."""

    def host_down(self, hp: HostProc, reason: str) -> None:
        """``hp`` has died: tell everyone, release what it held."""

    def host_failed(self, hp: HostProc, reason: str) -> bool:
        """``hp`` died unexpectedly: True when a ``supervisor`` entry decides what follows."""

    def topology_changed(self) -> None:
        """The set of ready hosts changed other than by a host becoming ready or dying."""


def wanted_workers(entry: dict[str, Any] | None) -> int:
    """How many OS processes a stored ``process.host`` entry asks for (0: none, deleted)."""
    if entry is None:
        return 0
    data = entry.get("data") or {}
    if not (data.get("lifecycle") or {}).get("auto_start", True):
        return 0
    return int((data.get("host") or {}).get("workers", 1))


def _sigkill(os_pid: int) -> None:
    try:
        os.kill(os_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class HostSupervisor:
    """The node's host OS processes.

    ``fork(hp)`` starts one (through the zygote); ``send(serial, message)`` delivers a
    control message to a welcomed host; ``call_later(delay, fn, *args)`` is the node's timer;
    ``new_serial()`` hands out serials; ``clock()`` is monotonic seconds; ``kill(os_pid)``
    sends SIGKILL."""

    def __init__(self, fork: Callable[[HostProc], None], send: Callable[[int, tuple], None],
                 events: HostEvents, call_later: Callable[..., Any],
                 new_serial: Callable[[], int], stop_timeout: float = 10.0,
                 clock: Callable[[], float] = _time.monotonic,
                 kill: Callable[[int], None] = _sigkill,
                 backoff: HostBackoff = HostBackoff()) -> None:
        self._fork = fork
        self._send = send
        self._events = events
        self._call_later = call_later
        self._new_serial = new_serial
        self._clock = clock
        self._kill = kill
        self._backoff = backoff
        self.stop_timeout = stop_timeout
        self.hosts: dict[int, HostProc] = {}
        self.workers: dict[str, int] = {}                       # host id -> wanted workers
        self._deaths: dict[tuple[str, int], tuple[float, ...]] = {}
        self._restarts: dict[tuple[str, int], int] = {}
        self.booting = True        # a host that dies before it was ever ready fails the boot
        self.stopping = False      # the node is stopping: nothing is restarted

    # -- views ---------------------------------------------------------------------------
    def live(self) -> list[HostProc]:
        return [h for h in self.hosts.values() if h.state is not HostState.DEAD]

    def ready_serials(self) -> set[int]:
        return {h.serial for h in self.hosts.values() if h.state is HostState.READY}

    def has_ready(self, host_id: str) -> bool:
        return any(h.host_id == host_id and h.state is HostState.READY for h in self.hosts.values())

    def dead_serials(self) -> list[int]:
        return [h.serial for h in self.hosts.values() if h.state is HostState.DEAD]

    def topology(self) -> dict[str, list[int]]:
        """Host entry -> its ready serials (every entry ever started is a key, so a spawn
        can tell "no running OS process" from "no such host")."""
        topo: dict[str, list[int]] = {}
        for h in self.hosts.values():
            serials = topo.setdefault(h.host_id, [])
            if h.state is HostState.READY:
                serials.append(h.serial)
        return topo

    def restarts(self, hp: HostProc) -> int:
        """How often ``hp``'s slot has been restarted after a death."""
        return self._restarts.get((hp.host_id, hp.slot), 0)

    # -- starting and scaling ------------------------------------------------------------
    def fork(self, host_id: str, slot: int, terminal: bool = False) -> HostProc:
        hp = HostProc(self._new_serial(), host_id, slot, terminal, forked_at=self._clock())
        self.hosts[hp.serial] = hp
        self._fork(hp)
        return hp

    def set_workers(self, host_id: str, want: int) -> None:
        """Make the running workers of ``host_id`` number ``want``: fork the missing slots,
        retire the ones past it."""
        self.workers[host_id] = want
        live = {h.slot: h for h in self.live()
                if h.host_id == host_id and not h.terminal and not h.retired}
        for slot in range(want):
            if slot not in live:
                self.fork(host_id, slot)
        for slot, hp in sorted(live.items()):
            if slot >= want:
                self.retire(hp)

    def retire(self, hp: HostProc) -> None:
        """Stop ``hp`` for good: out of the topology, STOP, killed if it outlives its
        ``stop_timeout``."""
        if hp.retired or hp.state is HostState.DEAD:
            return
        hp.retired = True
        if hp.state is HostState.READY:
            hp.state = HostState.STOPPING
            self._events.host_retiring(hp)
            self._events.topology_changed()
            self._send(hp.serial, protocol.stop(self.stop_timeout,
                                                f"host {hp.host_id}/{hp.serial} retired"))
            self._call_later(self.stop_timeout + KILL_GRACE_S, self._kill_if_alive, hp.serial)
        else:                       # not receiving yet (or already being stopped): kill it
            hp.state = HostState.STOPPING
            self._kill_now(hp)

    def _kill_if_alive(self, serial: int) -> None:
        hp = self.hosts.get(serial)
        if hp is not None and hp.state is not HostState.DEAD:
            log.warning("host %s/%d did not stop within %.0f s; killing it", hp.host_id, serial,
                        self.stop_timeout + KILL_GRACE_S)
            self._kill_now(hp)

    def _kill_now(self, hp: HostProc) -> None:
        if hp.os_pid:
            self._kill(hp.os_pid)       # else killed as soon as the zygote says it started

    # -- a supervisor entry's orders -----------------------------------------------------
    def restart_entry(self, host_id: str, counted: bool) -> None:
        """A supervisor restarts host ``host_id``: refork its dead workers; with ``counted``
        (a sibling's restart) kill the live ones first."""
        if counted:
            self.stop_entry(host_id)
        live = {h.slot for h in self.live()
                if h.host_id == host_id and not h.doomed and not h.terminal and not h.retired}
        for slot in range(self.workers.get(host_id, 0)):
            if slot not in live:
                self.fork(host_id, slot)

    def stop_entry(self, host_id: str) -> None:
        """A supervisor stops host ``host_id``: kill its workers now (Erlang's brutal_kill)."""
        for hp in self.live():
            if hp.host_id == host_id and not hp.terminal and not hp.doomed:
                hp.doomed = True
                hp.state = HostState.STOPPING
                self._kill_now(hp)
        self._events.topology_changed()

    # -- the node stopping ---------------------------------------------------------------
    def stop_all(self, timeout: float, reason: str) -> None:
        """Node shutdown: STOP every receiving host, kill those not receiving yet."""
        self.stopping = True
        for hp in self.live():
            if hp.ready_at and not hp.doomed:
                hp.state = HostState.STOPPING
                self._send(hp.serial, protocol.stop(timeout, reason))
            else:
                hp.state = HostState.STOPPING
                self._kill_now(hp)

    def kill_all(self) -> None:
        """SIGKILL every host OS process still alive."""
        for hp in self.live():
            self._kill_now(hp)

    # -- what the zygote and the hosts report --------------------------------------------
    def on_started(self, serial: int, os_pid: int) -> None:
        """The zygote forked ``serial`` as ``os_pid``."""
        hp = self.hosts.get(serial)
        if hp is None:
            return
        hp.os_pid = os_pid
        if hp.state is HostState.STOPPING:
            self._kill_now(hp)          # stopped before it could even start

    def on_ready(self, serial: int, os_pid: int) -> HostProc | None:
        """Host ``serial`` says it can receive: the node welcomes it unless this returns
        None (unknown, or stopped before it got ready)."""
        hp = self.hosts.get(serial)
        if hp is None or hp.state is not HostState.STARTING:
            return None
        hp.state = HostState.READY
        hp.os_pid = os_pid
        hp.ready_at = self._clock()
        return hp

    def on_exited(self, serial: int, status: int) -> None:
        """The zygote reaped ``serial`` with wait ``status``. Raises NodeError when a host
        dies before it was ever ready during the node's boot."""
        hp = self.hosts.get(serial)
        if hp is None or hp.state is HostState.DEAD:
            return
        was_up = hp.ready_at > 0
        hp.state = HostState.DEAD
        reason = osproc.describe_status(status)
        hp.exit_reason = reason
        if self.stopping:
            self._events.host_down(hp, reason)
            return
        if hp.doomed:
            self._events.host_down(hp, "stopped by its supervisor")
            return
        if hp.retired:
            self._events.host_down(hp, "retired" if status == 0 else f"retired ({reason})")
            return
        log.warning("host %s/%d (os pid %d) died: %s", hp.host_id, serial, hp.os_pid, reason)
        self._events.host_down(hp, reason)
        if not was_up and self.booting:
            raise NodeError(f"host {hp.host_id} failed to start: {reason}")
        if not hp.terminal and self._events.host_failed(hp, f"host {hp.host_id}/{serial} died: {reason}"):
            return      # its supervisor decides
        self._schedule_restart(hp)

    def zygote_died(self) -> None:
        """Every host died with the zygote (parent-death signal)."""
        for hp in self.live():
            hp.state = HostState.DEAD

    # -- restarts ------------------------------------------------------------------------
    def _schedule_restart(self, hp: HostProc) -> None:
        if not hp.terminal and hp.slot >= self.workers.get(hp.host_id, 0):
            return      # scaled away meanwhile: not restarted
        key = (hp.host_id, hp.slot)
        self._deaths[key], delay = host_restart_delay(self._deaths.get(key, ()), self._clock(),
                                                      self._backoff)
        self._restarts[key] = self._restarts.get(key, 0) + 1
        self._call_later(delay, self._restart_slot, hp.host_id, hp.slot, hp.terminal)

    def _restart_slot(self, host_id: str, slot: int, terminal: bool) -> None:
        if self.stopping:
            return
        if not terminal and slot >= self.workers.get(host_id, 0):
            return
        if any(h.host_id == host_id and h.slot == slot and h.terminal == terminal
               and not h.retired and not h.doomed for h in self.live()):
            return      # a rescale or its supervisor started this slot meanwhile
        hp = self.fork(host_id, slot, terminal)
        log.info("host %s worker %d restarted as %s/%d (restart %d)", host_id, slot, host_id,
                 hp.serial, self._restarts.get((host_id, slot), 0))
