"""A workflow's PID, ``{wf/0|<id>}``, seen from the node: the messages sent to it (signals,
journaled before they are forwarded to the OS process that runs the workflow now), its
monitors (answered with the recorded result), and its end, which reaches its watchers once it
is durable. :class:`~wippy.node.workflows.WorkflowManager` extends it with starting and
running workflows.

A signal reaches a workflow's process once, in order: the process loads the signals journaled
so far (``WF_LOAD``, answered once the turn's writes are committed), and a signal journaled
later is forwarded to it only if its load did not have it (``loaded``). Forwarding a signal
to a process that has not loaded yet would deliver it twice, and ahead of older ones.

A signal the journal could not take waits, in order, to be journaled again (``RETRY_S``);
one a sender's context may not send (``workflow.signal``) is dropped, logged and counted.

In a cluster (:mod:`wippy.cluster`) nodes do not message each other yet, so the journal
carries what crosses them: a signal to a workflow another node runs goes into the journal's
inbox, where its owner picks it up (:meth:`WorkflowPids.from_inbox`), and a monitor of such a
workflow is answered when the journal shows it finished (:meth:`WorkflowPids.ended_elsewhere`);
both are polled by the cluster part. A cancel goes the same way as a signal (an inbox record
its owner acts on).
"""
from __future__ import annotations

import time as _time
from typing import Any, Callable, Protocol

from ..core import wire
from ..core.pid import make_pid
from ..errors import FencedError, StorageError, WippyError
from ..security.context import from_wire
from ..workflow.journal import JournalStore
from .groupcommit import GroupCommit

__all__ = ["RETRY_S", "WF_HOST", "WorkflowPids", "WorkflowProcs", "wf_pid"]

WF_HOST = "wf"
RETRY_S = 1.0       # while the journal cannot be written: how often a stopped workflow retries


def wf_pid(wf_id: str) -> str:
    return make_pid(WF_HOST, 0, wf_id)


class WorkflowProcs(Protocol):
    """The processes that run workflows, and the watchers of workflow PIDs."""

    def spawn(self, entry_id: str, host_id: str, args: list[Any], monitor: bool = True,
              ack: bool = False, security: Any = None) -> str: ...

    def terminate(self, pid: str) -> None: ...

    def send_exit(self, watcher: str, pid: str, value: Any, error: dict[str, Any] | None) -> None: ...

    def deliver(self, pid: str, sender: str | None, topic: str, payload: Any) -> None: ...



