"""``wippy.queue``: publish to queues from the registry and read the delivery a consumer's
handler runs for, with Wippy's names (S13). Lua's ``queue`` module is a view of this one.

::

    await queue.publish("app:tasks", {"action": "resize", "id": 7}, {"priority": "high"})
    msg = queue.message()              # inside a queue.consumer's handler
    msg.id(); msg.header("priority"); msg.headers(); await msg.ack()   # or nack(): settle early

A ``queue.queue`` on ``queue.driver.memory`` lives in the node; one on ``queue.driver.sql``
(wippy's own, durable) is a table, written here through the database's pool. Each message is
handed to one of its ``queue.consumer`` entries, which runs its function on a host with the
body as the argument: returning ``False`` or raising nacks (the message comes back after a
growing delay), anything else acks.

Checked actions (S9): ``queue.publish`` and ``queue.publish.queue`` [queue id] (Wippy checks
both), ``queue.info`` [queue id].
"""
from __future__ import annotations

from typing import Any, Mapping

from . import funcs
from .errors import ResourceError
from .resources import request as _request
from .resources import sqlqueue as _sqlq
from .resources.consumer import MESSAGE_KEY, settle_sql
from .runtime import table as _rt

__all__ = ["publish", "message", "info", "Message"]


async def publish(queue_id: str, data: Any, headers: Mapping[str, Any] | None = None) -> bool:
    """Append ``data`` (plain data) to queue ``queue_id``; True once the node has it. Raises
    ResourceError: INVALID (no id, no data), NOT_FOUND, UNAVAILABLE (the queue is full)."""
    if not isinstance(queue_id, str) or not queue_id:
        raise ResourceError("INVALID", "queue id is empty")
    if data is None:
        raise ResourceError("INVALID", "message data is empty")
    rt = _rt.get()
    rt.check("queue.publish", queue_id)
    rt.check("queue.publish.queue", queue_id)
    await _sqlq.publish_any(rt, queue_id, data, dict(headers or {}), _request)
    return True


async def info(queue_id: str) -> dict[str, Any]:
    """``{message_count, ready, in_flight, consumer_count, ...}``."""
    rt = _rt.get()
    rt.check("queue.info", queue_id)
    q = await _sqlq.for_queue(rt, queue_id, _request)
    info = await _request("queue", "info", queue_id)
    return info if q is None else {**info, **await q.stats()}


class Message:
    """The delivery a consumer's handler runs for (Wippy's queue ``Message``)."""

    __slots__ = ("_meta", "settled")

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self._meta = dict(meta)
        self.settled = False

    def id(self) -> str:
        return str(self._meta.get("id"))

    def header(self, key: str) -> Any:
        return (self._meta.get("headers") or {}).get(key)

    def headers(self) -> dict[str, Any]:
        return dict(self._meta.get("headers") or {})

    def attempts(self) -> int:
        """How many times this message has been delivered (1 the first time)."""
        return int(self._meta.get("attempts") or 1)

    async def _settle(self, ack: bool) -> bool:
        if self.settled:
            return False
        self.settled = True
        if self._meta.get("sql"):
            return await settle_sql(str(self._meta.get("queue")), list(self._meta["sql"]), ack,
                                    self.attempts())
        return bool(await _request("queue", "settle", self._meta.get("queue"), self.id(), ack))

    async def ack(self) -> bool:
        """Settle now as done (single-shot: whichever of ack, nack and the return is first)."""
        return await self._settle(True)

    async def nack(self) -> bool:
        """Settle now as failed: the message will be delivered again."""
        return await self._settle(False)


def message() -> Message:
    """The delivery of the running handler; ResourceError INVALID outside one."""
    meta = funcs.context().get(MESSAGE_KEY)
    if not isinstance(meta, Mapping):
        raise ResourceError("INVALID", "no delivery context: queue.message() works in a "
                                       "queue.consumer's handler")
    return Message(meta)
