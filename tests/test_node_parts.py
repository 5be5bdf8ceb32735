"""The node's parts alone, each given fakes of the little it needs: the name table, host
supervision (forks, readiness, deaths, restarts, rescaling, retiring) and the orderly stop."""
from __future__ import annotations

import signal
from dataclasses import dataclass, field

import pytest

from wippy.core import protocol
from wippy.errors import NodeError
from wippy.node.hosts import KILL_GRACE_S, HostState, HostSupervisor, wanted_workers
from wippy.node.names import ACK_TIMEOUT_S, NameTable
from wippy.node.shutdown import FORCE_GRACE_S, Shutdown
from wippy.supervision.services import ServiceSpec

pytestmark = pytest.mark.timeout(10)

KILLED_BY_SIGKILL = signal.SIGKILL          # a wait status: killed by that signal
EXIT_0 = 0


class Timers:
    """call_later that runs nothing until told; a clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pending: list[list] = []

    def call_later(self, delay, fn, *args):
        entry = [self.now + delay, fn, args, False]
        self.pending.append(entry)

        class Handle:
            def cancel(self_inner):
                entry[3] = True
        return Handle()

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            due = sorted((e for e in self.pending if e[0] <= self.now and not e[3]), key=lambda e: e[0])
            if not due:
                return
            entry = due[0]
            self.pending.remove(entry)
            entry[1](*entry[2])

    def delays(self):
        return sorted(round(e[0] - self.now, 6) for e in self.pending if not e[3])


# -- the name table ---------------------------------------------------------------------------
def names_with(ready: set[int]):
    sent: list[tuple] = []
    timers = Timers()
    return NameTable(sent.append, lambda: ready, timers.call_later), sent, timers


def test_register_answers_once_every_ready_host_has_acked():
    table, sent, _ = names_with({1, 2})
    done = []
    assert table.register("db", "{a/1|3}", lambda: done.append(True)) is None
    assert sent == [protocol.name("db", "{a/1|3}", 1)]
    table.ack(1, 1)
    assert done == []
    table.ack(2, 1)
    assert done == [True] and table.lookup("db") == "{a/1|3}"


def test_register_of_a_name_held_by_another_pid_changes_nothing():
    table, sent, _ = names_with(set())
    table.register("db", "{a/1|3}", lambda: None)
    assert table.register("db", "{a/2|4}", lambda: None) == "{a/1|3}"
    assert table.lookup("db") == "{a/1|3}" and len(sent) == 1


def test_a_host_that_dies_owes_no_ack_and_its_processes_lose_their_names():
    table, _, _ = names_with({1, 2})
    done = []
    table.register("db", "{a/2|3}", lambda: done.append(True))
    table.ack(1, 1)
    table.host_down(2)
    assert done == [True] and table.lookup("db") is None


def test_a_registration_never_waits_longer_than_the_ack_timeout():
    table, _, timers = names_with({1})
    done = []
    table.register("db", "{a/1|3}", lambda: done.append(True))
    timers.advance(ACK_TIMEOUT_S)
    assert done == [True]


def test_release_drops_only_the_names_the_pid_still_holds():
    table, sent, _ = names_with(set())
    table.assign("svc", "{a/1|3}")
    table.assign("svc", "{a/1|4}")              # a restarted service takes its name over
    table.release("{a/1|3}", ["svc"])
    assert table.lookup("svc") == "{a/1|4}"
    table.release("{a/1|4}", ["svc"])
    assert table.lookup("svc") is None and sent[-1] == protocol.name("svc", None)


# -- host supervision -------------------------------------------------------------------------
@dataclass
class FakeNode:
    """The host supervisor's node: records forks, sends, kills and the events it reports."""

    forked: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    killed: list = field(default_factory=list)
    down: list = field(default_factory=list)
    retiring: list = field(default_factory=list)
    topology_changes: int = 0
    supervised: bool = False

    def host_retiring(self, hp) -> None:
        self.retiring.append(hp.serial)

    def host_down(self, hp, reason) -> None:
        self.down.append((hp.serial, reason))

    def host_failed(self, hp, reason) -> bool:
        return self.supervised

    def topology_changed(self) -> None:
        self.topology_changes += 1


def supervisor(stop_timeout: float = 5.0):
    node, timers = FakeNode(), Timers()
    serials = iter(range(1, 1000))
    hosts = HostSupervisor(lambda hp: node.forked.append((hp.serial, hp.host_id, hp.slot)),
                           lambda serial, msg: node.sent.append((serial, msg)), node,
                           timers.call_later, lambda: next(serials), stop_timeout=stop_timeout,
                           clock=timers.clock, kill=node.killed.append)
    return hosts, node, timers


def boot(hosts, host_id="app:pool", workers=2):
    hosts.set_workers(host_id, workers)
    for hp in list(hosts.hosts.values()):
        if hp.state is HostState.STARTING:
            hosts.on_started(hp.serial, 100 + hp.serial)
            hosts.on_ready(hp.serial, 100 + hp.serial)
    hosts.booting = False


def test_workers_follow_the_entry():
    assert wanted_workers({"id": "a:h", "data": {"host": {"workers": 3}}}) == 3
    assert wanted_workers({"id": "a:h", "data": {}}) == 1
    assert wanted_workers({"id": "a:h", "data": {"lifecycle": {"auto_start": False}}}) == 0
    assert wanted_workers(None) == 0


