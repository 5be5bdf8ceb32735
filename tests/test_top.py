"""`wippy top` and `wippy ps --watch`: rates between two statuses, the screen, and the real
thing driven in tmux."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.cli.top import Sort, render
from wippy.node.status import boot_progress, rates

pytestmark = [pytest.mark.timeout(90)]


def status(clock: float, a_in: int, b_in: int, steps: int = 0) -> dict:
    def host(serial: int, name: str, msgs: int, cpu: float, count: int) -> dict:
        return {"serial": serial, "host": name, "os_pid": 100 + serial, "state": "ready",
                "cpu": cpu, "rss": 30 << 20, "count": count, "msgs_in": msgs, "msgs_out": msgs // 2,
                "spawns": msgs // 10, "exits": 0, "mailbox_total": serial * 3,
                "mailbox_max": serial, "restarts": serial - 1, "last_failure": None}
    return {"node": {"pid": 1, "app_dir": "/app", "uptime": 65.0, "registry_version": 4},
            "hosts": [host(1, "app:a", a_in, 90.0, 5), host(2, "app:b", b_in, 10.0, 50)],
            "services": [{"id": "app:svc", "state": "Failed", "restarts": 2,
                          "last_error": "boom", "pid": None}],
            "supervisors": [], "workflows": {"running": 3, "steps": steps}, "clock": clock}


def test_rates_are_counter_differences_over_the_node_clock():
    r = rates(status(10.0, 100, 0, steps=10), status(10.5, 600, 50, steps=60))
    assert r["hosts"][1] == {"msgs_in": 1000.0, "msgs_out": 500.0, "spawns": 100.0, "exits": 0.0}
    assert r["hosts"][2]["msgs_in"] == 100.0 and r["steps"] == 100.0


def test_no_rates_without_an_earlier_status_or_for_a_host_that_just_started():
    assert rates(None, status(1, 5, 5)) == {"hosts": {}, "steps": None}
    before = status(1.0, 5, 5)
    before["hosts"].pop()
    assert set(rates(before, status(2.0, 10, 10))["hosts"]) == {1}


def test_the_screen_shows_hosts_rates_services_workflows_and_the_registry_version():
    lines = render(status(10.5, 600, 50, steps=60), status(10.0, 100, 0, steps=10))
    text = "\n".join(lines)
    assert "registry v4" in lines[0] and "up 1m05s" in lines[0]
    assert "workflows running 3, steps/s 100" in lines[1]
    host_a = next(line for line in lines if line.startswith("app:a/1"))
    assert host_a.split()[1:8] == ["ready", "101", "90.0", "30.0MiB", "5", "1.0k", "500"]
    assert "app:svc" in text and "Failed" in text and "boom" in text


def test_hosts_sort_by_the_chosen_column_and_reverse():
    now, before = status(10.5, 600, 50), status(10.0, 100, 0)
    order = lambda **kw: [l.split("/")[0] for l in render(now, before, **kw) if l.startswith("app:")
                          and "/" in l.split()[0]]  # noqa: E731
    assert order(sort=Sort.CPU) == ["app:a", "app:b"]
    assert order(sort=Sort.PROCS) == ["app:b", "app:a"]
    assert order(sort=Sort.IN, reverse=True) == ["app:b", "app:a"]
    assert order(sort=Sort.NAME) == ["app:a", "app:b"]


def test_the_screen_fits_the_terminal():
    lines = render(status(1, 1, 1), None, width=40, height=5)
    assert len(lines) == 5 and all(len(line) <= 40 for line in lines)


def test_a_slow_start_says_what_it_waits_for():
    text = boot_progress([("app:a/1", "ready"), ("app:b/2", "starting")], (1, 3), 4.2)
    assert text == ("still starting after 4 s: 1/2 host OS process(es) ready "
                    "(waiting for app:b/2), 1/3 service(s) running")


CHATTY = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: procs
            kind: process.host
            host: {workers: 2}
          - name: pinger
            kind: process.py
            source: file://chat.py
            method: pinger
          - name: svc
            kind: process.service
            process: pinger
            host: procs
            lifecycle: {auto_start: true}
    """,
    "config/chat.py": """
        from wippy import process, time

        async def pinger():
            me = process.pid()
            while True:
                process.send(me, "tick", 1)
                await process.inbox().receive()
                await time.sleep("5ms")
    """,
}


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_top_in_a_terminal_shows_live_rates_sorts_and_quits(app_dir):
    write_app(app_dir, CHATTY)
    session = f"wt{uuid.uuid4().hex[:8]}"
    with wippy.Node(app_dir):
        cmd = f"{sys.executable} -m wippy top {app_dir} --interval 0.2"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "30", cmd],
                       check=True, env={**os.environ, "TERM": "xterm"})
        try:
            def screen() -> str:
                return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                      capture_output=True, text=True).stdout

            def rates_shown() -> str | None:
                text = screen()
                rows = [l.split() for l in text.splitlines() if l.startswith("app:procs/")]
                busy = [r for r in rows if r[6] != "-" and float(r[6].rstrip("k")) > 0]
                return text if busy else None
            text = wait_until(rates_shown, 30, 0.1, what="top to show a message rate")
            assert "HOST" in text and "IN/s" in text and "app:svc" in text and "Running" in text
            subprocess.run(["tmux", "send-keys", "-t", session, "n"], check=True)
            wait_until(lambda: "[s]ort:name" in screen(), 10, 0.1, what="sorting by name")
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
            wait_until(lambda: subprocess.run(["tmux", "has-session", "-t", session],
                                              capture_output=True).returncode != 0,
                       10, 0.1, what="top to quit")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@pytest.mark.integration
def test_top_off_a_terminal_prints_one_screen_and_ps_watch_repeats(app_dir):
    write_app(app_dir, CHATTY)
    with wippy.Node(app_dir):
        r = run_wippy(["top", app_dir, "--interval", "0.3"], timeout=30)
        assert r.returncode == 0, r.stderr
        assert "IN/s" in r.stdout and "app:svc" in r.stdout
        proc = subprocess.Popen([sys.executable, "-m", "wippy", "ps", app_dir, "--watch", "-n", "0.1"],
                                stdout=subprocess.PIPE, text=True)
        try:
            frames = 0
            for line in proc.stdout:            # type: ignore[union-attr]
                frames += line.startswith("node pid")
                if frames == 3:
                    break
        finally:
            proc.terminate()
            proc.wait(10)
        assert frames == 3
