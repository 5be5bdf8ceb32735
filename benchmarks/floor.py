"""The physical floor every other system is compared against (S11).

* ``floor:zmq``  raw pyzmq PUSH/PULL over ipc between two forked processes: round trip
  (100-byte frames) and one-way throughput (unbatched sends of a ~100-byte dict pickled
  with protocol 5, unpickled by the receiver).
* ``floor:pipe`` ``os.pipe`` round trip between two forked processes.
* ``floor:fork`` fork a child that creates a zmq context, binds a PULL and says "ready"
  over a PUSH: the least a host restart can cost.
* ``floor:asyncio`` one OS process: ``asyncio.Queue`` producer/consumer throughput,
  task spawn-to-exit rate, and memory per idle task (a task awaiting its own Future).
* ``floor:1-proc`` the CPU workload run sequentially in one process.

Every child is forked by the case runner before any zmq context exists there, creates its
own context after fork, and leaves through ``os._exit`` (see ``_harness.fork_call``).
"""
from __future__ import annotations

import asyncio
import gc
import os
import pickle
import shutil
import statistics
import time
import tracemalloc
from typing import Any

import psutil

from . import _work
from ._harness import Ctx, Gate, Unit, fork_call, short_tmpdir
from ._stats import latency_summary, rate_per_s

__all__ = ["UNITS", "SMALL_DICT", "SPAWN_COUNTS", "INPROC_RUNS", "add_runs", "add_latency"]

#: Spawns per measurement of the spawn case (S11: the rate must stay flat from 1k to 100k).
SPAWN_COUNTS = (1_000, 10_000, 100_000)

#: The small message used by every one-way case (about 106 bytes pickled, protocol 5).
SMALL_DICT: dict[str, Any] = {"id": 0, "topic": "bench", "data": "x" * 48, "ok": True}
_FRAME = b"x" * 100
_CHILD_TIMEOUT = 120.0


#: Runs of the in-process case: S11 wants the median and the spread (max/min <= 1.3).
INPROC_RUNS = 3


def add_runs(ctx: Ctx, case: str, system: str, rates: list[float], **extra: Any) -> None:
    """Record the median ``rate`` of repeated runs and their spread (``max_over_min``)."""
    ctx.add(case, system, "rate", statistics.median(rates), "msg/s", runs=[round(r) for r in rates],
            **extra)
    ctx.add(case, system, "max_over_min", max(rates) / min(rates), "x", runs=len(rates),
            what="spread of the runs' rates (S11: stable means <= 1.3)")


def add_latency(ctx: Ctx, case: str, system: str, samples_ns: list[int], **extra: Any) -> None:
    """Record p50 and p99 (microseconds) of ``samples_ns``."""
    s = latency_summary(samples_ns)
    extra = {"n": int(s["n"]), "mean_us": s["mean"], "min_us": s["min"], "max_us": s["max"],
             **extra}
    ctx.add(case, system, "p50", s["p50"], "us", **extra)
    ctx.add(case, system, "p99", s["p99"], "us", **extra)


# --------------------------------------------------------------------------- zmq round trip


def _zmq_pong(gate: Gate, addr_in: str, addr_out: str, total: int) -> None:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    pull = zctx.socket(zmq.PULL)
    pull.bind(addr_in)
    push = zctx.socket(zmq.PUSH)
    push.connect(addr_out)
    for _ in range(total):
        push.send(pull.recv())
    push.close(linger=1000)
    pull.close(linger=0)
    zctx.term()


def _zmq_ping(gate: Gate, addr_in: str, addr_out: str, warmup: int, rounds: int) -> list[int]:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    pull = zctx.socket(zmq.PULL)
    pull.bind(addr_in)
    push = zctx.socket(zmq.PUSH)
    push.connect(addr_out)
    clock = time.perf_counter_ns
    samples: list[int] = []
    for i in range(warmup + rounds):
        t0 = clock()
        push.send(_FRAME)
        pull.recv()
        t1 = clock()
        if i >= warmup:
            samples.append(t1 - t0)
    push.close(linger=1000)
    pull.close(linger=0)
    zctx.term()
    return samples


