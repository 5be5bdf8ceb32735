"""The node's cluster part as pure logic, with a fake clock, fake membership and journal: the
share of orphans a node claims, self-fencing when the database cannot be reached, claiming
back when it returns, stopping when the name was taken."""
from __future__ import annotations

from typing import Any

import pytest

from wippy.cluster.part import ClusterPart, share
from wippy.errors import StorageError

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("orphans,placed,mine,live,want", [
    (0, 10, 5, 2, 0),          # nothing to take
    (100, 0, 0, 2, 50),        # the first survivor takes half
    (50, 50, 0, 2, 50),        # the second takes the rest
    (12, 12, 12, 2, 1),        # already above its part: still one, so nothing waits
    (3, 0, 0, 4, 1),           # more nodes than orphans
    (10, 0, 0, 0, 10),         # no live node counted (our own lease just lapsed): take them
])
def test_a_node_claims_what_brings_it_to_an_even_part(orphans: int, placed: int, mine: int,
                                                      live: int, want: int) -> None:
    assert share(orphans, placed, mine, live) == want


class Membership:
    def __init__(self) -> None:
        self.ttl = 3.0
        self.node = "n1"
        self.renewal: Any = True      # True, False (replaced) or an exception to raise
        self.left = False

    def renew(self) -> bool:
        if isinstance(self.renewal, Exception):
            raise self.renewal
        return bool(self.renewal)

    def live(self) -> int:
        return 2

    def leave(self) -> None:
        self.left = True


class Db:
    lost = 0


class Journal:
    def __init__(self) -> None:
        self.db = Db()
        self.tokens = {"w1": 1, "w2": 2}
        self.orphans = 0
        self.own: list[dict[str, Any]] = []
        self.posted: list[tuple[int, str, dict[str, Any]]] = []
        self.finished: dict[str, dict[str, Any]] = {}

    def inbox(self) -> list[tuple[int, str, dict[str, Any]]]:
        return self.posted

    def ended(self, wfs: list[str]) -> list[dict[str, Any]]:
        return [self.finished[w] for w in wfs if w in self.finished]

    def disown(self, wfs: Any = None) -> list[str]:
        gone, self.tokens = list(self.tokens), {}
        return gone

    def claim_own(self) -> list[dict[str, Any]]:
        self.tokens = {w["id"]: 9 for w in self.own}
        return self.own

    def load(self) -> tuple[int, int, int]:
        return self.orphans, len(self.tokens), len(self.tokens)   # the other node runs nothing

    def claim_orphans(self, limit: int) -> list[dict[str, Any]]:
        took = [{"id": f"o{len(self.tokens) + i}", "status": "running"}
                for i in range(min(limit, self.orphans))]
        self.orphans -= len(took)
        self.tokens.update({w["id"]: 5 for w in took})
        return took


