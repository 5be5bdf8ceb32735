"""The durable queue driver ``queue.driver.sql`` in a real node: messages are rows of a table
(SQLite here, PostgreSQL below), consumed by handlers on hosts, acked by deleting the row,
nacked back with a delay, dead-lettered past ``max_attempts``, kept by a handler slower than
the visibility timeout, delivered again when its consumer's host is killed; and after a
kill -9 of the node (its hosts die with it) mid-consumption, a new node processes every
message: at least once, none lost."""
from __future__ import annotations

import os
import signal
import sqlite3
from typing import Iterator

import psutil
import pytest

import wippy
from conftest import wait_until, write_app
from pgserver import postgres

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _app(app_dir: str, db: str, handler_delay: str = "0ms") -> str:
    return write_app(app_dir, {"src/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: a, kind: process.host}}
          - {{name: b, kind: process.host, host: {{workers: 2}}}}
          {db}
          - {{name: drv, kind: queue.driver.sql, database: app:db, visibility_timeout: 1s,
             poll_interval: 200ms}}
          - {{name: jobs, kind: queue.queue, driver: app:drv,
             dead_letter: {{queue: app:failed, max_attempts: 3}}}}
          - {{name: failed, kind: queue.queue, driver: app:drv}}
          - {{name: worker, kind: queue.consumer, queue: app:jobs, func: app:handle,
             concurrency: 4, host: app:b}}
          - {{name: handle, kind: function.py, source: file://h.py, method: handle}}
          - {{name: t, kind: function.py, source: file://h.py, method: t}}
    """, "src/h.py": f"""
        from wippy import queue, sql, time

        async def handle(body):
            db = await sql.get("app:db")
            msg = queue.message()
            await db.execute("INSERT INTO done_ (n, attempt) VALUES (?, ?)", [body["n"], msg.attempts()])
            if body.get("fail"):
                raise RuntimeError("this message always fails")
            if body.get("nack_once") and msg.attempts() == 1:
                return False
            if body.get("hang") and msg.attempts() == 1:
                await time.sleep("1h")               # its host is killed meanwhile
            if body.get("slow"):
                await time.sleep(body["slow"])       # longer than the visibility timeout
            await time.sleep("{handler_delay}")
            return True

        async def t(op, *args):
            db = await sql.get("app:db")
            if op == "init":
                await db.execute("CREATE TABLE IF NOT EXISTS done_ (n INTEGER, attempt INTEGER)")
                return True
            if op == "publish":
                for n in range(args[0], args[1]):
                    await queue.publish("app:jobs", {{"n": n, **(args[2] if len(args) > 2 else {{}})}},
                                        {{"k": "v"}})
                return True
            if op == "done":
                return [[r["n"], r["attempt"]] for r in await db.query("SELECT n, attempt FROM done_ ORDER BY n, attempt")]
            if op == "info":
                return await queue.info(args[0])
    """})


SQLITE = "- {name: db, kind: db.sql.sqlite, file: data/q.db}"


@pytest.fixture
def node(app_dir: str) -> Iterator[wippy.Node]:
    _app(app_dir, SQLITE)
    with wippy.Node(app_dir, stop_timeout=5) as n:
        n.call("app:t", "init")
        yield n


def _distinct(node: wippy.Node) -> set[int]:
    return {n for n, _ in node.call("app:t", "done")}


def test_sql_queue_messages_are_consumed_and_acked_rows_deleted(node: wippy.Node) -> None:
    node.call("app:t", "publish", 0, 40)
    wait_until(lambda: _distinct(node) == set(range(40)), 30, interval=0.05,
               what="every message handled")
    info = wait_until(lambda: (i := node.call("app:t", "info", "app:jobs"))
                      and i["message_count"] == 0 and i, 10, what="the table to empty")
    assert info["consumer_count"] == 1 and info["in_flight"] == 0


def test_sql_queue_nack_redelivers_and_a_failing_message_is_dead_lettered(node: wippy.Node) -> None:
    node.call("app:t", "publish", 100, 101, {"nack_once": True})
    node.call("app:t", "publish", 200, 201, {"fail": True})
    wait_until(lambda: [a for n, a in node.call("app:t", "done") if n == 100] == [1, 2], 30,
               interval=0.05, what="the nacked message's redelivery")
    wait_until(lambda: node.call("app:t", "info", "app:failed")["message_count"] == 1, 30,
               interval=0.05, what="the failing message in the dead-letter queue")
    assert [a for n, a in node.call("app:t", "done") if n == 200] == [1, 2, 3]
    assert node.call("app:t", "info", "app:jobs")["message_count"] == 0


def test_kill_9_of_the_node_mid_consumption_loses_no_message(app_dir: str) -> None:
    _app(app_dir, SQLITE, handler_delay="30ms")
    data = os.path.join(app_dir, "state")
    first = wippy.Node(app_dir, data_dir=data, stop_timeout=5)
    first.start()
    try:
        first.call("app:t", "init")
        first.call("app:t", "publish", 0, 200)
        wait_until(lambda: len(_distinct(first)) >= 20, 30, interval=0.02,
                   what="consumption to be under way")
        assert first.process is not None
        tree = [psutil.Process(first.process.pid)] + \
            psutil.Process(first.process.pid).children(recursive=True)
        first.close()
        tree[0].kill()                                   # kill -9 of the node
        first.process.wait(10)
        psutil.wait_procs(tree[1:], timeout=10)          # its hosts die with it
    finally:
        first.process = None
    done_before = {n for n, _ in sqlite3.connect(os.path.join(app_dir, "data", "q.db"))
                   .execute("SELECT n, attempt FROM done_")}
    assert len(done_before) < 200                        # it was killed mid-way
    with wippy.Node(app_dir, data_dir=data, stop_timeout=5) as second:
        wait_until(lambda: _distinct(second) == set(range(200)), 60, interval=0.1,
                   what="every message processed after the restart")
        wait_until(lambda: second.call("app:t", "info", "app:jobs")["message_count"] == 0, 30,
                   what="the table to empty")


def test_a_handler_slower_than_the_visibility_timeout_keeps_its_claim(node: wippy.Node) -> None:
    node.call("app:t", "publish", 300, 301, {"slow": "2500ms"})
    wait_until(lambda: node.call("app:t", "info", "app:jobs")["message_count"] == 0, 30,
               interval=0.05, what="the slow message to be acked")
    assert [a for n, a in node.call("app:t", "done") if n == 300] == [1]    # delivered once


def test_kill_9_of_a_consumers_host_redelivers_its_claimed_message(node: wippy.Node) -> None:
    node.call("app:t", "publish", 400, 401, {"hang": True})
    wait_until(lambda: 400 in _distinct(node), 20, interval=0.05, what="the first delivery")
    for h in node.status(processes=False)["hosts"]:
        if h["host"] == "app:b":
            os.kill(h["os_pid"], signal.SIGKILL)             # the claim can no longer be kept
    assert wait_until(lambda: [a for n, a in node.call("app:t", "done") if n == 400] == [1, 2]
                      and node.call("app:t", "info", "app:jobs")["message_count"] == 0, 30,
                      interval=0.05, what="the redelivery after the visibility timeout")


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    yield from postgres()


def test_sql_queue_on_postgres_with_competing_handlers(app_dir: str, pg_dsn: str) -> None:
    _app(app_dir, f'- {{name: db, kind: db.sql.postgres, dsn: "{pg_dsn}"}}')
    with wippy.Node(app_dir, stop_timeout=5) as node:
        node.call("app:t", "init")
        node.call("app:t", "publish", 1000, 1060)
        wait_until(lambda: _distinct(node) >= set(range(1000, 1060)), 30, interval=0.05,
                   what="every message handled")
        assert node.call("app:t", "info", "app:jobs")["message_count"] == 0


def test_a_lua_handler_on_a_sql_queue_settles_early_and_the_first_settlement_wins(
        app_dir: str) -> None:
    write_app(app_dir, {"src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: a, kind: process.host}
          - {name: db, kind: db.sql.sqlite, file: data/q.db}
          - {name: drv, kind: queue.driver.sql, database: app:db, poll_interval: 100ms}
          - {name: jobs, kind: queue.queue, driver: app:drv}
          - {name: worker, kind: queue.consumer, queue: app:jobs, func: app:handle}
          - {name: handle, kind: function.lua, source: file://h.lua, method: handle,
             modules: [queue, sql]}
          - {name: t, kind: function.lua, source: file://h.lua, method: t, modules: [queue, sql]}
    """, "src/h.lua": """
        local queue = require("queue")
        local sql = require("sql")
        local function handle(body)
          local msg = queue.message()
          local db = sql.get("app:db")
          db:execute("INSERT INTO seen_ (n, id, hdr) VALUES (?, ?, ?)", {body.n, msg:id(), msg:header("k")})
          msg:ack()
          return false                   -- too late: the ack settled it
        end
        local function t(op)
          local db = sql.get("app:db")
          if op == "publish" then
            db:execute("CREATE TABLE IF NOT EXISTS seen_ (n INTEGER, id TEXT, hdr TEXT)")
            return queue.publish("app:jobs", {n = 7}, {k = "v"})
          end
          local info = queue.info("app:jobs")
          return {rows = db:query("SELECT n, hdr FROM seen_"), left = info.message_count}
        end
        return {handle = handle, t = t}
    """})
    with wippy.Node(app_dir, stop_timeout=5) as node:
        assert node.call("app:t", "publish") is True
        got = wait_until(lambda: (r := node.call("app:t", "state")) and r["rows"]
                         and r["left"] == 0 and r, 20, interval=0.05, what="the message handled")
        assert got["rows"] == [{"n": 7, "hdr": "v"}]      # once: the false return nacked nothing
