"""The node's side of durable workflows: the workflows' stable PIDs, and restarting them
wherever they stopped. The journal's single writer, group commit pipelined with a commit
thread, is :class:`~wippy.node.groupcommit.GroupCommit`, which the manager extends: a write
is answered only once it is durable, so a step's effect is never visible before. A
workflow's PID is ``{wf/0|<id>}``: it routes to the node, which journals messages sent to it
(signals) before forwarding them to the OS process that runs the workflow now, and answers
monitors with the recorded result.

The manager reaches processes through :class:`WorkflowProcs` and answers the WF_* requests of
:mod:`wippy.core.protocol` through the handlers :meth:`WorkflowManager.requests` returns.

Security (S9): a workflow runs under the context of whoever started it, kept in its journal
record (``security``, its plain form), so that a resumed workflow, after any crash or a node
restart, runs under the same one. The node checks ``workflow.start`` and ``workflow.cancel``
(the entry id) with the context the request carries, and ``workflow.signal`` on every message
from a process under a context (its host adds the context to the frame): a refused signal is
dropped, logged and counted (``send`` does not wait for the node, so the sender is not told).

A name binds once: a start looks its name up in the writes not committed yet (this turn's,
then the batch in flight) before the journal, so two starts of one name get one workflow.

A signal reaches a workflow's process once, in order: the process loads the signals journaled
so far (``WF_LOAD``, answered once the turn's writes are committed), and a signal journaled
later is forwarded to it only if its load did not have it (``loaded``). Forwarding a signal
to a process that has not loaded yet would deliver it twice, and ahead of older ones.

A commit that fails (a full disk, a full map: :class:`~wippy.errors.StorageError`) writes
nothing of its batch, nor of the batch gathered meanwhile (built on it), and the node stays up. Each write's operation learns it: a start or a
cancel is answered with the error, a process that spawned a workflow gets its EXIT, a
workflow whose step or result was not journaled is stopped (its code never sees the failure,
and could not tell a replay apart from it) and runs again from its journal once
``RETRY_S`` has passed, and a signal waits, in order, to be journaled again. So when space
comes back, every workflow carries on where its journal says it was.

In a cluster (:mod:`wippy.cluster`) the journal is shared and each workflow has one owner
node: a commit may refuse the writes of workflows another node took over (fencing). Each
write's operation then learns it as a :class:`~wippy.errors.FencedError`, and the manager
stops driving those workflows (their processes are stopped and never restarted here). The
cluster part hands the manager workflows to run (:meth:`WorkflowManager.adopt`: claimed from a
dead node) and to give up (:meth:`WorkflowManager.disown`). Nodes do not message each other
yet, so the journal carries what crosses them: a signal to a workflow another node runs goes
into the journal's inbox, where its owner picks it up (:meth:`WorkflowManager.from_inbox`), and
a monitor of such a workflow is answered when the journal shows it finished
(:meth:`WorkflowManager.ended_elsewhere`); both are polled by the cluster part. A cancel goes
the same way as a signal (an inbox record its owner acts on).
"""
from __future__ import annotations

import logging
import os
import time as _time
from typing import Any, Callable, Protocol

from ..core import wire
from ..core.pid import make_pid, parse_pid
from ..core.protocol import MONITOR, ReqOp
from ..errors import FencedError, StorageError, WippyError, to_wire
from ..registry.entry import WORKFLOW_KINDS
from ..security.callers import caller_of
from ..security.context import from_wire
from ..workflow.journal import JournalStore
from .control import Reply
from .groupcommit import GroupCommit

__all__ = ["WorkflowManager", "WorkflowProcs", "wf_pid"]

log = logging.getLogger("wippy.workflow")

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


