"""The node's status (``wippy ps``, ``wippy top``, ``Connection.status()``), gathered from
every host that can answer, and the rates between two of them.

The node asks each host that has been welcomed and is alive (ready or stopping) for its
counters and, unless asked for counts only, its processes; it waits for every answer or
``PS_TIMEOUT_S`` and adds what only it knows: each host OS process's state, CPU and RSS
(psutil), restarts, names, services, supervisors, workflows and the registry version.

Counters are cumulative (messages in and out, spawns, exits, journaled workflow steps) and the
status carries the node's monotonic clock, so whoever reads two of them takes the rates
(:func:`rates`), as a Prometheus scraper would: the node keeps no history and any number of
readers (``top``, a web observer) can poll at their own pace. Rejected: hosts pushing their
counters on a timer, which would cost every host a message per period even when nobody looks.

A host's ``restarts`` counts every OS process of its slot that died since the node booted,
whoever restarted it (the implicit root or a ``supervisor`` entry); a worker scaled away is not
a failure. Its ``last_failure`` is the last process failure its running OS process reported,
else how the last of those OS processes died (the running one started after that death, so
its own failures are newer).
"""
from __future__ import annotations

import time as _time
from typing import Any, Callable, Protocol

from ..core import protocol
from .hosts import HostState, HostSupervisor

__all__ = ["StatusCollector", "PS_TIMEOUT_S", "rates", "boot_progress", "RATE_COUNTERS"]

PS_TIMEOUT_S = 2.0          # a host that has not answered by then is shown without processes
_FROM_HOST = ("processes", "count", "spawns", "exits", "msgs_in", "msgs_out", "mailbox_total",
              "mailbox_max", "last_failure", "denied", "metrics")
#: Host counters that :func:`rates` turns into per-second rates.
RATE_COUNTERS = ("msgs_in", "msgs_out", "spawns", "exits")


class Answer(Protocol):
    """Whoever gets a status: a request's :class:`~wippy.node.control.Reply`, or the
    cluster's publisher."""

    def ok(self, value: Any = True) -> None: ...

    def error(self, kind: str, message: str) -> None: ...


class _Pending:
    __slots__ = ("reply", "waiting", "answers")

    def __init__(self, reply: Answer, waiting: set[int]) -> None:
        self.reply = reply
        self.waiting = waiting
        self.answers: dict[int, dict[str, Any]] = {}


