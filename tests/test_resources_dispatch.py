"""When the node starts deliveries of a ``queue.driver.sql`` queue (pure: a fake clock, fake
spawns): busy queues fill every consumer, an empty queue is probed once per poll interval, a
failing database backs off, a publisher's poke wakes an idle queue."""
from __future__ import annotations

from typing import Any

import pytest

from wippy.node.sqlqueues import SqlDispatch
from wippy.resources.consumer import EMPTY
from wippy.resources.pool import reconnect_delay

pytestmark = pytest.mark.timeout(10)

ENTRIES = {
    "app:drv": {"kind": "queue.driver.sql", "data": {"database": "app:db", "poll_interval": 2.0}},
    "app:q": {"kind": "queue.queue", "data": {"driver": "app:drv"}},
    "app:m": {"kind": "queue.queue", "data": {"driver": "app:mem"}},
    "app:mem": {"kind": "queue.driver.memory", "data": {}},
}


class _C:
    def __init__(self, concurrency: int) -> None:
        self.func = "app:h"
        self.concurrency = concurrency
        self.running: dict[str, str] = {}
        self.waiting_host = False


class _Rig:
    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []
        self.n = 0
        self.c = _C(3)
        self.d = SqlDispatch(self.start, ENTRIES.get, self.later, lambda: self.now,
                             lambda rid: self.d.pump(rid, [self.c]))

    def start(self, c: _C, delivery: dict[str, Any]) -> str:
        assert delivery == {"queue": "app:q", "func": "app:h", "sql": True}
        self.n += 1
        pid = f"p{self.n}"
        c.running[pid] = ""
        return pid

    def later(self, delay: float, fn: Any, *args: Any) -> Any:
        self.timers.append((self.now + delay, fn, args))

        class _H:
            def cancel(self) -> None:
                pass
        return _H()

    def finish(self, pid: str, value: Any = True, error: dict[str, Any] | None = None) -> None:
        del self.c.running[pid]
        self.d.exited("app:q", pid, value, error)
        self.d.pump("app:q", [self.c])

    def advance(self, to: float) -> None:
        self.now = to
        due = [t for t in self.timers if t[0] <= to]
        self.timers = [t for t in self.timers if t[0] > to]
        for _, fn, args in due:
            fn(*args)


def test_only_queues_on_a_sql_driver_are_dispatched_here() -> None:
    d = _Rig().d
    assert d.is_sql("app:q") and not d.is_sql("app:m") and not d.is_sql("app:none")


def test_a_busy_queue_keeps_every_slot_full_and_an_empty_one_is_probed_once_per_interval() -> None:
    rig = _Rig()
    rig.d.pump("app:q", [rig.c])
    assert sorted(rig.c.running) == ["p1", "p2", "p3"]
    rig.finish("p1", True)
    assert len(rig.c.running) == 3                       # refilled
    for pid in sorted(rig.c.running):
        rig.finish(pid, EMPTY)
    assert rig.c.running == {}                           # idle: nothing until the interval
    rig.advance(1.9)
    assert rig.c.running == {}
    rig.advance(2.0)
    assert len(rig.c.running) == 1                       # one probe
    rig.d.pump("app:q", [rig.c])
    assert len(rig.c.running) == 1
    rig.finish(next(iter(rig.c.running)), True)          # it found a message: busy again
    assert len(rig.c.running) == 3


def test_a_poke_wakes_an_idle_queue_at_once() -> None:
    rig = _Rig()
    rig.d.pump("app:q", [rig.c])
    for pid in sorted(rig.c.running):
        rig.finish(pid, EMPTY)
    assert rig.c.running == {}
    rig.d.poke("app:q")
    rig.d.pump("app:q", [rig.c])
    assert len(rig.c.running) == 3


def test_failing_deliveries_back_off_like_the_pool_and_a_dead_host_does_not() -> None:
    rig = _Rig()
    rig.d.pump("app:q", [rig.c])
    rig.finish("p1", None, {"kind": "HOST_DOWN", "message": "host died"})
    assert len(rig.c.running) == 3                       # not the database's fault
    for pid in sorted(rig.c.running):
        rig.finish(pid, None, {"kind": "UNAVAILABLE", "message": "database app:db is unreachable"})
    assert rig.c.running == {}
    failures = rig.d.queues["app:q"].failures
    assert failures == 3
    rig.advance(reconnect_delay(failures) - 0.01)
    assert rig.c.running == {}
    rig.advance(reconnect_delay(failures))
    assert len(rig.c.running) == 1                       # one probe after the window
    rig.finish(next(iter(rig.c.running)), True)
    assert len(rig.c.running) == 3
