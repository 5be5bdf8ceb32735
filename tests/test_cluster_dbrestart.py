"""The cluster's PostgreSQL restarted under load (an immediate shutdown, as close to a crash as
pg_ctl gives): both nodes stay up, see the loss, stop driving their workflows and say so;
a start meanwhile fails with an error naming the database; when the database is back they
reconnect, take their workflows back, and every workflow finishes with each journaled step
once (an activity cut off mid-run may run again, with the same idempotency key: S8)."""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Iterator

import pytest

import wippy
from clusterkit import fresh_database, query
from conftest import wait_until
from pgrestart import PgServer, pg_server
from test_cluster_failover import effects, make_app, statuses, steps_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

N = int(os.environ.get("WIPPY_TEST_CLUSTER_N") or 16)
TTL = 1.0
SLEEP = 2.0


@pytest.fixture
def pg() -> Iterator[PgServer]:
    yield from pg_server()


def test_the_database_restarted_under_load_loses_nothing_and_repeats_no_step(
        app_dir: str, pg: PgServer) -> None:
    pg.start()
    dsn = fresh_database(pg.dsn)
    app = make_app(app_dir)
    log = os.path.join(app_dir, "effects.log")
    nodes = [wippy.Node(app, cluster=dsn, node=f"n{i}", lease_ttl=TTL, stop_timeout=5)
             for i in (1, 2)]
    started: list[wippy.Node] = []
    try:
        for n in nodes:
            n.start()
            started.append(n)
        pids = [nodes[i % 2].workflow_start("app:job" if i % 3 else "app:ljob",
                                            {"log": log, "n": i, "sleep": SLEEP})
                for i in range(N)]
        ids = {p[1:-1].rpartition("|")[2] for p in pids}
        wait_until(lambda: sum(len(s) >= 2 for s in steps_of(dsn).values()) == N, 60,
                   interval=0.05, what="every workflow to reach its timer")
        assert {o for _, o in statuses(dsn).values()} == {"n1", "n2"}

        pg.stop()
        wait_until(lambda: all(n.ps()["node"]["cluster"]["fenced"] for n in nodes), 30,
                   interval=0.1, what="both nodes to see the database gone")
        with pytest.raises(wippy.WippyError) as refused:
            nodes[0].workflow_start("app:job", {"log": log, "n": N, "sleep": 0.01})
        assert "127.0.0.1:" in str(refused.value)          # it names the database
        assert all(n.process.poll() is None for n in nodes)     # the nodes stay up

        pg.start()
        done = wait_until(lambda: (lambda s: s if len(s) == N and all(
            v[0] == "completed" for v in s.values()) else None)(statuses(dsn)), 120,
            interval=0.2, what="every workflow to complete after the restart")
        assert set(done) == ids
        assert not any(n.ps()["node"]["cluster"]["fenced"] for n in nodes)
        for wf, recs in steps_of(dsn).items():       # each step journaled once, in order
            ops = [json.loads(r)["op"] for r in recs]
            assert ops.count("timer") == 1, (wf, ops)
        runs = effects(log)
        assert {(n, step) for _, n, step, _ in runs} == {
            (i, s) for i in range(N) for s in ("a", "b")}
        keys: dict[tuple[int, str], set[str]] = {}
        for key, n, step, _ in runs:
            keys.setdefault((n, step), set()).add(key)
        assert all(len(k) == 1 for k in keys.values())     # a repeated run: the same key
        assert Counter((n, s) for _, n, s, _ in runs)[(0, "a")] == 1   # before the outage: once
        results = {json.dumps(json.loads(r[0])["result"]) for r in
                   query(dsn, "SELECT rec FROM wippy_workflows")}
        assert results == {json.dumps([f"{i}a", f"{i}b"]) for i in range(N)}

        pid = nodes[1].workflow_start("app:job", {"log": log, "n": N, "sleep": 0.01})
        assert nodes[1].workflow_result(pid, timeout=30) == [f"{N}a", f"{N}b"]
    finally:
        for n in started:
            n.stop()
