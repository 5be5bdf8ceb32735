"""``ps`` (wippy/node/status.py): restart counts are totals since boot and the last failure is
shown, for hosts (supervised or not) and for services (crashed, or moved by a host's death)."""
from __future__ import annotations

import os
import signal

import pytest
from conftest import wait_until, write_app

import wippy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: h1
            kind: process.host
          - name: h2
            kind: process.host
          - name: sup
            kind: supervisor
            intensity: 100
            period: 3600s
            children: [h2]
          - name: s1
            kind: process.service
            process: member
            host: h1
            lifecycle: {auto_start: true, restart: {initial_delay: 10ms}}
          - name: s2
            kind: process.service
            process: member
            host: h2
            lifecycle: {auto_start: true, restart: {initial_delay: 10ms}}
          - name: member
            kind: process.py
            source: file://member.py
            method: main
        """,
    "config/member.py": """
        from wippy import process

        async def main():
            inbox = process.inbox()
            while True:
                msg = await inbox.receive()
                if msg.topic == "crash":
                    raise RuntimeError("crashed on purpose")
        """,
}


def ready(node, host):
    return next((h for h in node.ps()["hosts"] if h["host"] == host and h["state"] == "ready"), None)


def service(node, sid):
    return next(s for s in node.ps()["services"] if s["id"] == sid)


def kill(node, host):
    h = wait_until(lambda: ready(node, host), 20, what=f"{host} ready")
    os.kill(h["os_pid"], signal.SIGKILL)
    wait_until(lambda: (ready(node, host) or h)["serial"] != h["serial"], 20, what=f"{host} back")
    return h["serial"]


def test_ps_counts_every_restart_since_boot_and_shows_the_last_failure(app_dir):
    with wippy.Node(write_app(app_dir, APP)) as node:
        kill(node, "app:h1")
        kill(node, "app:h2")
        kill(node, "app:h1")
        last_h2 = kill(node, "app:h2")                  # restarted by its supervisor
        pid = wait_until(lambda: service(node, "app:s1")["state"] == "Running"
                         and service(node, "app:s1")["pid"], 20, what="s1 running")
        node.send("app:s1", "crash")
        wait_until(lambda: service(node, "app:s1")["pid"] not in (None, pid), 20, what="s1 restarted")
        wait_until(lambda: service(node, "app:s2")["state"] == "Running", 20, what="s2 running")
        ps = node.ps()
        hosts = {h["host"]: h for h in ps["hosts"]}
        assert hosts["app:h1"]["restarts"] == 2
        assert hosts["app:h2"]["restarts"] == 2
        assert hosts["app:h1"]["last_failure"].endswith("app:member: RuntimeError: crashed on purpose")
        assert hosts["app:h2"]["last_failure"] == f"host app:h2/{last_h2} died: killed by SIGKILL"
        services = {s["id"]: s for s in ps["services"]}
        assert services["app:s1"]["restarts"] == 3       # two host deaths and one crash
        assert services["app:s1"]["last_error"] == "RuntimeError: crashed on purpose"
        assert services["app:s2"]["restarts"] == 2
        assert services["app:s2"]["last_error"] == f"host app:h2/{last_h2} died: killed by SIGKILL"
