"""Supervision decisions as pure functions, and the service manager driven with a fake node."""
from __future__ import annotations

import pytest

from wippy.node.services import ServiceManager
from wippy.supervision.services import State
from wippy.supervision.strategy import (
    RestartType,
    Strategy,
    restart_child,
    restart_plan,
    stop_order,
    within_intensity,
)


def test_restart_types_follow_erlang():
    assert restart_child(RestartType.PERMANENT, failed=False) is True
    assert restart_child(RestartType.PERMANENT, failed=True) is True
    assert restart_child(RestartType.TRANSIENT, failed=False) is False
    assert restart_child(RestartType.TRANSIENT, failed=True) is True
    assert restart_child(RestartType.TEMPORARY, failed=True) is False


@pytest.mark.parametrize("strategy, expected", [
    (Strategy.ONE_FOR_ONE, ["b"]),
    (Strategy.ONE_FOR_ALL, ["a", "b", "c"]),
    (Strategy.REST_FOR_ONE, ["b", "c"]),
])
def test_restart_plan_by_strategy(strategy, expected):
    assert restart_plan(strategy, ["a", "b", "c"], "b") == expected


def test_siblings_stop_in_reverse_start_order():
    assert stop_order(["a", "b", "c"], "b") == ["c", "a"]


def test_intensity_window_allows_intensity_restarts_per_period():
    times, ok = within_intensity((), 100.0, intensity=2, period=5)
    assert ok
    times, ok = within_intensity(times, 101.0, 2, 5)
    assert ok
    times, ok = within_intensity(times, 102.0, 2, 5)
    assert not ok                                   # third restart within 5 s
    times, ok = within_intensity((100.0, 101.0), 106.5, 2, 5)
    assert ok and times == (106.5,)                 # old restarts left the window


class FakeNode:
    """What the service manager is given (spawner, names, host entries, timer, stop), as one
    recording fake with a clock that moves only when told."""

    def __init__(self):
        self.stopping = False
        self.names = {}
        self.spawned = []
        self.terminated = []
        self.stopped_with = None
        self.timers = []
        self.now = 1000.0

    def clock(self):
        return self.now

    def call_later(self, delay, fn, *args):
        class H:
            cancelled = False

            def cancel(self):
                self.cancelled = True
        h = H()
        self.timers.append((delay, fn, args, h))
        return h

    def run_timers(self):
        timers, self.timers = self.timers, []
        for _, fn, args, h in timers:
            if not h.cancelled:
                fn(*args)

    def spawn(self, entry, host, args, monitor=True, ack=False, security=None):
        pid = "{%s/1|%d}" % (host, len(self.spawned) + 1)
        self.spawned.append((entry, pid))
        return pid

    def terminate(self, pid):
        self.terminated.append(pid)

    def assign(self, name, pid):
        self.names[name] = pid

    def release(self, pid, names):
        for name in names:
            if self.names.get(name) == pid:
                del self.names[name]

    def restart_entry(self, host_id, counted):
        pass

    def stop_entry(self, host_id):
        pass

    def begin_stop(self, code, reason):
        self.stopped_with = (code, reason)


def svc_entry(name, **lifecycle):
    return {"id": f"app:{name}", "kind": "process.service",
            "data": {"process": "app:p", "host": "app:h", "input": [],
                     "lifecycle": {"auto_start": True, **lifecycle}}}


def sup_entry(name, children, strategy="one_for_one", intensity=1, period=3600):
    return {"id": f"app:{name}", "kind": "supervisor",
            "data": {"strategy": strategy, "intensity": intensity, "period": period,
                     "children": [{"id": f"app:{c}", "restart": r} for c, r in children]}}


def manager(*entries):
    node = FakeNode()
    m = ServiceManager(node, node, node, node.call_later, lambda: node.stopping, node.begin_stop,
                       clock=node.clock)
    m.load({e["id"]: e for e in entries})
    m.start_all()
    return node, m


ERR = {"kind": "INTERNAL", "message": "boom"}


def test_stable_threshold_resets_the_backoff_count():
    node, m = manager(svc_entry("s", stable_threshold="5s",
                                restart={"initial_delay": "1s", "jitter": 0}))
    svc = m.svcs["app:s"]
    delays = []
    for ran_for in (1, 1, 1, 10):
        node.now += ran_for
        m.on_exit(svc.pid, None, ERR)
        delays.append(node.timers[-1][0])
        node.run_timers()
    assert delays == [1.0, 2.0, 4.0, 1.0]     # the long run reset the count


def test_a_failing_child_past_intensity_escalates_and_the_root_stops_the_node():
    node, m = manager(svc_entry("a"), svc_entry("b"),
                      sup_entry("top", [("a", "permanent"), ("b", "permanent")], intensity=1))
    a = m.svcs["app:a"]
    m.on_exit(a.pid, None, ERR)               # first restart: within intensity
    node.run_timers()
    assert node.stopped_with is None and a.pid is not None
    m.on_exit(a.pid, None, ERR)               # second within the period: give up
    assert node.stopped_with[0] == 1 and "app:top" in node.stopped_with[1]
    assert m.sups["app:top"].state == "failed"
    assert m.svcs["app:b"].state == State.STOPPED


def test_nested_supervisor_escalates_to_its_parent_which_restarts_it():
    node, m = manager(svc_entry("a"), svc_entry("b"),
                      sup_entry("inner", [("a", "permanent")], intensity=0),
                      sup_entry("outer", [("inner", "permanent"), ("b", "permanent")], intensity=5))
    a = m.svcs["app:a"]
    first = a.pid
    m.on_exit(first, None, ERR)               # inner gives up at once, outer restarts inner
    node.run_timers()
    assert node.stopped_with is None
    assert m.sups["app:inner"].state == "running" and m.sups["app:outer"].restart_count == 1
    assert a.pid is not None and a.pid != first


def test_transient_child_stays_down_after_a_normal_exit():
    node, m = manager(svc_entry("t"), sup_entry("s", [("t", "transient")]))
    t = m.svcs["app:t"]
    m.on_exit(t.pid, "done", None)
    assert t.state == State.EXITED and not [h for *_, h in node.timers if not h.cancelled]
