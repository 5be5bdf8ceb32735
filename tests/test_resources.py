"""S13's resources in a real node: SQLite shared by the host OS processes, a live swap of a
database entry, store.memory shared node-wide with Wippy's CONFLICT, a queue whose raising
handler is redelivered, read-only environment variables, metrics in the status, a bad DSN."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

import wippy
from conftest import wait_until, write_app
from wippy.errors import ConfigError, ProcessFailed
from wippy.registry import loader
from wippy.observe import metrics as _metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = {
    "src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: a, kind: process.host}
          - {name: b, kind: process.host}
          - {name: db, kind: db.sql.sqlite, file: ":memory:"}
          - {name: disk, kind: db.sql.sqlite, file: data/one.db}
          - {name: cache, kind: store.memory}
          - {name: kv, kind: store.sql, database: app:db, table_name: kv}
          - {name: drv, kind: queue.driver.memory}
          - {name: jobs, kind: queue.queue, driver: app:drv}
          - {name: worker, kind: queue.consumer, queue: app:jobs, func: app:handle,
             concurrency: 2, host: app:b}
          - {name: mem, kind: env.storage.memory}
          - {name: os, kind: env.storage.os}
          - {name: mode, kind: env.variable, variable: MODE, storage: app:mem, default: dev}
          - {name: home, kind: env.variable, variable: HOME_DIR, storage: app:os,
             default: /nowhere, readonly: true}
          - {name: sqlrun, kind: function.lua, source: file://res.lua, method: sqlrun,
             modules: [sql, env, metrics]}
          - {name: envrun, kind: function.lua, source: file://res.lua, method: envrun,
             modules: [sql, env, metrics]}
          - {name: count, kind: function.lua, source: file://res.lua, method: count,
             modules: [sql, env, metrics]}
          - {name: handle, kind: function.py, source: file://res.py, method: handle}
          - {name: py, kind: function.py, source: file://res.py, method: py}
    """,
    "src/res.lua": """
        local sql = require("sql")
        local env = require("env")
        local metrics = require("metrics")
        local function sqlrun(id, stmt, arg)
          local db, err = sql.get(id)
          if err then return nil, err end
          if stmt == "init" then
            db:execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            return true
          elseif stmt == "add" then
            local r = sql.builder.insert("t"):columns("n"):values(arg):run_with(db):exec()
            return r.rows_affected
          end
          local rows = sql.builder.select("n"):from("t"):order_by("n"):run_with(db):query()
          db:release()
          local out = {}
          for _, r in ipairs(rows) do out[#out + 1] = r.n end
          return out
        end
        local function envrun()
          local ok, err = env.set("HOME_DIR", "/x")
          env.set("MODE", "prod")
          return {tostring(ok), err and err:kind() or "", env.get("MODE"), env.get("HOME_DIR")}
        end
        local function count(n)
          for _ = 1, n do metrics.counter_inc("lua_calls_total", {who = "test"}) end
          return true
        end
        return {sqlrun = sqlrun, envrun = envrun, count = count}
    """,
    "src/res.py": """
        from wippy import queue, store, sql, ResourceError

        async def handle(body):
            cache = await store.get("app:cache")
            seen = await cache.put("seen:" + body["id"], 1) if not await cache.has("seen:" + body["id"]) else None
            if seen is not None and body.get("fail_once"):
                raise RuntimeError("deliberate failure on the first delivery")
            msg = queue.message()
            await cache.set("done:" + body["id"], {"attempts": msg.attempts(), "id": msg.id()})
            return True

        async def py(op, *args):
            cache = await store.get("app:cache")
            if op == "set":
                return (await cache.put(args[0], args[1]))["version"]
            if op == "cas":
                try:
                    return (await cache.put(args[0], args[1], {"if_version": args[2]}))["version"]
                except ResourceError as exc:
                    return exc.kind
            if op == "get":
                try:
                    return await cache.get(args[0])
                except ResourceError as exc:
                    return exc.kind
            if op == "publish":
                return await queue.publish("app:jobs", args[0])
            if op == "kv":
                kv = await store.get("app:kv")
                await kv.set("k1", {"x": 1})
                e = await kv.entry("k1")
                await kv.put("k1", {"x": 2}, {"if_version": e["version"]})
                try:
                    await kv.put("k1", {"x": 3}, {"if_version": e["version"]})
                except ResourceError as exc:
                    stale = exc.kind
                return [await kv.get("k1"), stale, (await kv.list({"prefix": "k"}))["items"][0]["key"]]
            if op == "rows":
                db = await sql.get(args[0])
                return await db.query("SELECT n FROM t ORDER BY n")
    """,
}


@pytest.fixture
def node(app_dir: str) -> Iterator[wippy.Node]:
    write_app(app_dir, APP)
    with wippy.Node(app_dir, stop_timeout=5) as n:
        yield n


