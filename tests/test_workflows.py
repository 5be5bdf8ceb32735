"""Durable workflows: journaled steps, replay after kill -9 of a host or of the node."""
from __future__ import annotations

import os
import shutil
import signal
import time

import psutil
import pytest
from conftest import wait_until

import wippy
from wippy.workflow.journal import Journal

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "wf")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def app(app_dir):
    dest = os.path.join(app_dir, "app")
    shutil.copytree(APP, dest)
    return dest


def runs(log: str) -> list[str]:
    with open(log) as fh:
        return [line.split()[0] for line in fh if line.strip()]


def flows_host(node) -> int | None:
    for h in node.ps()["hosts"]:
        if h["host"] == "app:flows" and h["state"] == "ready":
            return h["os_pid"]
    return None


def test_a_workflow_completes_and_a_named_start_is_idempotent(app):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": 3}, name="order-1")
        assert node.workflow_result(pid, timeout=20)["total"] == 12
        again = node.workflow_start("app:order", {"log": log, "steps": 3}, name="order-1")
        assert again == pid
        assert node.workflow_result(again, timeout=5)["total"] == 12   # recorded, not re-run
    assert len(runs(log)) == 3


def test_kill_9_of_the_workflow_host_many_times_still_completes_exactly_once(app):
    log = os.path.join(app, "acts.log")
    open(log + ".slow", "w").close()
    steps = 30
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": steps, "sleep": 0.02}, name="k")
        kills = 0
        deadline = time.monotonic() + 30
        while kills < 5 and time.monotonic() < deadline:
            wait_until(lambda: os.path.exists(log) and len(runs(log)) > kills * 4 + 2, 20,
                       what="progress")
            host = wait_until(lambda: flows_host(node), 10, what="the flows host")
            os.kill(host, signal.SIGKILL)
            kills += 1
        result = node.workflow_result(pid, timeout=60)
    assert result["total"] == sum(2 * (i + 1) for i in range(steps))
    keys = runs(log)
    assert len(set(keys)) == steps                          # every activity ran
    assert len(keys) - len(set(keys)) <= kills              # only interrupted ones ran again
    for key in set(keys):
        assert keys.count(key) <= 2


def test_kill_9_of_the_node_resumes_every_workflow_after_restart(app):
    log = os.path.join(app, "acts.log")
    open(log + ".slow", "w").close()
    node = wippy.Node(app)
    node.start()
    try:
        pids = [node.workflow_start("app:order", {"log": log, "steps": 20, "sleep": 0.03}, name=f"n{i}")
                for i in range(3)]
        wait_until(lambda: os.path.exists(log) and len(runs(log)) >= 6, 20, what="progress")
        root = psutil.Process(node.process.pid)
        tree = root.children(recursive=True)
        node.close()
        root.kill()
        node.process.wait(10)
        psutil.wait_procs(tree, timeout=10)
    finally:
        node.process = None
    before = len(runs(log))
    with wippy.Node(app) as node:
        again = [node.workflow_start("app:order", {}, name=f"n{i}") for i in range(3)]
        assert again == pids
        results = [node.workflow_result(p, timeout=60) for p in pids]
    assert all(r["total"] == sum(2 * (i + 1) for i in range(20)) for r in results)
    keys = runs(log)
    assert len(set(keys)) == 60 and len(keys) - 60 <= 3 and before < 60


def test_signals_sent_while_the_host_is_down_arrive_after_recovery(app):
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:waiter", {"n": 3})
        node.send(pid, "sig", 1)
        host = wait_until(lambda: flows_host(node), 10, what="the flows host")
        os.kill(host, signal.SIGKILL)
        node.send(pid, "sig", 2)            # journaled by the node while the host is down
        node.send(pid, "sig", 3)
        assert node.workflow_result(pid, timeout=30) == [1, 2, 3]


