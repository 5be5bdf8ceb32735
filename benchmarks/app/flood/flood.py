"""The flood case (benchmarks/flood_cases.py).

``sender`` sends as fast as it can for ``seconds`` to a ``receiver`` that spends ``spin_us``
of CPU on every message; on MailboxFull it backs off 1 ms (it may instead ``wait_send``).
``ticker`` asks for a timer every ``period_ms`` on the receiver's host and records how late
each fires. ``big_sender``/``big_receiver``: one-way messages of ``size`` bytes.
"""
import os
import time as _t

from wippy import MailboxFull, process, time


async def sender(dest, seconds, size, wait):
    pad = "x" * size
    sent = refused = 0
    told_ns = None
    t0 = _t.monotonic_ns()
    end = t0 + int(seconds * 1e9)
    while _t.monotonic_ns() < end:
        for _ in range(256):
            try:
                if wait:
                    await process.wait_send(dest, "m", [sent, pad])
                else:
                    process.send(dest, "m", [sent, pad])
                sent += 1
            except MailboxFull:
                refused += 1
                if told_ns is None:
                    told_ns = _t.monotonic_ns() - t0
                await time.sleep("1ms")
                break
        await time.sleep(0)
    await process.wait_send(dest, "done", sent)
    return {"sent": sent, "refused": refused, "told_ms": None if told_ns is None else told_ns / 1e6}


async def receiver(spin_us):
    inbox = process.inbox()
    got = out_of_order = 0
    last = -1
    while True:
        msg = await inbox.receive()
        if msg.topic == "done":
            return {"got": got, "out_of_order": out_of_order, "total": msg.payload}
        i = msg.payload[0]
        if i != last + 1:
            out_of_order += 1
        last = i
        got += 1
        stop = _t.perf_counter() + spin_us / 1e6
        while _t.perf_counter() < stop:
            pass


async def ticker(period_ms, seconds):
    late = []
    end = _t.monotonic() + seconds
    while _t.monotonic() < end:
        due = _t.monotonic() + period_ms / 1000
        await time.sleep(f"{period_ms}ms")
        late.append(_t.monotonic() - due)
    late.sort()
    return {"n": len(late), "p50_ms": late[len(late) // 2] * 1e3,
            "p99_ms": late[int(len(late) * 0.99)] * 1e3, "max_ms": late[-1] * 1e3}


async def big_sender(dest, n, size):
    payload = b"x" * size
    inbox = process.inbox()
    await process.wait_send(dest, "warm", 0)
    await inbox.receive()
    t_start = _t.perf_counter_ns()
    for i in range(n):
        try:
            process.send(dest, "m", [i, payload])
        except MailboxFull:
            await process.wait_send(dest, "m", [i, payload])
    return {"t_start": t_start}


async def big_receiver(n):
    inbox = process.inbox()
    warm = await inbox.receive()
    process.send(warm.sender, "go", None)
    for _ in range(n):
        msg = await inbox.receive()
    t_end = _t.perf_counter_ns()
    if msg.payload[0] != n - 1:
        raise RuntimeError(f"out of order: last {msg.payload[0]}")
    return {"t_end": t_end, "os_pid": os.getpid()}
