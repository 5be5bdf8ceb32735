"""Supervision with real processes: strategies, restart types, escalation, order, chaos."""
from __future__ import annotations

import os
import random
import signal
import time

import psutil
import pytest
from conftest import run_wippy, wait_until, write_app

import wippy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MEMBER = """
import os
from wippy import process, time

async def member(tag, log=None):
    if log:
        with open(log, "a") as fh:
            fh.write(f"start {tag}\\n")
    inbox = process.inbox()
    ev = process.events()
    while True:
        from wippy import channel
        r = await channel.select(inbox.case_receive(), ev.case_receive())
        if r.channel is ev:
            if log:
                with open(log, "a") as fh:
                    fh.write(f"stop {tag}\\n")
            return "cancelled"
        msg = r.value
        if msg.topic == "crash":
            raise RuntimeError(f"{tag} crashed on purpose")
        if msg.topic == "quit":
            return "bye"
        process.send(msg.sender, "me", [tag, process.pid()])

async def crash_at_start(tag):
    raise RuntimeError(f"{tag} cannot start")

async def load(parent, n):
    # steady load: ping every member by name, count answers, report progress
    inbox = process.inbox()
    done = 0
    names = ["app:a", "app:b", "app:c"]
    while done < n:
        for name in names:
            try:
                process.send(name, "ping", done)
            except Exception:
                pass
        try:
            from wippy import channel
            r = await channel.select(inbox.case_receive(), time.after("50ms").case_receive())
            if r.channel is inbox:
                done += 1
                if done % 50 == 0:
                    process.send(parent, "progress", done)
        except Exception:
            pass
    return done
"""


def member_entry(name, host, auto=False):
    return f"""
  - name: {name}
    kind: process.service
    process: member
    host: {host}
    input: [{name}]
    lifecycle:
      auto_start: {str(auto).lower()}
      restart: {{initial_delay: 10ms, max_delay: 50ms}}"""


def app_files(supervisors: str, services: str, hosts: str = "") -> dict[str, str]:
    return {
        "config/_index.yaml": f"""
version: "1.0"
namespace: app
entries:
  - name: h1
    kind: process.host
  - name: h2
    kind: process.host
{hosts}
  - name: member
    kind: process.py
    source: file://member.py
    method: member
  - name: bad
    kind: process.py
    source: file://member.py
    method: crash_at_start
  - name: load
    kind: process.py
    source: file://member.py
    method: load
    limits: {{mailbox: 1000000}}   # it reads one answer of three: its mailbox keeps growing
{services}
{supervisors}
""",
        "config/member.py": MEMBER,
    }


OTHER_MESSAGES: list = []


def who(node, name, timeout=10):
    def ask():
        try:
            node.send(name, "who", None)
        except wippy.ProcessNotFound:
            return None
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            m = node.receive(timeout=0.2)
            if m is None:
                continue
            if m.topic == "me" and m.payload[0] == name.split(":")[1]:
                return m.payload[1]
            if m.topic != "me":
                OTHER_MESSAGES.append(m)
        return None
    return wait_until(ask, timeout, what=f"{name} to answer")


def crash(node, name):
    node.send(name, "crash", None)


STRATEGIES = """
  - name: s_one
    kind: supervisor
    strategy: one_for_one
    intensity: 10
    period: 3600
    children: [a, b]
  - name: s_all
    kind: supervisor
    strategy: one_for_all
    intensity: 10
    period: 3600
    children: [c, d]
  - name: s_rest
    kind: supervisor
    strategy: rest_for_one
    intensity: 10
    period: 3600
    children: [e, f, g]
  - name: s_types
    kind: supervisor
    strategy: one_for_one
    intensity: 10
    period: 3600
    children:
      - {id: t_temp, restart: temporary}
      - {id: t_trans, restart: transient}
"""


def test_strategies_and_restart_types(app_dir):
    services = "".join(member_entry(n, "h1" if n in "aceg" else "h2") for n in "abcdefg")
    services += member_entry("t_temp", "h1") + member_entry("t_trans", "h2")
    write_app(app_dir, app_files(STRATEGIES, services))
    with wippy.Node(app_dir) as node:
        pids = {n: who(node, f"app:{n}") for n in "abcdefg"}
        # one_for_one: only the crashed child restarts
        crash(node, "app:a")
        wait_until(lambda: who(node, "app:a") != pids["a"], 10, what="a restarted")
        assert who(node, "app:b") == pids["b"]
        # one_for_all: every child restarts
        crash(node, "app:c")
        wait_until(lambda: who(node, "app:c") != pids["c"], 10, what="c restarted")
        assert who(node, "app:d") != pids["d"]
        # rest_for_one: the crashed child and the ones after it
        crash(node, "app:f")
        wait_until(lambda: who(node, "app:f") != pids["f"], 10, what="f restarted")
        assert who(node, "app:g") != pids["g"]
        assert who(node, "app:e") == pids["e"]
        # temporary: never back; transient: back after an error, not after a normal exit
        temp, trans = who(node, "app:t_temp"), who(node, "app:t_trans")
        crash(node, "app:t_temp")
        crash(node, "app:t_trans")
        wait_until(lambda: who(node, "app:t_trans") != trans, 10, what="t_trans restarted")
        node.send("app:t_trans", "quit", None)
        states = wait_until(lambda: _states_if(node, lambda s: s["app:t_trans"]["status"] == "exited"
                                               and s["app:t_temp"]["status"] == "failed"), 10,
                            what="temporary failed, transient exited")
        assert "crashed on purpose" in states["app:t_temp"]["details"]
        ps = node.ps()
        tree = {s["id"]: s for s in ps["supervisors"]}
        assert tree["app:s_rest"]["strategy"] == "rest_for_one" and tree["app:s_rest"]["restarts"] == 1
        assert [c["id"] for c in tree["app:s_rest"]["children"]] == ["app:e", "app:f", "app:g"]
        assert temp


