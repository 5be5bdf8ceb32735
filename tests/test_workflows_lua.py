"""Durable workflows written in Lua (workflow.lua), and child workflows: journaled activities,
timers, time.now, uuid and signals, replayed after kill -9 of the host."""
from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from conftest import wait_until

import wippy
from wippy.workflow.journal import Journal

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "wflua")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def app(app_dir):
    dest = os.path.join(app_dir, "app")
    shutil.copytree(APP, dest)
    return dest


def lines(log: str) -> list[list[str]]:
    if not os.path.exists(log):
        return []
    with open(log) as fh:
        return [line.split() for line in fh if line.strip()]


def charges(log: str) -> list[str]:
    """The idempotency keys of every run of the charge activity."""
    return [w[0] for w in lines(log) if w[1] == "charge"]


def host_pid(node, host: str = "app:flows") -> int | None:
    for h in node.ps()["hosts"]:
        if h["host"] == host and h["state"] == "ready":
            return h["os_pid"]
    return None


def kill_host(node, host: str = "app:flows") -> None:
    os.kill(wait_until(lambda: host_pid(node, host), 10, what=host), signal.SIGKILL)


def test_a_lua_workflow_calls_activities_and_journals_time_and_uuids(app):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": 3, "sleep": 0.01}, name="o1")
        result = node.workflow_result(pid, timeout=20)
        assert node.workflow_start("app:order", {}, name="o1") == pid     # named: idempotent
        assert node.workflow_result(pid, timeout=5) == result             # recorded, not re-run
    wf_id = pid[len("{wf/0|"):-1]
    assert result["total"] == 2 + 4 + 6
    assert result["key"].startswith(wf_id + ":")       # a function.lua activity sees its key
    assert result["version"] == 2 and result["random_ok"] and result["wf_uuid_len"] == 36
    assert result["outside_activity_key"]
    stamp = [w for w in lines(log) if w[1] == "stamp"]
    assert stamp == [[stamp[0][0], "stamp", str(result["started"]), result["token"]]]
    assert len(charges(log)) == 3 and len(set(charges(log))) == 3
    assert all(k.startswith(wf_id + ":") for k in charges(log))


def test_kill_9_of_the_lua_workflow_host_many_times_still_completes_exactly_once(app):
    log = os.path.join(app, "acts.log")
    open(log + ".slow", "w").close()
    steps = 30
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": steps, "sleep": 0.02})
        kills = 0
        deadline = time.monotonic() + 30
        while kills < 5 and time.monotonic() < deadline:
            wait_until(lambda: len(charges(log)) > kills * 4 + 2, 20, what="progress")
            kill_host(node)
            kills += 1
        result = node.workflow_result(pid, timeout=60)
    assert kills == 5
    assert result["total"] == sum(2 * (i + 1) for i in range(steps))
    keys = charges(log)
    assert len(set(keys)) == steps                          # every activity ran
    assert len(keys) - len(set(keys)) <= kills              # only interrupted ones ran again
    assert all(keys.count(k) <= 2 for k in set(keys))
    # time.now() and uuid.v4() came back from the journal on every replay
    stamps = {tuple(w[2:]) for w in lines(log) if w[1] == "stamp"}
    assert stamps == {(str(result["started"]), result["token"])}


def test_signals_reach_a_lua_workflow_across_a_kill_of_its_host(app):
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:waiter", {"n": 3})
        node.send(pid, "sig", 1)
        kill_host(node)
        node.send(pid, "sig", {"two": 2})       # journaled by the node while the host is down
        node.send(pid, "sig", "three")
        assert node.workflow_result(pid, timeout=30) == [1, {"two": 2}, "three"]