class World:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any]] = []
        self.adopted: list[str] = []
        self.disowned: list[str] = []
        self.replaced: list[str] = []
        self.signals: list[int] = []
        self.watching: list[str] = []
        self.told: list[str] = []
        self.booted = True
        self.m, self.j = Membership(), Journal()
        self.part = ClusterPart(self.m, self.j, self, lambda d, fn: self.timers.append((d, fn)),  # type: ignore[arg-type]
                                lambda: self.booted, self.replaced.append, lambda: self.now)

    def adopt(self, records: list[dict[str, Any]]) -> None:
        self.adopted += [r["id"] for r in records]

    def disown(self, wfs: list[str], why: str = "") -> None:
        self.disowned += wfs

    def from_inbox(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        self.signals += [r[0] for r in rows]

    def watched_elsewhere(self) -> list[str]:
        return self.watching

    def ended_elsewhere(self, records: list[dict[str, Any]]) -> None:
        self.told += [r["id"] for r in records]

    def tick(self, after: float = 1.0) -> None:
        self.now += after
        self.part.tick()


def test_renewals_come_every_third_of_the_ttl_and_orphans_are_adopted() -> None:
    w = World()
    w.part.start()
    assert w.timers[-1][0] == pytest.approx(1.0)
    w.j.tokens = {}
    w.j.orphans = 4
    w.tick()
    assert w.adopted == ["o0", "o1"] and w.disowned == []     # its even part of 4 over 2 nodes
    w.tick()
    assert w.adopted == ["o0", "o1", "o2"]                    # above its part: one a round
    w.tick()
    w.tick()
    assert w.adopted == ["o0", "o1", "o2", "o3"] and w.j.orphans == 0


def test_no_orphan_is_taken_before_the_node_has_booted() -> None:
    w = World()
    w.booted = False
    w.j.orphans = 2
    w.tick()
    assert w.adopted == []


def test_losing_the_database_stops_every_workflow_once_then_they_come_back() -> None:
    w = World()
    w.part.start()
    w.m.renewal = StorageError("db", "connection refused")
    w.tick()
    assert w.disowned == ["w1", "w2"] and w.part.fenced
    w.tick()
    assert w.disowned == ["w1", "w2"]        # once
    w.j.own = [{"id": "w1", "status": "running"}]     # w2 was taken over meanwhile
    w.m.renewal = True
    w.tick()
    assert w.adopted == ["w1"] and not w.part.fenced


def test_a_connection_lost_between_rounds_also_fences() -> None:
    w = World()
    w.j.db.lost = 1                          # a commit failed to reach the database
    w.j.own = [{"id": "w1", "status": "running"}, {"id": "w2", "status": "running"}]
    w.tick()                                 # the renewal reconnects: fence, then claim back
    assert w.disowned == ["w1", "w2"] and w.adopted == ["w1", "w2"] and not w.part.fenced
    w.tick()
    assert w.disowned == ["w1", "w2"]


def test_a_node_replaced_under_its_name_stops_driving_and_stops() -> None:
    w = World()
    w.m.renewal = False
    w.tick()
    assert w.disowned == ["w1", "w2"] and len(w.replaced) == 1 and "replaced" in w.replaced[0]
    n = len(w.timers)
    w.part.tick()
    assert len(w.timers) == n                # no more rounds


def test_an_orderly_stop_ends_the_lease() -> None:
    w = World()
    w.part.leave()
    assert w.m.left and w.part.stopped


def test_each_round_picks_up_signals_and_ends_other_nodes_left_in_the_journal() -> None:
    w = World()
    w.j.posted = [(7, "w1", {"topic": "t"})]
    w.watching = ["x1", "x2"]
    w.j.finished = {"x2": {"id": "x2", "status": "completed"}}
    w.tick()
    assert w.signals == [7] and w.told == ["x2"]
    w.booted = False
    w.tick()
    assert w.signals == [7]                 # not before the node has booted


class Listener:
    def __init__(self) -> None:
        self.heard: list[str] = []
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1

    def poll(self) -> list[str]:
        heard, self.heard = self.heard, []
        return heard

    def close(self) -> None:
        pass


def test_a_notification_makes_the_node_look_at_once_between_rounds() -> None:
    w = World()
    lis = Listener()
    w.part = ClusterPart(w.m, w.j, w, lambda d, fn: w.timers.append((d, fn)),  # type: ignore[arg-type]
                         lambda: w.booted, w.replaced.append, lambda: w.now, listener=lis)  # type: ignore[arg-type]
    w.part.start()
    listen = [fn for d, fn in w.timers if d < w.part.every][0]
    w.j.posted = [(3, "w1", {"topic": "t"})]
    w.watching = ["x"]
    w.j.finished = {"x": {"id": "x", "status": "failed"}}
    w.j.orphans = 2
    lis.heard = ["inbox other", "ended"]      # another node's inbox: not ours
    listen()
    assert w.signals == [] and w.told == ["x"] and w.adopted == []
    lis.heard = ["inbox n1", "left n2"]
    listen()
    assert w.signals == [3] and w.adopted == ["o2"]
    w.tick()
    assert lis.connects == 2                   # at start, and again after each renewal
