"""The versioned registry: API changes, subscriptions, hot reload and its effects, rollback."""
from __future__ import annotations

import os
import signal
import time

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.core import protocol, wire
from wippy.registry.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

CONFIG = """
version: "1.0"
namespace: app
entries:
  - name: main
    kind: process.host
  - name: pool
    kind: process.host
    host: {workers: 1}
  - name: settings
    kind: registry.entry
    meta: {team: blue}
    level: 1
  - name: svc_a
    kind: process.service
    process: app.w:service
    host: main
    input: [a]
    lifecycle: {auto_start: true}
  - name: svc_b
    kind: process.service
    process: app.w:other
    host: main
    input: [b]
    lifecycle: {auto_start: true}
"""

WORKERS = """
version: "1.0"
namespace: app.w
entries:
  - {name: service, kind: process.py, source: "file://svc.py", method: main}
  - {name: other, kind: process.py, source: "file://other.py", method: main}
  - {name: watcher, kind: process.py, source: "file://tools.py", method: watcher}
  - {name: applier, kind: process.py, source: "file://tools.py", method: applier}
  - {name: agent, kind: process.py, source: "file://tools.py", method: agent}
  - {name: caller, kind: process.py, source: "file://tools.py", method: caller}
  - {name: slow, kind: function.py, source: "file://fn.py", method: slow}
"""

SVC = """
from wippy import process
VERSION = "one"
async def main(tag):
    await process.registry.register("svc-" + tag)
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        process.send(msg.sender, "version", [VERSION, process.pid()])
"""

OTHER = SVC.replace('VERSION = "one"', 'VERSION = "other"')

TOOLS = """
import wippy
from wippy import process, registry, events, funcs

async def watcher(parent, n):
    sub = events.subscribe("registry")
    process.send(parent, "subscribed", True)
    got = []
    while len(got) < n:
        ev = await sub.channel().receive()
        got.append([ev["kind"], ev["path"], ev.get("data", {}).get("data")])
    return got

async def applier(i):
    snap = registry.snapshot()
    v = await snap.changes().create({"id": f"app:made{i}", "kind": "registry.entry", "data": {"i": i}}).apply()
    seen = registry.get(f"app:made{i}")["data"]["i"]      # read your writes
    return [int(v), seen]

async def agent():
    out = {}
    try:
        await registry.snapshot().changes().create(
            {"id": "app:evil", "kind": "process.py", "data": {"source": "import os", "method": "main"}}).apply()
        out["inline_python"] = "accepted"
    except wippy.RegistryError as exc:
        out["inline_python"] = str(exc)
    try:
        await registry.snapshot().changes().create(
            {"id": "app:svc_x", "kind": "process.service", "data": {"process": "app.w:nothing", "host": "app:main"}}).apply()
        out["dangling"] = "accepted"
    except wippy.RegistryError as exc:
        out["dangling"] = str(exc)
    out["version"] = int(registry.current_version())
    out["find"] = [e["id"] for e in registry.find({".kind": "registry.entry", "meta.team": "blue"})]
    out["find_bare"] = [e["id"] for e in registry.find({"kind": "registry.entry", "ns": "app",
                                                        "name": "settings"})]
    out["history"] = len(registry.history())
    return out

async def caller(parent):
    return await funcs.async_("app.w:slow", 1.0, parent)
"""

FN = """
from wippy import process, time
async def slow(d, parent=None):
    if parent:
        process.send(parent, "started", True)    # sent from inside the running (old) code
    await time.sleep(d)
    return "old"
"""


@pytest.fixture
def app(app_dir):
    write_app(app_dir, {"config/_index.yaml": CONFIG, "workers/_index.yaml": WORKERS,
                        "workers/svc.py": SVC, "workers/other.py": OTHER, "workers/tools.py": TOOLS,
                        "workers/fn.py": FN})
    return app_dir


def edit(path: str, text: str) -> None:
    """Write like an editor does: a new file moved over the old one."""
    tmp = path + ".tmp~"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def ask(node, name):
    node.send(name, "which", None)
    return node.receive(timeout=5).payload


