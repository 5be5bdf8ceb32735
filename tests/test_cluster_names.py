"""Cluster-wide process names (S12), on real nodes and a real PostgreSQL: a name registered on
one node is looked up and sent to from another (Python and Lua), a second registration of it
on another node is refused naming the holder, and the name is free again once its process
ends, and once its node is killed (kill -9)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

import wippy
from clusterkit import kill_tree, query
from conftest import wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL = 1.0


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: procs, kind: process.host}
          - {name: holder, kind: process.py, source: file://m.py, method: holder}
          - {name: asker, kind: process.py, source: file://m.py, method: asker}
          - {name: taker, kind: process.py, source: file://m.py, method: taker}
          - {name: lholder, kind: process.lua, source: file://names.lua, method: holder,
             modules: [process]}
          - {name: lasker, kind: process.lua, source: file://names.lua, method: asker,
             modules: [process]}
          - {name: ltaker, kind: process.lua, source: file://names.lua, method: taker,
             modules: [process]}
    """, "config/names.lua": """
        -- the same holder and asker in Lua
        local function holder(name)
          process.registry.register(name)
          while true do
            local msg = process.inbox():receive()
            if msg:topic() == "stop" then return "stopped" end
            process.send(msg:from(), "pong", {got = msg:payload():data(), me = process.pid()})
          end
        end

        local function asker(name)
          local pid = process.registry.lookup(name)
          process.send(name, "ping", "from lua")
          local msg = process.inbox():receive()
          return {pid, msg:topic(), msg:payload():data().got, msg:from()}
        end
        local function taker(name)
          local ok, err = process.registry.register(name)
          if ok then return "ok" end
          return {err:kind(), tostring(err)}
        end
        return {holder = holder, asker = asker, taker = taker}
    """, "config/m.py": """
        from wippy import process


        async def holder(name):
            await process.registry.register(name)
            while True:
                msg = await process.inbox().receive()
                if msg.topic == "stop":
                    return "stopped"
                process.send(msg.sender, "pong", {"got": msg.payload, "me": process.pid()})


        async def asker(name):
            pid = process.registry.lookup(name)
            process.send(name, "ping", "from python")
            msg = await process.inbox().receive()
            return [pid, msg.topic, msg.payload["got"], msg.sender]


        async def taker(name):
            try:
                await process.registry.register(name)
            except Exception as exc:
                return [type(exc).__name__, getattr(exc, "kind", None), str(exc)]
            return "ok"
    """})


def node(app: str, dsn: str, name: str) -> wippy.Node:
    return wippy.Node(app, cluster=dsn, node=name, lease_ttl=TTL, stop_timeout=5)


def remote(pid: str, name: str) -> str:
    return "{" + name + "@" + pid[1:]


@pytest.fixture
def two(app_dir: str, dsn: str) -> Iterator[tuple[wippy.Node, wippy.Node]]:
    app = make_app(app_dir)
    started: list[wippy.Node] = []
    try:
        for name in ("n1", "n2"):
            started.append(node(app, dsn, name).start())
        yield started[0], started[1]
    finally:
        for n in started:
            n.stop()


def bindings(dsn: str) -> dict[str, Any]:
    return {r[0]: (r[1], r[2]) for r in query(
        dsn, "SELECT name, node, pid FROM wippy_process_names")}


@pytest.mark.parametrize("lang", ["py", "lua"])
def test_a_name_registered_on_one_node_is_looked_up_and_sent_to_from_another(
        two: tuple[wippy.Node, wippy.Node], dsn: str, lang: str) -> None:
    n1, n2 = two
    prefix = "l" if lang == "lua" else ""
    pid = n1.spawn(f"app:{prefix}holder", "app:procs", "svc.a")
    wait_until(lambda: n1.lookup("svc.a") == pid, 30, what="the name on its own node")
    assert bindings(dsn)["svc.a"] == ("n1", pid)
    # the other node's copy, its client's too, names the process with its node
    wait_until(lambda: n2.lookup("svc.a") == remote(pid, "n1"), 30, what="the name on n2")
    for asker in ("app:asker", "app:lasker"):
        found, topic, got, sender = n2.exec(asker, "app:procs", "svc.a", timeout=30)
        assert (found, topic, sender) == (remote(pid, "n1"), "pong", remote(pid, "n1"))
        assert got in ("from python", "from lua")


