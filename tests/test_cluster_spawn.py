"""Spawning on another node's host (S12), two nodes on 127.0.0.1 and a real PostgreSQL: a
process on n1 spawns on ``n2@app:procs`` (Python and Lua), the child runs on n2 and replies to
its spawner, whose monitor gets its EXIT; kill -9 of n2 gives a monitoring spawner EXIT and a
linked one LINK_DOWN naming n2; shipped code and arguments that are not plain data are
refused at the spawn; an unknown node, host or entry fails naming it; a spawn from outside a
cluster is refused."""
from __future__ import annotations

import json
import os
import signal
from typing import Iterator

import pytest

import wippy
from clusterkit import kill_tree, running, under
from conftest import wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL = 1.0

APP = {"config/_index.yaml": """
    version: "1.0"
    namespace: app
    entries:
      - {name: procs, kind: process.host}
      - {name: child, kind: process.py, source: file://m.py, method: child}
      - {name: sleeper, kind: process.py, source: file://m.py, method: sleeper}
      - {name: named, kind: process.py, source: file://m.py, method: named}
      - {name: spawner, kind: process.py, source: file://m.py, method: spawner}
      - {name: watcher, kind: process.py, source: file://m.py, method: watcher}
      - {name: probe, kind: process.py, source: file://m.py, method: probe}
      - {name: bad_args, kind: process.py, source: file://m.py, method: bad_args}
      - {name: double, kind: process.py, source: file://m.py, method: double}
      - {name: execer, kind: process.py, source: file://m.py, method: execer}
      - {name: linker, kind: process.py, source: file://m.py, method: linker}
      - {name: secure_spawner, kind: process.py, source: file://m.py, method: secure_spawner}
      - {name: limited_child, kind: process.py, source: file://m.py, method: limited_child}
      - {name: limited, kind: security.policy,
         policy: {actions: [process.send], resources: "*", effect: allow}}
      - {name: watch_pid, kind: process.py, source: file://m.py, method: watch_pid}
      - {name: lspawner, kind: process.lua, source: file://l.lua, method: spawner,
         modules: [process]}
      - {name: lchild, kind: process.lua, source: file://l.lua, method: child,
         modules: [process]}
""", "config/l.lua": """
    local function child(a)
      local msg = process.inbox():receive()
      process.send(msg:from(), "reply", {arg = a, got = msg:payload():data(), me = process.pid()})
      return "lua child done"
    end

    local function spawner(host, entry)
      local pid, err = process.spawn_monitored(entry, host, "from lua")
      if err then return nil, err end
      process.send(pid, "hello", {x = 1})
      local msg = process.inbox():receive()
      local ev = process.events():receive()
      return {pid, msg:topic(), msg:payload():data(), msg:from(), ev.kind, ev.from, ev.result.value}
    end
    return {child = child, spawner = spawner}
""", "config/m.py": """
    import json
    import os

    from wippy import process, security


    async def child(*args):
        msg = await process.inbox().receive()
        process.send(msg.sender, "reply", {"args": list(args), "got": msg.payload,
                                           "me": process.pid(), "ospid": os.getpid()})
        return "child done"


    async def named(name, out):
        await process.registry.register(name)
        with open(out, "w") as fh:
            fh.write(str(os.getpid()))
        while True:
            await process.inbox().receive()


    async def sleeper():
        while True:
            msg = await process.inbox().receive()
            process.send(msg.sender, "pong", os.getpid())


    async def spawner(host, entry, *args):
        pid = process.spawn_monitored(entry, host, *args)
        process.send(pid, "hello", {"x": 1})
        msg = await process.inbox().receive()
        ev = await process.events().receive()
        return [pid, msg.topic, msg.payload, msg.sender, ev.kind, ev.from_, ev.result.value]


    async def watcher(host, out, link):
        if link:
            process.set_options(trap_links=True)
            pid = process.spawn_linked("app:sleeper", host)
        else:
            pid = process.spawn_monitored("app:sleeper", host)
        process.send(pid, "ping", 1)
        msg = await process.inbox().receive()
        with open(out + ".ready", "w") as fh:
            json.dump([pid, msg.payload], fh)
        ev = await process.events().receive()
        err = ev.result.error if ev.result is not None else None
        with open(out, "w") as fh:
            json.dump([ev.kind, ev.from_, getattr(err, "kind", None), str(err)], fh)


    async def probe(host, entry):
        pid = process.spawn_monitored(entry, host)
        ev = await process.events().receive()
        return [pid, ev.kind, ev.from_, ev.result.error.kind, str(ev.result.error)]


    async def double(n):
        return [n * 2, os.getpid()]


    async def execer(host, n):
        return await process.exec("app:double", host, n)


    async def secure_spawner(host):
        scope = security.new_scope([security.policy("app:limited")])
        pid = process.spawn_monitored("app:limited_child", host, scope=scope,
                                      actor=security.new_actor("agent:7"))
        ev = await process.events().receive()
        return [pid, ev.result.value]


    async def limited_child():
        try:
            process.spawn("app:child", "app:procs")
        except Exception as exc:
            return [type(exc).__name__, str(exc), os.getpid()]
        return ["allowed", None, os.getpid()]


    async def linker(host, out, fail=True):
        pid = process.spawn_linked("app:sleeper", host)
        process.send(pid, "ping", 1)
        await process.inbox().receive()
        with open(out, "w") as fh:
            fh.write(pid)
        if fail:
            raise RuntimeError("the spawner fails")
        await process.inbox().receive()


    async def watch_pid(pid):
        process.monitor(pid)
        ev = await process.events().receive()
        return [ev.kind, ev.from_, ev.result.error.kind, str(ev.result.error)]


    async def bad_args(host):
        out = []
        for host_id in (host, "app:procs"):
            try:
                process.spawn("app:child", host_id, {"f": lambda: 1})
            except Exception as exc:
                out.append([type(exc).__name__, str(exc)])
        return out
"""}


