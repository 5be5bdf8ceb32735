"""The cluster's journal and leases on a real PostgreSQL, without nodes: a write under a stale
fencing token is refused by the database, survivors split a dead node's workflows, a name binds
once in the cluster, a node name is never held twice."""
from __future__ import annotations

import json
import os
from typing import Any

import pytest

from clusterkit import query
from conftest import wait_until
from wippy import cluster
from wippy.cluster import schema
from wippy.errors import ClusterError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def record(wf: str, name: str | None = None, status: str = "running") -> dict[str, Any]:
    return {"id": wf, "entry": "app:flow", "host": "app:flows", "input": 1, "name": name,
            "status": status, "result": None, "error": None, "created": 1.0, "finished": None,
            "signals": 0}


def step(n: int) -> dict[str, Any]:
    return {"op": "call", "key": "app:f", "result": n, "error": None, "v": 2}


def test_joining_creates_the_tables_once_and_again_changes_nothing(dsn: str) -> None:
    j1, m1 = cluster.join(dsn, "n1", ttl=5)
    j2, m2 = cluster.join(dsn, "n2", ttl=5)
    tables = {r[0] for r in query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert set(schema.TABLES) <= tables
    assert query(dsn, "SELECT value FROM wippy_cluster_meta WHERE key = 'schema'") == [("1",)]
    assert m1.incarnation != m2.incarnation
    j1.close()
    j2.close()


def test_a_new_workflow_is_owned_by_its_writer_and_its_steps_replay_in_order(dsn: str) -> None:
    j, _ = cluster.join(dsn, "n1")
    assert j.commit([("wf", record("w1", "job")), ("name", "job", "w1")]) == frozenset()
    assert j.owns("w1") and j.by_name("job") == "w1"
    assert j.commit([("step", "w1", 1, step(1)), ("step", "w1", 0, step(0))]) == frozenset()
    assert [s["result"] for s in j.steps("w1")] == [0, 1]
    assert j.owner("w1") == ("n1", j.tokens["w1"])
    assert j.workflow("w1") == record("w1", "job")
    j.close()


def test_a_write_under_a_stale_token_is_refused_and_nothing_of_it_lands(dsn: str) -> None:
    j, _ = cluster.join(dsn, "n1")
    j.commit([("wf", record("w1")), ("wf", record("w2"))])
    # another node claims w1: the token in the database moves on
    query(dsn, "UPDATE wippy_workflows SET owner = 'n2', token = nextval('wippy_fence') "
               "WHERE id = 'w1'")
    refused = j.commit([("step", "w1", 0, step(0)), ("wf", {**record("w1"), "status": "completed"}),
                        ("step", "w2", 0, step(7))])
    assert refused == {"w1"}
    assert not j.owns("w1") and j.owns("w2")
    assert j.steps("w1") == [] and j.workflow("w1")["status"] == "running"
    assert [s["result"] for s in j.steps("w2")] == [7]       # the rest of the turn committed
    assert j.commit([("step", "w1", 1, step(1))]) == {"w1"}  # and stays refused
    j.close()


def test_a_write_to_a_workflow_this_node_never_owned_is_refused(dsn: str) -> None:
    a, _ = cluster.join(dsn, "n1")
    b, _ = cluster.join(dsn, "n2")
    a.commit([("wf", record("w1"))])
    assert b.commit([("signal", "w1", 0, {"topic": "t"})]) == {"w1"}
    assert b.commit([("wf", {**record("w1"), "status": "cancelled"})]) == {"w1"}
    assert a.workflow("w1")["status"] == "running" and a.signals("w1") == []
    a.close()
    b.close()


def test_a_name_binds_once_in_the_cluster(dsn: str) -> None:
    a, _ = cluster.join(dsn, "n1")
    b, _ = cluster.join(dsn, "n2")
    assert a.commit([("wf", record("wa", "job")), ("name", "job", "wa")]) == frozenset()
    assert b.commit([("wf", record("wb", "job")), ("name", "job", "wb"),
                     ("wf", record("wc"))]) == {"wb"}
    assert b.by_name("job") == "wa" and b.workflow("wb") is None and b.owns("wc")
    a.close()
    b.close()


def test_survivors_split_a_dead_nodes_workflows_without_overlap(dsn: str) -> None:
    dead, dm = cluster.join(dsn, "dead", ttl=0.3)
    dead.commit([("wf", record(f"w{i:02}")) for i in range(10)] +
                [("wf", record("done", status="completed"))])
    old = dict(dead.tokens)
    a, _ = cluster.join(dsn, "a", ttl=30)
    b, _ = cluster.join(dsn, "b", ttl=30)
    wait_until(lambda: a.orphans() == 10, 10, what="the dead node's lease to expire")
    took_a = {w["id"] for w in a.claim_orphans(5)}
    took_b = {w["id"] for w in b.claim_orphans(5)}
    assert len(took_a) == len(took_b) == 5 and not took_a & took_b
    assert took_a | took_b == {f"w{i:02}" for i in range(10)}
    assert a.orphans() == 0 and b.claim_orphans(5) == []
    assert all(b.tokens[w] > old[w] for w in took_b)
    # the dead node's late write (it was cut off, not dead) is refused
    assert dead.commit([("step", "w00", 0, step(0)), ("step", "w09", 0, step(0))]) == {"w00", "w09"}
    assert query(dsn, "SELECT count(*) FROM wippy_steps") == [(0,)]
    for j in (dead, a, b):
        j.close()


def test_a_restarted_node_resumes_what_it_still_owns_and_fences_its_old_self(dsn: str) -> None:
    old, om = cluster.join(dsn, "n1", ttl=0.3)
    old.commit([("wf", record("w1")), ("wf", record("w2", status="completed"))])
    wait_until(lambda: query(dsn, "SELECT lease_until < now() FROM wippy_nodes")[0][0], 10,
               what="the lease to expire")
    new, nm = cluster.join(dsn, "n1", ttl=5)
    assert [w["id"] for w in new.resumable()] == ["w1"]
    assert old.commit([("step", "w1", 0, step(0))]) == {"w1"}
    assert new.commit([("step", "w1", 0, step(1))]) == frozenset()
    assert not om.renew() and nm.renew()      # the old incarnation learns it was replaced
    old.close()
    new.close()


def test_a_node_name_held_by_a_live_lease_is_refused(dsn: str) -> None:
    j, m = cluster.join(dsn, "n1", ttl=30)
    with pytest.raises(ClusterError, match="held by a live node"):
        cluster.join(dsn, "n1", ttl=0.2)
    assert m.renew()
    m.leave()                                  # an orderly stop frees the name at once
    j2, _ = cluster.join(dsn, "n1", ttl=0.2)
    j.close()
    j2.close()


def test_an_unreachable_database_is_a_clear_error(pg_server: str) -> None:
    with pytest.raises(ClusterError, match="cannot join the cluster at postgresql://") as info:
        cluster.join("host=127.0.0.1 port=1 user=u password=secret dbname=x connect_timeout=2", "n1")
    assert "secret" not in str(info.value)
    with pytest.raises(ClusterError, match="invalid node name"):
        cluster.join(pg_server, "a/b")


GOLDEN_FILE = os.path.join(os.path.dirname(__file__), "data", "golden", "cluster_v1.json")


def _layout(dsn: str) -> dict[str, Any]:
    cols = query(dsn, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                      "WHERE table_schema = 'public' AND table_name LIKE 'wippy%' "
                      "ORDER BY table_name, ordinal_position")
    out: dict[str, Any] = {}
    for table, col, kind in cols:
        out.setdefault(table, {"columns": [], "rows": []})["columns"].append(f"{col} {kind}")
    keep = {"wippy_workflows": "id", "wippy_steps": "wf, seq", "wippy_signals": "wf, seq",
            "wippy_names": "name", "wippy_inbox": "id", "wippy_cluster_meta": "key"}
    for table, order in keep.items():
        out[table]["rows"] = [list(r) for r in query(dsn, f"SELECT * FROM {table} ORDER BY {order}")]
    del out["wippy_nodes"]["rows"]          # times and pids: not a format
    return out


def test_the_cluster_journal_layout_is_stable(dsn: str) -> None:
    """The tables and what one commit writes into them, pinned against a golden file (update
    tests/data/golden/cluster_v1.json only on purpose: old clusters must keep working)."""
    j, _ = cluster.join(dsn, "n1")
    j.commit([
        ("wf", {"id": "w1", "entry": "app:order", "host": "app:flows", "input": {"n": 2},
                "name": "job-1", "status": "running", "result": None, "error": None,
                "created": 1.5, "finished": None, "signals": 1}),
        ("name", "job-1", "w1"),
        ("step", "w1", 0, {"op": "now", "key": None, "result": 2.5}),
        ("step", "w1", 1, {"op": "call", "key": "app:charge", "result": 4, "error": None}),
        ("signal", "w1", 0, {"topic": "go", "payload": {"x": 1}, "from": "{client/3|0}"}),
        ("inbox", "w9", {"topic": "t", "payload": None, "from": None}),
    ])
    found = _layout(dsn)
    if os.environ.get("WIPPY_WRITE_GOLDEN"):
        with open(GOLDEN_FILE, "w") as fh:
            json.dump(found, fh, indent=1, sort_keys=True)
    with open(GOLDEN_FILE) as fh:
        assert json.loads(json.dumps(found)) == json.load(fh)
    j.close()


def test_commits_that_leave_something_for_other_nodes_notify_them(dsn: str) -> None:
    a, am = cluster.join(dsn, "a")
    b, _ = cluster.join(dsn, "b")
    listener = cluster.Listener(dsn)
    assert listener.poll() == []                 # not listening: never connects by itself
    listener.connect()
    got: list[str] = []

    def heard(what: str) -> bool:
        got.extend(listener.poll())
        return what in got
    a.commit([("wf", record("w1"))])
    b.commit([("inbox", "w1", {"topic": "t", "payload": 1, "from": None})])
    wait_until(lambda: heard("inbox a"), 10, what="the inbox notification")
    a.commit([("wf", {**record("w1"), "status": "completed"})])
    wait_until(lambda: heard("ended"), 10, what="the end notification")
    am.leave()
    wait_until(lambda: heard("left a"), 10, what="the leave notification")
    assert got.count("ended") == 1               # nothing else announced anything
    listener.close()
    a.close()
    b.close()


def test_a_restarted_node_waits_for_its_old_lease_then_takes_its_name(dsn: str) -> None:
    old, om = cluster.join(dsn, "n1", ttl=0.5)       # then killed: never renewed
    old.commit([("wf", record("w1"))])
    new, nm = cluster.join(dsn, "n1", ttl=0.5)       # blocks until the old lease ran out
    assert nm.incarnation != om.incarnation and not om.renew()
    assert [w["id"] for w in new.resumable()] == ["w1"]
    old.close()
    new.close()


def test_reads_preloaded_for_many_workflows_match_the_ones_made_one_by_one(dsn: str) -> None:
    j, _ = cluster.join(dsn, "n1")
    j.commit([("wf", record(f"w{i}")) for i in range(3)] +
             [("step", "w1", s, step(s)) for s in range(3)] +
             [("signal", "w2", 0, {"topic": "t", "payload": 1, "from": None})])
    one_by_one = [(j.workflow(w), j.steps(w), j.signals(w)) for w in ("w0", "w1", "w2", "nope")]
    j.preload(["w0", "w1", "w2", "nope"])
    query(dsn, "DELETE FROM wippy_steps")           # the preloaded reads do not ask again
    assert [(j.workflow(w), j.steps(w), j.signals(w)) for w in ("w0", "w1", "w2", "nope")] == one_by_one
    j.preload(None)
    assert j.steps("w1") == []                      # forgotten: read again
    j.close()


def test_a_claim_larger_than_one_transaction_takes_everything(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from wippy.cluster import journal as pgj
    monkeypatch.setattr(pgj, "CLAIM_MAX", 4)
    dead, _ = cluster.join(dsn, "dead", ttl=0.2)
    dead.commit([("wf", record(f"w{i:02}")) for i in range(10)])
    a, _ = cluster.join(dsn, "a", ttl=30)
    wait_until(lambda: a.orphans() == 10, 10, what="the dead node's lease to expire")
    assert len(a.claim_orphans(9)) == 9 and len(a.claim_orphans(9)) == 1
    dead.close()
    a.close()
