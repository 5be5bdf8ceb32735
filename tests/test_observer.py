"""The web observer against a real node (`wippy run --observe`): its JSON, /metrics with the
runtime's and the application's metrics, the registry's versions and diffs, workflows and
their journals, writes refused without the token and done with it, a kill -9'd observer
restarted on the same address, an address in use at boot. Real OS processes and sockets."""
from __future__ import annotations

import os
import signal
import socket
from typing import Any, Iterator

import pytest

from conftest import run_wippy, wait_until, write_app
from httpkit import fetch
from observekit import FILES, TOKEN, Observed, metric, observed, wait_json

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def ob(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    mp = pytest.MonkeyPatch()
    root = str(tmp_path_factory.mktemp("obs", numbered=True))
    try:
        yield from observed(root, mp)
    finally:
        mp.undo()


def test_the_ready_information_names_the_bound_address(ob: Observed) -> None:
    assert ob.node.observe_addr == f"127.0.0.1:{ob.port}" and ob.port != 0
    assert f"observer: http://127.0.0.1:{ob.port}/" in ob.log()
    status = ob.node.status(processes=False)
    assert status["node"]["observe"]["addr"] == ob.node.observe_addr
    assert status["node"]["observe"]["state"] == "ready"
    ps = run_wippy(["ps", ob.node.app_dir])
    assert f"observer http://127.0.0.1:{ob.port}/" in ps.stdout
    assert "operator actions with the token" in ps.stdout


def test_the_status_shows_the_process_tree(ob: Observed) -> None:
    st = wait_json(ob, "/api/status?processes=1",
                   lambda s: any(p["entry"] == "app:counter_proc" for h in s["hosts"]
                                 for p in h.get("processes", [])), what="the counter process")
    hosts = {h["host"] for h in st["hosts"]}
    assert {"app:processes", "app:flows"} <= hosts
    assert all(h["state"] == "ready" and h["os_pid"] > 0 for h in st["hosts"])
    svc = {s["id"]: s for s in st["services"]}["app:counter"]
    assert svc["state"] == "Running" and svc["pid"]
    assert st["node"]["http"][0]["service"] == "app:gw"


def test_metrics_hold_the_runtime_and_the_application_metrics(ob: Observed) -> None:
    assert fetch(ob.http_port, "GET", "/hello").json() == {"hello": "observer"}
    assert ob.node.workflow_result(ob.node.workflow_start("app:quick", 21), timeout=30) == 42

    def scrape() -> str | None:
        r = ob.get("/metrics")
        text = r.body.decode()
        ready = (r.status == 200 and (metric(text, "jobs_done_total", kind="demo") or 0) > 0
                 and (metric(text, "wippy_http_requests_total", router="app:api") or 0) >= 1
                 and (metric(text, "wippy_workflow_steps_total") or 0) >= 1)
        return text if ready else None

    text = wait_until(scrape, 20, interval=0.2, what="a scrape with every kind of metric")
    assert (metric(text, "wippy_messages_in_total", host="app:processes") or 0) > 0
    assert (metric(text, "wippy_processes", host="app:processes") or 0) >= 1
    assert metric(text, "wippy_service_restarts_total", service="app:counter") == 0
    assert metric(text, "wippy_host_restarts_total", host="app:flows", slot="0") == 0
    assert metric(text, "wippy_registry_version") is not None
    assert metric(text, "wippy_policy_denials_total", host="node") == 0
    assert metric(text, "wippy_http_requests_total", service="app:gw", router="app:api",
                  method="GET", status="200") >= 1
    assert metric(text, "queue_depth") is not None
    assert (metric(text, "job_seconds_count") or 0) > 0


def test_registry_versions_come_with_their_authors_and_diffs(ob: Observed) -> None:
    before = ob.get("/api/registry").json()["version"]
    entry = ob.node.registry.get("app:settings")
    assert entry["data"]["data"] == {"rate": 5, "mode": "calm"}     # a registry.entry's `data:`
    new = ob.node.registry.snapshot().changes().update(
        {**entry, "data": {**entry["data"], "data": {"rate": 9, "mode": "calm"}}}).apply()
    reg = wait_json(ob, "/api/registry", lambda r: r["version"] == int(new))
    newest = reg["history"][0]
    assert newest["version"] == int(new) and newest["author"] == {"via": "api"}
    assert newest["updated"] == ["app:settings"]
    assert reg["history"][-1]["author"]["files"] == ["_index.yaml"]
    assert reg["total"] == len(reg["history"])
    assert [h["version"] for h in ob.get("/api/registry?limit=1").json()["history"]] == [int(new)]
    diff = ob.get(f"/api/registry/diff?from={before}&to={int(new)}").json()
    [change] = diff["changes"]
    assert (change["op"], change["id"]) == ("update", "app:settings")
    assert change["fields"] == [{"field": "data.data", "before": {"rate": 5, "mode": "calm"},
                                 "after": {"rate": 9, "mode": "calm"},
                                 "added": False, "removed": False}]
    assert diff["author"] == {"via": "api"}
    assert ob.get("/api/registry/diff?from=0&to=999").status == 404


def test_workflows_are_listed_with_their_journals(ob: Observed) -> None:
    pid = ob.node.workflow_start("app:waiter", 2, name="journal-demo")
    ob.node.send(pid, "sig", {"n": 1})
    rows = wait_json(ob, "/api/workflows",
                     lambda r: any(w["name"] == "journal-demo" for w in r["workflows"]))
    row = next(w for w in rows["workflows"] if w["name"] == "journal-demo")
    assert row["status"] == "running" and row["entry"] == "app:waiter"
    assert rows["total"] >= 1 and rows["running"] >= 1
    w = wait_json(ob, "/api/workflows/journal-demo", lambda w: len(w["signals"]) == 1)
    assert w["pid"] == pid and w["signals"][0]["topic"] == "sig"
    assert w["signals"][0]["payload"] == {"n": 1}
    quick = next(x for x in ob.get("/api/workflows").json()["workflows"] if x["entry"] == "app:quick")
    journal = ob.get(f"/api/workflows/{quick['id']}").json()
    assert journal["status"] == "completed" and journal["result"] == 42
    assert [s["op"] for s in journal["steps"]][:1] == ["call"]
    assert journal["steps"][0]["result"] == 42
    assert ob.get("/api/workflows/no-such-thing").status == 404


def test_writes_without_the_token_are_403(ob: Observed) -> None:
    pid = ob.node.workflow_start("app:waiter", 5, name="keep-running")
    version = ob.get("/api/registry").json()["version"]
    svc_pid = ob.get("/api/status").json()["services"][0]["pid"]
    for path, body in (("/api/workflows/keep-running/cancel", {}),
                       ("/api/registry/rollback", {"version": 0}),
                       ("/api/processes/terminate", {"pid": svc_pid})):
        for token in (None, "wrong"):
            r = ob.post(path, body, token=token)
            assert r.status == 403, (path, r)
            assert r.json()["access"] == "no-token"
    r = ob.post("/api/registry/rollback", {"version": 0}, token=TOKEN,
                headers={"Origin": "https://elsewhere.example"})
    assert r.status == 403 and r.json()["access"] == "cross-site"
    assert ob.get("/api/registry").json()["version"] == version
    assert ob.get("/api/workflows/keep-running").json()["status"] == "running"
    assert ob.node.status(processes=False)["services"][0]["pid"] == svc_pid
    assert pid


def test_writes_with_the_token_are_done(ob: Observed) -> None:
    wait_json(ob, "/api/workflows/keep-running", lambda w: w["status"] == "running")
    r = ob.post("/api/workflows/keep-running/cancel", token=TOKEN)
    assert r.status == 200, r
    wait_json(ob, "/api/workflows/keep-running", lambda w: w["status"] == "cancelled",
              what="the workflow cancelled")

    r = ob.post("/api/registry/rollback", {"version": 0}, token=TOKEN)
    assert r.status == 200, r
    new = r.json()["version"]
    reg = wait_json(ob, "/api/registry", lambda x: x["version"] == new)
    assert reg["history"][0]["author"] == {"via": "observer"}
    assert ob.node.registry.get("app:settings")["data"]["data"]["rate"] == 5

    old = ob.get("/api/status").json()["services"][0]
    r = ob.post("/api/processes/terminate", {"pid": old["pid"]}, token=TOKEN)
    assert r.status == 200, r
    svc = wait_json(ob, "/api/status", lambda s: s["services"][0]["restarts"] >= 1
                    and s["services"][0]["state"] == "Running", what="the service restarted")
    assert svc["services"][0]["pid"] != old["pid"]
    assert "terminated by the operator" in ob.log()


def test_a_killed_observer_is_restarted_on_the_same_address(
        app_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a node of its own: the restarted observer is a new OS process of that node
    for obs in observed(app_dir, monkeypatch):
        before = obs.node.status(processes=False)["node"]["observe"]
        os.kill(before["os_pid"], signal.SIGKILL)

        def back() -> Any:
            o = obs.node.status(processes=False)["node"]["observe"]
            return o if o["state"] == "ready" and o["os_pid"] != before["os_pid"] else None

        after = wait_until(back, 20, what="the observer restarted")
        assert after["restarts"] == before["restarts"] + 1 and after["addr"] == before["addr"]
        st = wait_json(obs, "/api/status", lambda s: True, what="the restarted observer answering")
        assert st["node"]["observe"]["os_pid"] == after["os_pid"]
        assert "died: killed by SIGKILL" in obs.log()


def test_without_a_token_the_observer_is_read_only(app_dir: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for obs in observed(app_dir, monkeypatch, token=None):
        auth = obs.get("/api/auth").json()
        assert auth == {**auth, "writable": False, "authorized": False, "access": "read-only"}
        r = obs.post("/api/registry/rollback", {"version": 0}, token="anything")
        assert r.status == 403 and "read-only" in r.json()["error"]
        assert obs.node.status(processes=False)["node"]["observe"]["writable"] is False
        assert "read-only (no --observe-token)" in obs.log()


def test_an_address_in_use_stops_the_boot_naming_it(app_dir: str) -> None:
    app = write_app(os.path.join(app_dir, "app"), FILES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_wippy(["run", app, "--observe", f"127.0.0.1:{port}"], timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"wippy: the observer cannot listen on 127.0.0.1:{port}: address already in use" in r.stderr
    assert "node ready" not in r.stderr


def test_a_malformed_address_is_a_usage_error(app_dir: str) -> None:
    r = run_wippy(["run", app_dir, "--observe", "nowhere:port"])
    assert r.returncode == 2 and "expected HOST:PORT or PORT" in r.stderr
