"""The node's workflow manager alone, on a real journal (LMDB in a temporary directory) with
fakes for the processes and the clock: a name binds once, and a journal that cannot be
written stops nothing but the writes of that turn."""
from __future__ import annotations

from typing import Any

import pytest

from wippy.core import wire
from wippy.core.protocol import ReqOp
from wippy.errors import StorageError, WippyError
from wippy.node.workflows import RETRY_S, WorkflowManager, wf_pid

pytestmark = pytest.mark.timeout(10)

ENTRY = {"id": "app:flow", "kind": "workflow.py", "data": {"host": "app:flows"}}


class Procs:
    def __init__(self) -> None:
        self.spawned: list[list[Any]] = []
        self.terminated: list[str] = []
        self.exits: list[tuple] = []
        self.delivered: list[tuple] = []

    def spawn(self, entry_id: str, host_id: str, args: list[Any], monitor: bool = True,
              ack: bool = False, security: Any = None) -> str:
        self.spawned.append(args)
        return "{app:flows/1|0.%d}" % len(self.spawned)

    def terminate(self, pid: str) -> None:
        self.terminated.append(pid)

    def send_exit(self, watcher: str, pid: str, value: Any, error: dict | None) -> None:
        self.exits.append((watcher, pid, value, error))

    def deliver(self, pid: str, sender: str | None, topic: str, payload: Any) -> None:
        self.delivered.append((pid, topic, payload))


class Reply:
    def __init__(self) -> None:
        self.value: Any = None
        self.error: WippyError | None = None
        self.answered = 0
        self.caller: Any = None       # who asked (None: the operator's own program)

    def ok(self, value: Any = True) -> None:
        self.value = value
        self.answered += 1

    def fail(self, exc: WippyError) -> None:
        self.error = exc
        self.answered += 1


class Later:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, delay: float, fn: Any, *args: Any) -> None:
        self.calls.append((delay, fn, args))

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for _, fn, args in calls:
            fn(*args)


@pytest.fixture
def world(tmp_path):
    procs, later = Procs(), Later()
    wm = WorkflowManager(str(tmp_path / "journal"), procs, lambda eid: ENTRY if eid == ENTRY["id"] else None,
                         later, lambda: False)
    yield wm, procs, later
    wm.close()


def start(wm: WorkflowManager, name: str | None, input_: Any = 1) -> Reply:
    reply = Reply()
    wm.requests()[ReqOp.WF_START]((ENTRY["id"], input_, name), reply)  # type: ignore[arg-type]
    return reply


def load(wm: WorkflowManager, wf_id: str) -> Reply:
    reply = Reply()
    wm.requests()[ReqOp.WF_LOAD]((wf_id,), reply)  # type: ignore[arg-type]
    return reply


def fail_commits(wm: WorkflowManager, monkeypatch: pytest.MonkeyPatch) -> None:
    def commit(writes: list) -> None:
        raise StorageError(wm.journal.path, "mdb_txn_commit: Input/output error (the disk is full)")
    monkeypatch.setattr(wm.journal, "commit", commit)


def test_two_starts_of_one_name_in_one_turn_bind_one_workflow(world):
    wm, procs, _ = world
    first, second = start(wm, "job-1"), start(wm, "job-1")
    wm.flush()
    assert first.value == second.value and first.error is second.error is None
    assert len(list(wm.journal.workflows())) == 1
    assert len(procs.spawned) == 1                       # its activities run once
    third = start(wm, "job-1")                           # a later turn finds it committed
    wm.flush()
    assert third.value == first.value and len(procs.spawned) == 1


def test_a_start_the_journal_cannot_take_fails_with_the_storage_error_and_binds_nothing(world, monkeypatch):
    wm, procs, _ = world
    with monkeypatch.context() as m:
        fail_commits(wm, m)
        refused = start(wm, "job-2")
        wm.flush()
        assert isinstance(refused.error, StorageError) and wm.journal.path in str(refused.error)
        assert procs.spawned == [] and wm.journal.by_name("job-2") is None
    again = start(wm, "job-2")                           # space is back: the name is free
    wm.flush()
    assert again.error is None and len(procs.spawned) == 1
    assert wm.storage_error is None


def test_a_step_that_cannot_be_journaled_stops_its_workflow_which_runs_again_later(world, monkeypatch):
    wm, procs, later = world
    started = start(wm, None)
    wm.flush()
    wf_id = procs.spawned[0][0]
    inc = wm.inc[wf_id]
    step = Reply()
    with monkeypatch.context() as m:
        fail_commits(wm, m)
        wm._req_steps((wf_id, [(0, {"op": "call", "result": 1})]), step)  # type: ignore[arg-type]
        wm.flush()
        assert step.answered == 0                        # its code never hears of the failure
        assert procs.terminated == [inc]
        assert wm.on_exit(inc, {"kind": "CANCELED", "message": "terminated by the node"})
        assert [c[0] for c in later.calls] == [RETRY_S]  # no tight relaunch loop
    later.run()
    assert len(procs.spawned) == 2 and wm.journal.steps(wf_id) == []
    assert started.value == wf_pid(wf_id)


def test_signals_the_journal_cannot_take_wait_and_arrive_in_order(world, monkeypatch):
    wm, procs, later = world
    start(wm, None)
    wm.flush()
    wf_id = procs.spawned[0][0]
    load(wm, wf_id)
    wm.flush()
    with monkeypatch.context() as m:
        fail_commits(wm, m)
        wm.on_frame((wire.Op.MSG, wf_id, None, "s", 1, None))
        wm.flush()
        wm.on_frame((wire.Op.MSG, wf_id, None, "s", 2, None))     # behind the first one
        wm.flush()
        assert wm.journal.signals(wf_id) == [] and procs.delivered == []
    later.run()
    wm.flush()
    assert [s["payload"] for s in wm.journal.signals(wf_id)] == [1, 2]
    assert [d[2] for d in procs.delivered] == [1, 2]


def test_a_process_that_spawned_a_workflow_hears_when_its_start_was_not_journaled(world, monkeypatch):
    wm, procs, _ = world
    with monkeypatch.context() as m:
        fail_commits(wm, m)
        wm.on_spawn((wire.Op.SPAWN, "abc", "{app:a/3|7}", ENTRY["id"], [1], 1, None))
        wm.flush()
    assert procs.exits and procs.exits[0][0] == "{app:a/3|7}"
    assert procs.exits[0][3]["kind"] == "UNAVAILABLE"


def test_a_signal_journaled_before_its_process_loads_arrives_once_from_the_journal(world):
    wm, procs, _ = world
    start(wm, None)
    wm.flush()                                          # launched, not loaded yet
    wf_id = procs.spawned[0][0]
    wm.on_frame((wire.Op.MSG, wf_id, None, "s", 1, None))
    wm.flush()
    assert procs.delivered == []                        # the load will have it
    loaded = load(wm, wf_id)
    wm.on_frame((wire.Op.MSG, wf_id, None, "s", 2, None))   # the same turn as the load
    wm.flush()
    assert [s["payload"] for s in loaded.value["signals"]] == [1, 2]
    assert procs.delivered == []
    wm.on_frame((wire.Op.MSG, wf_id, None, "s", 3, None))   # after the load: forwarded
    wm.flush()
    assert [d[2] for d in procs.delivered] == [3]
