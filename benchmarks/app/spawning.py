"""Spawn rate, idle processes for the memory case, and a probe of the host OS process."""
import gc
import os
import time as _time

from wippy import process


async def noop():
    """Return at once."""
    return None


async def spawner(host, count):
    """Spawn ``count`` monitored ``noop`` processes on ``host`` and wait for every EXIT."""
    events = process.events()
    t0 = _time.perf_counter_ns()
    for _ in range(count):
        process.spawn_monitored("bench:noop", host)
    seen = 0
    failed = 0
    while seen < count:
        ev = await events.receive()
        if ev.kind == "EXIT":
            seen += 1
            failed += ev.result.error is not None
    elapsed = _time.perf_counter_ns() - t0
    if failed:
        raise RuntimeError(f"{failed} of {count} noop processes failed")
    return {"elapsed_ns": elapsed, "count": count}


async def idle():
    """Answer one ``ping`` (so the fleet knows it runs), then wait on the inbox."""
    inbox = process.inbox()
    msg = await inbox.receive()
    if msg.topic == "ping":
        process.send(msg.sender, "pong", None)
        await inbox.receive()
    return None


async def fleet(host, count):
    """Spawn ``count`` idle processes on ``host``; return when every one has answered."""
    pids = [process.spawn("bench:idle", host) for _ in range(count)]
    for pid in pids:
        process.send(pid, "ping", None)
    inbox = process.inbox()
    for _ in range(count):
        await inbox.receive()
    return len(pids)


async def probe():
    """Collect garbage in this host OS process and return its OS pid."""
    gc.collect()
    return os.getpid()
