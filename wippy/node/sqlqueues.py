"""How the node drives the consumers of ``queue.driver.sql`` queues (S13): it never touches the
table (the node runs no SQL); it decides when to start a delivery process, and the process
claims, handles and settles one message in the table itself
(:mod:`wippy.resources.consumer`).

Per queue, three states:

* **busy**: the last delivery found a message: every consumer is kept at its ``concurrency``;
* **idle**: a delivery found the queue empty: one probe at a time, every ``poll_interval`` of
  the driver, until a probe finds a message or a publisher of this node pokes the queue;
* **down**: a delivery failed before or after its handler (the database is unreachable): no
  deliveries for 100 ms doubling to 5 s per failure in a row (the pool's backoff), then a probe.

A delivery whose host died is not a database failure: its message is claimed again once its
visibility timeout passes, and the consumer waits for its host as memory queues do.

Rejected: the node claiming rows itself (its loop would wait on the database or need threads
of its own, and the claimed rows would still have to reach the hosts).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..registry.entry import Kind
from ..resources.consumer import EMPTY
from ..resources.pool import reconnect_delay
from ..resources.sqlqueue import DEFAULT_POLL_S

__all__ = ["SqlDispatch", "SQL_SLOT"]

log = logging.getLogger("wippy.node.resources")

#: The message id a consumer's ``running`` table holds for a SQL delivery (its message is
#: not known to the node).
SQL_SLOT = ""


@dataclass(slots=True)
class _State:
    idle: bool = False
    idle_until: float = 0.0
    probe: str | None = None           # the pid of the one probe of an idle queue
    failures: int = 0
    down_until: float = 0.0
    timer: Any = None
    timer_at: float = 0.0


class SqlDispatch:
    """``start(consumer, delivery) -> pid | None`` spawns one delivery (None: its host is not
    ready; the hub retries); ``entry(id)`` reads the registry."""

    def __init__(self, start: Callable[[Any, dict[str, Any]], str | None],
                 entry: Callable[[str], dict[str, Any] | None], call_later: Callable[..., Any],
                 clock: Callable[[], float], wake: Callable[[str], None]) -> None:
        self._start = start
        self._entry = entry
        self._call_later = call_later
        self._clock = clock
        self._wake = wake
        self.queues: dict[str, _State] = {}

    def is_sql(self, rid: str) -> bool:
        """Whether queue ``rid`` is on a ``queue.driver.sql``."""
        return self._driver(rid) is not None

    def _driver(self, rid: str) -> dict[str, Any] | None:
        entry = self._entry(rid)
        if entry is None or entry.get("kind") != Kind.QUEUE_QUEUE.value:
            return None
        driver = self._entry(str((entry.get("data") or {}).get("driver") or ""))
        if driver is None or driver.get("kind") != Kind.QUEUE_DRIVER_SQL.value:
            return None
        return driver

    def _poll(self, rid: str) -> float:
        data = (self._driver(rid) or {}).get("data") or {}
        try:
            return float(data.get("poll_interval") or DEFAULT_POLL_S)
        except (TypeError, ValueError):
            return DEFAULT_POLL_S

    def pump(self, rid: str, consumers: Sequence[Any]) -> None:
        """Start the deliveries queue ``rid``'s state allows."""
        st = self.queues.setdefault(rid, _State())
        now = self._clock()
        if now < st.down_until:
            self._wake_at(rid, st, st.down_until)
            return
        if st.idle or st.failures:
            if st.probe is not None:
                return
            if st.idle and now < st.idle_until:
                self._wake_at(rid, st, st.idle_until)
                return
            for c in consumers:
                if len(c.running) < c.concurrency and not c.waiting_host:
                    st.probe = self._start(c, {"queue": rid, "func": c.func, "sql": True})
                    return
            return
        moved = True
        while moved:                        # one delivery per consumer per round: fair
            moved = False
            for c in consumers:
                if len(c.running) < c.concurrency and not c.waiting_host:
                    moved = self._start(c, {"queue": rid, "func": c.func, "sql": True}) \
                        is not None or moved

    def poke(self, rid: str) -> None:
        """A message was published here: an idle queue is looked at now."""
        st = self.queues.get(rid)
        if st is not None and st.idle:
            st.idle = False

    def exited(self, rid: str, pid: str, value: Any, error: dict[str, Any] | None) -> None:
        """Delivery ``pid`` of queue ``rid`` ended with ``value`` or ``error``."""
        st = self.queues.setdefault(rid, _State())
        if st.probe == pid:
            st.probe = None
        now = self._clock()
        if error is None:
            st.failures = 0
            st.down_until = 0.0
            if value == EMPTY:
                st.idle = True
                st.idle_until = now + self._poll(rid)
            else:
                st.idle = False
        elif error.get("kind") != "HOST_DOWN":
            st.failures += 1
            st.down_until = now + reconnect_delay(st.failures)
            if st.failures in (1, 10) or st.failures % 100 == 0:
                log.warning("queue %s: a delivery failed (%d in a row): %s", rid, st.failures,
                            error.get("message"))

    def _wake_at(self, rid: str, st: _State, when: float) -> None:
        if st.timer is not None and st.timer_at <= when:
            return                          # an earlier wake-up is due anyway
        if st.timer is not None:
            st.timer.cancel()
        st.timer_at = when
        st.timer = self._call_later(max(0.0, when - self._clock()), self._fire, rid)

    def _fire(self, rid: str) -> None:
        st = self.queues.get(rid)
        if st is not None:
            st.timer = None
        self._wake(rid)

    def forget(self, rid: str) -> None:
        """Queue ``rid`` was deleted or changed driver."""
        st = self.queues.pop(rid, None)
        if st is not None and st.timer is not None:
            st.timer.cancel()