def test_code_that_diverges_from_its_journal_fails_with_a_nondeterminism_error(app):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": 50, "sleep": 0.05})
        wait_until(lambda: os.path.exists(log) and len(runs(log)) >= 2, 10, what="progress")
        # the new code asks for a uuid where the journal recorded time.now()
        src = os.path.join(app, "config", "flows.py")
        text = open(src).read().replace("started = time.now()", "started = workflow.uuid()")
        with open(src + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(src + ".tmp", src)
        wait_until(lambda: "app:order" in node.registry.history()[-1]["updated"], 10, what="reload")
        host = wait_until(lambda: flows_host(node), 10, what="the flows host")
        os.kill(host, signal.SIGKILL)       # the replay runs the new code against the journal
        with pytest.raises(wippy.ProcessFailed, match="the journal has now") as info:
            node.workflow_result(pid, timeout=30)
        assert info.value.kind == "NONDETERMINISM"


def test_time_after_in_a_python_workflow_fires_at_its_journaled_due_time_after_a_kill(app):
    journal = os.path.join(app, ".wippy", "data", "journal")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:after_waiter", {"after": "3s"})
        wf_id = pid[1:-1].rpartition("|")[2]

        def afters():
            j = Journal(journal, readonly=True)
            try:
                return [s for s in j.steps(wf_id) if s["op"] == "after"]
            finally:
                j.close()
        [step] = wait_until(afters, 10, what="the timer's due time in the journal")
        assert step["key"] == 3 * 10**9 and isinstance(step["result"], int)   # nanoseconds
        host = wait_until(lambda: flows_host(node), 10, what="the flows host")
        os.kill(host, signal.SIGKILL)       # the replay must wait for the recorded due time
        assert node.workflow_result(pid, timeout=30) == ["timer", step["result"] / 10**9]
    assert afters() == [step]


def test_workflow_commands_list_show_signal_cancel(app):
    from conftest import run_wippy
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        slow = node.workflow_start("app:order", {"log": log, "steps": 2, "sleep": 60}, name="slow")
        waiter = node.workflow_start("app:waiter", {"n": 1})
        wait_until(lambda: os.path.exists(log) and len(runs(log)) == 1, 10, what="first step")
        r = run_wippy(["workflow", "--app", app, "list"])
        assert r.returncode == 0 and "app:order" in r.stdout and "slow" in r.stdout
        r = run_wippy(["workflow", "--app", app, "show", slow])
        assert "call    app:charge" in r.stdout and "(pending," in r.stdout
        r = run_wippy(["workflow", "--app", app, "signal", waiter, "go", '{"x": 1}'])
        assert r.returncode == 0, r.stderr
        assert node.workflow_result(waiter, timeout=10) == [{"x": 1}]
        r = run_wippy(["workflow", "--app", app, "cancel", slow])
        assert r.returncode == 0, r.stderr
        with pytest.raises(wippy.ProcessFailed, match="cancelled"):
            node.workflow_result(slow, timeout=10)
    r = run_wippy(["workflow", "--app", app, "list"])          # a stopped node's journal
    assert "cancelled" in r.stdout and "completed" in r.stdout


def test_the_journal_stays_consistent_when_the_node_dies_mid_commit(app):
    """LMDB commits are atomic: after kill -9 during heavy journaling every workflow's steps
    are contiguous and every recorded signal count matches the signals stored."""
    log = os.path.join(app, "acts.log")
    node = wippy.Node(app)
    node.start()
    try:
        for i in range(8):
            node.workflow_start("app:order", {"log": log, "steps": 200}, name=f"t{i}")
        wait_until(lambda: os.path.exists(log) and len(runs(log)) > 100, 20, what="journaling")
        root = psutil.Process(node.process.pid)
        tree = root.children(recursive=True)
        node.close()
        root.kill()
        node.process.wait(10)
        psutil.wait_procs(tree, timeout=10)
    finally:
        node.process = None
    j = Journal(os.path.join(app, ".wippy", "data", "journal"), readonly=True)
    for wf in j.workflows():
        steps = j.steps(wf["id"])
        assert [s["op"] for s in steps[:1]] in ([], ["now"])
        assert all(s["op"] == "call" for s in steps[1:])
        assert len(j.signals(wf["id"])) == wf["signals"]
    j.close()


def test_process_spawn_of_a_workflow_entry_starts_a_durable_workflow(app):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        assert node.exec("app:order", "app:flows", {"log": log, "steps": 2}, timeout=20)["total"] == 6
        pid = node.spawn("app:waiter", "app:flows", {"n": 1}, monitor=True)
        assert pid.startswith("{wf/0|")
        node.send(pid, "sig", "hi")          # right after spawn: held in order, journaled
        assert node.wait_exit(pid, timeout=10) == ["hi"]
