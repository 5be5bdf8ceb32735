"""The resource cases (S13): queues, key-value stores and SQL through registry entries, each
against a floor doing the same work without wippy, in the same run.

* ``queue``: publish-to-consume throughput. wippy: a function on host ``a`` publishes N
  messages to a ``queue.queue`` (each ``publish`` awaited: the node has it), a
  ``queue.consumer`` on host ``b`` runs a handler that returns true (one process per message),
  and the publisher polls ``queue.info`` until all N are acked; ``rate`` = N / that time. Also
  ``wippy-sql``: the same on ``queue.driver.sql`` over SQLite (every message a committed row,
  claimed and deleted). Floor ``floor:asyncio-queue``: the same hops without wippy: a
  publisher OS process sends each message over a Unix socket to a broker OS process that keeps
  them in an ``asyncio.Queue`` and replies; a consumer OS process asks the broker for the next
  message and acks it (two round trips per message, as a wippy delivery is a spawn and an EXIT).
* ``store``: ``store.memory`` ``set`` then ``get`` per second, one awaited call at a time from a
  function on a host (each one request to the node). Floor ``floor:dict-pipe``: a dict in
  another OS process behind a ``multiprocessing`` pipe (one pickled request and reply each).
* ``sql``: the round trip of ``SELECT $1::int`` through a ``db.sql.postgres`` entry (the host's
  pool, a worker thread, the wire back to Lua/Python data) from a function on a host, against
  psycopg used directly on the same server with one connection (``floor:psycopg``): ``p50``
  (us) and ``rate`` (sequential queries/s). PostgreSQL comes from ``WIPPY_BENCH_PG_DSN``, or a
  throwaway one made with initdb/pg_ctl (skipped without the binaries).
"""
from __future__ import annotations

import asyncio
import glob
import os
import pickle
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from contextlib import contextmanager
from multiprocessing import Pipe
from pathlib import Path
from typing import Any, Iterator

from ._harness import Ctx, Unit, fork_call, short_tmpdir
from ._stats import percentile

__all__ = ["UNITS", "resource_app"]

APP_INDEX = """\
version: "1.0"
namespace: bres
entries:
  - {name: a, kind: process.host}
  - {name: b, kind: process.host}
  - {name: cache, kind: store.memory, max_size: 1000000}
  - {name: drv, kind: queue.driver.memory}
  - {name: jobs, kind: queue.queue, driver: drv, driver_options: {memory: {max_length: 1000000}}}
  - {name: worker, kind: queue.consumer, queue: jobs, func: handle, concurrency: 8, host: b}
  - {name: lite, kind: db.sql.sqlite, file: data/q.db}
  - {name: sqldrv, kind: queue.driver.sql, database: lite, poll_interval: 100ms}
  - {name: sqljobs, kind: queue.queue, driver: sqldrv}
  - {name: sqlworker, kind: queue.consumer, queue: sqljobs, func: handle, concurrency: 8, host: b}
  - {name: handle, kind: function.py, source: file://res.py, method: handle}
  - {name: bench, kind: function.py, source: file://res.py, method: bench}
%s
"""

RES_PY = """\
import time as _t
from wippy import queue, sql, store, time


def handle(body):
    return True


async def bench(op, n):
    if op == "queue":
        qid = "bres:" + n[1]
        t0 = _t.perf_counter()
        for i in range(n[0]):
            await queue.publish(qid, {"i": i})
        while True:
            info = await queue.info(qid)
            if info.get("acked", 0) >= n[0] or (n[1] == "sqljobs" and info["message_count"] == 0):
                return _t.perf_counter() - t0
            await time.sleep("5ms")
    if op == "store":
        cache = await store.get("bres:cache")
        t0 = _t.perf_counter()
        for i in range(n):
            await cache.set("k%d" % i, i)
        t1 = _t.perf_counter()
        for i in range(n):
            await cache.get("k%d" % i)
        return [t1 - t0, _t.perf_counter() - t1]
    if op == "sql":
        db = await sql.get("bres:pg")
        lat = []
        for i in range(n):
            t = _t.perf_counter()
            await db.query("SELECT $1::int AS n", [i])
            lat.append(_t.perf_counter() - t)
        return lat
"""


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"queue": 1_000, "sqlqueue": 300, "store": 3_000, "sql": 1_000}
    return {"queue": 10_000, "sqlqueue": 2_000, "store": 30_000, "sql": 10_000}


