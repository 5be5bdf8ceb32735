"""Messages between nodes of a cluster on PostgreSQL (S12), two nodes on 127.0.0.1: a send
from a process on one node to a process on the other and its reply; a payload that is not
plain data refused at the send; a connection with a key that is not a node's refused by the
ZAP handler (and one with a node's key accepted); kill -9 of a node gives a monitor on the
other an EXIT naming it, and a link a LINK_DOWN."""
from __future__ import annotations

import json
import os
import signal
from typing import Iterator

import psutil

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

import wippy
from clusterkit import kill_tree, query
from conftest import run_wippy, wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL = 1.0


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: procs, kind: process.host}
          - {name: echo, kind: process.py, source: file://m.py, method: echo}
          - {name: ping, kind: process.py, source: file://m.py, method: ping}
          - {name: bad_send, kind: process.py, source: file://m.py, method: bad_send}
          - {name: watcher, kind: process.py, source: file://m.py, method: watcher}
          - {name: probe, kind: process.py, source: file://m.py, method: probe}
          - {name: lping, kind: process.lua, source: file://lping.lua, method: main,
             modules: [process]}
    """, "config/lping.lua": """
        -- the same ping in Lua: another node's PID is a string like any other
        local function main(target, payload)
          process.send(target, "ping", payload)
          local msg = process.inbox():receive()
          return {msg:topic(), msg:payload():data(), msg:from()}
        end
        return {main = main}
    """, "config/m.py": """
        import json

        from wippy import process


        async def echo():
            while True:
                msg = await process.inbox().receive()
                process.send(msg.sender, "pong", {"got": msg.payload, "me": process.pid()})


        async def ping(target, payload):
            process.send(target, "ping", payload)
            msg = await process.inbox().receive()
            return [msg.topic, msg.payload, msg.sender, process.pid()]


        async def bad_send(target):
            try:
                process.send(target, "ping", {"f": lambda: 1})
            except Exception as exc:
                return [type(exc).__name__, str(exc)]
            return None


        async def probe(target):
            process.monitor(target)
            ev = await process.events().receive()
            return [ev.kind, ev.from_, ev.result.error.kind, str(ev.result.error)]


        async def watcher(target, out, link):
            if link:
                process.set_options(trap_links=True)
                process.link(target)
            else:
                process.monitor(target)
            process.send(target, "ping", 1)          # the connection is up once it answers
            await process.inbox().receive()
            with open(out + ".ready", "w") as fh:
                fh.write("ready")
            ev = await process.events().receive()
            err = ev.result.error if ev.result is not None else None
            with open(out, "w") as fh:
                json.dump([ev.kind, ev.from_, getattr(err, "kind", None), str(err)], fh)
    """})


def node(app: str, dsn: str, name: str) -> wippy.Node:
    return wippy.Node(app, cluster=dsn, node=name, lease_ttl=TTL, stop_timeout=5)


def remote(pid: str, name: str) -> str:
    """A PID of node ``name`` as other nodes name it."""
    return "{" + name + "@" + pid[1:]


@pytest.fixture
def two(app_dir: str, dsn: str) -> Iterator[tuple[wippy.Node, wippy.Node, str]]:
    app = make_app(app_dir)
    n1, n2 = node(app, dsn, "n1"), node(app, dsn, "n2")
    started: list[wippy.Node] = []
    try:
        for n in (n1, n2):
            n.start()
            started.append(n)
        yield n1, n2, app
    finally:
        for n in started:
            n.stop()


def test_a_process_sends_to_a_process_on_another_node_and_gets_the_reply(
        two: tuple[wippy.Node, wippy.Node, str], dsn: str) -> None:
    n1, n2, _ = two
    rows = {r[0]: r for r in query(dsn, "SELECT name, listen, pubkey FROM wippy_nodes")}
    assert rows["n1"][1].startswith("tcp://127.0.0.1:") and len(rows["n1"][2]) == 40
    echo = n2.spawn("app:echo", "app:procs")
    payload = {"n": 2 ** 70, "f": 1.5, "b": b"\x00\xff", "l": [None, True, "x"], "k": {1: "int key"}}
    topic, got, sender, me = n1.exec("app:ping", "app:procs", remote(echo, "n2"), payload,
                                     timeout=30)
    assert topic == "pong"
    assert got == {"got": payload, "me": echo}        # on n2 its own PID is local
    assert sender == remote(echo, "n2")               # on n1 it names n2
    # the reply went to n1's process under its n1-qualified PID, on n2
    assert "@" not in me
    peers = n1.ps()["node"]["cluster"]["peers"]          # wippy ps --json shows the relay
    assert peers["listen"] == rows["n1"][1] and peers["connected"] == ["n2"]
    assert peers["relayed_out"] >= 1 and peers["relayed_in"] >= 1 and peers["refused"] == 0


def test_a_payload_that_is_not_plain_data_is_refused_at_the_send(
        two: tuple[wippy.Node, wippy.Node, str]) -> None:
    n1, n2, _ = two
    echo = n2.spawn("app:echo", "app:procs")
    kind, text = n1.exec("app:bad_send", "app:procs", remote(echo, "n2"), timeout=30)
    assert kind == "InvalidMessage"
    assert "function" in text and remote(echo, "n2") in text, text


def _handshake(endpoint: str, server_key: str, public: bytes, secret: bytes) -> int:
    """The first handshake event of a CURVE client with these keys."""
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.curve_serverkey = server_key.encode()
        sock.curve_publickey, sock.curve_secretkey = public, secret
        mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sock.connect(endpoint)
        sock.send(b"hello")         # a handshake starts once there is something to say
        assert mon.poll(20_000), "no handshake event"
        return int(recv_monitor_message(mon)["event"])
    finally:
        ctx.destroy(linger=0)


def test_a_node_key_not_in_the_database_is_refused(two: tuple[wippy.Node, wippy.Node, str],
                                                    dsn: str, app_dir: str) -> None:
    rows = {r[0]: r for r in query(dsn, "SELECT name, listen, pubkey FROM wippy_nodes")}
    endpoint, server_key = rows["n1"][1], rows["n1"][2]
    public, secret = zmq.curve_keypair()
    assert _handshake(endpoint, server_key, public, secret) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    # n2's own key (from its data directory, mode 0600) is accepted: the refusal is the key's
    key_file = os.path.join(app_dir, ".wippy", "nodes", "n2", "data", "node.key")
    assert os.stat(key_file).st_mode & 0o077 == 0
    with open(key_file) as fh:
        k = json.load(fh)
    assert k["public"] == rows["n2"][2]
    assert _handshake(endpoint, server_key, k["public"].encode(),
                      k["secret"].encode()) == zmq.EVENT_HANDSHAKE_SUCCEEDED


@pytest.mark.parametrize("link", [False, True], ids=["monitor", "link"])
def test_kill_9_of_a_node_tells_its_watchers_on_the_other(
        two: tuple[wippy.Node, wippy.Node, str], app_dir: str, link: bool) -> None:
    n1, n2, _ = two
    echo = n2.spawn("app:echo", "app:procs")
    out = os.path.join(app_dir, "event.json")
    n1.spawn("app:watcher", "app:procs", remote(echo, "n2"), out, link)
    wait_until(lambda: os.path.exists(out + ".ready"), 30, what="the watcher's round trip")
    assert not os.path.exists(out)
    assert n2.process is not None
    kill_tree(n2.process.pid)
    n2.process.wait(10)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the EXIT from the dead node")
    with open(out) as fh:
        kind, frm, err_kind, err = json.load(fh)
    assert kind == ("LINK_DOWN" if link else "EXIT")
    assert frm == remote(echo, "n2")
    assert err_kind == "NODE_DOWN" and "node n2 is down" in err, err


def test_a_bad_listen_address_is_refused_naming_it(app_dir: str, dsn: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIPPY_CLUSTER", raising=False)
    app = make_app(app_dir)
    out = run_wippy(["run", app, "--cluster", dsn, "--node", "n1", "--listen", "nowhere"],
                    timeout=60)
    assert out.returncode != 0 and "--listen 'nowhere'" in out.stderr, out.stderr
    out = run_wippy(["run", app, "--listen", "127.0.0.1:0"], timeout=60)
    assert out.returncode == 2 and "need --cluster" in out.stderr


def test_a_monitor_of_a_pid_on_no_live_node_is_answered_at_once(
        two: tuple[wippy.Node, wippy.Node, str]) -> None:
    n1, n2, _ = two
    ghost = "{nx@app:procs/1|1}"
    kind, frm, err_kind, err = n1.exec("app:probe", "app:procs", ghost, timeout=30)
    assert (kind, frm, err_kind) == ("EXIT", ghost, "NODE_DOWN")
    assert "node nx is down" in err
    # a PID of a live node whose process is gone: that node answers NOT_FOUND
    gone = remote("{app:procs/1|999}", "n2")
    kind, frm, err_kind, err = n1.exec("app:probe", "app:procs", gone, timeout=30)
    assert (kind, frm, err_kind) == ("EXIT", gone, "NOT_FOUND"), err


def test_a_paused_node_is_down_for_its_watchers_once_its_lease_expires(
        two: tuple[wippy.Node, wippy.Node, str], app_dir: str) -> None:
    """SIGSTOP keeps the connection open: only the lease tells the other node."""
    n1, n2, _ = two
    echo = n2.spawn("app:echo", "app:procs")
    out = os.path.join(app_dir, "event.json")
    n1.spawn("app:watcher", "app:procs", remote(echo, "n2"), out, False)
    wait_until(lambda: os.path.exists(out + ".ready"), 30, what="the watcher's round trip")
    assert n2.process is not None
    tree = [n2.process.pid, *(c.pid for c in psutil.Process(n2.process.pid).children(recursive=True))]
    for pid in tree:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
                   what="the EXIT from the paused node")
    finally:
        for pid in tree:
            os.kill(pid, signal.SIGCONT)
    with open(out) as fh:
        kind, frm, err_kind, err = json.load(fh)
    assert (kind, frm, err_kind) == ("EXIT", remote(echo, "n2"), "NODE_DOWN")
    assert "node n2 is down: its lease expired" in err, err


def test_a_lua_process_sends_across_nodes_too(two: tuple[wippy.Node, wippy.Node, str]) -> None:
    n1, n2, _ = two
    echo = n2.spawn("app:echo", "app:procs")
    topic, got, sender = n1.exec("app:lping", "app:procs", remote(echo, "n2"), {"k": [1, 2]},
                                 timeout=30)
    assert (topic, got, sender) == ("pong", {"got": {"k": [1, 2]}, "me": echo}, remote(echo, "n2"))
