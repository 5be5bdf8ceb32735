"""The message queue of a ``queue.queue`` entry on the memory driver: ready messages in
publish order, deliveries in flight until acked or nacked, and nacked messages waiting out a
redelivery delay (S13).

Pure: no sockets, no processes; time comes in as ``now`` (seconds), so redelivery is tested with
a fake clock. The node holds one :class:`MemoryQueue` per queue entry and hands messages to its
consumers (:mod:`wippy.node.resources`).

A nacked message (the handler returned false, raised, or its process or host died) comes back
after :func:`redelivery_delay` of its attempts: 50 ms doubling up to 5 s, so a handler that
always fails costs a few deliveries a second, never a tight loop. When the queue names a
``dead_letter`` with ``max_attempts``, a message nacked that many times goes there instead
(Wippy accepts the block and enforces it in no driver yet; here it is enforced).

Rejected: redelivering at once (Wippy's memory driver does; a raising handler then spins a
core), and a per-message timer (one heap of due times serves every waiting message).
"""
from __future__ import annotations

import heapq
import itertools
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResourceError

__all__ = ["MemoryQueue", "QueuedMessage", "redelivery_delay", "DEFAULT_MAX_LENGTH",
           "REDELIVERY_INITIAL_S", "REDELIVERY_MAX_S"]

DEFAULT_MAX_LENGTH = 1000      # Wippy's memory driver default (driver_options.memory.max_length)
REDELIVERY_INITIAL_S = 0.05    # the first redelivery of a nacked message waits this long
REDELIVERY_MAX_S = 5.0         # ... doubling per attempt up to this


def redelivery_delay(attempts: int) -> float:
    """How long a message nacked for the ``attempts``-th time waits before it is ready again."""
    if attempts <= 0:
        return 0.0
    return min(REDELIVERY_MAX_S, REDELIVERY_INITIAL_S * (2 ** min(attempts - 1, 30)))


@dataclass(slots=True)
class QueuedMessage:
    """One message: its ``id``, plain-data ``body``, ``headers`` and delivery ``attempts`` so far."""

    id: str
    body: Any
    headers: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


class MemoryQueue:
    """One memory queue. ``max_length`` bounds the messages waiting (ready or delayed)."""

    def __init__(self, name: str, max_length: int = DEFAULT_MAX_LENGTH,
                 max_attempts: int | None = None) -> None:
        self.name = name
        self.max_length = max_length or DEFAULT_MAX_LENGTH
        self.max_attempts = max_attempts
        self._ready: deque[QueuedMessage] = deque()
        self._delayed: list[tuple[float, int, QueuedMessage]] = []
        self._seq = itertools.count()
        self.in_flight: dict[str, QueuedMessage] = {}
        self.published = 0
        self.acked = 0
        self.nacked = 0

    def waiting(self) -> int:
        """Messages not in flight (ready now or after their redelivery delay)."""
        return len(self._ready) + len(self._delayed)

    def publish(self, body: Any, headers: dict[str, Any] | None = None) -> str:
        """Append a message; returns its id. Raises ResourceError (UNAVAILABLE, retryable)
        when ``max_length`` messages already wait."""
        if self.waiting() >= self.max_length:
            raise ResourceError("UNAVAILABLE", f"queue {self.name} is full ({self.max_length} "
                                               "messages wait; driver_options.memory.max_length)",
                                retryable=True)
        msg = QueuedMessage(uuid.uuid4().hex, body, dict(headers or {}))
        self._ready.append(msg)
        self.published += 1
        return msg.id

    def restore(self, msg: QueuedMessage) -> None:
        """Put back a message taken from elsewhere (a dead letter), ready at once."""
        self._ready.append(msg)

    def take(self, now: float) -> QueuedMessage | None:
        """The next ready message, now in flight (None when none is ready)."""
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            self._ready.append(heapq.heappop(delayed)[2])
        if not self._ready:
            return None
        msg = self._ready.popleft()
        msg.attempts += 1
        self.in_flight[msg.id] = msg
        return msg

    def ack(self, msg_id: str) -> bool:
        """Done with: forget it. False when it was not in flight (settled already)."""
        if self.in_flight.pop(msg_id, None) is None:
            return False
        self.acked += 1
        return True

    def nack(self, msg_id: str, now: float) -> QueuedMessage | None:
        """Failed: it comes back after its redelivery delay, or, past ``max_attempts``, is
        returned for the dead-letter queue. None when it was not in flight."""
        msg = self.in_flight.pop(msg_id, None)
        if msg is None:
            return None
        self.nacked += 1
        if self.max_attempts is not None and msg.attempts >= self.max_attempts:
            return msg
        heapq.heappush(self._delayed, (now + redelivery_delay(msg.attempts), next(self._seq), msg))
        return None

    def next_due(self) -> float | None:
        """When the first delayed message becomes ready (None: none waits)."""
        return self._delayed[0][0] if self._delayed else None

    def has_ready(self, now: float) -> bool:
        return bool(self._ready) or bool(self._delayed and self._delayed[0][0] <= now)

    def stats(self) -> dict[str, int]:
        """Wippy's ``queue.info``: ``message_count`` (waiting), ``ready``, ``in_flight``."""
        return {"message_count": self.waiting(), "ready": len(self._ready),
                "in_flight": len(self.in_flight), "published": self.published,
                "acked": self.acked, "nacked": self.nacked}
