"""The durable queue driver ``queue.driver.sql`` (wippy's own kind; Wippy ships memory, AMQP
and SQS): the messages of its queues are rows of one table in a ``db.sql.*`` database, reached
through that database's pool in the host OS process that publishes or consumes (S13).

One row per message: ``queue`` (the queue's ``queue_name``, else its entry id), ``msg_id``,
``body`` and ``headers`` (JSON), ``attempts`` (deliveries so far), ``visible_at`` (unix seconds:
the row can be claimed once the clock passes it) and ``claim`` (the token of the delivery that
holds it). The lifecycle, as SQS's:

* publish: an INSERT, visible at once; ``publish`` returns after it committed;
* claim: one UPDATE takes the oldest visible row, sets a fresh ``claim`` token, counts the
  attempt and hides the row for ``visibility_timeout``; PostgreSQL picks it with ``FOR UPDATE
  SKIP LOCKED`` (consumers on several hosts or nodes never wait on each other's row), SQLite
  serialises writers anyway;
* ack: DELETE the row, guarded by the claim token (a delivery that outlived its visibility and
  was claimed again cannot delete the newer claim's row);
* nack: the row becomes visible again after the memory driver's redelivery delay (50 ms
  doubling to 5 s), or, past ``dead_letter.max_attempts``, it is moved to the dead-letter queue;
* while the handler runs, its delivery extends the claim every third of the visibility
  timeout, so a slow handler is not delivered twice;
* a delivery that never settles (its process, host or node killed) is claimed again once its
  visibility timeout passes: at-least-once delivery, and nothing committed is lost.

Times are the clock of the OS process running the statement (``time.time()``): nodes sharing
one PostgreSQL need clocks in step to well under the visibility timeout.

Rejected: LISTEN/NOTIFY for wake-ups (PostgreSQL only, and a held connection per host); the
node is poked by publishers of the same node and polls ``poll_interval`` otherwise.
"""
from __future__ import annotations

import json
import time as _time
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import ResourceError
from ..registry.entry import Kind
from . import databases as _dbs
from .databases import Database
from .envvars import Request
from .mqueue import redelivery_delay

__all__ = ["SqlQueue", "Claimed", "for_queue", "publish_any", "DEFAULT_TABLE",
           "DEFAULT_VISIBILITY_S", "DEFAULT_POLL_S"]

DEFAULT_TABLE = "wippy_queue"
DEFAULT_VISIBILITY_S = 30.0   # SQS's default visibility timeout
DEFAULT_POLL_S = 1.0          # an idle queue is looked at this often (publishers here poke)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message taken by one delivery: the row, its token and what the handler sees."""

    row: int
    claim: str
    id: str
    body: Any
    headers: dict[str, Any]
    attempts: int