def test_a_second_registration_on_another_node_is_refused_and_the_name_frees_at_exit(
        two: tuple[wippy.Node, wippy.Node], dsn: str) -> None:
    n1, n2 = two
    pid = n1.spawn("app:holder", "app:procs", "svc.b")
    wait_until(lambda: n1.lookup("svc.b") == pid, 30, what="the name on n1")
    kind, wkind, text = n2.exec("app:taker", "app:procs", "svc.b", timeout=30)
    assert wkind == "ALREADY_EXISTS", (kind, text)
    assert remote(pid, "n1") in text and "svc.b" in text, text
    assert bindings(dsn)["svc.b"] == ("n1", pid)          # unchanged
    kind, text = n2.exec("app:ltaker", "app:procs", "svc.b", timeout=30)     # from Lua too
    assert kind == "AlreadyExists" and remote(pid, "n1") in text, text    # errors.ALREADY_EXISTS
    # on its own node a second process is refused the same way
    assert n1.exec("app:taker", "app:procs", "svc.b", timeout=30)[1] == "ALREADY_EXISTS"
    n1.send(pid, "stop")                   # the process ends: its binding goes with it
    wait_until(lambda: "svc.b" not in bindings(dsn), 30, what="the binding to go")
    wait_until(lambda: n2.lookup("svc.b") is None, 30, what="n2's copy to drop the name")
    pid2 = n2.spawn("app:holder", "app:procs", "svc.b")
    wait_until(lambda: n1.lookup("svc.b") == remote(pid2, "n2"), 30,
               what="the name, now n2's, on n1")
    assert bindings(dsn)["svc.b"] == ("n2", pid2)


def test_the_names_of_a_killed_node_are_free_once_its_lease_expired(
        two: tuple[wippy.Node, wippy.Node], dsn: str) -> None:
    n1, n2 = two
    pid = n1.spawn("app:holder", "app:procs", "svc.k")
    wait_until(lambda: n2.lookup("svc.k") == remote(pid, "n1"), 30, what="the name on n2")
    assert n1.process is not None
    kill_tree(n1.process.pid)
    n1.process.wait(10)
    # the dead node's binding is still in the table, but free: n2 takes it
    wait_until(lambda: n2.lookup("svc.k") is None, 30, what="n2's copy to drop the dead name")
    pid2 = n2.spawn("app:holder", "app:procs", "svc.k")
    wait_until(lambda: n2.lookup("svc.k") == pid2, 30, what="the name taken on n2")
    assert bindings(dsn)["svc.k"] == ("n2", pid2)


def test_a_node_that_joins_knows_the_names_already_bound(app_dir: str, dsn: str) -> None:
    """The joining node reads the bindings before its hosts start: with a 30 s lease its
    first round is 10 s away, yet its hosts and clients have the name at once."""
    app = make_app(app_dir)
    started: list[wippy.Node] = []
    try:
        n1 = node(app, dsn, "n1").start()
        started.append(n1)
        pid = n1.spawn("app:holder", "app:procs", "svc.early")
        wait_until(lambda: n1.lookup("svc.early") == pid, 30, what="the name on n1")
        n2 = wippy.Node(app, cluster=dsn, node="n2", lease_ttl=30, stop_timeout=5).start()
        started.append(n2)
        assert n2.lookup("svc.early") == remote(pid, "n1")
        found, topic, _, _ = n2.exec("app:asker", "app:procs", "svc.early", timeout=30)
        assert (found, topic) == (remote(pid, "n1"), "pong")
    finally:
        for n in started:
            n.stop()
