"""Activities for the Lua workflow tests (they log every run, with its idempotency key, to the
file named in the input), and a Python workflow that starts a Lua child workflow."""
import os
import time as _t

from wippy import funcs, process, time, workflow


def charge(log, step, amount):
    """An activity with a visible side effect: one line per run, keyed for idempotency."""
    with open(log, "a") as fh:
        fh.write(f"{workflow.idempotency_key()} charge {step} {amount}\n")
    if os.path.exists(log + ".slow"):
        _t.sleep(0.05)
    return amount * 2


def note(log, *words):
    """Logs ``words`` (and the idempotency key); returns them."""
    with open(log, "a") as fh:
        fh.write(" ".join([str(workflow.idempotency_key())] + [str(w) for w in words]) + "\n")
    return list(words)


async def parent(input):
    """Starts a Lua child workflow (a journaled step), waits a durable second, then waits for
    the child's signal."""
    log = input["log"]
    await funcs.call("app:note", log, "parent-begins")
    child = await workflow.start("app:child", {"log": log, "parent": process.pid(),
                                               "wait": input.get("child_wait", 0)})
    await funcs.call("app:note", log, "started", child)
    await time.sleep(input.get("sleep", 0))
    inbox = process.inbox()
    msg = await inbox.receive()
    return {"child": child, "topic": msg.topic, "from_child": msg.payload}