def resource_app(root: str, pg_dsn: str | None) -> str:
    """Write the benchmark's application into ``root``; returns it."""
    pg = f'  - {{name: pg, kind: db.sql.postgres, dsn: "{pg_dsn}"}}' if pg_dsn else ""
    Path(root, "_index.yaml").write_text(APP_INDEX % pg)
    Path(root, "res.py").write_text(RES_PY)
    return root


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found or (hits[-1] if hits else None)


@contextmanager
def _postgres() -> Iterator[str | None]:
    """A DSN (``WIPPY_BENCH_PG_DSN``, else a throwaway server), or None when none can be had."""
    dsn = os.environ.get("WIPPY_BENCH_PG_DSN")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if dsn or not initdb or not pg_ctl:
        yield dsn
        return
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            yield None
            return
        run_as = ["runuser", "-u", "postgres", "--"]
    root = tempfile.mkdtemp(prefix="wbpg-", dir="/tmp")
    if run_as:
        shutil.chown(root, "postgres")
    data = os.path.join(root, "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    try:
        subprocess.run(run_as + [initdb, "-D", data, "-U", "postgres", "-A", "trust",
                                 "--no-sync", "-E", "UTF8"], check=True, capture_output=True,
                       timeout=120)
        subprocess.run(run_as + [pg_ctl, "-D", data, "-o", f"-p {port} -k {root} -c "
                                 "listen_addresses=127.0.0.1 -c fsync=off", "-l",
                                 os.path.join(root, "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(run_as + [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- floors


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=5)
    return struct.pack("!I", len(data)) + data


async def _read(reader: asyncio.StreamReader) -> Any:
    size = struct.unpack("!I", await reader.readexactly(4))[0]
    return pickle.loads(await reader.readexactly(size))


def _broker(path: str) -> None:
    """The floor's broker: an asyncio.Queue behind a Unix socket (publish, get, ack)."""
    async def main() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        in_flight: dict[int, Any] = {}
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    op, arg = await _read(reader)
                    if op == "publish":
                        await q.put(arg)
                        writer.write(_frame(True))
                    elif op == "get":
                        msg = await q.get()
                        in_flight[msg["i"]] = msg
                        writer.write(_frame(msg))
                    elif op == "ack":
                        in_flight.pop(arg, None)
                        writer.write(_frame(True))
                    elif op == "bye":
                        done.set()
                        writer.write(_frame(True))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                pass                        # a client left, or the broker is closing
        server = await asyncio.start_unix_server(serve, path)
        async with server:
            await done.wait()
    asyncio.run(main())


def _client(path: str, role: str, n: int) -> float:
    """The floor's publisher (publish n, each awaited) or consumer (get and ack n)."""
    async def main() -> float:
        for _ in range(500):
            try:
                reader, writer = await asyncio.open_unix_connection(path)
                break
            except OSError:
                await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        for i in range(n):
            if role == "publisher":
                writer.write(_frame(("publish", {"i": i})))
                await writer.drain()
                await _read(reader)
            else:
                writer.write(_frame(("get", None)))
                await writer.drain()
                msg = await _read(reader)
                writer.write(_frame(("ack", msg["i"])))
                await writer.drain()
                await _read(reader)
        if role == "consumer":
            writer.write(_frame(("bye", None)))
            await writer.drain()
            await _read(reader)
        writer.close()
        return time.perf_counter() - t0
    return asyncio.run(main())


def _dict_server(conn: Any) -> None:
    d: dict[str, Any] = {}
    while True:
        op, key, value = conn.recv()
        if op == "set":
            d[key] = value
            conn.send(True)
        elif op == "get":
            conn.send(d.get(key))
        else:
            conn.send(True)
            return


def _floor_queue(ctx: Ctx, n: int) -> None:
    with ctx.attempt("queue", "floor:asyncio-queue"):
        folder = short_tmpdir("bq-")
        path = os.path.join(folder, "b.sock")
        broker = fork_call(_broker, path, role="broker")
        consumer = fork_call(_client, path, "consumer", n, role="consumer")
        t0 = time.perf_counter()
        publisher = fork_call(_client, path, "publisher", n, role="publisher")
        for child, slot in ((broker, 0), (consumer, 1), (publisher, 0)):
            ctx.place(child.pid, child.role, slot)
        publisher.result(120)
        consumer.result(120)
        wall = time.perf_counter() - t0
        broker.result(30)
        ctx.add("queue", "floor:asyncio-queue", "rate", n / wall, "msg/s", messages=n)
        shutil.rmtree(folder, ignore_errors=True)


def _floor_store(ctx: Ctx, n: int) -> None:
    with ctx.attempt("store", "floor:dict-pipe"):
        mine, theirs = Pipe()
        server = fork_call(_dict_server, theirs, role="dict server")
        ctx.place(server.pid, "dict server", 1)
        t0 = time.perf_counter()
        for i in range(n):
            mine.send(("set", f"k{i}", i))
            mine.recv()
        t1 = time.perf_counter()
        for i in range(n):
            mine.send(("get", f"k{i}", None))
            mine.recv()
        t2 = time.perf_counter()
        mine.send(("bye", None, None))
        mine.recv()
        server.result(30)
        ctx.add("store", "floor:dict-pipe", "set_rate", n / (t1 - t0), "op/s", ops=n)
        ctx.add("store", "floor:dict-pipe", "get_rate", n / (t2 - t1), "op/s", ops=n)


def _floor_sql(ctx: Ctx, dsn: str, n: int) -> None:
    with ctx.attempt("sql", "floor:psycopg"):
        import psycopg
        with psycopg.connect(dsn, autocommit=True) as conn:
            lat = []
            for i in range(n):
                t = time.perf_counter()
                with conn.cursor() as cur:
                    cur.execute("SELECT %s::int AS n", [i])
                    cur.fetchall()
                lat.append(time.perf_counter() - t)
        _add_sql(ctx, "floor:psycopg", lat)


def _add_sql(ctx: Ctx, system: str, lat: list[float]) -> None:
    ctx.add("sql", system, "p50", percentile(sorted(lat), 50) * 1e6, "us", queries=len(lat))
    ctx.add("sql", system, "rate", len(lat) / sum(lat), "q/s", queries=len(lat))


# --------------------------------------------------------------------------- wippy


def run_resources(ctx: Ctx, cases: tuple[str, ...]) -> None:
    import wippy
    sz = _sizes(ctx.quick)
    ctx.place(os.getpid(), "client (case runner)")
    with _postgres() as dsn:
        if "queue" in cases:
            _floor_queue(ctx, sz["queue"])
        if "store" in cases:
            _floor_store(ctx, sz["store"])
        if "sql" in cases:
            if dsn is None:
                ctx.add_status("sql", "floor:psycopg", "skipped: no PostgreSQL")
            else:
                _floor_sql(ctx, dsn, sz["sql"])
        app = resource_app(short_tmpdir("resapp-"), dsn)
        try:
            with wippy.Node(app, boot_timeout=120) as node:
                assert node.process is not None
                ctx.record_tree(node.process.pid, "node")
                if "queue" in cases:
                    for system, qid, n in (("wippy", "jobs", sz["queue"]),
                                           ("wippy-sql", "sqljobs", sz["sqlqueue"])):
                        with ctx.attempt("queue", system):
                            node.call("bres:bench", "queue", [min(n, 50), qid], host="bres:a",
                                      timeout=120)                       # warm-up
                            wall = node.call("bres:bench", "queue", [n, qid], host="bres:a",
                                             timeout=600)
                            ctx.add("queue", system, "rate", n / wall, "msg/s", messages=n)
                if "store" in cases:
                    with ctx.attempt("store", "wippy"):
                        node.call("bres:bench", "store", 200, host="bres:a", timeout=60)
                        t_set, t_get = node.call("bres:bench", "store", sz["store"],
                                                 host="bres:a", timeout=600)
                        ctx.add("store", "wippy", "set_rate", sz["store"] / t_set, "op/s",
                                ops=sz["store"])
                        ctx.add("store", "wippy", "get_rate", sz["store"] / t_get, "op/s",
                                ops=sz["store"])
                if "sql" in cases and dsn is not None:
                    with ctx.attempt("sql", "wippy"):
                        node.call("bres:bench", "sql", 100, host="bres:a", timeout=60)
                        lat = node.call("bres:bench", "sql", sz["sql"], host="bres:a",
                                        timeout=600)
                        _add_sql(ctx, "wippy", lat)
        finally:
            shutil.rmtree(app, ignore_errors=True)


UNITS: list[Unit] = [
    Unit("wippy.resources", "wippy", ("queue", "store", "sql"),
         ("wippy", "wippy-sql", "floor:asyncio-queue", "floor:dict-pipe", "floor:psycopg"),
         run_resources, 300, 1800),
]
