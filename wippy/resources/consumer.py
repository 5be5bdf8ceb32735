"""What a host runs for a ``queue.consumer`` entry: one process per message the node hands the
consumer (the runner the host's table names for the kind, S13).

The process calls the consumer's function with the message body, as ``funcs.call`` does (the
checks of ``funcs.call`` apply, code an agent wrote acts as its author), with the delivery in
the call's context values, where ``queue.message()`` finds it.

* A memory queue's message comes in the delivery; the result settles it at the node through
  the process's EXIT: ``false`` nacks, any other return acks, an error nacks.
* A SQL queue's delivery carries no message: the process claims one from the table itself
  (:mod:`.sqlqueue`), runs the handler while a second task of the process extends the claim,
  and settles it in the table (an error of the handler nacks and is logged; the process ends
  normally). It returns :data:`EMPTY` when no message was
  visible, so the node slows down to its poll interval; a database error ends it with that
  error, and the node backs off.

Rejected: long-lived worker processes pulling from the node (a worker's death would have to be
tied to the deliveries it held; a process per message gets that from its EXIT, and a handler
that spawns, monitors or receives cannot disturb the next message's).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from .. import coroutine, funcs
from .. import time as wtime
from ..errors import WippyError
from ..runtime import table as _rt
from . import request as _request
from . import sqlqueue

__all__ = ["consumer_runner", "MESSAGE_KEY", "EMPTY"]

log = logging.getLogger("wippy.queue")

#: The context value holding the delivery a handler is running for.
MESSAGE_KEY = "wippy.queue.message"
#: What a SQL delivery returns when it found no message to claim.
EMPTY = "empty"


def consumer_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of ``queue.consumer`` entries: ``run(delivery) -> bool`` (ack?)."""

    async def run(delivery: dict[str, Any] | None = None, *_: Any) -> Any:
        if not isinstance(delivery, dict) or "func" not in delivery:
            raise ValueError(f"consumer {entry.get('id')}: started without a delivery")
        if delivery.get("sql"):
            return await _run_sql(delivery)
        meta = {k: delivery.get(k) for k in ("id", "queue", "headers", "attempts")}
        value = await funcs.call(delivery["func"], delivery.get("body"),
                                 context={MESSAGE_KEY: meta})
        return value is not False
    return run


async def _run_sql(delivery: dict[str, Any]) -> Any:
    rt = _rt.get()
    rid = str(delivery["queue"])
    q = await sqlqueue.for_queue(rt, rid, _request)
    if q is None:
        raise ValueError(f"queue {rid} is not on a queue.driver.sql")
    msg = await q.claim()
    if msg is None:
        return EMPTY
    meta = {"id": msg.id, "queue": rid, "headers": msg.headers, "attempts": msg.attempts,
            "sql": [msg.row, msg.claim]}
    coroutine.spawn(_keep_claim, q, msg)          # stops when this process's main task ends
    try:
        ok = await funcs.call(delivery["func"], msg.body, context={MESSAGE_KEY: meta}) is not False
        why = "the handler returned false"
    except Exception as exc:  # noqa: BLE001 - a failing handler nacks its message, as in Wippy
        ok, why = False, f"{type(exc).__name__}: {exc}"
    if ok:
        await q.ack(msg)
        return True
    entry = rt.store.get(rid) if rt.store is not None else None
    dead = ((entry or {}).get("data") or {}).get("dead_letter") or {}
    if dead.get("queue") and dead.get("max_attempts") and msg.attempts >= int(dead["max_attempts"]):
        await sqlqueue.publish_any(rt, str(dead["queue"]), msg.body,
                                   {**msg.headers, "x_dead_letter_queue": rid,
                                    "x_dead_letter_attempts": msg.attempts}, _request)
        await q.ack(msg)
        log.warning("queue %s: message %s failed (attempt %d): %s; dead-lettered", rid, msg.id,
                    msg.attempts, why)
        return False
    await q.nack(msg)
    log.warning("queue %s: message %s failed (attempt %d): %s; it will be redelivered", rid,
                msg.id, msg.attempts, why)
    return False


async def _keep_claim(q: sqlqueue.SqlQueue, msg: sqlqueue.Claimed) -> None:
    """Extend the claim every third of the visibility timeout while the handler runs."""
    while True:
        await wtime.sleep(max(0.05, q.visibility / 3))
        try:
            if not await q.extend(msg):
                return                      # settled early, or claimed again elsewhere
        except WippyError as exc:           # the database is down: the claim may lapse
            log.debug("queue %s: could not extend message %s: %s", q.name, msg.id, exc)


async def settle_sql(rid: str, where: list[Any], ack: bool, attempts: int) -> bool:
    """``queue.message():ack()/nack()`` of a SQL queue's message: settle it in the table now
    (single-shot through the claim token: the runner's own settling then changes nothing)."""
    q = await sqlqueue.for_queue(_rt.get(), rid, _request)
    if q is None:
        return False
    msg = sqlqueue.Claimed(int(where[0]), str(where[1]), "", None, {}, attempts)
    return await (q.ack(msg) if ack else q.nack(msg))
