"""Cluster-wide names and singletons in parts: the reconciliation and the singleton decisions
as pure logic, the node's name table with a fake database side, the ``singleton`` flag's
validation, and the claims on a real PostgreSQL (a dead incarnation's binding is free, two
nodes claiming one singleton at once get it once)."""
from __future__ import annotations

import threading
from typing import Any, Iterable

import pytest

from wippy import cluster
from wippy.cluster.names import ClusterNames, reconcile
from wippy.cluster.singletons import Singletons
from wippy.core import protocol
from wippy.errors import ForeignName, StorageError
from wippy.node import singletons
from wippy.node.names import NameTable
from wippy.node.svc import Svc
from wippy.registry.kinds import validate
from wippy.supervision.services import ServiceSpec
from clusterkit import query

pytestmark = pytest.mark.timeout(120)


# -- pure logic ------------------------------------------------------------------------------
def test_reconcile_drops_what_another_node_holds_reclaims_what_is_missing_deletes_strays() -> None:
    bound = {"a": "{h/1|1}", "b": "{h/1|2}", "c": "{h/1|3}", "d": "{h/1|4}"}
    live = {"a": ("me", "{h/1|1}"),          # as it should be
            "b": ("n2", "{h/1|9}"),          # taken by another node: lost here
            "d": ("me", "{h/1|8}"),          # ours, another PID: written again
            "e": ("me", "{h/1|5}"),          # ours, held by nothing here: deleted
            "f": ("n2", "{h/1|6}")}          # another node's: none of our business
    assert reconcile(bound, live, "me") == (["b"], ["c", "d"], ["e"])
    assert reconcile({}, {}, "me") == ([], [], [])


def svc(sid: str, singleton: bool = True, **kw: Any) -> Svc:
    s = Svc(ServiceSpec(id=sid, process="app:p", host="app:h", auto_start=True,
                        singleton=singleton))
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_singleton_decisions_start_what_is_held_and_waited_for_and_stop_what_is_lost() -> None:
    waiting = svc("app:waiting", elsewhere=True)
    running = svc("app:running", pid="{h/1|1}")
    lost = svc("app:lost", pid="{h/1|2}")
    backoff = svc("app:backoff", timer=object())
    plain = svc("app:plain", singleton=False, pid="{h/1|3}")
    child = svc("app:child", parent="app:sup", pid="{h/1|4}")      # follows its supervisor
    idle = svc("app:idle")
    idle.spec = ServiceSpec(id="app:idle", process="app:p", host="app:h", singleton=True)
    svcs = [waiting, running, lost, backoff, plain, child, idle]
    assert singletons.wanted(svcs) == ["app:waiting", "app:running", "app:lost", "app:backoff"]
    start, lose = singletons.plan(svcs, {"app:waiting", "app:running"}, stopping=False)
    assert (start, lose) == ([waiting], [lost, backoff])
    assert singletons.plan(svcs, {"app:waiting"}, stopping=True)[0] == []
    assert singletons.ask(lambda sid: True, waiting) is None
    assert singletons.ask(lambda sid: False, waiting) == singletons.ELSEWHERE

    def broken(sid: str) -> bool:
        raise StorageError("db", "gone")
    assert "could not be claimed" in str(singletons.ask(broken, waiting))


def test_the_singleton_flag_is_checked_by_the_service_kind() -> None:
    base = {"process": "app:p", "host": "app:h"}
    ok = validate("process.service", {**base, "lifecycle": {"singleton": True}}, "app")
    assert not ok.problems and ok.data["lifecycle"]["singleton"] is True
    plain = validate("process.service", base, "app")
    assert "singleton" not in plain.data["lifecycle"]      # stored entries keep their shape
    bad = validate("process.service", {**base, "lifecycle": {"singleton": "yes"}}, "app")
    assert [(p.field, p.warning) for p in bad.problems] == [("lifecycle.singleton", False)]
    host = validate("process.host", {"lifecycle": {"singleton": True}}, "app")
    assert [(p.field, p.warning) for p in host.problems] == [("lifecycle.singleton", True)]


