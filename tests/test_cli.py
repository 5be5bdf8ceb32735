"""The command line as a user drives it: run -x exit codes, ps, stop, signals, services."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import run_wippy, wait_until

import wippy

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "cli")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def run_x(*args: str, data: str) -> subprocess.CompletedProcess:
    return run_wippy(["run", APP, "--data-dir", data, "-x", *args], timeout=60)


def test_exec_prints_a_string_result_and_exits_0(app_dir):
    r = run_x("app:greet", "you", data=app_dir)
    assert (r.returncode, r.stdout) == (0, "hello you\n"), r.stderr


def test_exec_exits_with_a_numeric_result(app_dir):
    assert run_x("app:code", "7", data=app_dir).returncode == 7


def test_exec_of_a_failing_entry_prints_the_error_and_exits_1(app_dir):
    r = run_x("app:fail", data=app_dir)
    assert r.returncode == 1 and r.stdout == ""
    assert "it went wrong" in r.stderr


def test_exec_false_exits_1(app_dir):
    assert run_x("app:falsy", data=app_dir).returncode == 1


def test_exec_stdout_carries_only_the_process_output(app_dir):
    r = run_x("app:printer", "a", "b", data=app_dir)
    assert r.returncode == 0
    assert r.stdout == "word: a\nword: b\n"
    assert "node ready" in r.stderr


def test_exec_of_an_unknown_entry_names_it_and_exits_1(app_dir):
    r = run_x("app:nope", data=app_dir)
    assert r.returncode == 1 and "unknown entry 'app:nope'" in r.stderr


def test_services_start_register_by_id_and_failures_are_retried(app_dir):
    with wippy.Node(APP, data_dir=app_dir) as node:
        svc = wait_until(lambda: {s["id"]: s for s in node.ps()["services"]}.get("app:flaky_svc")
                         if any(s["state"] == "Failed" and s["restarts"] >= 3 for s in node.ps()["services"])
                         else None, 20, what="flaky_svc to fail 3 times")
        assert svc["state"] == "Failed" and "flaky failure" in svc["last_error"]
        node.send("app:store", "kv", ["get", "seed", None])
        assert node.receive(timeout=5).payload == 1
        store = {s["id"]: s for s in node.ps()["services"]}["app:store"]
        assert store["state"] == "Running" and store["restarts"] == 0


def test_sigint_stops_the_node_cleanly_with_exit_0(app_dir):
    proc = subprocess.Popen([sys.executable, "-m", "wippy", "run", APP, "--data-dir", app_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(os.path.join(_run_dir(), "ctl")), 30, what="the node")
        conn = wippy.connect(_run_dir())
        wait_until(lambda: len([h for h in conn.ps()["hosts"] if h["state"] == "ready"]) == 2, 20,
                   what="hosts")
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ps_and_stop_commands_talk_to_a_running_node(app_dir):
    proc = subprocess.Popen([sys.executable, "-m", "wippy", "run", APP, "--data-dir", app_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(os.path.join(_run_dir(), "ctl")), 30, what="the node")
        r = wait_until(lambda: _ps_ok(), 20, what="wippy ps")
        assert "app:workers/" in r.stdout and "app:store" in r.stdout and "Running" in r.stdout
        stop = run_wippy(["stop", APP], timeout=30)
        assert stop.returncode == 0
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ps_ok():
    r = run_wippy(["ps", APP], timeout=30)
    return r if r.returncode == 0 and "app:store" in r.stdout else None


def _run_dir() -> str:
    from wippy.core.rundir import run_dir_for
    return run_dir_for(APP)