@pytest.fixture
def two(app_dir: str, dsn: str) -> Iterator[tuple[wippy.Node, wippy.Node]]:
    with running(write_app(app_dir, APP), dsn, ttl=TTL) as (n1, n2):
        yield n1, n2


def test_a_process_spawns_on_another_nodes_host_and_the_child_replies(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, n2 = two
    pid, topic, payload, sender, kind, frm, value = n1.exec(
        "app:spawner", "app:procs", "n2@app:procs", "app:child", "a", {"k": [1, 2]}, timeout=30)
    assert pid.startswith("{n2@app:procs/0|~"), pid
    assert topic == "reply" and sender == pid and frm == pid
    assert payload["args"] == ["a", {"k": [1, 2]}] and payload["got"] == {"x": 1}
    assert payload["me"] == "{" + pid[len("{n2@"):]       # on n2 its PID is local
    assert under(n2, payload["ospid"]) and not under(n1, payload["ospid"])
    assert (kind, value) == ("EXIT", "child done")
    placed = n2.ps()["node"]["cluster"]["peers"]["spawned_here"]
    assert placed["spawned"] == 1 and placed["refused"] == 0
    wait_until(lambda: n2.ps()["node"]["cluster"]["peers"]["spawned_here"]["children"] == 0, 30,
               what="the ended child retired on n2")


def test_a_host_named_with_the_spawners_own_node_is_a_local_spawn(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    pid, topic, payload, sender, kind, frm, value = n1.exec(
        "app:spawner", "app:procs", "n1@app:procs", "app:child", timeout=30)
    assert "@" not in pid and pid.startswith("{app:procs/") and sender == pid
    assert under(n1, payload["ospid"]) and (kind, value) == ("EXIT", "child done")


def test_a_lua_process_spawns_on_another_node_too(two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    pid, topic, payload, sender, kind, frm, value = n1.exec(
        "app:lspawner", "app:procs", "n2@app:procs", "app:lchild", timeout=30)
    assert pid.startswith("{n2@app:procs/0|~") and sender == pid and frm == pid
    assert topic == "reply" and payload["arg"] == "from lua" and payload["got"] == {"x": 1}
    assert (kind, value) == ("EXIT", "lua child done")


def test_exec_on_another_node_returns_the_childs_result(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, n2 = two
    value, ospid = n1.exec("app:execer", "app:procs", "n2@app:procs", 21, timeout=30)
    assert value == 42 and under(n2, ospid)


def test_a_program_spawns_on_another_node_and_gets_the_exit(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, n2 = two
    pid = n1.spawn("app:child", "n2@app:procs", 7, monitor=True)
    n1.send(pid, "hi", "there")
    assert n1.wait_exit(pid, timeout=30) == "child done"


@pytest.mark.parametrize("link", [False, True], ids=["monitored", "linked"])
def test_kill_9_of_the_childs_node_tells_its_spawner(
        two: tuple[wippy.Node, wippy.Node], app_dir: str, link: bool) -> None:
    n1, n2 = two
    out = os.path.join(app_dir, "event.json")
    n1.spawn("app:watcher", "app:procs", "n2@app:procs", out, link)
    wait_until(lambda: os.path.exists(out + ".ready") and os.path.getsize(out + ".ready") > 0,
               30, what="the child's reply")
    with open(out + ".ready") as fh:
        pid, ospid = json.load(fh)
    assert under(n2, ospid)
    assert n2.process is not None
    kill_tree(n2.process.pid)
    n2.process.wait(10)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the EXIT from the dead node")
    with open(out) as fh:
        kind, frm, err_kind, err = json.load(fh)
    assert (kind, frm, err_kind) == ("LINK_DOWN" if link else "EXIT", pid, "NODE_DOWN")
    assert "node n2 is down" in err, err


def test_the_child_on_another_node_runs_under_the_context_it_was_spawned_with(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, n2 = two
    pid, (cls, text, ospid) = n1.exec("app:secure_spawner", "app:procs", "n2@app:procs",
                                      timeout=30)
    assert pid.startswith("{n2@") and under(n2, ospid)
    assert cls == "PermissionDenied" and "agent:7" in text and "process.spawn" in text, text


def test_a_linked_child_on_another_node_dies_with_its_failing_spawner(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, _ = two
    out = os.path.join(app_dir, "child.pid")
    n1.spawn("app:linker", "app:procs", "n2@app:procs", out)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the linked child's reply")
    with open(out) as fh:
        pid = fh.read()
    kind, frm, err_kind, err = n1.exec("app:watch_pid", "app:procs", pid, timeout=30)
    assert (kind, frm) == ("EXIT", pid)
    # the link took it down, either seen by the monitor or already gone when it arrived
    assert "the spawner fails" in err or err_kind == "NOT_FOUND", err


def test_a_linked_child_on_another_node_dies_with_its_spawners_node(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, n2 = two
    out = os.path.join(app_dir, "child.pid")
    n1.spawn("app:linker", "app:procs", "n2@app:procs", out, False)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the linked child's reply")

    def children() -> int:
        return int(n2.ps()["node"]["cluster"]["peers"]["spawned_here"]["children"])
    assert children() == 1
    assert n1.process is not None
    kill_tree(n1.process.pid)
    n1.process.wait(10)
    wait_until(lambda: children() == 0, 30, what="the linked child to die with n1")


def test_shipped_code_and_data_that_is_not_plain_are_refused_at_the_spawn(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    with pytest.raises(wippy.InvalidMessage, match="does not cross nodes"):
        n1.spawn_function(len, "n2@app:procs", "abc")
    (kind, text), (local_kind, local_text) = n1.exec("app:bad_args", "app:procs",
                                                     "n2@app:procs", timeout=30)
    assert kind == local_kind == "InvalidMessage"
    assert "app:child on n2@app:procs" in text and "function" in text, text
    assert "app:child on app:procs" in local_text, local_text


@pytest.mark.parametrize("host, entry, kind, words", [
    ("nx@app:procs", "app:child", "NODE_DOWN", "node nx is down"),
    ("n2@app:nohost", "app:child", "NOT_FOUND", "on node n2: host app:nohost not found"),
    ("n2@app:procs", "app:nothing", "NOT_FOUND", "app:nothing on node n2: entry app:nothing"),
], ids=["unknown node", "unknown host", "unknown entry"])
def test_a_spawn_that_cannot_be_placed_fails_naming_the_node(
        two: tuple[wippy.Node, wippy.Node], host: str, entry: str, kind: str, words: str) -> None:
    n1, _ = two
    pid, ev, frm, err_kind, err = n1.exec("app:probe", "app:procs", host, entry, timeout=30)
    assert (ev, frm, err_kind) == ("EXIT", pid, kind), err
    assert words in err, err


def test_a_spawn_on_another_node_outside_a_cluster_is_refused(app_dir: str) -> None:
    app = write_app(app_dir, APP)
    with wippy.Node(app, stop_timeout=5) as n:
        pid, ev, frm, err_kind, err = n.exec("app:probe", "app:procs", "n2@app:procs",
                                             "app:child", timeout=30)
    assert (ev, frm, err_kind) == ("EXIT", pid, "NOT_FOUND")
    assert "not in a cluster" in err, err


def test_the_death_of_the_childs_os_process_on_the_other_node_tells_its_spawner(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, n2 = two
    out = os.path.join(app_dir, "event.json")
    n1.spawn("app:watcher", "app:procs", "n2@app:procs", out, False)
    wait_until(lambda: os.path.exists(out + ".ready") and os.path.getsize(out + ".ready") > 0,
               30, what="the child's reply")
    with open(out + ".ready") as fh:
        pid, ospid = json.load(fh)
    assert under(n2, ospid)
    os.kill(ospid, signal.SIGKILL)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the EXIT from n2's dead host")
    with open(out) as fh:
        kind, frm, err_kind, err = json.load(fh)
    assert (kind, frm, err_kind) == ("EXIT", pid, "HOST_DOWN")
    assert "of node n2 died" in err, err


def test_a_name_held_by_a_child_from_another_node_goes_with_its_os_process(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, n2 = two
    out = os.path.join(app_dir, "named.pid")
    pid = n1.spawn("app:named", "n2@app:procs", "remote-named", out)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the child to register its name")
    held = n2.lookup("remote-named")
    assert held is not None and held.rpartition("|")[2] == pid.rpartition("|")[2]
    wait_until(lambda: n1.lookup("remote-named") == pid, 30, what="n1 to see the name")
    with open(out) as fh:
        ospid = int(fh.read())
    assert under(n2, ospid)
    os.kill(ospid, signal.SIGKILL)
    wait_until(lambda: n2.lookup("remote-named") is None, 30,
               what="the name to go with the child's OS process")
    wait_until(lambda: n1.lookup("remote-named") is None, 30, what="n1 to see it gone")