def _encode(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ResourceError("INVALID", f"message {what} is not plain data: {exc}") from None


class SqlQueue:
    """One queue of a ``queue.driver.sql`` table, through ``db`` (this host's pool)."""

    _made: set[tuple[str, str]] = set()

    def __init__(self, db: Database, table: str, name: str,
                 visibility: float = DEFAULT_VISIBILITY_S) -> None:
        self.db = db
        self.t = table
        self.name = name
        self.visibility = visibility

    async def ensure(self) -> None:
        """Create the table and its index when missing (once per OS process and database)."""
        mark = (self.db.id, self.t)
        if mark in SqlQueue._made:
            return
        pg = self.db.type == "postgres"
        key = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
        real = "DOUBLE PRECISION" if pg else "REAL"
        await self.db.create(
            f"CREATE TABLE IF NOT EXISTS {self.t} (id {key}, queue VARCHAR(255) NOT NULL, "
            f"msg_id VARCHAR(64) NOT NULL, body TEXT NOT NULL, headers TEXT NOT NULL, "
            f"attempts INTEGER NOT NULL DEFAULT 0, visible_at {real} NOT NULL, "
            f"claim VARCHAR(64))")
        await self.db.create(f"CREATE INDEX IF NOT EXISTS {self.t}_ready ON {self.t} "
                             "(queue, visible_at, id)")
        SqlQueue._made.add(mark)

    async def publish(self, body: Any, headers: dict[str, Any] | None = None,
                      attempts: int = 0) -> str:
        """Insert a message, visible at once; its id once committed."""
        msg_id = uuid.uuid4().hex
        await self.db.run(f"INSERT INTO {self.t} (queue, msg_id, body, headers, attempts, "
                          "visible_at) VALUES (?, ?, ?, ?, ?, ?)",
                          [self.name, msg_id, _encode(body, "body"),
                           _encode(dict(headers or {}), "headers"), attempts, _time.time()],
                          False)
        return msg_id

    async def claim(self) -> Claimed | None:
        """Take the oldest visible message for ``visibility`` seconds (None: none is)."""
        now = _time.time()
        token = uuid.uuid4().hex
        lock = " FOR UPDATE SKIP LOCKED" if self.db.type == "postgres" else ""
        rows = await self.db.run(
            f"UPDATE {self.t} SET claim = ?, attempts = attempts + 1, visible_at = ? "
            f"WHERE id = (SELECT id FROM {self.t} WHERE queue = ? AND visible_at <= ? "
            f"ORDER BY visible_at, id LIMIT 1{lock}) "
            "RETURNING id, msg_id, body, headers, attempts",
            [token, now + self.visibility, self.name, now], True)
        if not rows:
            return None
        r = rows[0]
        return Claimed(int(r["id"]), token, str(r["msg_id"]), json.loads(r["body"]),
                       json.loads(r["headers"]), int(r["attempts"]))

    async def extend(self, msg: Claimed) -> bool:
        """Hide the message another ``visibility`` seconds from now (a handler still runs);
        False when this claim no longer holds it."""
        res = await self.db.run(f"UPDATE {self.t} SET visible_at = ? WHERE id = ? AND claim = ?",
                                [_time.time() + self.visibility, msg.row, msg.claim], False)
        return bool(res["rows_affected"])

    async def ack(self, msg: Claimed) -> bool:
        """Delete the message; False when this claim no longer holds it."""
        res = await self.db.run(f"DELETE FROM {self.t} WHERE id = ? AND claim = ?",
                                [msg.row, msg.claim], False)
        return bool(res["rows_affected"])

    async def nack(self, msg: Claimed) -> bool:
        """Make the message visible again after its redelivery delay; False when this claim
        no longer holds it."""
        res = await self.db.run(
            f"UPDATE {self.t} SET claim = NULL, visible_at = ? WHERE id = ? AND claim = ?",
            [_time.time() + redelivery_delay(msg.attempts), msg.row, msg.claim], False)
        return bool(res["rows_affected"])

    async def stats(self) -> dict[str, int]:
        """``message_count`` (all rows), ``ready`` (visible now), ``in_flight`` (claimed)."""
        now = _time.time()
        rows = await self.db.run(
            f"SELECT count(*) AS total, "
            f"coalesce(sum(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), 0) AS ready, "
            f"coalesce(sum(CASE WHEN visible_at > ? AND claim IS NOT NULL THEN 1 ELSE 0 END), 0) "
            f"AS in_flight FROM {self.t} WHERE queue = ?", [now, now, self.name], True)
        r = rows[0]
        return {"message_count": int(r["total"]), "ready": int(r["ready"]),
                "in_flight": int(r["in_flight"])}


def _seconds(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


async def for_queue(rt: Any, queue_id: str, request: Request) -> SqlQueue | None:
    """The table of queue ``queue_id`` when its driver is ``queue.driver.sql`` (None for a
    memory queue). Raises ResourceError NOT_FOUND (no such queue or driver), INVALID (not a
    queue)."""
    store = rt.store
    entry = store.get(queue_id) if store is not None else None
    if entry is None:
        raise ResourceError("NOT_FOUND", f"queue {queue_id} not found")
    if entry.get("kind") != Kind.QUEUE_QUEUE.value:
        raise ResourceError("INVALID", f"{queue_id} is a {entry.get('kind')}, not a queue.queue")
    data = entry.get("data") or {}
    driver = store.get(str(data.get("driver") or ""))
    if driver is None:
        raise ResourceError("NOT_FOUND", f"queue {queue_id}: driver {data.get('driver')} not found")
    if driver.get("kind") != Kind.QUEUE_DRIVER_SQL.value:
        return None
    ddata = driver.get("data") or {}
    db = await _dbs.database(rt, str(ddata["database"]), request)
    q = SqlQueue(db, str(ddata.get("table_name") or DEFAULT_TABLE),
                 str(data.get("queue_name") or queue_id),
                 _seconds(ddata.get("visibility_timeout"), DEFAULT_VISIBILITY_S))
    await q.ensure()
    return q


async def publish_any(rt: Any, queue_id: str, body: Any, headers: dict[str, Any] | None,
                      request: Request) -> str:
    """Publish to any queue: a row for a SQL queue (then the node is poked so its consumers
    look at once), a request to the node for a memory one. Returns the message id."""
    q = await for_queue(rt, queue_id, request)
    if q is None:
        return str(await request("queue", "publish", queue_id, body, dict(headers or {})))
    msg_id = await q.publish(body, headers)
    await request("queue", "poke", queue_id)
    return msg_id
