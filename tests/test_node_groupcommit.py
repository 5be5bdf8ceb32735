"""The journal's group commit, pipelined (node/groupcommit.py, node/commits.py), on a real LMDB
journal committed in a thread (as a store with ``commit_in_thread`` has it) whose commit the
test holds at a gate: while one batch is being made durable the next
one gathers, nobody is answered before their writes are durable, and a batch that fails takes
the one built on it along."""
from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
from conftest import wait_until
from test_node_workflows import Later, Procs, Reply, fail_commits, load, start, world  # noqa: F401

from wippy.core import wire
from wippy.errors import StorageError
from wippy.node.workflows import WorkflowManager

pytestmark = pytest.mark.timeout(20)


class Gate:
    """Holds each commit of ``wm``'s journal until released; records the batches."""

    def __init__(self, wm: WorkflowManager, monkeypatch: pytest.MonkeyPatch,
                 fail: bool = False) -> None:
        self.batches: list[list[tuple]] = []
        self.open = threading.Event()
        real: Callable[[list[tuple]], frozenset[str]] = wm.journal.commit

        def commit(writes: list[tuple]) -> frozenset[str]:
            self.batches.append(list(writes))
            assert self.open.wait(10), "the test never released the commit"
            self.open.clear()
            if fail:
                raise StorageError("journal", "mdb_txn_commit: Input/output error")
            return real(writes)
        monkeypatch.setattr(wm.journal, "commit", commit)


@pytest.fixture(autouse=True)
def threaded(world):  # noqa: F811
    """The commit in its own thread, as a store that allows it has it."""
    world[0].committer.threaded = True


def turn_until(wm: WorkflowManager, pred: Callable[[], Any], what: str) -> None:
    """Run the ends of loop turns (as the node does) until ``pred()``."""
    def check() -> Any:
        wm.flush(wait=False)
        return pred()
    wait_until(check, what=what)


def steps(wm: WorkflowManager, wf_id: str, seq: int) -> Reply:
    reply = Reply()
    wm._req_steps((wf_id, [(seq, {"op": "call", "result": seq})]), reply)  # type: ignore[arg-type]
    return reply


def test_the_next_batch_gathers_while_one_commits_and_each_is_answered_once_durable(world, monkeypatch):  # noqa: F811
    wm, procs, _ = world
    start(wm, None), start(wm, None)
    wm.flush()
    a, b = procs.spawned[0][0], procs.spawned[1][0]
    gate = Gate(wm, monkeypatch)
    first = steps(wm, a, 0)
    wm.flush(wait=False)
    wait_until(lambda: len(gate.batches) == 1, what="the first batch to reach the commit")
    second = steps(wm, b, 0)                             # arrives while the first commits
    wm.flush(wait=False)
    third = steps(wm, a, 1)
    wm.flush(wait=False)
    assert len(gate.batches) == 1 and first.answered == second.answered == 0
    assert wm.journal.steps(a) == []
    gate.open.set()
    turn_until(wm, lambda: first.answered, "the first step's answer")
    assert [s["result"] for s in wm.journal.steps(a)] == [0]
    assert second.answered == third.answered == 0        # their batch is being committed now
    wait_until(lambda: len(gate.batches) == 2, what="the gathered batch to reach the commit")
    assert sorted((w[1], w[2]) for w in gate.batches[1]) == sorted([(a, 1), (b, 0)])  # one batch
    gate.open.set()
    turn_until(wm, lambda: second.answered and third.answered, "the gathered steps' answers")
    assert [s["result"] for s in wm.journal.steps(a)] == [0, 1]
    assert [s["result"] for s in wm.journal.steps(b)] == [0]


def test_a_name_bound_in_the_batch_in_flight_binds_no_second_workflow(world, monkeypatch):  # noqa: F811
    wm, procs, _ = world
    gate = Gate(wm, monkeypatch)
    first = start(wm, "job-9")
    wm.flush(wait=False)
    wait_until(lambda: gate.batches, what="the start to reach the commit")
    second = start(wm, "job-9")
    gate.open.set()
    turn_until(wm, lambda: first.answered and second.answered, "both starts' answers")
    assert first.value == second.value and len(procs.spawned) == 1


def test_a_failed_batch_fails_the_one_gathered_on_it_and_its_signals_arrive_in_order(world, monkeypatch):  # noqa: F811
    wm, procs, later = world
    start(wm, None)
    wm.flush()
    wf_id = procs.spawned[0][0]
    load(wm, wf_id)
    wm.flush()
    with monkeypatch.context() as m:
        gate = Gate(wm, m, fail=True)
        wm.on_frame((wire.Op.MSG, wf_id, None, "s", 1, None))
        wm.flush(wait=False)
        wait_until(lambda: gate.batches, what="the first signal to reach the commit")
        wm.on_frame((wire.Op.MSG, wf_id, None, "s", 2, None))   # numbered after the first
        gate.open.set()
        turn_until(wm, lambda: wm.storage_error is not None, "the commit to fail")
        assert len(gate.batches) == 1 and wm.journal.signals(wf_id) == []
        assert procs.delivered == [] and wm.record(wf_id)["signals"] == 0  # type: ignore[index]
    later.run()
    wm.flush()
    assert [s["payload"] for s in wm.journal.signals(wf_id)] == [1, 2]
    assert [d[2] for d in procs.delivered] == [1, 2]


def test_a_commit_that_cannot_be_written_is_reported_through_the_pipeline_too(world, monkeypatch):  # noqa: F811
    wm, procs, _ = world
    fail_commits(wm, monkeypatch)
    refused = start(wm, "job-3")
    turn_until(wm, lambda: refused.answered, "the start's answer")
    assert isinstance(refused.error, StorageError) and procs.spawned == []
