"""Shrinking a ``process.host`` while the node runs: the retired worker CANCELs its processes,
every monitor elsewhere hears of them, ``ps`` shows the worker stopping until it is gone, and
the node still stops in order afterwards (no host left to kill)."""
from __future__ import annotations

import os
import tempfile

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.core.pid import parse_pid

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CONFIG = """
version: "1.0"
namespace: app
entries:
  - name: main
    kind: process.host
  - name: pool
    kind: process.host
    host: {workers: 2}
  - name: svc_a
    kind: process.service
    process: app.w:service
    host: pool
    lifecycle: {auto_start: true}
  - name: svc_b
    kind: process.service
    process: app.w:service
    host: pool
    lifecycle: {auto_start: true}
"""

WORKERS = """
version: "1.0"
namespace: app.w
entries:
  - {name: polite, kind: process.py, source: "file://procs.py", method: polite}
  - {name: stubborn, kind: process.py, source: "file://procs.py", method: stubborn}
  - {name: watcher, kind: process.py, source: "file://procs.py", method: watcher}
  - {name: service, kind: process.py, source: "file://procs.py", method: service}
"""

PROCS = """
from wippy import process

async def polite(parent):
    # returns when it is cancelled; says "up" once it listens to its events
    events = process.events()
    process.send(parent, "up", process.pid())
    ev = await events.receive()
    return "cancelled: " + str(ev.reason)

async def stubborn(parent):
    # once cancelled, waits for a go-ahead before it returns
    events = process.events()
    process.send(parent, "up", process.pid())
    ev = await events.receive()
    process.send(parent, "cancelled", process.pid())
    await process.inbox().receive()
    return "released"

async def watcher(parent, target):
    process.monitor(target)
    process.send(parent, "watching", target)
    ev = await process.events().receive()
    process.send(parent, "exit", [ev.from_, ev.result.value,
                                  None if ev.result.error is None else str(ev.result.error)])

async def service():
    await process.inbox().receive()
"""


@pytest.fixture
def app():
    d = tempfile.mkdtemp(prefix="wr-", dir="/tmp")
    write_app(d, {"config/_index.yaml": CONFIG, "workers/_index.yaml": WORKERS,
                  "workers/procs.py": PROCS})
    yield d
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def set_workers(app: str, n: int) -> None:
    path = os.path.join(app, "config", "_index.yaml")
    with open(path + ".tmp", "w") as fh:
        fh.write(CONFIG.replace("workers: 2", f"workers: {n}").lstrip("\n"))
    os.replace(path + ".tmp", path)


def pool(node: wippy.Node) -> list[dict]:
    return sorted((h for h in node.ps()["hosts"] if h["host"] == "app:pool"), key=lambda h: h["slot"])


def spread(node: wippy.Node, entry: str) -> tuple[list[str], list[str]]:
    """Spawn ``entry`` until each of the two pool workers runs two of them: (slot 0's, slot 1's).
    Each says "up" once it listens to its events: a process that never asked for its events
    is ended at once by a stop, so a test of the orderly stop waits for every "up"."""
    serials = [h["serial"] for h in pool(node)]
    by_slot: list[list[str]] = [[], []]
    while min(len(p) for p in by_slot) < 2:
        pid = node.spawn(entry, "app:pool", node.pid, monitor=True)
        by_slot[serials.index(parse_pid(pid).serial)].append(pid)
    spawned = by_slot[0] + by_slot[1]
    ups = {node.receive(timeout=10) for _ in spawned}
    assert {m.payload for m in ups if m.topic == "up"} == set(spawned)
    return by_slot[0], by_slot[1]


def test_shrinking_a_host_cancels_the_retired_workers_processes_and_every_monitor_hears(app):
    with tempfile.TemporaryFile("w+") as log:
        node = wippy.Node(app, stderr=log)
        with node:
            kept, retired = spread(node, "app.w:polite")
            node.spawn("app.w:watcher", "app:main", node.pid, retired[0])
            assert node.receive(timeout=10).topic == "watching"
            svc_pids = {s["id"]: s["pid"] for s in node.ps()["services"]}
            retired_serial = pool(node)[1]["serial"]

            set_workers(app, 1)
            wait_until(lambda: len(pool(node)) == 1, 20, what="the retired worker to be gone")
            for pid in retired:                 # the client's own monitors
                assert node.wait_exit(pid, timeout=10) == "cancelled: host app:pool/%d retired" % retired_serial
            msg = node.receive(timeout=10)      # a monitor in a process on another host
            assert msg.topic == "exit" and msg.payload == [
                retired[0], "cancelled: host app:pool/%d retired" % retired_serial, None]
            assert all(node.events(timeout=0) is None for _ in kept)   # the others run on
            assert [h["state"] for h in pool(node)] == ["ready"]
            # the service that ran on the retired worker runs again on the remaining one
            def moved():
                now = {s["id"]: s["pid"] for s in node.ps()["services"]}
                return all(now[i] and parse_pid(now[i]).serial != retired_serial for i in now) and now
            now = wait_until(moved, 20, what="services off the retired worker")
            assert sum(now[i] != svc_pids[i] for i in now) == sum(
                parse_pid(p).serial == retired_serial for p in svc_pids.values())
            assert node.stop() == 0
        log.seek(0)
        text = log.read()
    assert "did not stop" not in text and "killing" not in text, text


def test_a_stopping_worker_shows_its_state_until_its_last_process_ends(app):
    with wippy.Node(app) as node:
        kept, retired = spread(node, "app.w:stubborn")
        set_workers(app, 1)
        cancelled = {node.receive(timeout=10).payload for _ in retired}
        assert cancelled == set(retired)
        states = [h["state"] for h in pool(node)]
        assert states == ["ready", "stopping"]
        r = run_wippy(["ps", app])
        assert r.returncode == 0 and "STATE" in r.stdout
        assert [line.split()[1] for line in r.stdout.splitlines() if line.startswith("app:pool/")] \
            == ["ready", "stopping"]
        for pid in retired:
            node.send(pid, "go")
        assert [node.wait_exit(pid, timeout=10) for pid in retired] == ["released", "released"]
        wait_until(lambda: len(pool(node)) == 1, 20, what="the retired worker to be gone")
        for pid in kept:
            node.send(pid, "nothing")           # still alive: not cancelled
        assert node.events(timeout=0) is None


def test_a_registry_rollback_that_shrinks_a_host_retires_its_extra_worker(app):
    set_workers(app, 1)
    with wippy.Node(app) as node:
        v0 = node.registry.current_version()
        entry = node.registry.get("app:pool")
        entry["data"]["host"]["workers"] = 2
        node.registry.snapshot().changes().update(entry).apply()
        wait_until(lambda: [h["state"] for h in pool(node)] == ["ready", "ready"], 20,
                   what="a second pool worker")
        kept, retired = spread(node, "app.w:polite")
        node.registry.apply_version(v0)
        wait_until(lambda: len(pool(node)) == 1, 20, what="the retired worker to be gone")
        for pid in retired:
            assert node.wait_exit(pid, timeout=10).startswith("cancelled: host app:pool/")
        assert node.events(timeout=0) is None
        assert node.stop() == 0
