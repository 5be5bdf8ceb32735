"""Wippy's HTTP examples, unchanged, run as a new user would: copy the directory, ``wippy run``
(with the listen address moved to a free port of 127.0.0.1), then real HTTP requests."""
from __future__ import annotations

from typing import Iterator

import pytest

from conftest import wait_until
from httpkit import Served, copy_example, serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def example(request: pytest.FixtureRequest, app_dir: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    yield from serve(copy_example(request.param, app_dir), monkeypatch)


@pytest.mark.parametrize("example", ["http-hello-world"], indirect=True)
def test_hello_world_answers_json_from_a_lua_function(example: Served) -> None:
    r = example.get("/hello")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "hello world"}
    assert example.get("/nowhere").status == 404
    assert example.post("/hello", {}).status == 405


@pytest.mark.parametrize("example", ["http-async-task"], indirect=True)
def test_async_task_answers_202_and_its_coroutine_keeps_working(example: Served) -> None:
    r = example.post("/api/tasks", {"name": "generate-report", "duration": 1})
    assert r.status == 202, r
    body = r.json()
    assert body["name"] == "generate-report" and body["status"] == "accepted"
    assert body["task_id"].startswith("task_")
    wait_until(lambda: "Task completed" in example.log(), 15,
               what="the background coroutine to finish after the answer")
    assert "Task progress" in example.log()
    bad = example.post("/api/tasks", "not-json", headers={"Content-Type": "application/json"})
    assert (bad.status, bad.json()) == (400, {"error": "Invalid JSON"})
    missing = example.post("/api/tasks", {"duration": 5})
    assert missing.status == 400 and "name" in missing.json()["error"]


@pytest.mark.parametrize("example", ["http-spawn"], indirect=True)
def test_http_spawn_starts_a_worker_process_per_task(example: Served) -> None:
    r = example.post("/api/tasks", {"name": "alpha", "duration": 1})
    assert r.status == 202, r
    body = r.json()
    assert body["status"] == "spawned" and body["pid"].startswith("{app:processes/")
    wait_until(lambda: "Worker done, exiting" in example.log(), 15,
               what="the spawned worker to finish")


@pytest.mark.parametrize("example", ["shop"], indirect=True)
def test_shop_carts_are_actors_and_checkout_fans_out_to_services(example: Served) -> None:
    products = example.get("/api/products").json()["products"]
    assert {p["sku"] for p in products} == {"LAPTOP-001", "KB-002", "MOUSE-003", "MON-004",
                                            "HP-005"}
    add = example.post("/api/cart/alice/items", {"sku": "LAPTOP-001", "quantity": 1})
    assert add.status == 200 and add.json()["item"]["title"] == "Laptop Pro 16"
    # the cart registers its name asynchronously: the second add must find it, not a twin
    wait_until(lambda: example.node.lookup("cart:alice"), 10, what="cart:alice to register")
    assert example.post("/api/cart/alice/items", {"sku": "KB-002", "quantity": 2}).status == 200
    assert example.post("/api/cart/bob/items", {"sku": "MOUSE-003"}).status == 200
    assert example.post("/api/cart/alice/items", {"sku": "NOPE"}).status == 404

    def two_items() -> dict | None:
        c = example.get("/api/cart/alice").json()
        return c if len(c.get("items", [])) == 2 else None
    cart = wait_until(two_items, 10, what="alice's two items")
    assert cart["total"] == pytest.approx(1499.99 + 2 * 149.99)

    done = example.post("/api/cart/alice/checkout")
    assert done.status == 200, done
    assert done.json()["status"] == "checked_out"
    assert done.json()["order"]["user_id"] == "alice"
    wait_until(lambda: "DELIVERY: Package dispatched for user alice" in example.log(), 10,
               what="the delivery service to get the checkout event")
    wait_until(lambda: "EMAIL: Sent successfully to alice@example.com" in example.log(), 10,
               what="the notifier service to get the checkout event")
    wait_until(lambda: example.node.lookup("cart:alice") is None, 10,
               what="alice's cart process to exit")
    after = example.get("/api/cart/alice").json()
    assert after["items"] == [] and "no active session" in after["message"]
    assert example.get("/api/cart/bob").json()["items"][0]["sku"] == "MOUSE-003"
    assert example.post("/api/cart/carol/checkout").status == 400
