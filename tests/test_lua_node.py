"""Lua processes end to end on a real node (root, zygote, host OS processes): next to Python
processes, messaging both ways, the typical Wippy applications, limits on a real host, the
event bus across hosts, libraries, and a terminal app."""
from __future__ import annotations

import os
import shutil

import pytest
from conftest import run_wippy, wait_until

import wippy

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "lua")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def node():
    n = wippy.Node(APP, data_dir="/tmp/wt-lua-data-%d" % os.getpid())
    n.start()
    try:
        yield n
    finally:
        assert n.stop() == 0


def test_python_client_and_lua_process_exchange_plain_data(node):
    pid = node.spawn("lua:echo", "app:a")
    payload = {"n": 1, "big": 2**53 + 1, "f": 2.5, "s": "héllo", "bin": b"\xff\x00",
               "list": [1, None, "x", True], "nested": {"k": [{"a": 1}]}, "empty": {}}
    node.send(pid, "data", payload)
    msg = node.receive(timeout=10)
    assert msg is not None
    assert (msg.topic, msg.sender, msg.payload) == ("data", pid, payload)
    assert type(msg.payload["big"]) is int
    node.send(pid, "stop")


def test_lua_and_python_processes_call_and_message_each_other(node):
    assert node.exec("lua:calls_py", "app:a", 5, timeout=10) == 20          # Lua -> Py -> Lua
    assert node.exec("lua:exec_py", "app:a", "app:b", {"k": [1, 2]}, timeout=10) == \
        {"echo": {"k": [1, 2]}}                                                # Lua execs Py
    got = node.exec("lua:py_talks_to_lua", "app:a", "app:b", timeout=10)       # Py spawns Lua
    assert got == {"topic": "data", "from_lua": True, "lua_double": 42,
                   "payload": {"n": 1, "list": [1, 2.5, "x", None, True], "bin": b"\xff\x00"}}


def test_a_function_lua_is_callable_from_the_python_api(node):
    assert node.call("lua:double", 21, timeout=10) == 42


def test_two_services_find_each_other_by_name_and_ping_pong(node):
    pong = node.spawn("lua:pong", "app:b")
    wait_until(lambda: node.lookup("pong") == pong, 10, what="pong to register")
    assert node.exec("lua:ping", "app:a", 200, timeout=20) == 200
    wait_until(lambda: node.lookup("pong") is None, 10, what="pong to stop and release its name")


def test_a_key_value_server_addressed_by_name(node):
    kv = node.spawn("lua:kv", "app:a", "kv-test")
    wait_until(lambda: node.lookup("kv-test") == kv, 10, what="kv to register")
    client = node.spawn("lua:kv_client", "app:b", "kv-test", monitor=True)
    try:
        got = node.wait_exit(client, timeout=30)
    except wippy.Timeout:       # say where it stands: which process waits on what
        procs = [p for h in node.ps()["hosts"] for p in h.get("processes") or []]
        raise AssertionError(f"the kv client {client} did not finish; processes: {procs}") from None
    assert got == {"key": "lang", "value": "lua"}
    node.send("kv-test", "set", {"key": "from-python", "value": [1, 2]})
    assert node.receive(timeout=10).payload == "from-python"
    node.send("kv-test", "get", {"key": "from-python"})
    assert node.receive(timeout=10).payload == {"key": "from-python", "value": [1, 2]}
    node.send("kv-test", "stop")


def test_a_chain_of_stages_across_hosts_ends_with_done(node):
    got = node.exec("lua:chain", "app:a", 12, ["app:a", "app:b"], timeout=20)
    assert got["topic"] == "done"
    assert got["data"] == {"path": list(range(1, 13)), "sum": 78}


def test_a_hand_written_supervisor_respawns_a_crashing_worker(node):
    got = node.exec("lua:supervisor", "app:a", "app:b", 4, 10, timeout=20)
    assert got["restarts"] == 3 and got["result"] == {"attempt": 4}
    assert [f.split(": ", 1)[-1] for f in got["failures"]] == [
        f"worker crashed on attempt {i}" for i in (1, 2, 3)]


def test_a_worker_pool_of_coroutines_and_channels(node):
    assert node.exec("lua:pool", "app:a", 50, 5, timeout=20) == \
        {"total": sum(j * j for j in range(1, 51)), "workers": 5}


def test_library_imports_from_files(node):
    assert node.exec("lua:uses_util", "app:b", 7, timeout=10) == '{"value":7}'


def test_a_channel_cannot_travel_to_another_process(node):
    got = node.exec("lua:sends_channel", "app:a", node.pid, timeout=10)
    assert "cannot leave its process" in got


