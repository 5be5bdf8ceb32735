"""Workflows whose recorded journals (tests/data/golden/history_*.json) are replayed by
tests/test_workflow_histories.py: between them they take every kind of journal step."""
from __future__ import annotations

from typing import Any

from wippy import ProcessFailed, funcs, process, time, workflow


def double(x: int) -> int:
    return x * 2


def fail(why: str) -> None:
    raise ValueError(why)


async def every_step(input: dict[str, Any]) -> dict[str, Any]:
    """now, call, timer, uuid, random, version, a recorded error, a child, a signal."""
    t0 = time.now()
    a = await funcs.call("app:double", input["x"])
    await time.sleep("10ms")
    u = workflow.uuid()
    r = workflow.random()
    v = workflow.version("change-1", 1, 2)
    try:
        await funcs.call("app:fail", "boom")
        err = None
    except ProcessFailed as exc:
        err = str(exc)
    child = await workflow.start("app:py_child", {"x": a})
    msg = await process.inbox().receive()
    t1 = time.now()
    return {"t0": t0, "a": a, "u": u, "r": r, "v": v, "err": err, "child": child,
            "signal": msg.payload, "t1_after_t0": t1 >= t0}


async def with_after(input: dict[str, Any]) -> dict[str, Any]:
    """An activity, a time.after, another activity."""
    a = await funcs.call("app:double", input["x"])
    fired = await time.after("10ms").receive()
    b = await funcs.call("app:double", a)
    return {"a": a, "b": b, "fired": fired > 0}


async def child(input: dict[str, Any]) -> int:
    return input["x"] + 1