def test_api_changes_are_validated_committed_and_seen_by_subscribers(app):
    with wippy.Node(app) as node:
        v0 = node.registry.current_version()
        watcher = node.spawn("app.w:watcher", "app:pool", node.pid, 3, monitor=True)
        assert node.receive(timeout=5).topic == "subscribed"
        results = [node.exec("app.w:applier", "app:main", i, timeout=10) for i in range(3)]
        assert [r[1] for r in results] == [0, 1, 2]
        assert sorted(r[0] for r in results) == [int(v0) + 1, int(v0) + 2, int(v0) + 3]
        got = node.wait_exit(watcher, timeout=10)
        assert got == [["entry.create", f"app:made{i}", {"i": i}] for i in range(3)]
        out = node.exec("app.w:agent", "app:main", timeout=10)
        assert "inline Python source is refused" in out["inline_python"]
        assert "app.w:nothing" in out["dangling"]
        assert out["version"] == int(v0) + 3           # rejected changes add no version
        assert out["find"] == ["app:settings"]
        assert out["find_bare"] == ["app:settings"]       # Wippy's unprefixed keys


def test_concurrent_appliers_get_contiguous_versions(app):
    with wippy.Node(app) as node:
        v0 = int(node.registry.current_version())
        pids = [node.spawn("app.w:applier", "app:main" if i % 2 else "app:pool", i, monitor=True)
                for i in range(20)]
        versions = sorted(node.wait_exit(p, timeout=20)[0] for p in pids)
        assert versions == list(range(v0 + 1, v0 + 21))
        assert [h["version"] for h in node.registry.history()] == list(range(0, v0 + 21))


def test_editing_files_applies_one_version_and_restarts_only_the_changed_service(app):
    with wippy.Node(app) as node:
        a1 = wait_until(lambda: _try_ask(node, "svc-a"), 10, what="svc_a")
        b1 = ask(node, "svc-b")
        assert a1[0] == "one"
        watcher = node.spawn("app.w:watcher", "app:pool", node.pid, 2, monitor=True)
        assert node.receive(timeout=5).topic == "subscribed"
        v0 = int(node.registry.current_version())
        edit(os.path.join(app, "workers/svc.py"), SVC.replace('"one"', '"two"'))
        edit(os.path.join(app, "config/_index.yaml"), CONFIG.replace("level: 1", "level: 2"))
        got = node.wait_exit(watcher, timeout=15)
        kinds = sorted((k, p) for k, p, _ in got)
        assert kinds == [("entry.update", "app.w:service"), ("entry.update", "app:settings")]
        assert int(node.registry.current_version()) == v0 + 1     # both edits: one version
        assert node.registry.get("app:settings")["data"]["level"] == 2
        a2 = wait_until(lambda: (r := _try_ask(node, "svc-a")) and r[0] == "two" and r, 10,
                        what="svc_a on new code")
        assert a2[1] != a1[1]                          # restarted: new PID
        assert ask(node, "svc-b") == b1                # untouched


def _try_ask(node, name):
    try:
        node.send(name, "which", None)
    except wippy.ProcessNotFound:
        return None
    msg = node.receive(timeout=2)
    return msg.payload if msg else None


def test_an_invalid_edit_is_reported_and_the_running_version_stays(app):
    log = open(os.path.join(app, "node.log"), "w+")
    with wippy.Node(app, stderr=log) as node:
        v0 = int(node.registry.current_version())
        edit(os.path.join(app, "config/_index.yaml"), CONFIG.replace("level: 1", "level: [1"))
        wait_until(lambda: "config/_index.yaml:" in open(log.name).read(), 10, what="the error report")
        assert int(node.registry.current_version()) == v0
        assert node.registry.get("app:settings")["data"]["level"] == 1
        edit(os.path.join(app, "config/_index.yaml"), CONFIG.replace("level: 1", "level: 3"))
        wait_until(lambda: node.registry.get("app:settings")["data"]["level"] == 3, 10,
                   what="the fixed edit")
        assert int(node.registry.current_version()) == v0 + 1


