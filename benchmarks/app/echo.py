"""Round trip: ``main`` echoes every message back to its sender; ``pinger`` times round trips.

The pinger measures inside the node, so the figures exclude the external client.
"""
import os
import time as _time

from wippy import process


async def main():
    """Echo ``msg.payload`` to ``msg.sender`` under the same topic until a ``stop`` message."""
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        if msg.topic == "stop":
            return "stopped"
        process.send(msg.sender, msg.topic, msg.payload)


async def pinger(peer, rounds, warmup):
    """``warmup + rounds`` ping-pongs with ``peer``; returns the timed samples in ns."""
    inbox = process.inbox()
    clock = _time.perf_counter_ns
    samples = []
    for i in range(warmup + rounds):
        payload = {"id": i, "topic": "bench", "data": "x" * 48, "ok": True}
        t0 = clock()
        process.send(peer, "ping", payload)
        await inbox.receive()
        t1 = clock()
        if i >= warmup:
            samples.append(t1 - t0)
    process.send(peer, "stop", None)
    return {"samples_ns": samples, "os_pid": os.getpid()}
