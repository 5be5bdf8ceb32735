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
from typing import Any, Callable

from ..core import wire
from ..core.pid import parse_pid
from ..core.protocol import MONITOR, ReqOp
from ..errors import StorageError, WippyError, to_wire
from ..registry.entry import WORKFLOW_KINDS
from ..security.callers import caller_of
from .control import Reply
from .wfpids import RETRY_S, WF_HOST, WorkflowPids, WorkflowProcs, wf_pid

__all__ = ["WorkflowManager", "WorkflowProcs", "wf_pid"]

log = logging.getLogger("wippy.workflow")


class WorkflowManager(WorkflowPids):
    """The journal's writer and the node's workflows: started, run, and run again wherever
    they stopped (the constructor is :class:`~wippy.node.wfpids.WorkflowPids`'s)."""

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
