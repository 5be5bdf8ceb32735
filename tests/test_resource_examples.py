"""Wippy's resource examples, unchanged, run as a new user would: 14-task-queue (HTTP, a memory
queue with 500 workers, SQLite through the query builder), 15-env-variables (-x on the
terminal host), 16-metrics (HTTP and the metrics module), 18-mass-spawn (env variables read
from the OS, with a smaller NUM_WORKERS)."""
from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

from conftest import run_wippy, wait_until
from httpkit import Served, copy_example, serve
from wippy.observe import metrics as _metrics
from wippy.observe.prom import exposition

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def example(request: pytest.FixtureRequest, app_dir: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    yield from serve(copy_example(request.param, app_dir), monkeypatch)


@pytest.mark.parametrize("example", ["14-task-queue"], indirect=True)
def test_task_queue_processes_tasks_in_the_background_and_lists_them(example: Served) -> None:
    ids = []
    for body in ({"action": "uppercase", "data": {"text": "hello world"}},
                 {"action": "sum", "data": {"numbers": [1, 2, 3, 4, 5]}},
                 {"action": "cleanup", "data": {"target": "/tmp"}}):
        r = example.post("/tasks", body)
        assert r.status == 202 and r.json()["status"] == "queued", r
        ids.append(r.json()["id"])
    listed = wait_until(lambda: (lambda t: t if t["count"] == 3 else None)(
        example.get("/tasks?status=completed").json()), 15, what="three completed tasks")
    results = {t["id"]: t["result"] for t in listed["tasks"]}
    assert results[ids[0]] == '{"output":"HELLO WORLD"}'
    assert results[ids[1]] == '{"output":15}'
    assert example.post("/tasks", {"data": {}}).json() == {"error": "action required"}
    assert "migration complete" in example.log()


@pytest.mark.parametrize("example", ["16-metrics"], indirect=True)
def test_metrics_example_counts_orders_into_the_status(example: Served) -> None:
    assert example.get("/api/health").json() == {"status": "ok"}
    r = example.post("/api/orders", {"item": "laptop", "amount": 2, "price": 999.99})
    assert r.status == 201 and r.json()["order"]["total"] == pytest.approx(1999.98)
    assert example.post("/api/orders", {}).status == 400
    assert example.get("/api/stats").status == 200

    def series() -> dict:
        status = example.node.status()
        merged = _metrics.merge(h.get("metrics") for h in status["hosts"])
        return {(s["name"], tuple(sorted(s["labels"].items()))): s for s in merged}
    m = wait_until(lambda: (lambda x: x if ("orders_total", (("status", "error"),)) in x
                            else None)(series()), 5)
    assert m[("orders_total", (("status", "ok"),))]["value"] == 1.0
    assert m[("orders_total", (("status", "error"),))]["value"] == 1.0
    assert m[("revenue_total", (("item", "laptop"),))]["value"] == pytest.approx(1999.98)
    assert m[("orders_pending", ())]["value"] == 0
    text = exposition(example.node.status()).decode()     # what /metrics serves
    assert 'request_duration_seconds_count{endpoint="create_order",status="ok"} 1.0' in text


def test_env_variables_example_runs_on_the_terminal_host(app_dir: str) -> None:
    app = copy_example("15-env-variables", app_dir)
    r = run_wippy(["run", app, "-x", "app:cli"], cwd=app)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "APP_NAME    = Wippy Env Demo" in out and "PORT        = 8080" in out
    assert "LOG_LEVEL   = debug" in out and "GREETING    = casual" in out
    # Wippy's runtime reads `readonly`; the example's `read_only` is ignored there and here
    assert "field 'read_only': unknown field, ignored (Wippy's runtime reads 'readonly'" in r.stderr


def test_mass_spawn_reads_its_settings_from_the_os_environment(app_dir: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import wippy
    app = copy_example("18-mass-spawn", app_dir)
    monkeypatch.setenv("NUM_WORKERS", "50")
    monkeypatch.setenv("STATS_INTERVAL", "200ms")
    log_path = os.path.join(app, "node.log")
    with open(log_path, "w") as fh:
        with wippy.Node(app, log_level="INFO", stderr=fh, stop_timeout=5):
            wait_until(lambda: "alive=50" in open(log_path).read(), 30,
                       what="the spawner's stats with 50 workers alive")
    assert "num_workers=50" in open(log_path).read()
