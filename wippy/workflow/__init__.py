"""``wippy.workflow``: durable workflows (S8), for ``workflow.py`` entries.

A workflow is ordinary ``async def main(input)`` code. Every nondeterministic step is
journaled by the node (LMDB, group commit) before its effect is visible to the code:
``funcs.call`` results (activities), ``time.sleep`` (a durable timer with its due time),
``time.now()``, ``workflow.uuid()``, ``workflow.random()``, ``workflow.version()``. Messages
sent to the workflow's PID (signals) are journaled by the node on arrival. When the OS process
running a workflow dies, the node starts it again (on its host, once it is back; or after the
node itself restarts) and the code is replayed: recorded steps return their recorded results
without running again, and a step that differs from the journal raises
:class:`NondeterminismError`. An activity interrupted before its result was journaled runs
again, with the same :func:`idempotency_key`.

The workflow's PID (``{wf/0|<id>}``) is stable across restarts: messages to it and monitors of
it go through the node, which keeps the recorded result, so a monitor added after completion
still gets the EXIT with it.
"""
from __future__ import annotations

import random as _random
import time as _stdtime
import uuid as _uuid
from typing import Any

from ..errors import WippyError, exit_error, to_wire
from ..runtime import scheduler as _sched
from ..runtime import table as _rt

__all__ = ["start", "idempotency_key", "uuid", "random", "version", "NondeterminismError",
           "WorkflowContext", "runner", "current"]


class NondeterminismError(WippyError):
    """The workflow's code asked for a different step than its journal recorded."""

    kind = "NONDETERMINISM"


class WorkflowContext:
    """Replay state of one running workflow (lives on the process that runs it)."""

    def __init__(self, wf_id: str, steps: list[dict[str, Any]]) -> None:
        self.wf_id = wf_id
        self.steps = steps
        self.seq = 0
        self.pending: list[tuple[int, dict[str, Any]]] = []   # recorded, not yet committed
        self.activity_key: str | None = None
        self.in_activity = False

    def _recorded(self, op: str, key: Any) -> dict[str, Any] | None:
        i = self.seq
        if i < len(self.steps):
            rec = self.steps[i]
            if rec.get("op") != op or rec.get("key") != key:
                raise NondeterminismError(
                    f"workflow {self.wf_id} step {i}: the journal has {rec.get('op')} "
                    f"{rec.get('key')!r}, the code now asks for {op} {key!r}")
            self.seq += 1
            return rec
        return None

    def record_sync(self, op: str, key: Any, result: Any) -> Any:
        """A step whose value is made here (now, uuid, random): journaled with the next commit,
        which happens before any effect leaves the workflow."""
        rec = self._recorded(op, key)
        if rec is not None:
            return rec["result"]
        record = {"op": op, "key": key, "result": result}
        self.pending.append((self.seq, record))
        self.steps.append(record)
        self.seq += 1
        return result

    async def commit(self, extra: tuple[int, dict[str, Any]] | None = None) -> None:
        batch = self.pending + ([extra] if extra else [])
        self.pending = []
        if batch:
            await _rt.get().ctl_request("wf_steps", self.wf_id, batch)

    async def call(self, func_id: str, args: tuple) -> Any:
        rec = self._recorded("call", func_id)
        if rec is not None:
            if rec.get("error") is not None:
                raise exit_error(rec["error"])
            return rec["result"]
        await self.commit()                     # earlier now()/uuid() before any effect
        i = self.seq
        self.activity_key = f"{self.wf_id}:{i}"
        self.in_activity = True
        from .. import funcs
        try:
            result, error = await funcs.call(func_id, *args), None
        except Exception as exc:  # noqa: BLE001 - an activity's error is its recorded result
            result, error = None, to_wire(exc)
        finally:
            self.in_activity = False
            self.activity_key = None
        record = {"op": "call", "key": func_id, "result": result, "error": error}
        await self.commit((i, record))
        self.steps.append(record)
        self.seq += 1
        if error is not None:
            raise exit_error(error)
        return result

    async def step(self, op: str, key: Any, fn: Any) -> Any:
        """A journaled step with an effect outside the workflow (a child workflow's start):
        on replay the recorded result (or error) comes back and ``fn`` does not run; else
        ``await fn(i)`` runs (``i``: this step's index, stable across replays) and its result
        is journaled before the code sees it. A WippyError is recorded like a result."""
        rec = self._recorded(op, key)
        if rec is not None:
            if rec.get("error") is not None:
                raise exit_error(rec["error"])
            return rec["result"]
        await self.commit()                     # earlier now()/uuid() before any effect
        i = self.seq
        try:
            result, error = await fn(i), None
        except WippyError as exc:
            result, error = None, to_wire(exc)
        record = {"op": op, "key": key, "result": result, "error": error}
        await self.commit((i, record))
        self.steps.append(record)
        self.seq += 1
        if error is not None:
            raise exit_error(error)
        return result

    async def sleep(self, seconds: float) -> None:
        rec = self._recorded("timer", seconds)
        if rec is None:
            due = _stdtime.time() + seconds
            i = self.seq
            record = {"op": "timer", "key": seconds, "result": due}
            await self.commit((i, record))     # the due time is durable before we wait
            self.steps.append(record)
            self.seq += 1
        else:
            due = rec["result"]
        left = due - _stdtime.time()
        if left > 0:
            sched = _sched.get()
            w = sched.new_wait()
            h = sched.call_later(left, sched.wake, w, None)
            _rt.get().current().add_timer(h)
            await _sched.suspend()