def _states_if(node, pred):
    states = {s["id"]: s for s in node.supervisor_states()}
    return states if pred(states) else None


def test_a_root_supervisor_past_its_intensity_stops_the_node_with_exit_1(app_dir):
    sup = """
  - name: top
    kind: supervisor
    intensity: 1
    period: 3600
    children: [broken]
"""
    services = """
  - name: broken
    kind: process.service
    process: bad
    host: h1
    input: [broken]
    lifecycle:
      restart: {initial_delay: 10ms}
"""
    write_app(app_dir, app_files(sup, services))
    r = run_wippy(["run", app_dir], timeout=60)
    assert r.returncode == 1
    assert "supervisor app:top reached its restart intensity" in r.stderr
    assert "broken cannot start" in r.stderr


def test_services_start_in_dependency_order_and_stop_in_reverse(app_dir):
    log = os.path.join(app_dir, "order.log")
    services = f"""
  - name: db
    kind: process.service
    process: member
    host: h1
    input: [db, "{log}"]
    lifecycle: {{auto_start: true}}
  - name: api
    kind: process.service
    process: member
    host: h2
    input: [api, "{log}"]
    lifecycle: {{auto_start: true, depends_on: [db]}}
  - name: web
    kind: process.service
    process: member
    host: h1
    input: [web, "{log}"]
    lifecycle: {{auto_start: true, depends_on: [api]}}
"""
    write_app(app_dir, app_files("", services))
    with wippy.Node(app_dir) as node:
        wait_until(lambda: os.path.exists(log) and open(log).read().count("start") == 3, 10,
                   what="three services")
    assert open(log).read().split("\n")[:-1] == ["start db", "start api", "start web",
                                                 "stop web", "stop api", "stop db"]


def test_chaos_kill_9_of_random_hosts_under_load(app_dir):
    services = "".join(member_entry(n, h, auto=True) for n, h in (("a", "h1"), ("b", "h2"), ("c", "pool")))
    hosts = """
  - name: pool
    kind: process.host
    host: {workers: 2}
  - name: driver
    kind: process.host
"""
    write_app(app_dir, app_files("", services, hosts))
    rng = random.Random(7)
    with wippy.Node(app_dir) as node:
        for n in "abc":
            who(node, f"app:{n}")
        loader = node.spawn("app:load", "app:driver", node.pid, 10**9, monitor=True)  # never done first
        def progress():
            got = [m for m in OTHER_MESSAGES if m.topic == "progress"]
            OTHER_MESSAGES.clear()
            got += [m for m in iter(lambda: node.receive(timeout=0.05), None) if m.topic == "progress"]
            return got
        wait_until(progress, 10, what="load running")
        killed = []
        deadline = time.monotonic() + 20
        while len(killed) < 12 and time.monotonic() < deadline:
            victims = [h for h in node.ps()["hosts"] if h["host"] in ("app:h1", "app:h2", "app:pool")
                       and h["state"] == "ready"]
            if not victims:
                time.sleep(0.02)
                continue
            v = rng.choice(victims)
            os.kill(v["os_pid"], signal.SIGKILL)
            killed.append(v["os_pid"])
            time.sleep(rng.uniform(0.02, 0.2))
        assert len(killed) >= 10
        # every service comes back and answers; the load resumes
        for n in "abc":
            who(node, f"app:{n}", timeout=20)
        wait_until(progress, 20, what="load to resume")
        states = {s["id"]: s["status"] for s in node.supervisor_states()}
        assert states == {"app:a": "running", "app:b": "running", "app:c": "running"}
        node.send(loader, "x", None)
        # nothing killed is left behind: no zombie, no orphan
        for pid in killed:
            wait_until(lambda: not psutil.pid_exists(pid), 10, what=f"host {pid} reaped")


def test_python_and_lua_processes_read_the_same_supervisor_states(app_dir):
    write_app(app_dir, {
        "config/_index.yaml": """
namespace: app
entries:
  - name: h
    kind: process.host
  - name: svc
    kind: process.service
    process: idle
    host: h
    lifecycle: {auto_start: true}
  - name: idle
    kind: process.lua
    method: main
    source: |
      local function main() process.inbox():receive() end
      return {main = main}
  - name: lua_probe
    kind: process.lua
    method: main
    modules: [system]
    source: |
      local system = require("system")
      local function main()
        local states, err = system.supervisor.states()
        if err then return nil, err end
        return states
      end
      return {main = main}
  - name: py_probe
    kind: process.py
    source: file://probe.py
    method: main
""",
        "config/probe.py": "import wippy\nasync def main():\n    return await wippy.system.supervisor.states()\n"})
    with wippy.Node(app_dir) as node:
        py = node.exec("app:py_probe", "app:h", timeout=10)
        lua = node.exec("app:lua_probe", "app:h", timeout=10)
    assert [s["id"] for s in py] == [s["id"] for s in lua] == ["app:svc"]
    assert py[0]["status"] == lua[0]["status"] == "running"
    assert set(py[0]) == set(lua[0]) == {"id", "status", "desired", "retry_count", "last_update",
                                         "started_at", "details"}