class StatusCollector:
    """Answers ``ps`` requests.

    ``send(serial, message)`` reaches a welcomed host; ``names_by_pid()``, ``services()``,
    ``supervisors()``, ``workflows()`` and ``node_info()`` give the node's own parts of the
    answer."""

    def __init__(self, hosts: HostSupervisor, send: Callable[[int, tuple], None],
                 call_later: Callable[..., Any], node_info: Callable[[], dict[str, Any]],
                 names_by_pid: Callable[[], dict[str, list[str]]],
                 services: Callable[[], list[dict[str, Any]]],
                 supervisors: Callable[[], list[dict[str, Any]]],
                 workflows: Callable[[], dict[str, Any]] = dict) -> None:
        self._hosts = hosts
        self._send = send
        self._call_later = call_later
        self._node_info = node_info
        self._names_by_pid = names_by_pid
        self._services = services
        self._supervisors = supervisors
        self._workflows = workflows
        self._pending: dict[int, _Pending] = {}
        self._seq = 0
        self._stats: dict[int, Any] = {}     # serial -> psutil.Process, primed for cpu_percent

    def watch(self, serial: int, os_pid: int) -> None:
        """Start measuring host ``serial`` (CPU% is relative to the previous reading)."""
        try:
            import psutil
            proc = psutil.Process(os_pid)
            proc.cpu_percent()
        except Exception:  # noqa: BLE001 - monitoring is best effort
            return
        self._stats[serial] = proc

    def start(self, reply: Answer, processes: bool = True) -> None:
        """Ask every answering host; ``reply`` gets the whole status (without the list of
        processes unless ``processes``)."""
        self._seq += 1
        seq = self._seq
        asked = {h.serial for h in self._hosts.live() if h.ready_at}
        self._pending[seq] = _Pending(reply, set(asked))
        for serial in asked:
            self._send(serial, protocol.ps(seq, processes))
        if asked:
            self._call_later(PS_TIMEOUT_S, self._finish, seq)
        else:
            self._finish(seq)

    def on_reply(self, frame: protocol.PsReply) -> None:
        pend = self._pending.get(frame.seq)
        if pend is None:
            return
        serial = frame.data.get("serial", -1)
        pend.answers[serial] = frame.data
        pend.waiting.discard(serial)
        if not pend.waiting:
            self._finish(frame.seq)

    def host_gone(self, serial: int) -> None:
        """Host ``serial`` died: nobody waits for its answer."""
        self._stats.pop(serial, None)
        for seq, pend in list(self._pending.items()):
            pend.waiting.discard(serial)
            if not pend.waiting:
                self._finish(seq)

    def _history(self, hp: Any) -> tuple[int, str | None]:
        """How many OS processes of ``hp``'s slot died before it (failures and supervisor
        restarts, not workers scaled away), and how the last of them died."""
        deaths = [h for h in self._hosts.hosts.values()
                  if h.state is HostState.DEAD and not h.retired and h.serial < hp.serial
                  and (h.host_id, h.slot, h.terminal) == (hp.host_id, hp.slot, hp.terminal)]
        failed = [h for h in deaths if not h.doomed]
        last = max(failed, key=lambda h: h.serial) if failed else None
        return len(deaths), (None if last is None else
                             f"host {last.host_id}/{last.serial} died: {last.exit_reason}")

    def _finish(self, seq: int) -> None:
        pend = self._pending.pop(seq, None)
        if pend is None:
            return
        names_of = self._names_by_pid()
        rows = []
        for hp in sorted(self._hosts.live(), key=lambda h: h.serial):
            restarts, died = self._history(hp)
            row: dict[str, Any] = {"serial": hp.serial, "host": hp.host_id, "slot": hp.slot,
                                   "os_pid": hp.os_pid, "state": hp.state.value, "cpu": None,
                                   "rss": None, "restarts": restarts, "last_failure": died}
            proc = self._stats.get(hp.serial)
            if proc is not None and hp.state is not HostState.DEAD:
                try:
                    with proc.oneshot():
                        row["cpu"] = proc.cpu_percent()
                        row["rss"] = proc.memory_info().rss
                except Exception:  # noqa: BLE001
                    pass
            answer = pend.answers.get(hp.serial, {})
            row.update({k: v for k, v in answer.items() if k in _FROM_HOST
                        and (k != "last_failure" or v)})
            for p in row.get("processes", []):
                p["names"] = sorted(set(p.get("names", [])) | set(names_of.get(p["pid"], [])))
            rows.append(row)
        pend.reply.ok({"node": self._node_info(), "hosts": rows, "services": self._services(),
                       "supervisors": self._supervisors(), "workflows": self._workflows(),
                       "time": _time.time(), "clock": _time.monotonic()})


def rates(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """Per-second rates between two statuses of one node: ``{"hosts": {serial: {counter:
    rate}}, "steps": rate}``. A host absent from ``before`` (just started) has no rates yet;
    a counter that went down (never, short of a restart) counts as 0."""
    out: dict[str, Any] = {"hosts": {}, "steps": None}
    if before is None:
        return out
    dt = after.get("clock", 0.0) - before.get("clock", 0.0)
    if dt <= 0:
        return out
    old = {h["serial"]: h for h in before.get("hosts", [])}
    for h in after.get("hosts", []):
        prev = old.get(h["serial"])
        if prev is None:
            continue
        out["hosts"][h["serial"]] = {k: max(0, (h.get(k) or 0) - (prev.get(k) or 0)) / dt
                                     for k in RATE_COUNTERS}
    wa, wb = after.get("workflows") or {}, before.get("workflows") or {}
    if "steps" in wa and "steps" in wb:
        out["steps"] = max(0, wa["steps"] - wb["steps"]) / dt
    return out


def boot_progress(hosts: list[tuple[str, str]], services: tuple[int, int], waited: float) -> str:
    """The line a slow start prints: ``hosts`` as (id/serial, state), ``services`` as
    (running, wanted)."""
    ready = sum(1 for _, state in hosts if state == HostState.READY.value)
    waiting = [name for name, state in hosts if state == HostState.STARTING.value]
    text = f"still starting after {waited:.0f} s: {ready}/{len(hosts)} host OS process(es) ready"
    if waiting:
        text += " (waiting for " + ", ".join(waiting[:4]) + (", ..." if len(waiting) > 4 else "") + ")"
    return text + f", {services[0]}/{services[1]} service(s) running"
