"""One-way streams: ``sender`` sends ``count`` small dicts to ``receiver``, as fast as the
receiver's mailbox takes them (past its limit, ``wait_send`` waits for room).

Both stamps are ``time.perf_counter_ns`` (CLOCK_MONOTONIC, comparable across OS processes):
throughput = count / (receiver's last receive - sender's first timed send).
"""
import os
import time as _time

from wippy import MailboxFull, process

DATA = "x" * 48


async def receiver(count, warmup):
    """Receive the warm-up, ack it to the sender, then count ``count`` messages."""
    inbox = process.inbox()
    sender = None
    for _ in range(warmup):
        sender = (await inbox.receive()).sender
    process.send(sender, "ack", None)
    last = None
    for _ in range(count):
        last = (await inbox.receive()).payload
    t_end = _time.perf_counter_ns()
    if last is None or last["id"] != count - 1:
        raise RuntimeError(f"stream out of order: last payload {last!r}")
    return {"t_end": t_end, "os_pid": os.getpid()}


async def sender(dest, count, warmup):
    """Send the warm-up, wait for the receiver's ack, then ``count`` unbatched messages."""
    inbox = process.inbox()
    for i in range(warmup):
        process.send(dest, "warm", {"id": i, "topic": "bench", "data": DATA, "ok": True})
    await inbox.receive()
    t_start = _time.perf_counter_ns()
    for i in range(count):
        msg = {"id": i, "topic": "bench", "data": DATA, "ok": True}
        try:
            process.send(dest, "msg", msg)
        except MailboxFull:             # the receiver's mailbox is full: wait for room
            await process.wait_send(dest, "msg", msg)
    return {"t_start": t_start, "os_pid": os.getpid()}


async def main(send_host, recv_host, count, warmup):
    """Spawn a receiver and a sender (monitored), wait for both, return their stamps."""
    recv = process.spawn_monitored("bench:stream_recv", recv_host, count, warmup)
    send = process.spawn_monitored("bench:stream_send", send_host, recv, count, warmup)
    events = process.events()
    done = {}
    while len(done) < 2:
        ev = await events.receive()
        if ev.kind != "EXIT":
            continue
        if ev.result.error is not None:
            raise RuntimeError(f"{ev.from_} failed: {ev.result.error}")
        done[ev.from_] = ev.result.value
    return {"t_start": done[send]["t_start"], "t_end": done[recv]["t_end"],
            "sender_os_pid": done[send]["os_pid"], "receiver_os_pid": done[recv]["os_pid"]}
