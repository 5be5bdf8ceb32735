"""The bundled default application (config/, workers/, supervisors/ at the repository root).

It must show a CPU-heavy agent workload spread over the OS processes of ``app:agents``, a
deliberate crash of the resident agent service that the node restarts, and a coordinator that
re-queues the lost task so that every task is done exactly once (docs/default-app.md).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import REPO, run_wippy, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TASKS = 24


@pytest.fixture
def data_dir():
    """Keep the registry of these runs out of the checkout's .wippy/."""
    d = tempfile.mkdtemp(prefix="wda-", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_demo_one_shot_every_task_once_crash_recovered_all_cores(data_dir):
    t0 = time.monotonic()
    r = run_wippy(["run", REPO, "--data-dir", data_dir, "-x", "app:demo", str(TASKS)], timeout=90)
    took = time.monotonic() - t0
    out, err = r.stdout, r.stderr
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in err, err

    # the job the demo asked for, and its summary
    assert re.search(rf"job 1 \(client \{{app:terminal/\d+\|[\d.]+\}}\): {TASKS} tasks", out), out
    m = re.search(r"^tasks\s+(\d+)/(\d+) done, each exactly once \(0 duplicates, 0 missing\)$", out, re.M)
    assert m, out
    assert int(m.group(1)) == int(m.group(2)) == TASKS

    # the resident agent crashed on the poisoned task, and the task was re-queued and done
    crash = re.search(r"!! resident agent (\{[^}]+\}) crashed holding task #(\d+): "
                      r"RuntimeError: poisoned task #\2: deliberate crash", out)
    assert crash, out
    old_pid, task = crash.group(1), crash.group(2)
    assert re.search(rf"-> task #{task} re-queued \(attempt 2\)", out), out
    assert re.search(rf"crashed at [\d.]+ s on task #{task}: .*task #{task} re-queued and done on "
                     rf"attempt 2 by (fleet|resident) agent \{{app:agents/\d+\|[\d.]+\}}$", out, re.M), out
    assert out.count("!! ") == 1, out      # exactly one crash: the poison bites only once

    # ... and the node restarted the service under a new PID, which joined the coordinator
    restart = re.search(r"restarted\s+resident agent (\{[^}]+\}) -> (\{[^}]+\}) by the node", out)
    assert restart, out
    assert restart.group(1) == old_pid and restart.group(2) != old_pid
    assert "app.supervisors:resident_agent failed" in err     # the node's own log line

    # the work was spread over more than one OS process of app:agents
    rows = re.findall(r"^\s+app:agents/(\d+)\s+os pid (\d+)\s+(\d+) tasks", out, re.M)
    assert len(rows) >= 2, out
    assert len({os_pid for _, os_pid, _ in rows}) == len(rows)
    assert all(int(n) > 0 for _, _, n in rows), out
    assert sum(int(n) for _, _, n in rows) == TASKS
    assert re.search(r"^wall time\s+[\d.]+ s$", out, re.M)
    assert re.search(r"^throughput\s+[\d.]+ tasks/s$", out, re.M)
    assert re.search(r"speed-up ~[\d.]+x over one core", out)
    assert took < 60, f"the one-shot demo took {took:.1f} s"


def test_demo_json_answers_are_deterministic(data_dir):
    """Same seed and difficulty: the same answers, whichever agent on whichever OS process
    solved which task (and despite the crash)."""
    digests = []
    for _ in range(2):
        r = run_wippy(["run", REPO, "--data-dir", data_dir, "-x", "app:demo", "12", "easy", "json"],
                      timeout=60)
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        assert summary["exactly_once"] and summary["done"] == summary["tasks"] == 12
        assert summary["duplicates"] == 0 and summary["missing"] == 0
        assert len(summary["crashes"]) == 1 and summary["requeued"] == [summary["crashes"][0]["task"]]
        assert len(summary["restarts"]) == 1
        digests.append(summary["digest"])
    assert digests[0] == digests[1]


def test_demo_rejects_bad_arguments(data_dir):
    r = run_wippy(["run", REPO, "--data-dir", data_dir, "-x", "app:demo", "lots"], timeout=60)
    assert r.returncode == 1
    assert "usage: -x app:demo" in r.stderr


def test_plain_run_does_the_default_workload_then_stops_cleanly_on_sigint(app_dir):
    """``wippy run`` with no -x: the coordinator runs the default workload from app:settings by
    itself, prints the summary, keeps the node up, and SIGINT stops everything with exit 0.
    (A copy of the application with a smaller ``tasks`` setting, to keep the test short.)"""
    for d in ("config", "workers", "supervisors"):
        shutil.copytree(os.path.join(REPO, d), os.path.join(app_dir, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    cfg = os.path.join(app_dir, "config", "_index.yaml")
    with open(cfg) as fh:
        text = fh.read()
    text, n = re.subn(r"^(\s+tasks:)\s*\d+", r"\1 16", text, flags=re.M)
    assert n == 1
    with open(cfg, "w") as fh:
        fh.write(text)

    out_path = os.path.join(app_dir, "out.txt")
    with open(out_path, "w") as out_fh:
        proc = subprocess.Popen([sys.executable, "-m", "wippy", "run", app_dir], stdout=out_fh,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                cwd=app_dir)
        try:
            def read() -> str:
                with open(out_path) as fh:
                    return fh.read()
            wait_until(lambda: "the default workload is done" in read(), timeout=60,
                       what="the default workload's summary")
            out = read()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "job 1 (default workload): 16 tasks" in out
    assert re.search(r"^tasks\s+16/16 done, each exactly once", out, re.M), out
    assert re.search(r"restarted\s+resident agent", out), out


def test_research_runs_as_a_durable_workflow(data_dir):
    r = run_wippy(["run", REPO, "--data-dir", data_dir, "-x", "app:research", "3", "r1"], timeout=90)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("research workflow {wf/0|")
    report = json.loads(r.stdout.split("research done: ", 1)[1])
    assert report["tasks"] == 3
    # a named start is idempotent: the recorded result comes back, nothing is solved again
    again = run_wippy(["run", REPO, "--data-dir", data_dir, "-x", "app:research", "3", "r1"], timeout=90)
    assert json.loads(again.stdout.split("research done: ", 1)[1]) == report