class WorkflowPids(GroupCommit):
    """The journal's writer as seen by workflow PIDs: their signals, monitors and ends.

    ``entry(id)`` reads a stored registry entry; ``call_later(delay, fn, *args)`` is the
    node's timer; ``stopping()`` tells whether the node is stopping."""

    def __init__(self, journal: str | JournalStore, procs: WorkflowProcs,
                 entry: Callable[[str], dict[str, Any] | None],
                 call_later: Callable[..., Any], stopping: Callable[[], bool]) -> None:
        super().__init__(journal)
        self._procs = procs
        self._entry = entry
        self._call_later = call_later
        self._stopping = stopping
        self.inc: dict[str, str] = {}           # workflow id -> PID of the process running it
        self.loaded: dict[str, int] = {}        # workflow id -> signals its process loaded
        self.by_inc: dict[str, str] = {}        # that PID (and the adopted wf PID) -> workflow id
        self.waiting_host: set[str] = set()
        self.moving: set[str] = set()           # on a retiring OS process: relaunched at exit
        self.watchers: dict[str, set[str]] = {}
        self.steps = 0                          # journaled steps (``wippy top``'s steps/s)
        self.deferred: list[tuple] = []     # signals to journal again (a commit failed)
        self.inbox_pending: set[int] = set()  # shared-inbox rows being journaled here


    def finish(self, wf_id: str, value: Any, error: dict | None, status: str | None = None) -> None:
        wf = self.record(wf_id)
        if wf is None or wf["status"] != "running":
            return
        wf.update(status=status or ("failed" if error else "completed"), result=value, error=error,
                  finished=_time.time())
        self.write("wf", wf)
        pid = wf_pid(wf_id)
        self.then(lambda: self._notify_exit(wf_id, pid, value, error), wf=wf_id)

    def cancel(self, wf_id: str) -> None:
        inc = self.inc.pop(wf_id, None)
        self.loaded.pop(wf_id, None)
        if inc is not None:
            self._procs.terminate(inc)
        self.finish(wf_id, None, {"kind": "CANCELED", "message": f"workflow {wf_id} cancelled"},
                    "cancelled")

    def _notify_exit(self, wf_id: str, pid: str, value: Any, error: dict | None) -> None:
        for watcher in self.watchers.pop(wf_id, set()):
            self._send_exit(watcher, pid, value, error)

    def _send_exit(self, watcher: str, pid: str, value: Any, error: dict | None) -> None:
        self._procs.send_exit(watcher, pid, value, error)

    # -- frames addressed to workflow PIDs -----------------------------------------------
    def on_frame(self, frame: tuple) -> bool:
        op = frame[0]
        if op == wire.Op.MSG:
            if self.deferred:           # behind signals that wait to be journaled again
                self.deferred.append(frame)
                return True
            _, wf_id, sender, topic, payload, _name = frame[:6]
            wf = self.record(wf_id)
            if wf is None or wf["status"] != "running":
                return True             # a finished workflow: dropped, like a dead process
            if len(frame) > 6 and not self._may_signal(frame[6], wf):
                return True
            sig = {"topic": topic, "payload": payload, "from": sender}
            if not self.journal.owns(wf_id):    # another node runs it: its inbox, in the journal
                self.write("inbox", wf_id, sig)
                self.then(lambda: None, lambda exc: self._defer(frame))
                return True
            self._signal(wf, sig, lambda exc: None if isinstance(exc, FencedError)
                         else self._defer(frame))
            return True
        if op == wire.Op.MONITOR:
            _, wf_id, watcher = frame
            wf = self.record(wf_id)
            if wf is not None and wf["status"] != "running":
                self._send_exit(watcher, wf_pid(wf_id), wf["result"], wf["error"])
            elif wf is None:
                self._send_exit(watcher, wf_pid(wf_id), None,
                                {"kind": "NOT_FOUND", "message": f"workflow {wf_id} not found"})
            else:
                self.watchers.setdefault(wf_id, set()).add(watcher)
            return True
        if op == wire.Op.UNMONITOR:
            self.watchers.get(frame[1], set()).discard(frame[2])
            return True
        return False

    def _signal(self, wf: dict[str, Any], sig: dict[str, Any],
                failed: Callable[[StorageError], None]) -> None:
        """Journal signal ``sig`` of running workflow ``wf``, then forward it to its process."""
        wf_id, seq = wf["id"], wf["signals"]
        wf["signals"] = seq + 1
        self.write("wf", wf)
        self.write("signal", wf_id, seq, sig)
        self.then(lambda: self._forward(wf_id, seq, sig.get("from"), sig["topic"], sig.get("payload")),
                  failed, wf_id)

    # -- a cluster: what reaches this node through the shared journal ----------------------
    def from_inbox(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Signals that other nodes left in the shared journal for workflows this node runs:
        each is journaled as the workflow's signal and taken out of the inbox in one commit
        (a refused commit leaves it there for the workflow's new owner)."""
        for row_id, wf_id, sig in rows:
            if row_id in self.inbox_pending:
                continue
            self.inbox_pending.add(row_id)
            self.write("inbox_done", wf_id, row_id)
            wf = self.record(wf_id)
            if wf is not None and wf["status"] == "running" and self.journal.owns(wf_id):
                if sig.get("cancel"):
                    self.cancel(wf_id)          # asked on a node that does not run it
                else:
                    self._signal(wf, sig, lambda exc: None)
            done: Callable[..., None] = lambda *_, r=row_id: self.inbox_pending.discard(r)  # noqa: E731
            self.then(done, done, wf_id)

    def watched_elsewhere(self) -> list[str]:
        """Workflows watched here (monitors) that another node runs."""
        return [wf for wf, w in self.watchers.items() if w and not self.journal.owns(wf)]

    def ended_elsewhere(self, records: list[dict[str, Any]]) -> None:
        """Workflows another node finished: their watchers here get the recorded result."""
        for rec in records:
            if rec.get("status") != "running":
                self._notify_exit(rec["id"], wf_pid(rec["id"]), rec.get("result"), rec.get("error"))

    @staticmethod
    def _may_signal(security: Any, wf: dict[str, Any]) -> bool:
        """Whether a sender under ``security`` (plain form) may signal workflow ``wf``
        (a refusal is logged and counted by the check)."""
        try:
            ctx = from_wire(security)
            if ctx is not None:
                ctx.check("workflow.signal", wf["entry"])
        except (WippyError, ValueError):
            return False
        return True

    def _defer(self, frame: tuple) -> None:
        """A signal could not be journaled: try again later, ahead of any that arrive."""
        if not self.deferred:
            self._call_later(RETRY_S, self._retry_signals)
        self.deferred.append(frame)

    def _retry_signals(self) -> None:
        frames, self.deferred = self.deferred, []
        for frame in frames:
            self.on_frame(frame)

    def _forward(self, wf_id: str, seq: int, sender: str | None, topic: str, payload: Any) -> None:
        inc = self.inc.get(wf_id)
        if inc is None or seq < self.loaded.get(wf_id, seq + 1):
            return                      # its process has it from the journal (or will load it)
        self._procs.deliver(inc, sender, topic, payload)
