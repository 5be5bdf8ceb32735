"""``wippy ps --cluster``: every node of a cluster as it last published its status into its
row (each lease round), read from the database alone; a killed node shows as down."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import wippy
from clusterkit import fresh_database, kill_tree
from conftest import run_wippy, wait_until, write_app
from wippy.cli.ps import format_cluster_ps

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL = 1.0


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: procs, kind: process.host}
          - {name: loop, kind: process.py, source: file://m.py, method: loop}
          - {name: svc, kind: process.service, process: app:loop, host: procs,
             lifecycle: {auto_start: true}}
    """, "config/m.py": """
        from wippy import process


        async def loop():
            while True:
                await process.inbox().receive()
    """})


def cluster_ps(dsn: str) -> dict[str, Any]:
    out = run_wippy(["ps", "--cluster", dsn, "--json"])
    assert out.returncode == 0, out.stderr
    return {n["node"]: n for n in json.loads(out.stdout)["nodes"]}


def test_ps_cluster_shows_every_node_from_the_database_and_a_dead_one_as_down(
        app_dir: str, pg_server: str) -> None:
    dsn = fresh_database(pg_server)
    app = make_app(app_dir)
    nodes = [wippy.Node(app, cluster=dsn, node=f"n{i}", lease_ttl=TTL, stop_timeout=5)
             for i in (1, 2)]
    started: list[wippy.Node] = []
    try:
        for n in nodes:
            n.start()
            started.append(n)

        def both_published() -> dict[str, Any] | None:
            rows = cluster_ps(dsn)
            ok = all(rows.get(f"n{i}", {}).get("ps") and any(
                s["state"] == "Running" for s in rows[f"n{i}"]["ps"]["services"]) for i in (1, 2))
            return rows if ok else None

        rows = wait_until(both_published, 60, interval=0.2,
                          what="both nodes to publish a status with their service running")
        for i, n in ((1, nodes[0]), (2, nodes[1])):
            ps = rows[f"n{i}"]["ps"]
            assert rows[f"n{i}"]["live"] and rows[f"n{i}"]["pid"] == n.process.pid
            assert ps["node"]["cluster"]["node"] == f"n{i}"
            assert "app:procs" in {h["host"] for h in ps["hosts"]}
            assert all("processes" not in h for h in ps["hosts"])     # counts only
            assert [s["id"] for s in ps["services"]] == ["app:svc"]
            assert rows[f"n{i}"]["ps_age"] is not None and rows[f"n{i}"]["ps_age"] >= 0
        text = run_wippy(["ps", "--cluster", dsn])
        assert text.returncode == 0, text.stderr
        assert "== node n1" in text.stdout and "== node n2" in text.stdout
        assert text.stdout.count("app:svc") == 2
        assert "2 node(s), 2 live" in text.stdout

        kill_tree(nodes[1].process.pid)
        nodes[1].process.wait(10)
        nodes[1].process = None
        nodes[1].close()
        started.remove(nodes[1])
        rows = wait_until(lambda: (lambda r: r if not r["n2"]["live"] else None)(cluster_ps(dsn)),
                          30, interval=0.2, what="n2's lease to expire")
        assert rows["n1"]["live"]
        shown = format_cluster_ps(list(rows.values()))
        assert "== node n2" in shown and "DOWN: lease expired" in shown
        assert "2 node(s), 1 live" in shown
    finally:
        for n in started:
            n.stop()


def test_ps_cluster_without_a_database_says_what_it_needs(app_dir: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WIPPY_CLUSTER"}
    out = subprocess.run([sys.executable, "-m", "wippy", "ps", "--cluster"], env=env, text=True,
                         capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert "--cluster DSN or WIPPY_CLUSTER" in out.stderr
    out = run_wippy(["ps", "--cluster", "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2"])
    assert out.returncode == 1
    assert "127.0.0.1:1" in out.stderr