def current() -> WorkflowContext | None:
    """The workflow context of the calling process, or None outside a workflow."""
    rt = _rt._RUNTIME
    if rt is None or rt.sched.current is None or rt.sched.current.proc is None:
        return None
    return getattr(rt.sched.current.proc, "workflow", None)


def _ctx() -> WorkflowContext:
    wf = current()
    if wf is None:
        raise WippyError("this call belongs inside a workflow")
    return wf


def idempotency_key() -> str | None:
    """Inside an activity called by a workflow: a key that stays the same when the activity
    runs again after a crash (``<workflow id>:<step>``)."""
    wf = current()
    return wf.activity_key if wf is not None else None


def uuid() -> str:
    """A UUID, journaled (the same one on replay)."""
    wf = _ctx()
    return wf.record_sync("uuid", None, str(_uuid.uuid4()))


def random() -> float:
    """A random float in [0, 1), journaled."""
    return _ctx().record_sync("random", None, _random.random())


def version(change_id: str, min_version: int, max_version: int) -> int:
    """Temporal's versioning: new runs record ``max_version``; replays get what was recorded
    (raising NondeterminismError when that is below ``min_version``)."""
    got = _ctx().record_sync("version", change_id, max_version)
    if got < min_version:
        raise NondeterminismError(f"workflow change {change_id!r}: recorded version {got} is "
                                  f"below the oldest supported {min_version}")
    return got


async def start(entry_id: str, input: Any = None, name: str | None = None) -> str:
    """Start workflow ``entry_id`` with ``input``; returns its PID. With a ``name`` the start
    is idempotent: the existing workflow's PID comes back, before or after completion.

    Inside a workflow this starts a child workflow, as a journaled step: a replay gets the
    recorded PID back. Without a ``name`` the child is named ``<workflow id>:<step>``, so a
    start interrupted before its step was journaled finds the same child when it runs again."""
    wf = current()
    if wf is not None and not wf.in_activity:
        key = entry_id if name is None else f"{entry_id} {name}"

        async def run(i: int) -> str:
            return await _rt.get().ctl_request("wf_start", entry_id, input,
                                               name if name is not None else f"{wf.wf_id}:{i}")
        return await wf.step("child", key, run)
    return await _rt.get().ctl_request("wf_start", entry_id, input, name)


def runner(fn: Any) -> Any:
    """Wrap a workflow's ``main`` so that it runs under replay (what a spawn of a
    ``workflow.py`` or ``workflow.lua`` entry actually runs; its argument is the workflow id)."""
    async def run_workflow(wf_id: str) -> Any:
        rt = _rt.get()
        proc = rt.current()
        state = await rt.ctl_request("wf_load", wf_id)
        proc.workflow = WorkflowContext(wf_id, state["steps"])
        rt.adopt_pid(proc, state["pid"])
        for sig in state["signals"]:
            proc.deliver(sig["topic"], sig.get("from"), sig.get("payload"))
        try:
            value = fn(state["input"])
            if hasattr(value, "__await__"):
                value = await value
        except NondeterminismError:
            raise
        except Exception as exc:  # noqa: BLE001 - the workflow's own failure is its result
            await proc.workflow.commit()
            await rt.ctl_request("wf_done", wf_id, None, to_wire(exc))
            return None
        await proc.workflow.commit()
        await rt.ctl_request("wf_done", wf_id, value, None)
        return None
    return run_workflow
