"""``multiprocessing`` as a peer: Pipe round trip, Pipe one-way throughput, Pool CPU work.

Messages are the small dict of :data:`benchmarks.floor.SMALL_DICT`, sent with
``Connection.send`` (pickled by multiprocessing), as users of the standard library do.
The start method in use is recorded with each result.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import psutil

from . import _work
from ._harness import Ctx, Unit
from ._stats import rate_per_s
from .floor import SMALL_DICT, add_latency

__all__ = ["UNITS"]

_SYSTEM = "multiprocessing"
_JOIN_TIMEOUT = 30.0


def _pong(conn: Connection) -> None:
    while True:
        msg = conn.recv()
        if msg is None:
            break
        conn.send(msg)
    conn.close()


def _receiver(conn: Connection, warmup: int, count: int) -> None:
    for _ in range(warmup):
        conn.recv()
    conn.send("ack")
    last: dict[str, Any] = {}
    for _ in range(count):
        last = conn.recv()
    t_end = time.perf_counter_ns()
    assert last["id"] == count - 1
    conn.send(t_end)
    conn.close()


def _join(proc: mp.process.BaseProcess) -> None:
    proc.join(_JOIN_TIMEOUT)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


def pipe_roundtrip(ctx: Ctx) -> None:
    """Round trip of a small dict over a duplex ``multiprocessing.Pipe``."""
    p = ctx.params
    mctx = mp.get_context()
    parent, child = mctx.Pipe(duplex=True)
    proc = mctx.Process(target=_pong, args=(child,), name="pong")
    ctx.place(os.getpid(), "ping (case runner)", 0)
    proc.start()
    try:
        assert proc.pid is not None
        ctx.place(proc.pid, "pong", 1)
        msg = dict(SMALL_DICT)
        clock = time.perf_counter_ns
        samples: list[int] = []
        for i in range(p.rt_warmup + p.rt_rounds):
            msg["id"] = i
            t0 = clock()
            parent.send(msg)
            parent.recv()
            t1 = clock()
            if i >= p.rt_warmup:
                samples.append(t1 - t0)
        parent.send(None)
    finally:
        _join(proc)
    add_latency(ctx, "roundtrip", _SYSTEM, samples, transport="Pipe send/recv of a small dict",
                start_method=mctx.get_start_method())


def pipe_oneway(ctx: Ctx) -> None:
    """One-way throughput of small dicts over a ``multiprocessing.Pipe``."""
    p = ctx.params
    mctx = mp.get_context()
    parent, child = mctx.Pipe(duplex=True)
    proc = mctx.Process(target=_receiver, args=(child, p.ow_warmup, p.ow_msgs), name="receiver")
    ctx.place(os.getpid(), "sender (case runner)", 0)
    proc.start()
    try:
        assert proc.pid is not None
        ctx.place(proc.pid, "receiver", 1)
        msg = dict(SMALL_DICT)
        for i in range(p.ow_warmup):
            msg["id"] = i
            parent.send(msg)
        assert parent.recv() == "ack"
        t_start = time.perf_counter_ns()
        for i in range(p.ow_msgs):
            msg["id"] = i
            parent.send(msg)
        t_end = parent.recv()
    finally:
        _join(proc)
    ctx.add("oneway", _SYSTEM, "rate", rate_per_s(p.ow_msgs, t_end - t_start), "msg/s",
            n=p.ow_msgs, transport="Pipe send, unbatched", start_method=mctx.get_start_method())


def pool_cpu(ctx: Ctx) -> None:
    """The N-queens tasks over a ``multiprocessing.Pool`` of ``os.cpu_count()`` workers."""
    p = ctx.params
    workers = os.cpu_count() or 1
    mctx = mp.get_context()
    with mctx.Pool(workers) as pool:
        for i, child in enumerate(psutil.Process().children()):
            ctx.place(child.pid, "pool worker", i)
        pool.map(_work.nqueens, [p.cpu_n] * workers, chunksize=1)  # warm-up: workers started
        t0 = time.perf_counter_ns()
        results = pool.map(_work.nqueens, [p.cpu_n] * p.cpu_tasks, chunksize=1)
        wall = (time.perf_counter_ns() - t0) / 1e9
    assert all(r == _work.EXPECTED[p.cpu_n] for r in results)
    ctx.add("cpu", _SYSTEM, "wall", wall, "s", tasks=p.cpu_tasks, n=p.cpu_n, workers=workers,
            start_method=mctx.get_start_method())


def run(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """Measure the selected multiprocessing cases."""
    if "roundtrip" in cases:
        with ctx.attempt("roundtrip", _SYSTEM):
            pipe_roundtrip(ctx)
    if "oneway" in cases:
        with ctx.attempt("oneway", _SYSTEM):
            pipe_oneway(ctx)
    if "cpu" in cases:
        with ctx.attempt("cpu", _SYSTEM):
            pool_cpu(ctx)


UNITS: list[Unit] = [
    Unit("mp", "mp", ("roundtrip", "oneway", "cpu"), (_SYSTEM,), run, 120, 900),
]
