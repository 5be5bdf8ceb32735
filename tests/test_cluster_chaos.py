"""Repeated kill -9 of whole nodes while workflows run activities and timers on all of them:
each node killed in turn (the one that drives the most), restarted, and killed again later.
Every workflow finishes with the right result and a history without a repeated or missing
step; an activity runs again only when interrupted, and then under the same idempotency key.
``WIPPY_TEST_CLUSTER_KILLS`` sets the number of kills (default 4), ``WIPPY_TEST_CLUSTER_N``
the workflows (default 24)."""
from __future__ import annotations

import json
import os

import pytest

import wippy
from clusterkit import fresh_database, kill_tree, query
from conftest import wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

N = int(os.environ.get("WIPPY_TEST_CLUSTER_N") or 24)
KILLS = int(os.environ.get("WIPPY_TEST_CLUSTER_KILLS") or 4)
ROUNDS = 8 * KILLS    # activity + timer pairs per workflow: long enough to outlive the kills
TTL = 1.0


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: flows, kind: process.host}
          - {name: loop, kind: workflow.py, source: file://flows.py, method: loop, host: flows}
          - {name: effect, kind: function.py, source: file://flows.py, method: effect}
    """, "config/flows.py": """
        from wippy import funcs, time, workflow


        def effect(log, n, i):
            with open(log, "a") as fh:
                fh.write(f"{workflow.idempotency_key()} {n} {i}\\n")
            return i


        async def loop(input):
            total = 0
            for i in range(input["rounds"]):
                total += await funcs.call("app:effect", input["log"], input["n"], i)
                await time.sleep(0.3)
            return total
    """})


def test_nodes_killed_in_turn_lose_and_repeat_no_workflow_step(app_dir: str, pg_server: str) -> None:
    dsn = fresh_database(pg_server)
    app = make_app(app_dir)
    log = os.path.join(app_dir, "effects.log")
    names = ["n1", "n2", "n3"]
    nodes = {n: wippy.Node(app, cluster=dsn, node=n, lease_ttl=TTL, stop_timeout=5) for n in names}
    try:
        for n in nodes.values():
            n.start()
        for i in range(N):
            nodes[names[i % 3]].workflow_start("app:loop", {"log": log, "n": i, "rounds": ROUNDS})
        kills = 0
        for k in range(KILLS):
            owners = [r[0] for r in query(dsn, "SELECT owner FROM wippy_workflows "
                                               "WHERE status = 'running'")]
            if not owners:
                break
            kills += 1
            victim = max(names, key=owners.count)
            seen = len(query(dsn, "SELECT 1 FROM wippy_steps"))
            wait_until(lambda: len(query(dsn, "SELECT 1 FROM wippy_steps")) > seen + 4, 60,
                       interval=0.05, what="progress before the next kill")
            proc = nodes[victim].process
            assert proc is not None
            kill_tree(proc.pid)
            proc.wait(10)
            nodes[victim].process = None
            nodes[victim].close()
            nodes[victim] = wippy.Node(app, cluster=dsn, node=victim, lease_ttl=TTL, stop_timeout=5)
            nodes[victim].start()           # it rejoins under its name (after its lease ran out)
        assert kills == KILLS                   # every kill hit running workflows
        wait_until(lambda: query(dsn, "SELECT count(*) FROM wippy_workflows "
                                      "WHERE status = 'completed'") == [(N,)], 120,
                   interval=0.1, what="every workflow to complete")
        want = sum(range(ROUNDS))
        for (rec,) in query(dsn, "SELECT rec FROM wippy_workflows"):
            assert json.loads(rec)["result"] == want
        for wf, ops in query(dsn, "SELECT wf, array_agg(rec ORDER BY seq) FROM wippy_steps GROUP BY wf"):
            kinds = [json.loads(r)["op"] for r in ops]
            assert kinds == ["call", "timer"] * ROUNDS, wf     # one history, nothing repeated
        with open(log) as fh:
            runs = [line.split() for line in fh if line.strip()]
        keys: dict[tuple[str, str], set[str]] = {}
        for key, n, i in runs:
            keys.setdefault((n, i), set()).add(key)
        assert len(keys) == N * ROUNDS                          # every activity ran
        assert all(len(k) == 1 for k in keys.values())          # a repeat has the same key
        assert len(runs) - len(keys) <= KILLS * N               # repeats only from interruptions
        assert query(dsn, "SELECT count(*) FROM wippy_inbox") == [(0,)]
    finally:
        for n in nodes.values():
            if n.process is not None:
                n.stop()
