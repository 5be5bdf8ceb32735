"""Workflows for the durable-step benchmark."""
from wippy import funcs, process


def act(i):
    return i + 1


async def steps(n):
    total = 0
    for i in range(n):
        total += await funcs.call("bwf:act", i)
    return total


async def parked(_):
    """One journaled step, then wait for a signal (the recovery case restarts the node here)."""
    await funcs.call("bwf:act", 0)
    msg = await process.inbox().receive()
    return msg.payload
