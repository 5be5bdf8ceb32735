"""Workflows for the durable-workflow tests. Activities log every run (with its idempotency
key) to a file named by the WF_LOG environment... passed in the input instead."""
import os
import time as _t

from wippy import channel, funcs, process, time, workflow


def charge(log, step, amount):
    """An activity with a visible side effect: one line per run, keyed for idempotency."""
    with open(log, "a") as fh:
        fh.write(f"{workflow.idempotency_key()} {step} {amount}\n")
    if os.path.exists(log + ".slow"):
        _t.sleep(0.05)
    return amount * 2


async def order(input):
    log, n = input["log"], input["steps"]
    total = 0
    started = time.now()
    for i in range(n):
        total += await funcs.call("app:charge", log, i, i + 1)
        if input.get("sleep"):
            await time.sleep(input["sleep"])
    token = workflow.uuid()
    return {"total": total, "token_len": len(token), "started": started}


async def waiter(input):
    """Waits for signals: returns their payloads in order."""
    got = []
    inbox = process.inbox()
    while len(got) < input["n"]:
        msg = await inbox.receive()
        got.append(msg.payload)
    return got


async def after_waiter(input):
    """Waits for a signal or ``time.after(input["after"])``, whichever comes first; returns
    what won and what it carried (the timer carries its journaled due time)."""
    inbox = process.inbox()
    r = await channel.select(inbox.case_receive(), time.after(input["after"]).case_receive())
    return ["signal", r.value.payload] if r.channel is inbox else ["timer", r.value]
