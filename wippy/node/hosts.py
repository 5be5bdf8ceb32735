"""The node's OS-level supervision of its host processes (a mixin of :class:`wippy.node.Node`).

Forks each ``process.host``'s workers through the zygote, tracks them from forking to ready to
dead, tells every host when one dies (so monitors and links of its processes fire), restarts it
(the implicit root: at once, then backing off from 10 ms to 1 s for repeated deaths of one slot
within a second; never giving up) unless a ``supervisor`` entry owns it, and rescales a host
when its entry's ``workers`` change.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time as _time
from dataclasses import dataclass
from typing import Any

from ..core import osproc
from ..core.pid import parse_pid
from ..errors import NodeError

__all__ = ["HostProc", "HostControl"]

log = logging.getLogger("wippy.node")

BOOT_TIMEOUT_S = 30.0
RESTART_WINDOW_S = 1.0     # deaths of one host slot closer than this back off
RESTART_MIN_S, RESTART_MAX_S = 0.01, 1.0


@dataclass
class HostProc:
    serial: int
    host_id: str
    slot: int
    terminal: bool = False
    os_pid: int = 0
    state: str = "forking"          # forking -> ready -> dead
    forked_at: float = 0.0
    ready_at: float = 0.0
    ident: bytes = b""
    ps: Any = None                  # psutil.Process, primed for cpu_percent
    doomed: bool = False            # killed on purpose (a supervisor's restart): not a failure


class HostControl:
    """Host-process bookkeeping of the node; ``self`` is the :class:`~wippy.node.Node`."""

    hosts: dict[int, HostProc]

    def _live_hosts(self) -> list[HostProc]:
        return [h for h in self.hosts.values() if h.state != "dead"]

    def fork_host(self, host_id: str, slot: int, terminal: bool = False) -> HostProc:
        serial = self.next_serial
        self.next_serial += 1
        hp = HostProc(serial, host_id, slot, terminal, forked_at=_time.monotonic(),
                      ident=f"h{serial}".encode())
        self.hosts[serial] = hp
        self.by_ident[hp.ident] = serial
        self.zygote.fork_host({
            "serial": serial, "host_id": host_id, "rundir": self.rundir.path,
            "store": self.store.path, "terminal": terminal, "app_dir": self.app_dir,
            "stdout_to_stderr": self.opts.exec_entry is not None and not terminal,
            "log_level": self.opts.log_level,
        })
        return hp

    def _set_host_workers(self, entry: dict[str, Any] | None, host_id: str | None = None) -> None:
        """Make the running workers of a ``process.host`` match its entry (start, rescale,
        or stop them all when the entry is gone or not auto-started)."""
        hid = entry["id"] if entry is not None else host_id
        assert hid is not None
        data = (entry or {}).get("data") or {}
        want = 0
        if entry is not None and (data.get("lifecycle") or {}).get("auto_start", True):
            want = int((data.get("host") or {}).get("workers", 1))
        self.host_workers[hid] = want
        live = {h.slot: h for h in self.hosts.values() if h.host_id == hid and h.state != "dead"
                and not h.terminal}
        for slot in range(want):
            if slot not in live:
                self.fork_host(hid, slot)
        for slot, hp in live.items():
            if slot >= want:
                self._retire(hp)

    def restart_host_entry(self, host_id: str, counted: bool) -> None:
        """A supervisor restarts host ``host_id``: refork its dead workers; with ``counted``
        (a sibling's restart) kill the live ones first."""
        if counted:
            self.stop_host_entry(host_id)
        live = {h.slot for h in self.hosts.values() if h.host_id == host_id and h.state != "dead"
                and not h.doomed and not h.terminal}
        for slot in range(self.host_workers.get(host_id, 0)):
            if slot not in live:
                self.fork_host(host_id, slot)

    def stop_host_entry(self, host_id: str) -> None:
        for hp in self._live_hosts():
            if hp.host_id == host_id and not hp.terminal and not hp.doomed:
                hp.doomed = True
                hp.state = "stopping"
                if hp.os_pid:
                    try:
                        os.kill(hp.os_pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self._broadcast(("topology", self.topology()))

    def _retire(self, hp: HostProc) -> None:
        """Stop one host OS process for good (scaled down or deleted): its processes get the
        usual stop, the others are untouched."""
        was_ready = hp.state == "ready"
        hp.state = "stopping"
        if was_ready:
            self._broadcast(("topology", self.topology()))
            self._to_host(hp, ("stop", self.opts.stop_timeout or 10.0))

    def topology(self) -> dict[str, list[int]]:
        topo: dict[str, list[int]] = {}
        for h in self.hosts.values():
            topo.setdefault(h.host_id, [])
            if h.state == "ready":
                topo[h.host_id].append(h.serial)
        return topo

    def _on_zygote(self, ev: tuple) -> None:
        if ev[0] == "started":
            hp = self.hosts.get(ev[1])
            if hp is not None:
                hp.os_pid = ev[2]
        elif ev[0] == "exited":
            _, serial, os_pid, status = ev
            hp = self.hosts.get(serial)
            if hp is None or hp.state == "dead":
                return
            was_ready = hp.state in ("ready", "stopping")
            hp.state = "dead"
            self.store.reader_check()
            reason = osproc.describe_status(status)
            if self.stopping:
                return
            if hp.doomed:
                self._host_down(hp, "stopped by its supervisor")
                return
            log.warning("host %s/%d (os pid %d) died: %s", hp.host_id, serial, os_pid, reason)
            self._host_down(hp, reason)
            if not was_ready and not self.booted:
                raise NodeError(f"host {hp.host_id} failed to start: {reason}")
            if not hp.terminal and self.services.host_failed(hp.host_id, f"host {hp.host_id}/{serial} died: {reason}"):
                return      # its supervisor decides
            self._schedule_restart(hp)

    def _zygote_died(self) -> None:
        """The zygote is gone, and its hosts with it (parent-death signal): stop with an error."""
        log.error("the zygote (os pid %d) died; every host died with it; stopping", self.zygote.pid)
        for hp in self._live_hosts():
            hp.state = "dead"
        self.begin_stop(1, "zygote died")

    def _host_down(self, hp: HostProc, reason: str) -> None:
        self.mesh.host_down(hp.serial)
        self.loads.pop(hp.serial, None)
        for name, pid in list(self.names.items()):
            if parse_pid(pid).serial == hp.serial:
                del self.names[name]
        for ack in list(self.acks.values()):
            ack["waiting"].discard(hp.serial)
        self._check_acks()
        for seq, pend in list(self.ps_pending.items()):
            pend["waiting"].discard(hp.serial)
            if not pend["waiting"]:
                self._finish_ps(seq)
        self._broadcast(("host_down", hp.serial, reason))
        self._broadcast(("topology", self.topology()))
        self.services.host_died(hp.serial, reason, hp.host_id)
        self.workflows.host_down(hp.serial)
        if self.exec_pid is not None and parse_pid(self.exec_pid).serial == hp.serial:
            print(f"wippy: {self.opts.exec_entry} failed: its host died ({reason})", file=sys.stderr)
            self.begin_stop(1, "exec host died")

    def _schedule_restart(self, hp: HostProc) -> None:
        if not hp.terminal and hp.slot >= self.host_workers.get(hp.host_id, 0):
            return      # retired (scaled down or deleted): not restarted
        key = (hp.host_id, hp.slot)
        now = _time.monotonic()
        deaths = [t for t in self.slot_deaths.get(key, []) if now - t < RESTART_WINDOW_S]
        deaths.append(now)
        self.slot_deaths[key] = deaths
        delay = 0.0 if len(deaths) == 1 else min(RESTART_MAX_S, RESTART_MIN_S * 2 ** (len(deaths) - 2))
        self.sched.call_later(delay, self._restart_slot, hp.host_id, hp.slot, hp.terminal)

    def _restart_slot(self, host_id: str, slot: int, terminal: bool) -> None:
        if not self.stopping:
            self.fork_host(host_id, slot, terminal)

    def _on_ready(self, ident: bytes, serial: int, os_pid: int) -> None:
        hp = self.hosts.get(serial)
        if hp is None or hp.state != "forking":
            return
        hp.state = "ready"
        hp.os_pid = os_pid
        hp.ready_at = _time.monotonic()
        try:
            import psutil
            hp.ps = psutil.Process(os_pid)
            hp.ps.cpu_percent()
        except Exception:  # noqa: BLE001 - monitoring is best effort
            hp.ps = None
        topo = self.topology()
        self.mesh.set_topology(topo)
        self._send_router(hp.ident, ("welcome", {"topology": topo, "loads": dict(self.loads),
                                       "names": dict(self.names),
                                       "dead": [h.serial for h in self.hosts.values() if h.state == "dead"]}))
        self._broadcast(("topology", topo), skip=serial)
        if self.booted:
            self.services.host_ready(hp.host_id)
            self.workflows.host_ready(hp.host_id)

    def _kill_hosts(self) -> None:
        for hp in self._live_hosts():
            if hp.os_pid:
                try:
                    os.kill(hp.os_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.force_at = _time.monotonic() + 3600
