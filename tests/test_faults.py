"""Crash isolation and bad input: kill -9 of hosts and of the node, dying hosts, bad files."""
from __future__ import annotations

import os
import signal

import psutil
import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.core.pid import parse_pid

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "s4")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def node():
    n = wippy.Node(APP, data_dir="/tmp/wt-faults-%d" % os.getpid())
    n.start()
    try:
        yield n
    finally:
        assert n.stop() == 0


def host_os_pid(node, host_id: str) -> tuple[int, int]:
    for h in node.ps()["hosts"]:
        if h["host"] == host_id and h["state"] == "ready":
            return h["serial"], h["os_pid"]
    raise AssertionError(f"no running {host_id}")


def test_kill_9_of_a_host_reaches_monitors_and_links_elsewhere_and_the_host_comes_back(node):
    serial_b, os_pid_b = host_os_pid(node, "app:b")
    watcher = node.spawn("t:watch_and_report", "app:a", "app:b", node.pid)
    msg = node.receive(timeout=10)
    assert msg.topic == "watching"
    child, linked = msg.payload
    assert parse_pid(child).serial == serial_b
    os.kill(os_pid_b, signal.SIGKILL)
    heard = node.receive(timeout=10)
    assert heard.topic == "heard"
    assert heard.payload["EXIT"][0] == child
    assert heard.payload["LINK_DOWN"][0] == linked
    for kind in ("EXIT", "LINK_DOWN"):
        assert f"host app:b/{serial_b} died: killed by SIGKILL" in heard.payload[kind][1]
    # the node restarted the host under a new serial, and it runs new work
    wait_until(lambda: (_ready(node, "app:b") or (serial_b,))[0] != serial_b, 10, what="app:b to restart")
    assert node.exec("t:returner", "app:b", "after", timeout=10) == "after"
    # the old PIDs stay dead: sending to them is an error
    with pytest.raises(wippy.ProcessNotFound):
        node.send(child, "x", 1)
    assert watcher


def test_a_monitored_process_on_a_dying_host_fails_with_the_cause(node):
    pid = node.spawn("t:os_exit", "app:b", 3, monitor=True)
    with pytest.raises(wippy.ProcessFailed, match=r"host app:b/\d+ died: exit code 3"):
        node.wait_exit(pid, timeout=10)
    assert node.exec("t:returner", "app:a", 1, timeout=10) == 1
    wait_until(lambda: _ready(node, "app:b"), 10, what="app:b back")


def test_a_segfault_takes_only_its_own_host(node):
    _, a_before = host_os_pid(node, "app:a")
    with pytest.raises(wippy.ProcessFailed, match="killed by SIGSEGV"):
        node.exec("t:segfault", "app:b", timeout=10)
    assert host_os_pid(node, "app:a")[1] == a_before
    wait_until(lambda: _ready(node, "app:b"), 10, what="app:b back")
    assert node.exec("t:returner", "app:b", 2, timeout=10) == 2


def test_repeated_host_kills_never_take_the_node_down(node):
    for _ in range(5):
        _, os_pid = wait_until(lambda: _ready(node, "app:b"), 10, what="app:b running")
        os.kill(os_pid, signal.SIGKILL)
        wait_until(lambda: _dead(os_pid), 5, what="the host to die")
    wait_until(lambda: _ready(node, "app:b"), 10, what="app:b running again")
    assert node.exec("t:returner", "app:b", "alive", timeout=10) == "alive"


def _dead(os_pid: int) -> bool:
    try:
        return psutil.Process(os_pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _ready(node, host_id):
    try:
        return host_os_pid(node, host_id)
    except AssertionError:
        return None


def test_kill_9_of_the_node_leaves_no_process_behind(app_dir):
    n = wippy.Node(APP, data_dir=os.path.join(app_dir, "data"))
    n.start()
    try:
        root = psutil.Process(n.process.pid)
        tree = [root] + root.children(recursive=True)
        assert len(tree) >= 6     # node, zygote, four hosts
        n.close()
        root.kill()
        n.process.wait(10)
        gone, alive = psutil.wait_procs(tree[1:], timeout=10)
        assert alive == []
    finally:
        n.process = None


def _bad_app(app_dir: str, index: str, extra: dict[str, str] | None = None) -> str:
    write_app(app_dir, {"config/_index.yaml": index, **(extra or {})})
    return app_dir


@pytest.mark.parametrize("index, expected", [
    ("namespace: app\nentries:\n  - name: x\n    kind: process.host\n    host: {workers: [}\n",
     r"config/_index.yaml:5:\d+: "),
    ("namespace: app\nentries:\n  - name: x\n    kind: process.host\n    kind: process.py\n",
     r"config/_index.yaml:5:\d+: .*duplicate key 'kind'"),
    ("namespace: app\nentries:\n  - name: x\n    kind: process.nope\n",
     r"config/_index.yaml:4:\d+: entry app:x: field 'kind': .*process.nope"),
    ("namespace: app\nentries:\n  - name: x\n    kind: process.py\n    source: file://missing.py\n",
     r"config/_index.yaml:5:\d+: entry app:x: field 'source': .*missing.py"),
    ("namespace: app\nentries:\n  - name: s\n    kind: process.service\n    process: nothing\n    host: nowhere\n",
     r"config/_index.yaml:5:\d+: entry app:s: field 'process': .*app:nothing"),
])
def test_wippy_run_refuses_a_bad_application_naming_file_line_and_field(app_dir, index, expected):
    _bad_app(app_dir, index)
    r = run_wippy(["run", app_dir], timeout=30)
    assert r.returncode == 1
    import re
    assert re.search(expected, r.stderr), r.stderr
    assert "nothing started" in r.stderr


def test_a_second_node_on_the_same_application_is_refused(app_dir):
    write_app(app_dir, {"config/_index.yaml": "namespace: app\nentries:\n  - name: h\n    kind: process.host\n"})
    with wippy.Node(app_dir) as n:
        r = run_wippy(["run", app_dir], timeout=30)
        assert r.returncode == 1 and "another node" in r.stderr
        assert n.exec  # the first node is unaffected
        assert n.ps()["hosts"][0]["state"] == "ready"


def test_a_process_that_exhausts_memory_fails_alone(node):
    _, b_before = host_os_pid(node, "app:b")
    with pytest.raises(wippy.ProcessFailed, match="MemoryError"):
        node.exec("t:memory_hog", "app:b", timeout=30)
    assert host_os_pid(node, "app:b")[1] == b_before
    assert node.exec("t:returner", "app:b", "fine", timeout=10) == "fine"