def test_host_workers_rescale_live_without_touching_other_hosts(app):
    with wippy.Node(app) as node:
        def pool():
            return sorted(h["os_pid"] for h in node.ps()["hosts"] if h["host"] == "app:pool" and h["state"] == "ready")
        main_before = [h["os_pid"] for h in node.ps()["hosts"] if h["host"] == "app:main"]
        before = pool()
        assert len(before) == 1
        edit(os.path.join(app, "config/_index.yaml"), CONFIG.replace("workers: 1", "workers: 3"))
        grown = wait_until(lambda: len(pool()) == 3 and pool(), 15, what="3 pool workers")
        assert before[0] in grown
        edit(os.path.join(app, "config/_index.yaml"), CONFIG.replace("workers: 1", "workers: 2"))
        wait_until(lambda: len(pool()) == 2, 15, what="2 pool workers")
        assert before[0] in pool()
        assert [h["os_pid"] for h in node.ps()["hosts"] if h["host"] == "app:main"] == main_before


def test_function_calls_in_flight_finish_on_old_code_and_new_calls_get_the_new(app):
    with wippy.Node(app) as node:
        pid = node.spawn("app.w:caller", "app:main", node.pid, monitor=True)
        assert node.receive(timeout=5).topic == "started"
        v0 = int(node.registry.current_version())
        edit(os.path.join(app, "workers/fn.py"), FN.replace('"old"', '"new"'))
        assert node.wait_exit(pid, timeout=10) == "old"
        wait_until(lambda: int(node.registry.current_version()) > v0, 10, what="the reload")
        assert node.call("app.w:slow", 0, host="app:main", timeout=10) == "new"


def test_rollback_and_registry_commands(app):
    with wippy.Node(app) as node:
        v0 = int(node.registry.current_version())
        node.registry.snapshot().changes().update(
            {"id": "app:settings", "kind": "registry.entry", "meta": {"team": "red"}, "data": {"level": 9}}).apply()
        r = run_wippy(["registry", "--app", app, "diff", str(v0), str(v0 + 1)])
        assert r.returncode == 0 and "~ app:settings" in r.stdout and '"level": 9' in r.stdout
        r = run_wippy(["registry", "--app", app, "rollback", f"v{v0}"])
        assert r.returncode == 0, r.stderr
        assert node.registry.get("app:settings")["data"]["level"] == 1
        assert int(node.registry.current_version()) == v0 + 2
        r = run_wippy(["registry", "--app", app, "history"])
        assert f"apply_version v{v0}" in r.stdout
        r = run_wippy(["registry", "--app", app, "show", "app:settings"])
        assert '"level": 1' in r.stdout
    # read-only against the stopped node's data directory
    r = run_wippy(["registry", "--app", app, "list"])
    assert r.returncode == 0 and "app:settings" in r.stdout and f"registry v{v0 + 2}" in r.stdout
    r = run_wippy(["registry", "--app", app, "rollback", "0"])
    assert r.returncode == 1 and "not running" in r.stderr


def test_kill_9_of_the_node_during_applies_leaves_a_consistent_registry(app):
    for attempt in range(3):
        node = wippy.Node(app)
        node.start()
        deadline = time.monotonic() + 0.3 + attempt * 0.2
        i = 0
        try:
            while time.monotonic() < deadline:
                node.registry.snapshot().changes().create(
                    {"id": f"app:k{attempt}_{i}", "kind": "registry.entry", "data": {"i": i}}).apply()
                i += 1
            # one more apply in flight while the node dies
            node._ctl.send(wire.dumps(protocol.request(999999, protocol.ReqOp.REGISTRY_APPLY, (
                [{"op": "create", "entry": {
                    "id": f"app:last{attempt}", "kind": "registry.entry", "meta": {}, "data": {}}}],))))
            os.kill(node.process.pid, signal.SIGKILL)
            node.process.wait(10)
        finally:
            node.close()
            node.process = None
        store = Store(os.path.join(app, ".wippy", "data", "registry"), readonly=True)
        v = store.version()
        assert [h["version"] for h in store.history()] == list(range(v + 1))
        assert store.snapshot_at(v) == store.entries()
        store.close()
