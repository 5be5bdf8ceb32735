"""The node's part in its cluster: keep the lease, take dead nodes' workflows over, and stop
driving workflows when this node may have lost them (S12).

Every TTL/3 (a timer on the node's loop) the part renews the lease, then, once the node has
booted, claims its share of the orphans (unfinished workflows whose owner's lease expired):
what brings it to an even part of all unfinished workflows over the live nodes, so the
survivors spread them between them, and a claim that raced with another survivor's
(``SKIP LOCKED``) takes what is left at the next round (see :func:`share`). The claimed
workflows resume by replay: their timers keep their journaled due times. The same round picks
up what other nodes left in the journal for this one: signals to the workflows it runs, and
the ends of workflows it has monitors of (nodes do not message each other yet); a
notification from the committing node (:mod:`.notify`) makes it look at once.

Self-fencing: when this node loses its connection to the database (a statement or a renewal
fails to reach it), the others may soon take its workflows, and its own view of them may have
missed writes that failed: it stops driving all of them at once (their processes are
stopped; their journal writes would be refused anyway once another node claims them). When a
renewal succeeds again, the node claims back, with new tokens, whatever still has its name as
owner, and resumes it by replay: one rule for every kind of outage, short or long. A renewal
that finds another incarnation under this node's name means this process was replaced: it
stops driving everything and stops the node.

Rejected: riding out short outages without stopping anything. A workflow whose step failed to
commit, or whose exit could not be read back, would need its own repair path for each case;
a replay is cheap next to getting one of them wrong.
"""
from __future__ import annotations

import logging
import math
import time as _time
from typing import Any, Callable, Protocol

from ..errors import StorageError
from .journal import PgJournal
from .membership import Membership
from .notify import Listener, Wake

__all__ = ["ClusterPart", "Driver", "share"]

log = logging.getLogger("wippy.cluster")

# The node's poller wakes on the listener's socket (:meth:`ClusterPart.wake_fd`); this timer
# is the backstop for notifications libpq buffered while it read something else.
NOTIFY_EVERY_S = 0.5


def share(orphans: int, placed: int, mine: int, live: int) -> int:
    """How many of ``orphans`` (unfinished workflows without a live owner) this node claims
    now: enough to bring it to an even part of all unfinished work (``placed`` on live nodes,
    ``mine`` of them here) over ``live`` nodes, and at least one, so the orphans never wait on
    a node that is already above its part."""
    if orphans <= 0:
        return 0
    even = math.ceil((orphans + placed) / max(1, live))
    return min(orphans, max(1, even - mine))