def test_a_lua_process_starts_workflows_with_workflow_start(app):
    with wippy.Node(app) as node:
        got = node.exec("app:starter", "app:flows", "app:waiter", {"n": 1}, "from-lua", timeout=10)
        pid = got["pid"]
        assert pid.startswith("{wf/0|")
        again = node.exec("app:starter", "app:flows", "app:waiter", {"n": 1}, "from-lua", timeout=10)
        assert again == {"pid": pid}                           # named start: the same workflow
        node.send(pid, "go", "hello")
        assert node.workflow_result(pid, timeout=20) == ["hello"]
        bad = node.exec("app:starter", "app:flows", "app:charge", {}, None, timeout=10)
        assert "error" in bad and "not a workflow" in bad["message"]     # nil, err


def test_time_after_in_a_lua_workflow_keeps_its_due_time_across_a_kill(app):
    journal = os.path.join(app, ".wippy", "data", "journal")
    with wippy.Node(app) as node:
        t0 = time.monotonic()
        pid = node.workflow_start("app:waiter", {"n": 1, "after": 4})
        wf_id = pid[1:-1].rpartition("|")[2]

        def due_recorded():
            j = Journal(journal, readonly=True)
            try:
                return [s["result"] for s in j.steps(wf_id) if s["op"] == "after"]
            finally:
                j.close()
        due = wait_until(due_recorded, 10, what="the timer's due time in the journal")
        # kill 1.5 s into the 4 s wait: a timer restarted by the replay would then fire at
        # >= 5.5 s, the recorded one fires at 4 s
        wait_until(lambda: time.monotonic() - t0 >= 1.5, 5, interval=0.05, what="1.5 s")
        kill_host(node)
        assert node.workflow_result(pid, timeout=30) == ["timeout"]
        elapsed = time.monotonic() - t0
    assert due_recorded() == due        # the replay reused the recorded due time
    assert elapsed < 4.8


def test_a_child_workflow_is_a_journaled_step_of_its_parent(app):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:parent", {"log": log, "sleep": 2})
        wait_until(lambda: any(w[1] == "started" for w in lines(log)), 20, what="the child start")
        kill_host(node)                 # the parent is in its durable sleep; the child is on kids
        result = node.workflow_result(pid, timeout=30)
        child = result["child"]
        assert node.workflow_result(child, timeout=10) == {"ok": True}
    started = [w[2] for w in lines(log) if w[1] == "started"]
    assert started and set(started) == {child}          # the replay got the recorded child PID
    assert result["topic"] == "child-done" and result["from_child"]["pid"] == child
    runs = [w for w in lines(log) if w[1] == "child-runs"]
    assert len(runs) == 1 and runs[0][2] == child                      # the child ran once
    j = Journal(os.path.join(app, ".wippy", "data", "journal"), readonly=True)
    try:
        kids = [wf for wf in j.workflows() if wf["entry"] == "app:child"]
    finally:
        j.close()
    assert len(kids) == 1 and kids[0]["status"] == "completed"     # started once, completed once


@pytest.mark.parametrize("old,new,journal_has", [
    ("time.now():unix_nano()", "#uuid.v4()", "the journal has now"),          # a sync call
    ('funcs.call("app:charge", log, i, i + 1)', 'funcs.call("app:note", log, i, i + 1)',
     "the journal has call 'app:charge'"),                                  # a blocking call
])
def test_lua_code_that_diverges_from_its_journal_fails_with_nondeterminism(app, old, new,
                                                                           journal_has):
    log = os.path.join(app, "acts.log")
    with wippy.Node(app) as node:
        pid = node.workflow_start("app:order", {"log": log, "steps": 50, "sleep": 0.05})
        wait_until(lambda: len(charges(log)) >= 2, 10, what="progress")
        src = os.path.join(app, "config", "order.lua")
        text = open(src).read()
        assert old in text
        with open(src + ".tmp", "w") as fh:
            fh.write(text.replace(old, new))
        os.replace(src + ".tmp", src)
        wait_until(lambda: "app:order" in node.registry.history()[-1]["updated"], 10, what="reload")
        kill_host(node)                 # the replay runs the new code against the journal
        with pytest.raises(wippy.ProcessFailed, match=journal_has) as info:
            node.workflow_result(pid, timeout=30)
        assert info.value.kind == "NONDETERMINISM"
