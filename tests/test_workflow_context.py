"""The workflow context applies replay's decisions: what it records, when it commits, what a
replay returns. Driven with fakes (a node that acknowledges at once, a fixed clock): no process,
socket or LMDB."""
from __future__ import annotations

from typing import Any, Coroutine

import pytest

from wippy.errors import ProcessFailed, WippyError
from wippy.workflow.context import WorkflowContext
from wippy.workflow.replay import FORMAT, NondeterminismError

NS = 10**9
T0 = 1_800_000_000 * NS


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine whose awaits all complete at once (the fakes never suspend)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended")


class FakeNode:
    """Acknowledges ``wf_steps`` at once, keeping every batch; remembers spawned commits."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, dict]]] = []
        self.spawned: list[Coroutine[Any, Any, Any]] = []

    async def request(self, op: str, wf_id: str, batch: list) -> bool:
        assert op == "wf_steps"
        self.batches.append(list(batch))
        return True

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.spawned.append(coro)

    def written(self) -> list[tuple[int, str]]:
        return [(seq, rec["op"]) for batch in self.batches for seq, rec in batch]


def context(steps: list[dict] | None = None, node: FakeNode | None = None) -> WorkflowContext:
    node = node or FakeNode()
    return WorkflowContext("w1", list(steps or []), node.request, node.spawn, clock=lambda: T0)


async def fail() -> Any:
    raise ValueError("boom")


def test_a_new_run_records_each_step_in_nanoseconds_with_the_format():
    node = FakeNode()
    wf = context(node=node)
    assert wf.now() == T0
    assert drive(wf.timer(5 * NS)) == T0 + 5 * NS
    assert wf.steps == [
        {"op": "now", "key": None, "result": T0, "v": FORMAT},
        {"op": "timer", "key": 5 * NS, "result": T0 + 5 * NS, "v": FORMAT},
    ]
    # now() waits for the next commit; the timer's due time is committed before the wait
    assert node.written() == [(0, "now"), (1, "timer")]


def test_values_made_here_are_committed_before_the_next_effect():
    node = FakeNode()
    wf = context(node=node)
    wf.uuid(lambda: "u-1")
    wf.random()
    assert node.batches == []
    seen = []

    async def run() -> int:
        seen.append(list(node.written()))
        return 7
    assert drive(wf.activity("app:f", run)) == 7
    assert seen == [[(0, "uuid"), (1, "random")]]
    assert node.written()[-1] == (2, "call")


def test_a_replay_returns_recorded_values_and_runs_nothing():
    recorded = [
        {"op": "now", "key": None, "result": T0},
        {"op": "call", "key": "app:f", "result": 4, "error": None},
        {"op": "uuid", "key": None, "result": "u-1"},
        {"op": "child", "key": "app:c", "result": "{wf/0|c}", "error": None},
        {"op": "after", "key": NS, "result": T0 + NS},
    ]
    node = FakeNode()
    wf = context(recorded, node)

    async def never(*_: Any) -> Any:
        raise AssertionError("a replayed step ran")
    assert wf.now() == T0
    assert drive(wf.activity("app:f", never)) == 4
    assert wf.uuid(lambda: "new") == "u-1"
    assert drive(wf.child("app:c", None, never)) == "{wf/0|c}"
    assert wf.after(NS) == T0 + NS
    assert node.batches == [] and node.spawned == []


def test_a_format_1_journal_replays_python_float_seconds_exactly():
    recorded = [{"op": "now", "key": None, "result": 1796317881.3487031},
                {"op": "timer", "key": 0.01, "result": 1796317881.3612344}]
    wf = context(recorded)
    assert wf.now() / NS == 1796317881.3487031
    assert drive(wf.timer(10_000_000)) / NS == 1796317881.3612344


def test_an_activity_runs_with_its_idempotency_key_and_its_error_is_recorded():
    node = FakeNode()
    wf = context([{"op": "now", "key": None, "result": T0}], node)
    wf.now()
    keys = []

    async def run() -> Any:
        keys.append((wf.activity_key, wf.in_activity))
        raise ValueError("boom")
    with pytest.raises(ProcessFailed, match="ValueError: boom"):
        drive(wf.activity("app:f", run))
    assert keys == [("w1:1", True)]
    assert (wf.activity_key, wf.in_activity) == (None, False)
    assert wf.steps[1]["error"] == {"kind": "INTERNAL", "message": "ValueError: boom"}
    replay = context(wf.steps)
    replay.now()
    with pytest.raises(ProcessFailed, match="ValueError: boom"):
        drive(replay.activity("app:f", fail))


def test_an_unnamed_child_is_named_after_its_step():
    wf = context()
    names = []

    async def start(name: str) -> str:
        names.append(name)
        return "{wf/0|" + name + "}"
    wf.uuid(lambda: "u")
    assert drive(wf.child("app:c", None, start)) == "{wf/0|w1:1}"
    assert drive(wf.child("app:c", "job-7", start)) == "{wf/0|job-7}"
    assert names == ["w1:1", "job-7"]
    assert [s["key"] for s in wf.steps] == [None, "app:c", "app:c job-7"]


def test_a_child_that_fails_to_start_is_recorded_as_its_error():
    wf = context()

    async def start(name: str) -> str:
        raise WippyError("no such workflow")
    with pytest.raises(ProcessFailed, match="no such workflow"):
        drive(wf.child("app:c", None, start))
    assert wf.steps[0]["error"]["message"] == "no such workflow"


def test_time_after_commits_its_due_time_in_the_background():
    node = FakeNode()
    wf = context(node=node)
    assert wf.after(2 * NS) == T0 + 2 * NS
    assert node.batches == [] and len(node.spawned) == 1
    drive(node.spawned[0])
    assert node.written() == [(0, "after")]


def test_a_time_after_a_format_1_journal_lacks_is_not_recorded():
    node = FakeNode()
    wf = context([{"op": "call", "key": "app:f", "result": 1, "error": None}], node)
    assert wf.after(NS) == T0 + NS
    assert wf.seq == 0 and node.spawned == []


def test_versions_replay_and_refuse_a_recorded_version_below_the_minimum():
    wf = context()
    assert wf.version("c", 1, 3) == 3
    assert context(wf.steps).version("c", 1, 4) == 3
    with pytest.raises(NondeterminismError):
        context(wf.steps).version("c", 4, 4)


def test_code_that_asks_for_another_step_fails_the_replay():
    wf = context([{"op": "now", "key": None, "result": T0}])
    with pytest.raises(NondeterminismError, match="step 0: the journal has now"):
        wf.uuid(lambda: "u")
