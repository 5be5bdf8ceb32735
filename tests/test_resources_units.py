"""The pure parts of S13's resources: the memory store, the memory queue, the pool's backoff,
the query builder, placeholders, SQL placeholders for PostgreSQL, metric merging."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from wippy.errors import ResourceError
from wippy import metrics as wippy_metrics
from wippy.observe.metrics import Metrics, merge
from wippy.resources import envvars, sqlbuilder as b
from wippy.resources.kv import MemoryKV
from wippy.resources.mqueue import MemoryQueue, redelivery_delay
from wippy.resources.pool import Pool, reconnect_delay
from wippy.resources.sqldrivers import pg_placeholders

pytestmark = pytest.mark.timeout(10)


def test_memory_store_put_with_a_stale_version_is_a_conflict() -> None:
    kv = MemoryKV()
    first = kv.put("config", {"v": 1}, now=0)
    kv.put("config", {"v": 2}, now=1, if_version=first["version"])
    with pytest.raises(ResourceError) as err:
        kv.put("config", {"v": 3}, now=2, if_version=first["version"])
    assert err.value.kind == "CONFLICT"
    assert kv.get("config", 3) == (True, {"v": 2})


def test_memory_store_only_if_absent_refuses_a_present_key() -> None:
    kv = MemoryKV()
    kv.put("lock", "a", now=0, only_if_absent=True)
    with pytest.raises(ResourceError) as err:
        kv.put("lock", "b", now=0, only_if_absent=True)
    assert err.value.kind == "ALREADY_EXISTS"


def test_memory_store_ttl_expires_keys_by_the_clock_given() -> None:
    kv = MemoryKV()
    kv.set("s", 1, now=0, ttl=10)
    assert kv.has("s", 9.9) and not kv.has("s", 10)
    assert kv.put("s", 2, now=11, only_if_absent=True)["value"] == 2


def test_memory_store_lists_in_key_order_with_a_cursor() -> None:
    kv = MemoryKV()
    for k in ("b:2", "a:1", "b:1", "b:3", "c"):
        kv.set(k, k, now=0)
    page = kv.list(0, prefix="b:", limit=2)
    assert [i["key"] for i in page["items"]] == ["b:1", "b:2"] and page["has_more"]
    rest = kv.list(0, prefix="b:", after=page["cursor"], limit=2)
    assert [i["key"] for i in rest["items"]] == ["b:3"] and not rest["has_more"]


def test_memory_store_full_refuses_new_keys_only() -> None:
    kv = MemoryKV(max_size=1)
    kv.set("a", 1, now=0)
    kv.set("a", 2, now=0)
    with pytest.raises(ResourceError):
        kv.set("b", 1, now=0)


def test_a_nacked_message_waits_a_growing_delay_before_it_is_ready_again() -> None:
    q = MemoryQueue("q")
    q.publish({"n": 1})
    m = q.take(0)
    assert m is not None and m.attempts == 1
    q.nack(m.id, now=0)
    assert q.take(0) is None                      # not at once: no tight loop
    again = q.take(redelivery_delay(1))
    assert again is not None and again.attempts == 2
    assert redelivery_delay(2) > redelivery_delay(1) and redelivery_delay(40) == 5.0


def test_a_message_past_max_attempts_is_returned_for_the_dead_letter_queue() -> None:
    q = MemoryQueue("q", max_attempts=1)
    q.publish("x")
    m = q.take(0)
    assert m is not None
    assert q.nack(m.id, 0) is m and q.waiting() == 0


def test_a_full_memory_queue_refuses_with_a_retryable_error() -> None:
    q = MemoryQueue("q", max_length=1)
    q.publish(1)
    with pytest.raises(ResourceError) as err:
        q.publish(2)
    assert err.value.kind == "UNAVAILABLE" and err.value.retryable


def test_a_pool_that_cannot_connect_fails_callers_at_once_until_its_backoff_passes() -> None:
    now = [0.0]
    calls = []

    def connect() -> object:
        calls.append(now[0])
        raise OSError("connection refused")
    pool = Pool("app:db", connect, lambda raw: None, max_open=2, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(ResourceError) as err:
            pool.acquire()
        assert err.value.kind == "UNAVAILABLE" and "app:db" in str(err.value)
    assert calls == [0.0]                        # one try; the others failed fast
    now[0] = reconnect_delay(1)
    with pytest.raises(ResourceError):
        pool.acquire()
    assert len(calls) == 2 and reconnect_delay(2) == 2 * reconnect_delay(1)


def test_a_closed_pool_closes_connections_in_use_when_they_come_back() -> None:
    closed = []
    pool = Pool("app:db", object, closed.append, max_open=0)
    conn = pool.acquire()
    pool.close()
    assert not closed
    pool.release(conn)
    assert closed == [conn.raw]


def test_builder_renders_wippys_select_and_insert() -> None:
    q = (b.select("id", "status").from_("tasks").where({"status": "done", "x": None})
         .order_by("created_at DESC").limit(100))
    assert q.render() == ("SELECT id, status FROM tasks WHERE status = ? AND x IS NULL "
                          "ORDER BY created_at DESC LIMIT 100", ["done"])
    ins = b.insert("t").add_columns("a", "b").values(1, b.NULL)
    assert ins.render(b.Placeholder.DOLLAR) == ("INSERT INTO t (a,b) VALUES ($1,$2)", [1, None])
    cond = b.or_([b.compare("gt", {"score": 80}), b.expr("name LIKE ?", "a%")])
    assert b.delete("u").where(cond).render() == (
        "DELETE FROM u WHERE (score > ?) OR (name LIKE ?)", [80, "a%"])


def test_builder_steps_leave_the_original_unchanged() -> None:
    base = b.select("*").from_("t")
    base.where({"a": 1})
    assert base.render() == ("SELECT * FROM t", [])


def test_builder_sql_runs_on_sqlite() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b)")
    db.execute(*b.insert("t").add_columns("a", "b").values(1, "x").values(2, "y").render())
    sql, args = b.select("b").from_("t").where(b.compare("gte", {"a": 2})).render()
    assert db.execute(sql, args).fetchall() == [("y",)]


def test_postgres_placeholders_become_psycopgs_outside_quotes() -> None:
    sql, args = pg_placeholders("SELECT '$1 ?', $2, $1, 5 % 2 -- $3\n", ["a", "b"])
    assert sql == "SELECT '$1 ?', %s, %s, 5 %% 2 -- $3\n" and args == ["b", "a"]
    with pytest.raises(ResourceError):
        pg_placeholders("SELECT $2", ["a"])


def test_placeholders_resolve_through_variables_with_inline_defaults() -> None:
    class Store:
        def version(self) -> int:
            return 1

        def entries(self) -> dict:
            return {"app:os": {"id": "app:os", "kind": "env.storage.os", "data": {}},
                    "app:host": {"id": "app:host", "kind": "env.variable",
                                 "data": {"variable": "DB_HOST", "storage": "app:os",
                                          "default": "db.local"}}}

    async def request(*a: object) -> None:
        raise AssertionError("no memory storage here")

    async def go() -> object:
        return await envvars.resolve(Store(), {"host": "${env:DB_HOST}", "port": "${env:NOPE|5432}",
                                               "lit": "$${env:X}"}, request, "entry app:db")
    assert asyncio.run(go()) == {"host": "db.local", "port": "5432", "lit": "${env:X}"}


def test_metrics_merge_sums_counters_and_inc_dec_gauges_and_takes_the_last_set() -> None:
    a, b_ = Metrics(clock=lambda: 100.0), Metrics(clock=lambda: 200.0)
    a.counter_add("orders_total", 2, {"status": "ok"})
    a.gauge_inc("pending")
    a.histogram("d", 0.2)
    b_.gauge_set("depth", 7)
    b_.gauge_inc("pending")
    merged = {(s["name"], tuple(sorted(s["labels"].items()))): s
              for s in merge([a.snapshot(), a.snapshot(), b_.snapshot()])}
    assert merged[("orders_total", (("status", "ok"),))]["value"] == 4
    assert merged[("pending", ())]["value"] == 3        # inc/dec only: every share adds up
    assert merged[("depth", ())]["value"] == 7
    c = Metrics(clock=lambda: 300.0)
    c.gauge_set("pending", 10)                          # once set, the latest set wins
    again = {s["name"]: s for s in merge([a.snapshot(), c.snapshot()])}
    assert again["pending"]["value"] == 10
    with pytest.raises(ResourceError):
        wippy_metrics.counter_add("orders_total", -1)




def test_a_placeholder_in_an_http_service_addr_is_kept_raw_for_the_node_to_resolve() -> None:
    from wippy.registry.kinds import validate
    checked = validate("http.service", {"addr": "${env:HTTP_ADDR|:8080}"}, "app")
    assert checked.errors == []
    assert checked.data["addr"] == "${env:HTTP_ADDR|:8080}"
    assert [p.field for p in validate("http.service", {"addr": "${nope"}, "app").errors] == ["addr"]


def test_resolve_now_runs_the_resolver_to_its_end_without_a_process() -> None:
    async def request(family: str, op: str, *a: object) -> object:
        return None
    assert envvars.resolve_now(None, "at ${env:WIPPY_T_UNSET_X|:9000}", request) == "at :9000"
    with pytest.raises(ResourceError) as err:
        envvars.resolve_now(None, "${env:WIPPY_T_UNSET_X}", request, "field 'addr'")
    assert "field 'addr'" in str(err.value)
