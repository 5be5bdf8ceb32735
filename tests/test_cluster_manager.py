"""The node's workflow manager on the cluster's journal (a real PostgreSQL), with fakes for the
processes: once another node has taken a workflow over, this node's writes for it are refused,
its process is stopped and never restarted here, and an operation on it fails clearly."""
from __future__ import annotations

import json
from typing import Iterator

import pytest

from clusterkit import fresh_database, query
from test_node_workflows import ENTRY, Later, Procs, Reply, load, start
from wippy import cluster
from wippy.core import wire
from wippy.core.protocol import ReqOp
from wippy.errors import FencedError
from wippy.node.workflows import WorkflowManager

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def world(pg_server: str) -> Iterator[tuple[WorkflowManager, Procs, Later, str]]:
    dsn = fresh_database(pg_server)
    journal, _ = cluster.join(dsn, "n1")
    procs, later = Procs(), Later()
    wm = WorkflowManager(journal, procs, lambda eid: ENTRY if eid == ENTRY["id"] else None,
                         later, lambda: False)
    yield wm, procs, later, dsn
    wm.close()


def take_over(dsn: str, wf_id: str) -> None:
    query(dsn, "UPDATE wippy_workflows SET owner = 'n2', token = nextval('wippy_fence') "
               "WHERE id = %s", wf_id)


def running(wm: WorkflowManager, procs: Procs) -> tuple[str, str]:
    start(wm, None)
    wm.flush()
    wf_id = procs.spawned[-1][0]
    return wf_id, wm.inc[wf_id]


def test_a_step_of_a_workflow_taken_over_is_refused_and_its_process_stops_for_good(world) -> None:
    wm, procs, later, dsn = world
    wf_id, inc = running(wm, procs)
    assert load(wm, wf_id).value is None          # answered after the turn's commit
    wm.flush()
    take_over(dsn, wf_id)
    step = Reply()
    wm.requests()[ReqOp.WF_STEPS]((wf_id, [(0, {"op": "call", "result": 1})]), step)  # type: ignore[arg-type]
    wm.flush()
    assert step.answered == 0                     # its code never sees the step as durable
    assert procs.terminated == [inc]
    assert wm.on_exit(inc, {"kind": "CANCELED", "message": "terminated by the node"})
    later.run()
    assert len(procs.spawned) == 1 and later.calls == []     # not restarted here
    assert query(dsn, "SELECT count(*) FROM wippy_steps") == [(0,)]


def test_other_workflows_of_the_same_turn_commit(world) -> None:
    wm, procs, _, dsn = world
    lost, _ = running(wm, procs)
    kept, _ = running(wm, procs)
    take_over(dsn, lost)
    a, b = Reply(), Reply()
    wm.requests()[ReqOp.WF_STEPS]((lost, [(0, {"op": "now", "result": 1})]), a)  # type: ignore[arg-type]
    wm.requests()[ReqOp.WF_STEPS]((kept, [(0, {"op": "now", "result": 2})]), b)  # type: ignore[arg-type]
    wm.flush()
    assert a.answered == 0 and b.answered == 1
    assert [s["result"] for s in wm.journal.steps(kept)] == [2]


def test_cancelling_a_workflow_another_node_drives_fails_clearly(world) -> None:
    wm, procs, _, dsn = world
    wf_id, _ = running(wm, procs)
    take_over(dsn, wf_id)
    reply = Reply()
    wm.requests()[ReqOp.WF_CANCEL]((wf_id,), reply)  # type: ignore[arg-type]
    wm.flush()
    assert isinstance(reply.error, FencedError) and "another node" in str(reply.error)
    assert wm.journal.workflow(wf_id)["status"] == "running"


def test_a_signal_to_a_workflow_of_another_node_goes_to_its_inbox_in_the_journal(world) -> None:
    wm, procs, later, dsn = world
    wf_id, _ = running(wm, procs)
    take_over(dsn, wf_id)
    wm.journal.disown([wf_id])                   # as a refused write leaves it
    wm.on_frame((wire.Op.MSG, wf_id, "{app:x/1|2}", "s", 1, None))
    wm.on_frame((wire.Op.MSG, wf_id, None, "s", 2, None))
    wm.flush()
    assert wm.journal.signals(wf_id) == [] and procs.delivered == [] and later.calls == []
    rows = query(dsn, "SELECT wf, rec FROM wippy_inbox ORDER BY id")
    assert [(wf, json.loads(rec)["payload"]) for wf, rec in rows] == [(wf_id, 1), (wf_id, 2)]


def test_the_owner_journals_its_inbox_once_and_in_order(world) -> None:
    wm, procs, later, dsn = world
    wf_id, inc = running(wm, procs)
    load(wm, wf_id)
    wm.flush()
    query(dsn, "INSERT INTO wippy_inbox (wf, rec) VALUES (%s, %s), (%s, %s)",
          wf_id, json.dumps({"topic": "s", "payload": 1, "from": None}),
          wf_id, json.dumps({"topic": "s", "payload": 2, "from": None}))
    rows = wm.journal.inbox()
    wm.from_inbox(rows)
    wm.from_inbox(rows)                          # polled again before the commit: once
    wm.flush()
    assert [s["payload"] for s in wm.journal.signals(wf_id)] == [1, 2]
    assert [d[2] for d in procs.delivered] == [1, 2] and procs.delivered[0][0] == inc
    assert wm.journal.inbox() == [] and not wm.inbox_pending


def test_a_monitor_of_a_workflow_another_node_runs_is_told_when_it_ends(world) -> None:
    wm, procs, _, dsn = world
    wf_id, _ = running(wm, procs)
    take_over(dsn, wf_id)
    wm.journal.disown([wf_id])
    wm.on_frame((wire.Op.MONITOR, wf_id, "{app:w/1|1}"))
    assert wm.watched_elsewhere() == [wf_id]
    assert wm.journal.ended([wf_id]) == []
    rec = {**wm.journal.workflow(wf_id), "status": "completed", "result": 42}
    query(dsn, "UPDATE wippy_workflows SET rec = %s, status = 'completed' WHERE id = %s",
          json.dumps(rec), wf_id)
    wm.ended_elsewhere(wm.journal.ended(wm.watched_elsewhere()))
    assert procs.exits == [("{app:w/1|1}", "{wf/0|%s}" % wf_id, 42, None)]
    assert wm.watched_elsewhere() == []


def test_adopted_workflows_run_and_a_stale_process_is_replaced_only_after_it_exits(world) -> None:
    wm, procs, _, dsn = world
    wf_id, inc = running(wm, procs)
    (rec,) = wm.journal.claim_own()              # as after the node's lease came back
    wm.adopt([rec])
    assert len(procs.spawned) == 1               # its old process still runs: waits for it
    assert wm.on_exit(inc, None)
    assert len(procs.spawned) == 2 and wm.inc[wf_id] != inc
    assert procs.spawned[-1] == [wf_id] and wm.record(wf_id)["status"] == "running"
