"""Singleton services in a cluster (S12): a ``process.service`` with ``lifecycle.singleton:
true`` runs once across three real nodes (a service without the flag runs on each), its
entry id is a name every node reaches it by, and after kill -9 of its node it runs again on
one survivor, once."""
from __future__ import annotations

import json
import os
import signal
from typing import Iterator

import psutil
import pytest

import wippy
from clusterkit import kill_tree, query
from conftest import run_wippy, wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TTL = 1.0
NODES = ("n1", "n2", "n3")


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: procs, kind: process.host}}
          - {{name: counted, kind: process.py, source: file://m.py, method: counted}}
          - {{name: asker, kind: process.py, source: file://m.py, method: asker}}
          - name: single
            kind: process.service
            process: app:counted
            host: app:procs
            input: ["{root}/single.log"]
            lifecycle: {{auto_start: true, singleton: true}}
          - name: every
            kind: process.service
            process: app:counted
            host: app:procs
            input: ["{root}/every.log"]
            lifecycle: {{auto_start: true}}
    """, "config/m.py": """
        import os

        from wippy import process


        async def counted(out):
            # one line per instance started: the side effect the test counts
            with open(out, "a") as fh:
                fh.write(f"{os.getpid()} {process.pid()}\\n")
            while True:
                msg = await process.inbox().receive()
                process.send(msg.sender, "pong", process.pid())


        async def asker(name):
            process.send(name, "ping", None)
            msg = await process.inbox().receive()
            return [msg.topic, msg.sender]
    """})


def lines(path: str) -> list[list[str]]:
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [line.split() for line in fh.read().splitlines()]


def tree(n: wippy.Node) -> set[int]:
    assert n.process is not None
    root = psutil.Process(n.process.pid)
    return {root.pid, *(c.pid for c in root.children(recursive=True))}


def running(n: wippy.Node, sid: str) -> bool:
    return any(r["id"] == sid and r["state"] == "Running" for r in n.ps()["services"])


def syncs(n: wippy.Node) -> int:
    return int(n.ps()["node"]["cluster"]["name_syncs"])


def rounds_pass(nodes: list[wippy.Node], count: int = 2) -> None:
    """Wait until every node has done ``count`` more lease rounds (each reads the names and
    claims its singletons)."""
    seen = {id(n): syncs(n) for n in nodes}
    wait_until(lambda: all(syncs(n) >= seen[id(n)] + count for n in nodes), 30,
               what="lease rounds on every node")


@pytest.fixture
def three(app_dir: str, dsn: str) -> Iterator[list[wippy.Node]]:
    app = make_app(app_dir)
    started: list[wippy.Node] = []
    try:
        for name in NODES:
            started.append(wippy.Node(app, cluster=dsn, node=name, lease_ttl=TTL,
                                      stop_timeout=5).start())
        yield started
    finally:
        for n in started:
            n.stop()


def test_a_singleton_service_runs_once_in_the_cluster_and_again_once_after_its_node_dies(
        three: list[wippy.Node], app_dir: str, dsn: str) -> None:
    single, every = os.path.join(app_dir, "single.log"), os.path.join(app_dir, "every.log")
    wait_until(lambda: len(lines(every)) == 3, 30, what="the plain service on every node")
    rounds_pass(three)
    assert len(lines(single)) == 1, lines(single)
    owners = [n for n in three if running(n, "app:single")]
    assert len(owners) == 1
    owner = owners[0]
    os_pid, pid = lines(single)[0]
    assert int(os_pid) in tree(owner)
    name = NODES[three.index(owner)]
    assert query(dsn, "SELECT id, node FROM wippy_singletons") == [("app:single", name)]
    assert owner.ps()["node"]["cluster"]["singletons"] == ["app:single"]
    others = [n for n in three if n is not owner]
    for n in others:
        assert not running(n, "app:single")
        row = next(r for r in n.ps()["services"] if r["id"] == "app:single")
        assert row["state"] == "Stopped" and "another node" in row["last_error"]
        # its entry id is a cluster-wide name: reached from every node
        topic, sender = n.exec("app:asker", "app:procs", "app:single", timeout=30)
        assert (topic, sender) == ("pong", "{" + name + "@" + pid[1:])
    # the plain service's entry id stays each node's own
    assert others[0].exec("app:asker", "app:procs", "app:every", timeout=30)[1][:2] != "{n"

    assert owner.process is not None
    kill_tree(owner.process.pid)
    owner.process.wait(10)
    wait_until(lambda: len(lines(single)) >= 2, 30, what="the singleton on a survivor")
    rounds_pass(others)
    assert len(lines(single)) == 2, lines(single)
    new_os_pid, new_pid = lines(single)[1]
    heirs = [n for n in others if running(n, "app:single")]
    assert len(heirs) == 1 and int(new_os_pid) in tree(heirs[0])
    heir = NODES[three.index(heirs[0])]
    assert query(dsn, "SELECT id, node FROM wippy_singletons") == [("app:single", heir)]
    other = next(n for n in others if n is not heirs[0])
    wait_until(lambda: other.lookup("app:single") == "{" + heir + "@" + new_pid[1:], 30,
               what="the singleton's name, moved with it")
    assert other.exec("app:asker", "app:procs", "app:single", timeout=30)[1] == \
        "{" + heir + "@" + new_pid[1:]
    out = run_wippy(["cluster", "status", "--cluster", dsn, "--json"])
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["singletons"] == {"app:single": heir} and status["names"] == 1
    table = run_wippy(["cluster", "status", "--cluster", dsn])
    assert f"singletons: app:single on {heir}" in table.stdout, table.stdout

    # an orderly stop hands it to the last node
    heirs[0].stop()
    wait_until(lambda: len(lines(single)) == 3 and running(other, "app:single"), 30,
               what="the singleton on the last node")
    assert int(lines(single)[2][0]) in tree(other)


def test_a_paused_owner_stops_its_instance_when_it_wakes_to_find_its_singleton_taken(
        app_dir: str, dsn: str) -> None:
    """SIGSTOP past the lease: the other node starts the singleton; the paused node, resumed,
    learns at its next round that it no longer holds it and stops its own instance."""
    app = make_app(app_dir)
    single = os.path.join(app_dir, "single.log")
    started: list[wippy.Node] = []
    try:
        for name in NODES[:2]:
            started.append(wippy.Node(app, cluster=dsn, node=name, lease_ttl=TTL,
                                      stop_timeout=5).start())
        n1, n2 = started
        wait_until(lambda: running(n1, "app:single"), 30, what="the singleton on n1")
        frozen = sorted(tree(n1))
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            wait_until(lambda: len(lines(single)) == 2, 30, what="n2 to take the singleton")
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        wait_until(lambda: not running(n1, "app:single"), 30, what="n1 to stop its instance")
        row = next(r for r in n1.ps()["services"] if r["id"] == "app:single")
        assert "no longer holds it" in row["last_error"]
        rounds_pass(started)
        assert running(n2, "app:single") and len(lines(single)) == 2
        assert query(dsn, "SELECT id, node FROM wippy_singletons") == [("app:single", "n2")]
        # its name follows the instance that runs: n1 reaches n2's
        new_pid = lines(single)[1][1]
        wait_until(lambda: n1.lookup("app:single") == "{n2@" + new_pid[1:], 30,
                   what="the name on n1, now n2's")
    finally:
        for n in started:
            n.stop()