class WorkflowManager(GroupCommit):
    """The journal's writer and the node's workflow PIDs.

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

    # -- requests ------------------------------------------------------------------------
    def requests(self) -> dict[ReqOp, Callable[[tuple[Any, ...], Reply], None]]:
        """The handlers of the workflow requests; a write is answered once it is durable."""
        return {ReqOp.WF_START: self._req_start, ReqOp.WF_LOAD: self._req_load,
                ReqOp.WF_STEPS: self._req_steps, ReqOp.WF_DONE: self._req_done,
                ReqOp.WF_CANCEL: self._req_cancel}

    def _req_start(self, args: tuple[Any, ...], reply: Reply) -> None:
        entry_id, input_, name = args
        try:
            caller = caller_of(reply.caller)
            caller.check("workflow.start", entry_id)
            pid = self.start(entry_id, input_, name, security=caller.context and caller.context.wire)
        except WippyError as exc:
            reply.fail(exc)
            return
        self.then(lambda: reply.ok(pid), reply.fail, parse_pid(pid).local)

    def _req_load(self, args: tuple[Any, ...], reply: Reply) -> None:
        """A workflow's process asks for its journal: answered after this turn's commit, with
        every signal committed by then; later ones are forwarded (see the module's note)."""
        wf_id = args[0]
        self.loading.append(wf_id)

        def answer(_: StorageError | None = None) -> None:
            try:
                wf = self.journal.workflow(wf_id)
                signals = [] if wf is None else self.journal.signals(wf_id)
                steps = [] if wf is None else self.journal.steps(wf_id)
            except StorageError as exc:     # a shared journal out of reach: it runs again
                reply.fail(exc)
                return
            if wf is None:
                reply.error("NOT_FOUND", f"workflow {wf_id} not found")
                return
            self.loaded[wf_id] = len(signals)
            reply.ok({"input": wf["input"], "steps": steps, "signals": signals,
                      "pid": wf_pid(wf_id)})
        self.then(answer, answer)

    def _req_steps(self, args: tuple[Any, ...], reply: Reply) -> None:
        wf_id, steps = args
        self.steps += len(steps)
        for seq, record in steps:
            self.write("step", wf_id, seq, record)
        self.then(reply.ok, lambda exc: self._stop_unjournaled(wf_id), wf_id)

    def _req_done(self, args: tuple[Any, ...], reply: Reply) -> None:
        wf_id, value, error = args
        self.finish(wf_id, value, error)
        self.then(reply.ok, lambda exc: self._stop_unjournaled(wf_id), wf_id)

    def _req_cancel(self, args: tuple[Any, ...], reply: Reply) -> None:
        wf = self.record(args[0])
        try:
            caller_of(reply.caller).check("workflow.cancel", (wf or {}).get("entry") or args[0])
        except WippyError as exc:
            reply.fail(exc)
            return
        if wf is not None and wf["status"] == "running" and not self.journal.owns(args[0]):
            self.write("inbox", args[0], {"cancel": True})   # its owner cancels it
            self.then(reply.ok, reply.fail)
            return
        self.cancel(args[0])
        self.then(reply.ok, reply.fail, args[0])

    def _stop_unjournaled(self, wf_id: str) -> None:
        """A step of ``wf_id`` could not be journaled: stop the process running it (it never
        hears why); it runs again from its journal (``on_exit``)."""
        inc = self.inc.get(wf_id)
        if inc is not None and self.journal.owns(wf_id):    # else disown() stopped it
            self._procs.terminate(inc)

    def on_spawn(self, frame: tuple) -> None:
        """``process.spawn`` of a workflow entry: start it under the id the spawner chose."""
        _, wf_id, spawner, entry_id, args, flags, _code = frame[:7]
        input_ = args[0] if len(args) == 1 else args
        try:
            # the spawner's host checked process.spawn and workflow.start under this context
            security = frame[7] if len(frame) > 7 else None
            self.start(entry_id, input_, None, wf_id, security)
        except WippyError as exc:
            if spawner is not None and flags & MONITOR:
                self._send_exit(spawner, wf_pid(wf_id), None, {"kind": exc.kind, "message": str(exc)})
            return
        if spawner is not None and flags & MONITOR:
            self.watchers.setdefault(wf_id, set()).add(spawner)
            self.then(lambda: None, lambda exc: self._notify_exit(wf_id, wf_pid(wf_id), None,
                                                                  to_wire(exc)), wf_id)

    def start(self, entry_id: str, input_: Any, name: str | None, wf_id: str | None = None,
              security: Any = None) -> str:
        """Start workflow ``entry_id`` under ``security`` (the plain form of its starter's
        context; None: the operator), once its record is durable; returns its PID. With
        ``name``, the workflow already bound to it, if any, committed or started earlier in
        this turn."""
        if name:
            existing = self.bound(name)
            if existing is not None:
                return wf_pid(existing)
        entry = self._entry(entry_id)
        if entry is None or entry.get("kind") not in WORKFLOW_KINDS:
            raise WippyError(f"entry {entry_id} is not a workflow entry (workflow.py or workflow.lua)")
        wf_id = wf_id or os.urandom(6).hex()
        record = {"id": wf_id, "entry": entry_id, "host": (entry.get("data") or {}).get("host"),
                  "input": wire.plain(input_), "name": name, "status": "running", "result": None,
                  "error": None, "created": _time.time(), "finished": None, "signals": 0}
        if security:
            record["security"] = security
        self.write("wf", record)
        if name:
            self.write("name", name, wf_id)
        self.then(lambda: self.launch(record), wf=wf_id)
        return wf_pid(wf_id)

    def launch(self, record: dict[str, Any]) -> None:
        """Run (or run again) a workflow on its host; replay brings it to where it stopped."""
        wf_id = record["id"]
        if not self.journal.owns(wf_id):
            return                            # another node drives it now
        if wf_id in self.inc:                 # its old process has not exited yet
            self.moving.add(wf_id)            # relaunched when it has (on_exit)
            return
        try:
            pid = self._procs.spawn(record["entry"], record["host"], [wf_id], monitor=True,
                                    security=record.get("security"))
        except WippyError:
            self.waiting_host.add(wf_id)      # its host is down: launched when it is back
            return
        self.inc[wf_id] = pid
        self.by_inc[pid] = wf_id
        self.loaded.pop(wf_id, None)          # the new process has not loaded yet

    def boot(self) -> None:
        """Node start: every workflow that had not finished resumes (in a cluster: those this
        node owns)."""
        for wf in self.journal.resumable():
            self.launch(wf)

    def adopt(self, records: list[dict[str, Any]]) -> None:
        """Run workflows this node has just claimed (from a dead node, or back after its own
        lease lapsed): replay takes each to where its journal says it was."""
        for wf in records:
            if wf.get("status") == "running":
                self.waiting_host.discard(wf["id"])
                self.launch(wf)

    def disown(self, wfs: list[str], why: str = "its fencing token moved on") -> None:
        """Stop driving ``wfs`` (another node owns them now, or may soon): their processes
        are stopped and not restarted here; their watchers here are not told."""
        if wfs:
            log.warning("%d workflow(s) stop running on this node (%s): %s%s", len(wfs), why,
                        " ".join(wfs[:5]), " ..." if len(wfs) > 5 else "")
        for wf_id in wfs:
            self.waiting_host.discard(wf_id)
            self.moving.discard(wf_id)
            inc = self.inc.get(wf_id)
            if inc is not None:
                self._procs.terminate(inc)

    def host_ready(self, host_id: str) -> None:
        for wf_id in list(self.waiting_host):
            wf = self.record(wf_id)
            if wf is not None and wf["host"] == host_id and wf["status"] == "running":
                self.waiting_host.discard(wf_id)
                self.launch(wf)

    def host_retiring(self, serial: int) -> None:
        """OS process ``serial`` is being stopped for good: its workflows run again elsewhere
        as soon as they have stopped there (replay takes them to where they were)."""
        for wf_id, pid in self.inc.items():
            if parse_pid(pid).serial == serial:
                self.moving.add(wf_id)

    def host_down(self, serial: int) -> None:
        for wf_id, pid in list(self.inc.items()):
            if parse_pid(pid).serial == serial:
                del self.inc[wf_id]
                self.loaded.pop(wf_id, None)
                self.moving.discard(wf_id)
                self.waiting_host.add(wf_id)

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

    def on_exit(self, pid: str, error: dict | None) -> bool:
        """The process running a workflow ended. Unless the workflow finished, run it again."""
        wf_id = self.by_inc.pop(pid, None)
        if wf_id is None:
            if pid.startswith("{" + WF_HOST + "/0|"):
                wf_id = parse_pid(pid).local
                for k in [k for k, v in self.by_inc.items() if v == wf_id]:
                    del self.by_inc[k]
            else:
                return False
        self.inc.pop(wf_id, None)
        self.loaded.pop(wf_id, None)
        moving = wf_id in self.moving
        self.moving.discard(wf_id)
        if not self.journal.owns(wf_id):
            return True                     # another node drives it now
        wf = self.record(wf_id)
        if wf is None or wf["status"] != "running" or self._stopping():
            return True
        if moving:
            self.launch(wf)                 # its OS process retired: on another one, at once
            return True
        if error is not None and error.get("kind") == "HOST_DOWN":
            self.waiting_host.add(wf_id)    # its host comes back, and so does the workflow
            return True
        if error is not None and error.get("kind") == "NONDETERMINISM":
            self.finish(wf_id, None, error)   # replaying it again cannot help
            self.then(lambda: None, lambda exc: self._call_later(RETRY_S, self.launch, wf), wf_id)
            return True
        if self.storage_error is not None:    # stopped because its journal could not be written
            self._call_later(RETRY_S, self.launch, wf)
            return True
        log.warning("workflow %s stopped without finishing (%s); running it again", wf_id,
                    (error or {}).get("message"))
        self._call_later(0.05, self.launch, wf)
        return True
