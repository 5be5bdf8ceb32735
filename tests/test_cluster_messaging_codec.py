"""The data-only encoding between nodes and the relay's PID rewriting (pure logic)."""
from __future__ import annotations

import math
import pickle

import pytest

from wippy.cluster import datacodec
from wippy.cluster.relay import Watches, inbound, localize, node_of, outbound, qualify
from wippy.core.pid import parse_pid
from wippy.core.wire import Op
from wippy.errors import InvalidMessage

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 200, -2 ** 70, 1.5, -0.0, math.inf,
    "", "héllo \u0000 \U0001f600", b"", b"\x00\xff", [], {}, [1, [2, [3]]],
    {"a": {"b": [None, b"x"]}, 3: "int key"},
])
def test_plain_data_round_trips(value: object) -> None:
    got = datacodec.decode(datacodec.encode(value))
    assert got == value and type(got) is type(value)


def test_tuples_become_lists_and_nan_stays_nan() -> None:
    assert datacodec.decode(datacodec.encode((1, (2,)))) == [1, [2]]
    assert math.isnan(datacodec.decode(datacodec.encode(float("nan"))))


@pytest.mark.parametrize("value, named", [
    (lambda: 1, "function"), ({"x": [object()]}, "object"), ({1.5: 1}, "key of type float"),
    ({"s": {1, 2}}, "set"), (Op, "type"),
])
def test_what_is_not_plain_data_is_refused_naming_it(value: object, named: str) -> None:
    with pytest.raises(InvalidMessage, match=named):
        datacodec.encode(value)


def test_a_value_nested_too_deep_is_refused_both_ways() -> None:
    deep: list = []
    for _ in range(datacodec.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(InvalidMessage, match="nested deeper"):
        datacodec.encode(deep)
    raw = b"l\x00\x00\x00\x01" * (datacodec.MAX_DEPTH + 2) + b"N"
    with pytest.raises(InvalidMessage, match="nested deeper"):
        datacodec.decode(raw)


@pytest.mark.parametrize("raw", [
    b"", b"X", b"s\x00\x00\x00\x09abc", b"l\xff\xff\xff\xff", b"d\x00\x00\x00\x01fAAAAAAAAN",
    b"NN", pickle.dumps({"a": 1}), b"s\x00\x00\x00\x01\xff",
])
def test_malformed_or_pickled_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidMessage, match="malformed"):
        datacodec.decode(raw)


def test_pids_name_their_node_only_outside_it() -> None:
    local = "{app:procs/3|17}"
    q = qualify(local, "n1")
    assert q == "{n1@app:procs/3|17}" and node_of(q) == "n1" and node_of(local) == ""
    assert qualify(q, "n2") == q and qualify("{wf/0|abc}", "n1") == "{wf/0|abc}"
    assert qualify(None, "n1") is None and qualify("text", "n1") == "text"
    assert localize(q, "n1") == local and localize(q, "n2") == q
    assert parse_pid(local).serial == 3                 # local PIDs are as they were
    p = parse_pid(q)                                    # another node's: to the node, whole
    assert p.serial == 0 and p.local == q
    with pytest.raises(ValueError):
        parse_pid("{@app:procs/3|1}")


def test_frames_are_rewritten_on_the_way_out_and_checked_on_the_way_in() -> None:
    frame = (Op.MSG, "{n2@app:p/1|4}", "{app:p/2|9}", "t", {"x": 1}, "svc", {"actor": "a"})
    out = outbound(frame, "n1")
    assert out == [Op.MSG, "{n2@app:p/1|4}", "{n1@app:p/2|9}", "t", {"x": 1}, None]
    assert inbound(out, "n2") == (Op.MSG, "{app:p/1|4}", "{n1@app:p/2|9}", "t", {"x": 1}, None)
    assert inbound(out, "n3") is None                   # not for this node
    assert inbound([Op.SPAWN, "{n2@app:p/1|4}", None], "n2") is None     # never relayed
    assert inbound([Op.MSG, "{n2@app:p/1|4}", 5, "t", 1, None], "n2") is None
    assert inbound("junk", "n2") is None


def test_the_watch_book_tells_watchers_when_a_node_dies() -> None:
    w = Watches()
    w.seen_out("n2", (Op.MONITOR, "{n2@h/1|1}", "{h/3|7}"))
    w.seen_out("n2", (Op.LINK, "{n2@h/1|2}", "{h/3|8}"))
    w.seen_in("n2", (Op.LINK, "{h/3|9}", "{n2@h/1|5}"))
    w.seen_out("n2", (Op.MONITOR, "{n2@h/1|6}", "{h/3|10}"))
    w.seen_out("n2", (Op.UNMONITOR, "{n2@h/1|6}", "{h/3|10}"))
    w.seen_in("n2", (Op.EXIT, "{h/3|11}", "{n2@h/1|1}", None, None))    # not this watcher
    frames = w.down("n2", "its lease expired")
    err = {"kind": "NODE_DOWN", "message": "node n2 is down: its lease expired"}
    assert sorted(frames) == sorted([
        (Op.EXIT, "{h/3|7}", "{n2@h/1|1}", None, err),
        (Op.LINK_DOWN, "{h/3|8}", "{n2@h/1|2}", err),
        (Op.LINK_DOWN, "{h/3|9}", "{n2@h/1|5}", err),
    ])
    assert w.down("n2", "again") == []
