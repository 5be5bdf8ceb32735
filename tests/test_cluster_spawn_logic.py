"""Spawning on another node as pure logic: the host names, the children's PIDs, the relay's
check of a SPAWN from another node, the book of watched spawns, and the receiving node's
placement and hand-over of frames (:class:`wippy.cluster.children.Children`, on a fake mesh)."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from wippy import funcs
from wippy.cluster.children import WATCHER, Children
from wippy.cluster.relay import Watches, inbound, outbound
from wippy.core import wire
from wippy.core.pid import parse_pid
from wippy.core.protocol import LINK, MONITOR
from wippy.core.wire import Op
from wippy.errors import InvalidMessage, ProcessNotFound
from wippy.runtime import remote

pytestmark = pytest.mark.timeout(30)

CHILD = "{app:procs/0|~ab12cd341-7}"          # as n2 names it
SPAWNER = "{n1@app:w/2|5}"                     # as n2 names its spawner


def test_a_host_of_another_node_is_split_and_a_malformed_one_refused() -> None:
    assert remote.split_host("app:procs") is None
    assert remote.split_host("n2@app:procs") == ("n2", "app:procs")
    for bad in ("@app:procs", "n2@", "n2@a@b", "n2@{x}"):
        with pytest.raises(InvalidMessage, match="node@namespace:name"):
            remote.split_host(bad)


def test_a_function_id_may_name_a_node() -> None:
    assert funcs.check_id("n2@app:fn") == "n2@app:fn"
    for bad in ("@app:fn", "n2@fn", "n2@a@b:fn"):
        with pytest.raises(InvalidMessage):
            funcs.check_id(bad)


def test_a_remote_childs_pid_routes_to_the_node_whole() -> None:
    assert parse_pid(CHILD) == ("app:procs", 0, CHILD)
    assert parse_pid("{app:procs/3|~x-1}").local == "~x-1"    # only serial 0 is the node's
    assert parse_pid("{n2@app:procs/0|~x-1}")[1:] == (0, "{n2@app:procs/0|~x-1}")


def test_two_tokens_differ_and_name_their_os_process() -> None:
    a, b = remote.token(3), remote.token(3)
    assert a != b and a.startswith("~") and a.endswith("3-") and "." not in a


def _spawn(flags: int = MONITOR, **over: Any) -> list:
    f = [Op.SPAWN, "{n2@app:procs/0|~ab12cd341-7}", SPAWNER, "app:child", [1, "a"], flags, None]
    for k, v in over.items():
        f[int(k[1:])] = v
    return f


def test_a_spawn_from_another_node_is_taken_localized() -> None:
    got = inbound(_spawn(), "n2")
    assert got == (Op.SPAWN, CHILD, SPAWNER, "app:child", [1, "a"], MONITOR, None)
    ctx = [["actor", "x"]]
    assert inbound(_spawn() + [ctx], "n2") == (*got, ctx)


@pytest.mark.parametrize("over", [
    {"f6": b"code"}, {"f1": "{n2@app:procs/3|7}"}, {"f1": "{n3@app:procs/0|~x-1}"},
    {"f4": "args"}, {"f5": "1"}, {"f2": "not a pid"}, {"f3": 5},
], ids=["shipped code", "not a named child", "another node's", "args not a list",
        "flags not an int", "spawner not a PID", "entry not a string"])
def test_a_spawn_from_another_node_that_is_not_well_formed_is_dropped(over: dict) -> None:
    assert inbound(_spawn(**over), "n2") is None


def test_a_spawns_sender_is_qualified_on_the_way_out() -> None:
    out = outbound((Op.SPAWN, "{n2@app:procs/0|~x-1}", "{app:w/2|5}", "app:c", [], 0, None), "n1")
    assert out[2] == "{n1@app:w/2|5}" and out[1] == "{n2@app:procs/0|~x-1}"


def test_a_watched_spawn_is_booked_so_the_nodes_death_reaches_the_spawner() -> None:
    w = Watches()
    child = "{n2@app:procs/0|~x-1}"
    w.seen_out("n2", (Op.SPAWN, child, "{app:w/2|5}", "app:c", [], MONITOR | LINK, None))
    w.seen_out("n2", (Op.SPAWN, "{n2@app:procs/0|~x-2}", "{app:w/2|5}", "app:c", [], 0, None))
    err = {"kind": "NODE_DOWN", "message": "node n2 is down: gone"}
    assert w.down("n2", "gone") == [(Op.EXIT, "{app:w/2|5}", child, None, err),
                                    (Op.LINK_DOWN, "{app:w/2|5}", child, err)]
    # on the child's node: a linked spawner's node dying reaches the child
    w.seen_in("n1", (Op.SPAWN, CHILD, SPAWNER, "app:c", [], LINK, None))
    assert [f[0] for f in w.down("n1", "gone")] == [Op.LINK_DOWN]


class FakeMesh:
    def __init__(self) -> None:
        self.sent: list[tuple[int, tuple]] = []
        self.down: set[int] = set()

    def pick(self, host: str) -> int:
        if host != "app:procs":
            raise ProcessNotFound(f"host {host} not found")
        return 4

    def send(self, serial: int, data: bytes) -> None:
        if serial in self.down:
            raise ProcessNotFound(f"OS process {serial} of the node is down")
        self.sent.append((serial, wire.loads(data)))


def _children() -> tuple[Children, FakeMesh, list[tuple], list[Callable[[], None]]]:
    mesh, answers, timers = FakeMesh(), [], []
    kids = Children("n2", mesh, lambda s, fn, *a: timers.append(lambda: fn(*a)),  # type: ignore
                    answers.append, lambda eid: eid != "app:nothing")
    return kids, mesh, answers, timers


def test_a_child_is_placed_watched_and_gets_its_frames_until_it_ends() -> None:
    kids, mesh, answers, _ = _children()
    kids.spawn(inbound(_spawn(), "n2"))  # type: ignore[arg-type]
    local = "~ab12cd341-7"
    assert mesh.sent == [(4, (Op.SPAWN, local, SPAWNER, "app:child", [1, "a"], MONITOR, None)),
                         (4, (Op.MONITOR, local, WATCHER))]
    kids.route((Op.MSG, CHILD, SPAWNER, "t", 1, None))
    assert mesh.sent[-1] == (4, (Op.MSG, local, SPAWNER, "t", 1, None))
    kids.route((Op.EXIT, WATCHER, CHILD, None, None))          # it ended
    assert kids.info()["children"] == 0
    kids.route((Op.MONITOR, CHILD, "{app:w/1|1}"))             # a monitor after: noproc
    assert answers == [(Op.EXIT, "{app:w/1|1}", CHILD, None,
                        {"kind": "NOT_FOUND", "message": f"process {CHILD} not found on node n2"})]


def test_frames_that_overtake_their_spawn_wait_for_it() -> None:
    kids, mesh, answers, timers = _children()
    kids.route((Op.MSG, CHILD, "{app:w/1|1}", "early", 1, None))
    assert mesh.sent == [] and kids.kept == 1 and len(timers) == 1
    kids.spawn(inbound(_spawn(), "n2"))  # type: ignore[arg-type]
    assert [f[1][0] for f in mesh.sent] == [Op.SPAWN, Op.MONITOR, Op.MSG] and kids.kept == 0
    # a frame for an id whose SPAWN never comes is dropped after a while; a monitor answered
    kids.route((Op.MONITOR, "{app:procs/0|~ab12cd341-9}", "{app:w/1|1}"))
    timers[-1]()
    assert kids.kept == 0 and answers[-1][0] == Op.EXIT


@pytest.mark.parametrize("over, words", [
    ({"f1": "{n2@app:nohost/0|~ab12cd341-7}"}, "host app:nohost not found"),
    ({"f3": "app:nothing"}, "entry app:nothing not found"),
], ids=["unknown host", "unknown entry"])
def test_a_spawn_that_cannot_be_placed_is_answered_to_its_watching_spawner(
        over: dict, words: str) -> None:
    kids, mesh, answers, _ = _children()
    kids.spawn(inbound(_spawn(MONITOR | LINK, **over), "n2"))  # type: ignore[arg-type]
    assert mesh.sent == [] and [a[0] for a in answers] == [Op.EXIT, Op.LINK_DOWN]
    assert answers[0][1] == SPAWNER and answers[0][4]["kind"] == "NOT_FOUND"
    assert "on node n2" in answers[0][4]["message"] and words in answers[0][4]["message"]


def test_the_death_of_a_childs_os_process_reaches_everyone_watching_it() -> None:
    kids, mesh, answers, _ = _children()
    kids.spawn(inbound(_spawn(), "n2"))  # type: ignore[arg-type]
    kids.route((Op.MONITOR, CHILD, "{n3@app:w/1|1}"))       # a later monitor, from anywhere
    kids.route((Op.LINK, CHILD, "{app:w/1|2}"))
    kids.route((Op.MONITOR, CHILD, "{app:w/1|3}"))
    kids.route((Op.UNMONITOR, CHILD, "{app:w/1|3}"))        # ... and one that let go
    kids.host_down(4, "killed by signal 9")
    assert sorted(a[:3] for a in answers) == [(Op.EXIT, SPAWNER, CHILD),
                                             (Op.EXIT, "{n3@app:w/1|1}", CHILD),
                                             (Op.LINK_DOWN, "{app:w/1|2}", CHILD)]
    err = answers[0][-1]
    assert err["kind"] == "HOST_DOWN" and "of node n2 died" in err["message"]
    assert kids.info()["children"] == 0