class Driver(Protocol):
    """What the part needs of the node's workflow manager."""

    def adopt(self, records: list[dict[str, Any]]) -> None:
        """Run these workflows (just claimed) from their journal."""

    def disown(self, wfs: list[str], why: str = ...) -> None:
        """Stop running these workflows (no longer ours); never restart them here."""

    def from_inbox(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Journal and deliver signals other nodes left for workflows run here."""

    def watched_elsewhere(self) -> list[str]:
        """Workflows monitored here that another node runs."""

    def ended_elsewhere(self, records: list[dict[str, Any]]) -> None:
        """Tell the watchers here of these workflows, finished elsewhere."""


class ClusterPart:
    """Lease renewal, takeover and self-fencing on the node's loop."""

    def __init__(self, membership: Membership, journal: PgJournal, driver: Driver,
                 call_later: Callable[..., Any], booted: Callable[[], bool],
                 replaced: Callable[[str], None],
                 clock: Callable[[], float] = _time.monotonic,
                 listener: Listener | None = None) -> None:
        self.membership = membership
        self.journal = journal
        self._driver = driver
        self._call_later = call_later
        self._booted = booted
        self._replaced = replaced
        self._clock = clock
        self.last_renewed = clock()
        self.fenced = False          # we stopped driving everything: reclaim when back
        self._lost_seen = journal.db.lost
        self.stopped = False
        self.taken_over = 0          # workflows claimed from dead nodes, since start
        self._listener = listener
        # other parts of the node that act each round (True: renewed and booted; False: this
        # node fenced itself) and on notifications (cluster-wide names, singletons)
        self.rounds: list[Callable[[bool], None]] = []
        self.wakes: list[Callable[[list[str]], None]] = []

    @property
    def every(self) -> float:
        return self.membership.ttl / 3

    def start(self) -> None:
        """Begin renewing (the node has joined)."""
        self.last_renewed = self._clock()
        self._call_later(self.every, self.tick)
        if self._listener is not None:
            self._listener.connect()
            self._call_later(NOTIFY_EVERY_S, self._listen)

    def wake_fd(self) -> int | None:
        """The socket that becomes readable when another node notifies (None: none now)."""
        return None if self.stopped or self._listener is None else self._listener.fileno()

    def _listen(self) -> None:
        if self.stopped or self._listener is None:
            return
        self._call_later(NOTIFY_EVERY_S, self._listen)
        self.woken()

    def woken(self) -> None:
        """Act at once on what other nodes' commits announced (see :mod:`.notify`)."""
        if self.stopped or self._listener is None:
            return
        got = self._listener.poll()
        if not got or self.fenced or not self._booted():
            return
        me = self.membership.node
        left = f"{Wake.LEFT.value} "
        try:
            if f"{Wake.INBOX.value} {me}" in got:
                rows = self.journal.inbox()
                if rows:
                    self._driver.from_inbox(rows)
            if Wake.ENDED.value in got:
                self._poll_ended()
            if any(g.startswith(left) and g != left + me for g in got):
                self._take_orphans()
            for wake in self.wakes:
                wake(got)
        except StorageError as exc:
            self._fence(f"the cluster database cannot be reached ({exc.cause})")

    def tick(self) -> None:
        """One round: renew, self-fence or reclaim, take orphans over."""
        if self.stopped:
            return
        self._call_later(self.every, self.tick)
        sent = self._clock()
        lost, self._lost_seen = self.journal.db.lost > self._lost_seen, self.journal.db.lost
        try:
            renewed = self.membership.renew()
        except StorageError as exc:
            self._lost_seen = self.journal.db.lost
            self._fence(f"the cluster database cannot be reached ({exc.cause})")
            return
        if not renewed:
            self.stopped = True
            self._fence(f"another node took the name {self.membership.node!r}")
            self._replaced(f"this node was replaced under its name {self.membership.node!r}")
            return
        self.last_renewed = sent
        if self._listener is not None:
            self._listener.connect()
        if lost:
            self._fence("the connection to the cluster database was lost")
        if not self._booted():
            return
        try:
            if self.fenced:
                back = self.journal.claim_own()
                self.fenced = False
                log.warning("the cluster database is reachable again; resuming %d workflow(s)",
                            len(back))
                self._driver.adopt(back)
            self._take_orphans()
            self._poll()
            for round_ in self.rounds:
                round_(True)
        except StorageError as exc:
            self._fence(f"the cluster database cannot be reached ({exc.cause})")

    def _take_orphans(self) -> None:
        orphans, placed, mine = self.journal.load()
        if not orphans:
            return
        took = self.journal.claim_orphans(share(orphans, placed, mine, self.membership.live()))
        if took:
            self.taken_over += len(took)
            log.warning("took over %d workflow(s) of node(s) whose lease expired", len(took))
            self._driver.adopt(took)

    def _poll(self) -> None:
        """What other nodes left in the journal for this one: signals to its workflows, and
        the ends of workflows watched here."""
        rows = self.journal.inbox()
        if rows:
            self._driver.from_inbox(rows)
        self._poll_ended()

    def _poll_ended(self) -> None:
        watched = self._driver.watched_elsewhere()
        if watched:
            self._driver.ended_elsewhere(self.journal.ended(watched))

    def _fence(self, why: str) -> None:
        if self.fenced:
            return
        self.fenced = True
        gone = self.journal.disown()
        log.error("%s; this node stops driving its %d workflow(s)", why, len(gone))
        self._driver.disown(gone, "this node may have lost them")
        for round_ in self.rounds:
            try:
                round_(False)
            except StorageError as exc:     # fencing never needs the database
                log.warning("while fencing: %s", exc)

    def info(self) -> dict[str, Any]:
        """This node in its cluster, for ``wippy ps``."""
        return {"node": self.membership.node, "database": self.journal.db.where,
                "incarnation": self.membership.incarnation, "lease_ttl": self.membership.ttl,
                "renewed_ago": round(self._clock() - self.last_renewed, 3),
                "fenced": self.fenced, "driving": len(self.journal.tokens),
                "taken_over": self.taken_over, "refused": self.journal.refused}

    def leave(self) -> None:
        """An orderly stop: end the lease so the others take over at once."""
        self.stopped = True
        if self._listener is not None:
            self._listener.close()
        try:
            self.membership.leave()
        except StorageError as exc:
            log.warning("could not end the lease (%s); the others wait for it to expire", exc)