def test_sqlite_memory_database_is_shared_by_the_hosts_of_the_node(node: wippy.Node) -> None:
    assert node.call("app:sqlrun", "app:db", "init", host="app:a") is True
    assert node.call("app:sqlrun", "app:db", "add", 5, host="app:a") == 1
    assert node.call("app:sqlrun", "app:db", "add", 3, host="app:b") == 1
    assert node.call("app:sqlrun", "app:db", "list", host="app:b") == [3, 5]
    assert node.call("app:py", "rows", "app:db", host="app:a") == [{"n": 3}, {"n": 5}]


def test_editing_a_database_entry_sends_new_work_to_the_new_database(node: wippy.Node,
                                                                     app_dir: str) -> None:
    node.call("app:sqlrun", "app:disk", "init")
    node.call("app:sqlrun", "app:disk", "add", 1)
    entry = node.registry.get("app:disk")
    node.registry.snapshot().changes().update(
        {**entry, "data": {**entry["data"], "file": "data/two.db"}}).apply()
    node.call("app:sqlrun", "app:disk", "init")
    assert node.call("app:sqlrun", "app:disk", "list") in ([], {})     # an empty Lua table
    assert os.path.exists(os.path.join(app_dir, "data", "one.db"))
    assert os.path.exists(os.path.join(app_dir, "data", "two.db"))


def test_memory_store_is_node_wide_and_a_stale_version_is_a_conflict(node: wippy.Node) -> None:
    v1 = node.call("app:py", "set", "cfg", {"n": 1}, host="app:a")
    v2 = node.call("app:py", "cas", "cfg", {"n": 2}, v1, host="app:b")
    assert v2 != v1
    assert node.call("app:py", "cas", "cfg", {"n": 3}, v1, host="app:a") == "CONFLICT"
    assert node.call("app:py", "get", "cfg", host="app:a") == {"n": 2}
    assert node.call("app:py", "get", "absent", host="app:b") == "NOT_FOUND"


def test_sql_store_versions_and_lists(node: wippy.Node) -> None:
    assert node.call("app:py", "kv") == [{"x": 2}, "CONFLICT", "k1"]


def test_a_raising_consumer_handler_is_nacked_and_its_message_redelivered(node: wippy.Node) -> None:
    assert node.call("app:py", "publish", {"id": "m1", "fail_once": True}) is True
    assert node.call("app:py", "publish", {"id": "m2"}) is True
    done = wait_until(lambda: node.call("app:py", "get", "done:m1") != "NOT_FOUND"
                      and node.call("app:py", "get", "done:m1"), 15, what="m1's redelivery")
    assert done["attempts"] == 2
    assert wait_until(lambda: node.call("app:py", "get", "done:m2") != "NOT_FOUND"
                      and node.call("app:py", "get", "done:m2"), 10)["attempts"] == 1


def test_setting_a_readonly_variable_is_permission_denied(node: wippy.Node) -> None:
    assert node.call("app:envrun") == ["nil", "PermissionDenied", "prod", os.environ.get("HOME_DIR") or "/nowhere"]


def test_lua_metrics_reach_the_nodes_status(node: wippy.Node) -> None:
    node.call("app:count", 3)

    def total() -> float:
        merged = _metrics.merge(h.get("metrics") for h in node.status()["hosts"])
        return sum(s["value"] for s in merged if s["name"] == "lua_calls_total"
                   and s["labels"] == {"who": "test"})
    assert wait_until(lambda: total() == 3, 5, what="the counter in the status")


def test_a_bad_dsn_is_a_boot_error_naming_the_entry(app_dir: str) -> None:
    write_app(app_dir, {"src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: pg, kind: db.sql.postgres, dsn: "host=localhost prot=5432"}
    """})
    with pytest.raises(ConfigError) as err:
        loader.load_app(app_dir)
    assert "entry app:pg: field 'dsn': invalid connection string: unknown keyword 'prot'" \
        in str(err.value)


def test_a_database_that_is_down_gives_callers_a_clear_error_and_the_node_stays_up(
        app_dir: str) -> None:
    write_app(app_dir, {"src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: a, kind: process.host}
          - {name: pg, kind: db.sql.postgres, dsn: "host=127.0.0.1 port=1 connect_timeout=2"}
          - {name: q, kind: function.py, source: file://q.py, method: q}
    """, "src/q.py": """
        from wippy import sql
        async def q():
            db = await sql.get("app:pg")
            return await db.query("SELECT 1")
    """})
    with wippy.Node(app_dir, stop_timeout=5) as node:
        for _ in range(2):
            with pytest.raises(ProcessFailed) as err:
                node.call("app:q")
            assert err.value.kind == "UNAVAILABLE" and "app:pg is unreachable" in str(err.value)
        assert node.status()["hosts"]