# -- the node's name table with a fake cluster side --------------------------------------------
class FakeShared:
    """The database side: a dict of bindings name -> (node, pid)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise StorageError("db", "unreachable")

    def claim(self, name: str, pid: str) -> str | None:
        self._check()
        row = self.rows.get(name)
        if row is not None and row[0] != "me":
            return "{" + row[0] + "@" + row[1][1:]
        self.rows[name] = ("me", pid)
        return None

    def bind(self, name: str, pid: str) -> None:
        self._check()
        self.rows[name] = ("me", pid)

    def drop(self, names: Iterable[str]) -> None:
        self._check()
        for n in names:
            if self.rows.get(n, ("",))[0] == "me":
                del self.rows[n]

    def drop_any(self, name: str) -> None:
        self._check()
        self.rows.pop(name, None)

    def sync(self, bound: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        self._check()
        lost = [n for n in bound if self.rows.get(n, ("me",))[0] != "me"]
        return ({n: "{" + node + "@" + pid[1:] for n, (node, pid) in self.rows.items()
                 if node != "me"}, lost)


@pytest.fixture
def table() -> tuple[NameTable, FakeShared, list[tuple]]:
    sent: list[tuple] = []
    t = NameTable(sent.append, lambda: [], lambda *a: None)
    shared = FakeShared()
    t.shared = shared
    return t, shared, sent


def test_a_name_held_on_another_node_is_refused_and_its_copy_reaches_the_hosts(
        table: tuple[NameTable, FakeShared, list[tuple]]) -> None:
    t, shared, sent = table
    shared.rows["x"] = ("n2", "{h/1|7}")
    t.sync()
    assert t.lookup("x") == "{n2@h/1|7}" and t.snapshot() == {"x": "{n2@h/1|7}"}
    assert sent == [protocol.name("x", "{n2@h/1|7}", None)]
    done: list[bool] = []
    assert t.register("x", "{h/1|1}", lambda: done.append(True)) == "{n2@h/1|7}"
    assert not done and t.by_pid() == {}
    with pytest.raises(ForeignName, match="another node"):
        t.register("y", "{n2@h/1|7}", lambda: None)
    shared.rows.pop("x")                     # its process ended there
    t.sync()
    assert t.lookup("x") is None and sent[-1] == protocol.name("x", None, None)
    assert t.register("x", "{h/1|1}", lambda: done.append(True)) is None and done
    assert shared.rows["x"] == ("me", "{h/1|1}")
    t.release("{h/1|1}", ["x"])
    assert "x" not in shared.rows


def test_a_service_name_stays_on_its_node_unless_it_is_a_singletons(
        table: tuple[NameTable, FakeShared, list[tuple]]) -> None:
    t, shared, _ = table
    t.assign("app:svc", "{h/1|1}")
    t.assign("app:one", "{h/1|2}", shared=True)
    assert shared.rows == {"app:one": ("me", "{h/1|2}")}
    t.sync()                                   # a node-only name is not "missing"
    assert t.lookup("app:svc") == "{h/1|1}"
    t.release("{h/1|2}", ["app:one"])
    t.release("{h/1|1}", ["app:svc"])
    assert shared.rows == {} and t.snapshot() == {}


def test_a_name_another_node_took_over_is_dropped_here_and_unregister_reaches_other_nodes(
        table: tuple[NameTable, FakeShared, list[tuple]]) -> None:
    t, shared, sent = table
    assert t.register("x", "{h/1|1}", lambda: None) is None
    shared.rows["x"] = ("n3", "{h/2|2}")      # while this node's lease had lapsed
    t.sync()
    assert t.lookup("x") == "{n3@h/2|2}" and t.by_pid() == {}
    t.unregister("x")                          # whoever holds it
    assert "x" not in shared.rows and t.lookup("x") is None
    assert sent[-1] == protocol.name("x", None)


def test_a_failing_database_refuses_a_registration_and_keeps_the_node_up(
        table: tuple[NameTable, FakeShared, list[tuple]]) -> None:
    t, shared, _ = table
    shared.fail = True
    with pytest.raises(StorageError):
        t.register("x", "{h/1|1}", lambda: None)
    assert t.lookup("x") is None
    t.assign("app:one", "{h/1|2}", shared=True)    # logged; bound again by a later sync
    t.release("{h/1|2}", ["app:one"])               # logged; deleted by a later sync


def test_outside_a_cluster_the_table_is_the_nodes_own() -> None:
    sent: list[tuple] = []
    t = NameTable(sent.append, lambda: [], lambda *a: None)
    assert t.register("x", "{n2@h/1|7}", lambda: None) is None     # no database to ask
    t.sync()
    t.release("{n2@h/1|7}", ["x"])
    assert sent == [protocol.name("x", "{n2@h/1|7}", 1), protocol.name("x", None)]


# -- on a real PostgreSQL --------------------------------------------------------------------
def side(dsn: str, node: str, ttl: float = 30) -> tuple[ClusterNames, Singletons, Any]:
    journal, membership = cluster.join(dsn, node, ttl=ttl)
    inc = membership.incarnation or 0
    return ClusterNames(journal.db, node, inc), Singletons(journal.db, node, inc), membership


@pytest.mark.integration
def test_a_binding_of_a_node_whose_lease_expired_is_free(dsn: str) -> None:
    a, _, am = side(dsn, "a")
    b, _, _ = side(dsn, "b")
    assert a.claim("x", "{h/1|1}") is None
    assert b.claim("x", "{h/1|2}") == "{a@h/1|1}"
    assert b.sync({}) == ({"x": "{a@h/1|1}"}, [])
    assert a.sync({"x": "{h/1|1}"}) == ({}, [])
    am.leave()                                   # its lease ends (as a kill's expires)
    assert b.sync({}) == ({}, [])                # dead bindings are not read
    assert b.claim("x", "{h/1|2}") is None
    assert query(dsn, "SELECT node, pid FROM wippy_process_names") == [("b", "{h/1|2}")]
    b.drop(["x"])
    assert query(dsn, "SELECT count(*) FROM wippy_process_names") == [(0,)]


@pytest.mark.integration
def test_two_nodes_claiming_one_singleton_at_once_get_it_once(dsn: str) -> None:
    claims = [side(dsn, f"n{i}")[1] for i in range(4)]
    got: list[set[str]] = [set() for _ in claims]
    go = threading.Barrier(len(claims))

    def run(i: int) -> None:
        go.wait()
        got[i] = claims[i].claim(["app:s1", "app:s2"])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(claims))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    for sid in ("app:s1", "app:s2"):
        assert sum(sid in g for g in got) == 1, got
    owner = next(c for c, g in zip(claims, got) if "app:s1" in g)
    other = next(c for c in claims if c is not owner)
    assert owner.claim(["app:s1"]) == {"app:s1"}        # still its own
    assert not other.claim_one("app:s1")
    assert owner.claim([]) == set()                      # no longer wanted: released
    assert other.claim_one("app:s1")


# -- the cluster part's rounds --------------------------------------------------------------
def test_each_good_round_runs_the_names_and_singletons_round_and_a_fence_tells_it_once() -> None:
    from test_cluster_part import World
    w = World()
    got: list[bool] = []
    w.part.rounds.append(got.append)
    w.part.start()
    w.tick()
    assert got == [True]
    w.m.renewal = StorageError("db", "connection refused")
    w.tick()
    w.tick()
    assert got == [True, False]                  # fenced once: singletons stop
    w.m.renewal = True
    w.tick()
    assert got == [True, False, True] and not w.part.fenced

    def failing(ok: bool) -> None:
        if ok:
            raise StorageError("db", "gone")
    w.part.rounds.insert(0, failing)             # a round that cannot reach the database
    w.tick()
    assert w.part.fenced and got[-1] is False    # fences the node like any failed statement