def test_event_bus_across_hosts_with_patterns(node):
    listener = node.spawn("lua:listener", "app:b", 4, monitor=True)
    wait_until(lambda: node.lookup("listener") == listener, 10, what="the subscription")
    assert node.exec("lua:announcer", "app:a", 4, timeout=10) == 4
    got = node.wait_exit(listener, timeout=10)
    assert got == [{"system": "orders.us.east", "kind": "order.created", "path": "/orders/1", "id": 1},
                   {"system": "orders.eu", "kind": "order.created", "path": "/orders/2", "id": 2},
                   {"system": "orders.us.east", "kind": "order.created", "path": "/orders/3", "id": 3},
                   {"system": "orders.eu", "kind": "order.created", "path": "/orders/4", "id": 4}]


# -- limits on a real host -------------------------------------------------------------------
def test_a_runaway_process_dies_with_limit_exceeded_and_its_neighbour_lives(node):
    ticker = node.spawn("lua:ticker", "app:b", 40, monitor=True)
    hog = node.spawn("lua:hog", "app:b", monitor=True)
    assert node.wait_exit(ticker, timeout=20) == 40      # its timers ran while the hog spun
    with pytest.raises(wippy.ProcessFailed, match="CPU time limit exceeded") as exc:
        node.wait_exit(hog, timeout=20)
    assert exc.value.kind == "LIMIT_EXCEEDED"
    assert node.exec("lua:ticker", "app:b", 2, timeout=10) == 2


def test_the_host_entry_limits_apply_to_its_lua_processes(node):
    with pytest.raises(wippy.ProcessFailed, match=r"max_cpu 2s") as exc:
        node.exec("lua:host_default_hog", "app:tight", timeout=20)
    assert exc.value.kind == "LIMIT_EXCEEDED"


def test_a_memory_bomb_dies_alone(node):
    with pytest.raises(wippy.ProcessFailed, match="memory limit exceeded") as exc:
        node.exec("lua:bomb", "app:a", timeout=20)
    assert exc.value.kind == "LIMIT_EXCEEDED"
    assert node.exec("lua:calls_py", "app:a", 1, timeout=10) == 4


def test_a_c_call_no_hook_can_interrupt_costs_only_its_host(app_dir):
    # its own node (on a copy of the app): the host it kills is restarted, which the module's
    # node must not see
    shutil.copytree(APP, app_dir, dirs_exist_ok=True)
    with wippy.Node(app_dir, data_dir=os.path.join(app_dir, ".data")) as n:
        pid = n.spawn("lua:stuck_in_c", "app:tight", monitor=True)
        with pytest.raises(wippy.ProcessFailed) as exc:
            n.wait_exit(pid, timeout=30)
        assert exc.value.kind == "HOST_DOWN"
        assert n.exec("lua:ticker", "app:a", 1, timeout=10) == 1              # others unharmed

        def tight_back() -> bool:
            try:
                return n.exec("lua:ticker", "app:tight", 1, timeout=5) == 1
            except wippy.WippyError:
                return False
        wait_until(tight_back, 20, interval=0.2, what="the restarted host to run Lua again")


# -- terminal --------------------------------------------------------------------------------
def test_a_terminal_app_reads_stdin_line_by_line(app_dir):
    shutil.copytree(APP, app_dir, dirs_exist_ok=True)
    r = run_wippy(["run", app_dir, "-x", "lua:cat", "> "], input="alpha\nbeta\ngamma\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "> 1: alpha\n> 2: beta\n> 3: gamma\nlines: 3\n"
    assert "done" in r.stderr


# -- registry changes at run time -----------------------------------------------------------
def test_an_agent_registers_lua_code_and_calls_and_spawns_it_at_once(node):
    got = node.exec("lua:agent", "app:a", "t1", "app:b", timeout=20)
    assert got["called"] == {"x": 21, "by": "generated"}
    assert got["spawned"] == "left+right"
    assert got["meta"] == "agent" and got["version"] >= 1
    assert node.call("gen:t1_fn", 5, timeout=10) == {"x": 5, "by": "generated"}


def test_a_service_reacts_to_registry_changes(node):
    watcher = node.spawn("lua:watcher", "app:b", "gen:t2", 2, monitor=True)
    wait_until(lambda: node.lookup("watcher") == watcher, 10, what="the watcher to subscribe")
    node.exec("lua:agent", "app:a", "t2", "app:a", timeout=20)
    assert sorted(node.wait_exit(watcher, timeout=20), key=lambda e: e["path"]) == [
        {"kind": "entry.create", "path": "gen:t2_fn", "entry_kind": "function.lua"},
        {"kind": "entry.create", "path": "gen:t2_proc", "entry_kind": "process.lua"}]
