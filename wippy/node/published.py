"""A cluster node's status in the database: every lease round (TTL/3) the node gathers its
status as ``wippy ps`` does, without the process list, and writes it into its row of
``wippy_nodes``, where ``wippy ps --cluster`` reads every node's at once, from any machine.

Rejected: asking each node over the peer sockets when someone runs ``ps --cluster``. That
needs the reader to hold a key in the allow-list, and shows nothing of a node that is hung;
a row in the database needs only the DSN and carries its own age. The price is one small
UPDATE per node per round, and a status up to one round old.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from ..errors import StorageError

__all__ = ["StatusPublisher"]

log = logging.getLogger("wippy.cluster")


class StatusPublisher:
    """Publishes this node's status every ``every`` seconds while ``alive()``.

    ``gather(answer, processes)`` is the node's :meth:`StatusCollector.start`; ``publish(text)``
    writes the JSON (:meth:`Membership.publish`)."""

    def __init__(self, gather: Callable[[Any, bool], None], publish: Callable[[str], None],
                 call_later: Callable[..., Any], every: float,
                 alive: Callable[[], bool]) -> None:
        self._gather = gather
        self._publish = publish
        self._call_later = call_later
        self.every = every
        self._alive = alive
        self._asking = False
        self.published = 0
        self._call_later(every, self._round)

    def _round(self) -> None:
        if not self._alive():
            return
        self._call_later(self.every, self._round)
        if not self._asking:            # a host slow to answer: skip a round, never pile up
            self._asking = True
            self._gather(self, False)

    # -- the collector's answer ------------------------------------------------------------
    def ok(self, value: Any = True) -> None:
        self._asking = False
        if not self._alive():
            return
        try:
            self._publish(json.dumps(value, default=str))
            self.published += 1
        except StorageError as exc:     # the lease round reports the database; keep quiet here
            log.debug("status not published: %s", exc)

    def error(self, kind: str, message: str) -> None:
        self._asking = False
