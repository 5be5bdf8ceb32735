"""Resources under faults, with real processes and a real PostgreSQL: the database down at
boot and back later, the database restarted under load, a consumer whose handler always
raises, a consumer's host killed with kill -9 mid-message, and the node's memory stores and
env storages surviving the death of the host that wrote them."""
from __future__ import annotations

import os
import signal
from typing import Any, Iterator

import pytest

import wippy
from conftest import wait_until, write_app
from pgrestart import PgServer, pg_server
from wippy.resources.mqueue import redelivery_delay

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def pg() -> Iterator[PgServer]:
    yield from pg_server()


def _pg_app(app_dir: str, dsn: str) -> str:
    return write_app(app_dir, {"src/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: a, kind: process.host}}
          - {{name: pg, kind: db.sql.postgres, dsn: "{dsn} connect_timeout=3",
             pool: {{max_open: 4}}}}
          - {{name: state, kind: store.memory}}
          - {{name: q, kind: function.py, source: file://q.py, method: q}}
          - {{name: loader, kind: process.py, source: file://q.py, method: loader}}
    """, "src/q.py": """
        from wippy import sql, store, time, ResourceError

        async def q(op, *args):
            if op == "state":
                st = await store.get("app:state")
                return {k: (await st.get(k)) if await st.has(k) else None for k in args}
            if op == "halt":
                await (await store.get("app:state")).set("halt", True)
                return True
            db = await sql.get("app:pg")
            if op == "select":
                return await db.query("SELECT 41 + 1 AS n")
            if op == "count":
                return (await db.query("SELECT count(*) AS n FROM rows_"))[0]["n"]

        async def loader():
            # Inserts 1, 2, 3... each until it succeeds (a lost reply makes the retry a
            # no-op), and records its progress and the errors it met in the memory store.
            st = await store.get("app:state")
            db = await sql.get("app:pg")
            await db.execute("CREATE TABLE IF NOT EXISTS rows_ (i integer PRIMARY KEY)")
            i, errors = 1, 0
            while not await st.has("halt"):
                try:
                    await db.execute("INSERT INTO rows_ (i) VALUES ($1) ON CONFLICT DO NOTHING", [i])
                except ResourceError as exc:
                    errors += 1
                    await st.set("errors", errors)
                    await st.set("last_error", [exc.kind, str(exc), bool(exc.retryable)])
                    await time.sleep("20ms")
                    continue
                await st.set("done", i)
                i += 1
            return i - 1
    """})


def _state(node: wippy.Node, *keys: str) -> dict[str, Any]:
    return node.call("app:q", "state", *keys)


def _host_pids(node: wippy.Node) -> list[int]:
    return sorted(h["os_pid"] for h in node.status(processes=False)["hosts"])


def test_postgres_down_at_boot_fails_callers_naming_the_entry_then_work_resumes(
        app_dir: str, pg: PgServer) -> None:
    with wippy.Node(_pg_app(app_dir, pg.dsn), stop_timeout=5) as node:
        for _ in range(3):
            with pytest.raises(wippy.ProcessFailed) as err:
                node.call("app:q", "select")
            assert err.value.kind == "UNAVAILABLE"
            assert "database app:pg is unreachable" in str(err.value)
        hosts = _host_pids(node)
        pg.start()

        def works() -> Any:
            try:
                return node.call("app:q", "select")
            except wippy.ProcessFailed as exc:
                assert exc.kind == "UNAVAILABLE", exc       # only "still down" while it waits
                return None
        assert wait_until(works, 30, interval=0.1, what="the pool to reconnect") == [{"n": 42}]
        assert _host_pids(node) == hosts


def test_postgres_restarted_under_load_gives_clear_errors_then_work_resumes(
        app_dir: str, pg: PgServer) -> None:
    pg.start()
    with wippy.Node(_pg_app(app_dir, pg.dsn), stop_timeout=5) as node:
        hosts = _host_pids(node)
        loader = node.spawn("app:loader", "app:a", monitor=True)
        wait_until(lambda: (_state(node, "done")["done"] or 0) >= 20, 30, interval=0.05,
                   what="the loader's first rows")
        pg.stop()
        got = wait_until(lambda: _state(node, "errors", "last_error")["last_error"], 30,
                         interval=0.05, what="the loader to see the database down")
        kind, text, retryable = got
        assert kind == "UNAVAILABLE" and retryable and "database app:pg" in text, got
        before = _state(node, "done")["done"]
        pg.start()
        wait_until(lambda: _state(node, "done")["done"] >= before + 20, 60, interval=0.05,
                   what="inserts to resume after the restart")
        node.call("app:q", "halt")
        inserted = node.wait_exit(loader, timeout=30)
        assert node.call("app:q", "count") == inserted       # none lost, none twice
        assert _host_pids(node) == hosts                     # no host went down either


QUEUE_APP = {
    "src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: a, kind: process.host}
          - {name: b, kind: process.host}
          - {name: state, kind: store.memory}
          - {name: mem, kind: env.storage.memory}
          - {name: mode, kind: env.variable, variable: MODE, storage: app:mem}
          - {name: drv, kind: queue.driver.memory}
          - {name: jobs, kind: queue.queue, driver: app:drv}
          - {name: worker, kind: queue.consumer, queue: app:jobs, func: app:handle, host: app:b}
          - {name: handle, kind: function.py, source: file://h.py, method: handle}
          - {name: t, kind: function.py, source: file://h.py, method: t}
    """,
    "src/h.py": """
        import time as _t
        from wippy import env, queue, store, time

        async def handle(body):
            st = await store.get("app:state")
            msg = queue.message()
            seen = (await st.get("seen:" + body["id"])) if await st.has("seen:" + body["id"]) else []
            await st.set("seen:" + body["id"], seen + [_t.time()])
            if body["mode"] == "raise":
                raise RuntimeError("this handler always fails")
            if body["mode"] == "hang" and msg.attempts() == 1:
                await time.sleep("1h")               # its host is killed meanwhile
            await st.set("done:" + body["id"], msg.attempts())
            return True

        async def t(op, *args):
            st = await store.get("app:state")
            if op == "publish":
                return await queue.publish("app:jobs", {"id": args[0], "mode": args[1]})
            if op == "get":
                return (await st.get(args[0])) if await st.has(args[0]) else None
            if op == "set":
                await st.set(args[0], args[1])
                return await env.set("MODE", args[1])
            if op == "env":
                return await env.get("MODE")
    """,
}


@pytest.fixture
def qnode(app_dir: str) -> Iterator[wippy.Node]:
    write_app(app_dir, QUEUE_APP)
    with wippy.Node(app_dir, stop_timeout=5) as n:
        yield n


def _host(node: wippy.Node, host_id: str) -> tuple[int, int] | None:
    for h in node.status(processes=False)["hosts"]:
        if h["host"] == host_id and h["state"] == "ready":
            return h["serial"], h["os_pid"]
    return None


def test_a_handler_that_always_raises_is_redelivered_with_a_growing_delay(
        qnode: wippy.Node) -> None:
    qnode.call("app:t", "publish", "r1", "raise", host="app:a")
    times = wait_until(lambda: (s := qnode.call("app:t", "get", "seen:r1", host="app:a"))
                       and len(s) >= 5 and s, 30, interval=0.05, what="five deliveries")
    for n, (t0, t1) in enumerate(zip(times, times[1:]), start=1):
        assert t1 - t0 >= redelivery_delay(n), (n, times)     # never a tight loop
    info = qnode.call("app:t", "get", "done:r1", host="app:a")
    assert info is None
    assert _host(qnode, "app:b") is not None                 # the raising never took its host


def test_kill_9_of_a_consumers_host_redelivers_its_message_after_the_host_restarts(
        qnode: wippy.Node) -> None:
    serial, os_pid = wait_until(lambda: _host(qnode, "app:b"), 10)
    qnode.call("app:t", "publish", "h1", "hang", host="app:a")
    wait_until(lambda: qnode.call("app:t", "get", "seen:h1", host="app:a"), 15,
               what="the first delivery to start")
    os.kill(os_pid, signal.SIGKILL)
    assert wait_until(lambda: qnode.call("app:t", "get", "done:h1", host="app:a"), 30,
                      interval=0.05, what="the redelivery after the restart") == 2
    new = _host(qnode, "app:b")
    assert new is not None and new[0] != serial


def test_memory_store_and_env_storage_outlive_a_kill_9_of_the_host_that_wrote_them(
        qnode: wippy.Node) -> None:
    assert qnode.call("app:t", "set", "k", "kept", host="app:b") is True
    serial, os_pid = wait_until(lambda: _host(qnode, "app:b"), 10)
    os.kill(os_pid, signal.SIGKILL)
    wait_until(lambda: (h := _host(qnode, "app:b")) and h[0] != serial, 30,
               what="app:b to restart")
    assert qnode.call("app:t", "get", "k", host="app:b") == "kept"
    assert qnode.call("app:t", "env", host="app:b") == "kept"


def test_a_sql_queue_on_postgres_restarted_mid_consumption_processes_every_message(
        app_dir: str, pg: PgServer) -> None:
    pg.start()
    write_app(app_dir, {"src/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: a, kind: process.host}}
          - {{name: pg, kind: db.sql.postgres, dsn: "{pg.dsn} connect_timeout=3"}}
          - {{name: drv, kind: queue.driver.sql, database: app:pg, visibility_timeout: 1s,
             poll_interval: 100ms}}
          - {{name: jobs, kind: queue.queue, driver: app:drv}}
          - {{name: worker, kind: queue.consumer, queue: app:jobs, func: app:handle,
             concurrency: 2}}
          - {{name: handle, kind: function.py, source: file://h.py, method: handle}}
          - {{name: t, kind: function.py, source: file://h.py, method: t}}
    """, "src/h.py": """
        from wippy import queue, sql, time

        async def handle(body):
            db = await sql.get("app:pg")
            await db.execute("INSERT INTO done_ (n) VALUES ($1)", [body["n"]])
            await time.sleep("20ms")
            return True

        async def t(op, *args):
            db = await sql.get("app:pg")
            if op == "publish":
                await db.execute("CREATE TABLE IF NOT EXISTS done_ (n integer)")
                for n in range(args[0]):
                    await queue.publish("app:jobs", {"n": n})
                return True
            return [r["n"] for r in await db.query("SELECT DISTINCT n FROM done_ ORDER BY n")]
    """})
    with wippy.Node(app_dir, stop_timeout=5) as node:
        hosts = _host_pids(node)
        node.call("app:t", "publish", 100)

        def done() -> list[int] | None:
            try:
                return node.call("app:t", "done")
            except wippy.ProcessFailed:
                return None                                  # the database is down
        wait_until(lambda: len(done() or []) >= 10, 30, interval=0.05, what="consumption")
        pg.stop()
        pg.start()
        assert wait_until(lambda: done() == list(range(100)) and True, 60, interval=0.1,
                          what="every message after the restart")
        assert _host_pids(node) == hosts