def test_a_host_is_in_the_topology_only_while_ready():
    hosts, node, _ = supervisor()
    hosts.set_workers("app:pool", 2)
    assert hosts.topology() == {"app:pool": []} and len(node.forked) == 2
    hosts.on_ready(1, 101)
    assert hosts.topology() == {"app:pool": [1]} and hosts.ready_serials() == {1}


def test_shrinking_retires_the_extra_worker_through_stop_then_kill():
    hosts, node, timers = supervisor(stop_timeout=5.0)
    boot(hosts)
    hosts.set_workers("app:pool", 1)
    hp = hosts.hosts[2]
    assert hp.state is HostState.STOPPING and hp.retired
    assert hosts.topology() == {"app:pool": [1]}
    assert node.retiring == [2] and node.topology_changes == 1
    assert node.sent == [(2, protocol.stop(5.0, "host app:pool/2 retired"))]
    timers.advance(5.0 + KILL_GRACE_S - 0.001)
    assert node.killed == []
    timers.advance(0.001)                       # it outlived its stop_timeout: killed
    assert node.killed == [102]


def test_a_retired_worker_that_exits_is_announced_and_not_restarted():
    hosts, node, timers = supervisor()
    boot(hosts)
    hosts.set_workers("app:pool", 1)
    hosts.on_exited(2, EXIT_0)
    assert node.down == [(2, "retired")]
    timers.advance(60)
    assert node.killed == [] and len(node.forked) == 2      # no restart, no late kill


def test_a_worker_retired_before_it_is_ready_is_killed_and_never_welcomed():
    hosts, node, _ = supervisor()
    hosts.set_workers("app:pool", 2)
    hosts.on_started(1, 101)
    hosts.set_workers("app:pool", 1)            # slot 1 (serial 2) not even started yet
    assert node.killed == []
    hosts.on_started(2, 102)
    assert node.killed == [102]
    assert hosts.on_ready(2, 102) is None


def test_an_unexpected_death_restarts_the_slot_with_backoff():
    hosts, node, timers = supervisor()
    boot(hosts, workers=1)
    for expected in (0.0, 0.01, 0.02):
        serial = max(hosts.hosts)
        hosts.on_exited(serial, KILLED_BY_SIGKILL)
        assert timers.delays() == [expected]
        timers.advance(expected)
        new = max(hosts.hosts)
        hosts.on_started(new, 100 + new)
        hosts.on_ready(new, 100 + new)
    assert node.down[0] == (1, "killed by SIGKILL")
    assert hosts.restarts(hosts.hosts[max(hosts.hosts)]) == 3


def test_a_supervised_host_is_left_to_its_supervisor():
    hosts, node, timers = supervisor()
    boot(hosts, workers=1)
    node.supervised = True
    hosts.on_exited(1, KILLED_BY_SIGKILL)
    assert timers.delays() == [] and len(node.forked) == 1


def test_a_host_that_dies_before_ready_fails_the_boot():
    hosts, _, _ = supervisor()
    hosts.set_workers("app:pool", 1)
    with pytest.raises(NodeError, match="failed to start"):
        hosts.on_exited(1, KILLED_BY_SIGKILL)


def test_the_node_stopping_sends_stop_to_welcomed_hosts_and_kills_the_others():
    hosts, node, timers = supervisor()
    boot(hosts, workers=1)
    hosts.set_workers("app:other", 1)           # forked, not ready
    hosts.on_started(2, 102)
    hosts.stop_all(3.0, "node stopping")
    assert node.sent == [(1, protocol.stop(3.0, "node stopping"))] and node.killed == [102]
    hosts.on_exited(1, EXIT_0)
    timers.advance(60)
    assert len(node.forked) == 2                # nothing restarts while stopping


# -- the orderly stop -------------------------------------------------------------------------
class Svc:
    def __init__(self, sid: str, pid: str, stop_timeout: float) -> None:
        self.spec = ServiceSpec(sid, "app:p", "app:h", stop_timeout=stop_timeout)
        self.pid: str | None = pid


class StopWorld:
    def __init__(self, levels):
        self.levels = levels
        self.log: list = []

    def stop_levels(self):
        return self.levels

    def mark_stopped(self):
        self.log.append("services stopped")

    def cancel(self, pid, reason):
        self.log.append(("cancel", pid))

    def terminate(self, pid):
        self.log.append(("terminate", pid))

    def stop_all(self, timeout, reason):
        self.log.append(("stop hosts", timeout))

    def kill_all(self):
        self.log.append("kill hosts")


def test_services_stop_level_by_level_then_the_hosts():
    api, db = Svc("app:api", "{h/1|1}", 2.0), Svc("app:db", "{h/1|2}", 4.0)
    world, timers = StopWorld([[api], [db]]), Timers()
    stop = Shutdown(world, world, world, timers.call_later, timers.clock, stop_timeout=None)
    stop.begin(0, "test")
    assert world.log == [("cancel", "{h/1|1}")]
    api.pid = None                              # api exits in time
    timers.advance(0.02)
    assert world.log[-1] == ("cancel", "{h/1|2}")
    timers.advance(4.0)                         # db does not: terminated, then the hosts stop
    assert world.log[-3:] == [("terminate", "{h/1|2}"), "services stopped", ("stop hosts", 10.0)]
    timers.advance(2.0 + 4.0 + 10.0 + FORCE_GRACE_S)
    assert world.log[-1] == "kill hosts" and stop.exit_code == 0