def zmq_roundtrip(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``roundtrip`` for ``floor:zmq``: PUSH/PULL ping-pong over ipc, 100-byte frames."""
    p = ctx.params
    d = short_tmpdir()
    try:
        a, b = f"ipc://{d}/a", f"ipc://{d}/b"
        gate = Gate()
        pong = fork_call(_zmq_pong, gate, b, a, p.rt_warmup + p.rt_rounds, role="pong")
        ping = fork_call(_zmq_ping, gate, a, b, p.rt_warmup, p.rt_rounds, role="ping")
        ctx.place(ping.pid, "ping", 0)
        ctx.place(pong.pid, "pong", 1)
        gate.open(2)
        try:
            samples = ping.result(_CHILD_TIMEOUT)
            pong.result(_CHILD_TIMEOUT)
        finally:
            ping.kill()
            pong.kill()
        add_latency(ctx, "roundtrip", "floor:zmq", samples, payload_bytes=len(_FRAME),
                    transport="ipc PUSH/PULL")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- zmq one-way


def _zmq_receiver(gate: Gate, addr: str, ack_w: int, warmup: int, count: int) -> int:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    pull = zctx.socket(zmq.PULL)
    pull.bind(addr)
    loads = pickle.loads
    for _ in range(warmup):
        loads(pull.recv())
    os.write(ack_w, b"a")
    last = None
    for _ in range(count):
        last = loads(pull.recv())
    t_end = time.perf_counter_ns()
    assert last is not None and last["id"] == count - 1
    os.write(ack_w, b"d")  # all received: the sender may close now (see _zmq_sender)
    pull.close(linger=0)
    zctx.term()
    return t_end


def _zmq_sender(gate: Gate, addr: str, ack_r: int, warmup: int, count: int) -> int:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    push = zctx.socket(zmq.PUSH)
    push.connect(addr)
    dumps = pickle.dumps
    data = SMALL_DICT["data"]
    for i in range(warmup):
        push.send(dumps({"id": i, "topic": "bench", "data": data, "ok": True}, protocol=5))
    os.read(ack_r, 1)  # the receiver has drained the warm-up: start from an empty pipe
    t_start = time.perf_counter_ns()
    for i in range(count):  # a fresh dict per message, as a sending process would build it
        push.send(dumps({"id": i, "topic": "bench", "data": data, "ok": True}, protocol=5))
    # Stay alive until the receiver has everything: closing a PUSH (even with linger=5s)
    # while the PULL side is at its HWM lost the last few hundred messages in about 3% of
    # runs here (pyzmq 27.3 / libzmq 4.3.5, ipc).
    os.read(ack_r, 1)
    push.close(linger=5000)
    zctx.term()
    return t_start


def zmq_oneway(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``oneway`` for ``floor:zmq``: unbatched pickled small dicts, PUSH -> PULL over ipc.

    Throughput = messages / (receiver's last receive - sender's first send); both stamps are
    CLOCK_MONOTONIC, comparable across processes.
    """
    p = ctx.params
    d = short_tmpdir()
    ack_r, ack_w = os.pipe()
    try:
        addr = f"ipc://{d}/in"
        gate = Gate()
        recv = fork_call(_zmq_receiver, gate, addr, ack_w, p.ow_warmup, p.ow_msgs, role="receiver")
        send = fork_call(_zmq_sender, gate, addr, ack_r, p.ow_warmup, p.ow_msgs, role="sender")
        ctx.place(send.pid, "sender", 0)
        ctx.place(recv.pid, "receiver", 1)
        gate.open(2)
        try:
            t_start = send.result(_CHILD_TIMEOUT)
            t_end = recv.result(_CHILD_TIMEOUT)
        finally:
            send.kill()
            recv.kill()
        ctx.add("oneway", "floor:zmq", "rate", rate_per_s(p.ow_msgs, t_end - t_start), "msg/s",
                n=p.ow_msgs, payload_bytes=len(pickle.dumps(SMALL_DICT, protocol=5)),
                transport="ipc PUSH/PULL, pickle protocol 5, unbatched")
    finally:
        os.close(ack_r)
        os.close(ack_w)
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- os.pipe round trip


def _read_exact(fd: int, n: int) -> bytes:
    buf = os.read(fd, n)
    while len(buf) < n:
        more = os.read(fd, n - len(buf))
        if not more:
            raise EOFError("pipe closed")
        buf += more
    return buf


def _pipe_pong(gate: Gate, r: int, w: int, total: int) -> None:
    gate.wait()
    n = len(_FRAME)
    for _ in range(total):
        os.write(w, _read_exact(r, n))


def _pipe_ping(gate: Gate, r: int, w: int, warmup: int, rounds: int) -> list[int]:
    gate.wait()
    n = len(_FRAME)
    clock = time.perf_counter_ns
    samples: list[int] = []
    for i in range(warmup + rounds):
        t0 = clock()
        os.write(w, _FRAME)
        _read_exact(r, n)
        t1 = clock()
        if i >= warmup:
            samples.append(t1 - t0)
    return samples


def pipe_roundtrip(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``roundtrip`` for ``floor:pipe``: 100 bytes each way over two ``os.pipe`` pairs."""
    p = ctx.params
    r1, w1 = os.pipe()  # ping -> pong
    r2, w2 = os.pipe()  # pong -> ping
    try:
        gate = Gate()
        pong = fork_call(_pipe_pong, gate, r1, w2, p.rt_warmup + p.rt_rounds, role="pong")
        ping = fork_call(_pipe_ping, gate, r2, w1, p.rt_warmup, p.rt_rounds, role="ping")
        ctx.place(ping.pid, "ping", 0)
        ctx.place(pong.pid, "pong", 1)
        gate.open(2)
        try:
            samples = ping.result(_CHILD_TIMEOUT)
            pong.result(_CHILD_TIMEOUT)
        finally:
            ping.kill()
            pong.kill()
        add_latency(ctx, "roundtrip", "floor:pipe", samples, payload_bytes=len(_FRAME))
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


# --------------------------------------------------------------------------- fork and ready


def _fork_ready_supervisor(d: str, warmup: int, rounds: int) -> list[int]:
    """Runs in its own child: owns a PULL, forks ``rounds`` children that report ready."""
    import zmq

    from ._harness import _set_pdeathsig

    zctx = zmq.Context()
    pull = zctx.socket(zmq.PULL)
    parent_addr = f"ipc://{d}/sup"
    pull.bind(parent_addr)
    clock = time.perf_counter_ns
    samples: list[int] = []
    for i in range(warmup + rounds):
        t0 = clock()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _set_pdeathsig()
                c = zmq.Context()
                inbox = c.socket(zmq.PULL)
                inbox.bind(f"ipc://{d}/c{i}")
                out = c.socket(zmq.PUSH)
                out.connect(parent_addr)
                out.send(b"ready")
                out.close(linger=1000)
                inbox.close(linger=0)
                c.term()
                code = 0
            finally:
                os._exit(code)
        msg = pull.recv()
        t1 = clock()
        assert msg == b"ready"
        os.waitpid(pid, 0)
        if i >= warmup:
            samples.append(t1 - t0)
    pull.close(linger=0)
    zctx.term()
    return samples


def fork_ready(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``restart`` for ``floor:fork``: fork -> child zmq context + bound PULL -> "ready" seen."""
    p = ctx.params
    d = short_tmpdir()
    try:
        sup = fork_call(_fork_ready_supervisor, d, 3, p.restart_rounds, role="fork supervisor")
        ctx.place(sup.pid, "fork supervisor (children inherit)", 0)
        try:
            samples = sup.result(_CHILD_TIMEOUT)
        finally:
            sup.kill()
        add_latency(ctx, "restart", "floor:fork", samples, what="fork to ready over zmq ipc")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- asyncio


async def _noop() -> None:
    return None


async def _spawn_rate(k: int) -> int:
    t0 = time.perf_counter_ns()
    tasks = [asyncio.create_task(_noop()) for _ in range(k)]
    await asyncio.wait(tasks)
    return time.perf_counter_ns() - t0


async def _queue_throughput(m: int) -> int:
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def consumer() -> int:
        last = -1
        for _ in range(m):
            last = (await q.get())["id"]
        return last

    async def producer() -> None:
        for i in range(m):
            msg = dict(SMALL_DICT)
            msg["id"] = i
            q.put_nowait(msg)
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let the consumer interleave, as a scheduler would

    t0 = time.perf_counter_ns()
    cons = asyncio.create_task(consumer())
    await producer()
    last = await cons
    elapsed = time.perf_counter_ns() - t0
    assert last == m - 1
    return elapsed


async def _idle_fleet(n: int, traced: bool) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    proc = psutil.Process()
    gc.collect()
    if traced:
        tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0] if traced else 0
    rss0 = proc.memory_info().rss
    futures = [loop.create_future() for _ in range(n)]

    async def idle(fut: asyncio.Future[None]) -> None:
        await fut

    tasks = [asyncio.create_task(idle(f)) for f in futures]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gc.collect()
    rss1 = proc.memory_info().rss
    used_traced = (tracemalloc.get_traced_memory()[0] - base_traced) if traced else 0
    if traced:
        tracemalloc.stop()
    for f in futures:
        f.set_result(None)
    await asyncio.wait(tasks)
    return {"rss_delta": rss1 - rss0, "traced": used_traced}


def _memory_child(n: int) -> dict[str, int]:
    rss = asyncio.run(_idle_fleet(n, traced=False))
    traced = asyncio.run(_idle_fleet(n, traced=True))
    return {"rss_delta": rss["rss_delta"], "traced": traced["traced"]}


def asyncio_floor(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``inproc``, ``spawn`` and ``memory`` for ``floor:asyncio`` (one OS process)."""
    p = ctx.params
    ctx.place(os.getpid(), "event loop", 0)
    if "inproc" in cases:
        with ctx.attempt("inproc", "floor:asyncio"):
            asyncio.run(_queue_throughput(min(p.inproc_msgs, 10_000)))  # warm-up
            rates = [rate_per_s(p.inproc_msgs, asyncio.run(_queue_throughput(p.inproc_msgs)))
                     for _ in range(INPROC_RUNS)]
            add_runs(ctx, "inproc", "floor:asyncio", rates, n=p.inproc_msgs,
                     what="asyncio.Queue put_nowait/get, small dicts")
    if "spawn" in cases:
        with ctx.attempt("spawn", "floor:asyncio"):
            asyncio.run(_spawn_rate(1_000))  # warm-up
            by_n: dict[int, float] = {}
            for n in SPAWN_COUNTS:
                elapsed = asyncio.run(_spawn_rate(n))
                by_n[n] = rate_per_s(n, elapsed)
                ctx.add("spawn", "floor:asyncio", f"rate_{n // 1000}k", by_n[n], "spawn/s",
                        n=n, what="asyncio.create_task(noop) x n until all done")
            ctx.add("spawn", "floor:asyncio", "flat_100k_over_1k",
                    by_n[SPAWN_COUNTS[-1]] / by_n[SPAWN_COUNTS[0]], "x",
                    what="rate at 100k spawns / rate at 1k (1.0 = flat)")
    if "memory" in cases:
        with ctx.attempt("memory", "floor:asyncio"):
            child = fork_call(_memory_child, p.mem_procs, role="memory probe")
            try:
                out = child.result(_CHILD_TIMEOUT)
            finally:
                child.kill()
            n = p.mem_procs
            ctx.add("memory", "floor:asyncio", "rss_per_proc", out["rss_delta"] / n, "B", n=n,
                    what="RSS delta per idle task awaiting its own Future (fresh process)")
            ctx.add("memory", "floor:asyncio", "traced_per_proc", out["traced"] / n, "B", n=n,
                    what="tracemalloc bytes per idle task awaiting its own Future")


# --------------------------------------------------------------------------- cpu


def cpu_sequential(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``cpu`` for ``floor:1-proc``: the N-queens tasks one after another in one process."""
    p = ctx.params
    ctx.place(os.getpid(), "worker", 0)
    _work.nqueens(p.cpu_n)  # warm-up
    t0 = time.perf_counter_ns()
    results = [_work.nqueens(p.cpu_n) for _ in range(p.cpu_tasks)]
    wall = (time.perf_counter_ns() - t0) / 1e9
    assert all(r == _work.EXPECTED[p.cpu_n] for r in results)
    extra = {"tasks": p.cpu_tasks, "n": p.cpu_n, "workers": 1}
    ctx.add("cpu", "floor:1-proc", "wall", wall, "s", **extra)
    ctx.add("cpu", "floor:1-proc", "speedup", 1.0, "x", **extra)


UNITS: list[Unit] = [
    Unit("floor.zmq_roundtrip", "floor", ("roundtrip",), ("floor:zmq",), zmq_roundtrip, 60, 300),
    Unit("floor.pipe_roundtrip", "floor", ("roundtrip",), ("floor:pipe",), pipe_roundtrip, 60, 300),
    Unit("floor.zmq_oneway", "floor", ("oneway",), ("floor:zmq",), zmq_oneway, 60, 300),
    Unit("floor.fork_ready", "floor", ("restart",), ("floor:fork",), fork_ready, 60, 300),
    Unit("floor.asyncio", "floor", ("inproc", "spawn", "memory"), ("floor:asyncio",),
         asyncio_floor, 60, 300),
    Unit("floor.cpu_seq", "floor", ("cpu",), ("floor:1-proc",), cpu_sequential, 120, 900),
]
