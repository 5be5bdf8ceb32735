"""Plain-data rules for payloads, PIDs, and the wire format (golden bytes)."""
from __future__ import annotations

import os
import pickle

import pytest

from wippy.core import wire
from wippy.core.pid import make_pid, parse_pid
from wippy.errors import InvalidMessage

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden", "wire_msg_v1.bin")


def test_plain_data_passes_through_without_copy():
    obj = {"a": [1, 2.5, "x", None, True, b"\x00"], 3: {"b": []}}
    assert wire.plain(obj) is obj


def test_tuples_become_lists_at_every_depth():
    assert wire.plain((1, [2, (3, {"k": (4,)})])) == [1, [2, [3, {"k": [4]}]]]


@pytest.mark.parametrize("bad, name", [(object(), "object"), ({1, 2}, "set"),
                                       ({(1, 2): 3}, "tuple"), (1 + 2j, "complex")])
def test_non_plain_payloads_are_refused_naming_the_type(bad, name):
    with pytest.raises(InvalidMessage, match=name):
        wire.plain({"x": bad})


def test_cycles_are_refused():
    a: list = []
    a.append(a)
    with pytest.raises(InvalidMessage, match="deeper than"):
        wire.plain(a)


def test_oversized_frames_are_refused():
    with pytest.raises(InvalidMessage, match="exceeds"):
        wire.dumps((wire.Op.MSG, "1", None, "t", b"x" * (wire.MAX_FRAME + 1), None))


def test_pid_round_trip_and_rejects_garbage():
    pid = make_pid("app:processes", 3, "5.17")
    assert pid == "{app:processes/3|5.17}"
    assert parse_pid(pid) == ("app:processes", 3, "5.17")
    for bad in ("", "app:x", "{app:x|1}", "{app:x/y|1}", "{app:x/1|}"):
        with pytest.raises(ValueError):
            parse_pid(bad)


def test_message_frame_matches_the_golden_bytes():
    """The data-plane format is persisted in flight between OS processes of one version;
    a change must be deliberate (update the golden file and the op table together)."""
    frame = (wire.Op.MSG, "3.7", "{app:a/1|2}", "topic", {"n": 1, "l": [1, "x"]}, None)
    data = wire.dumps(frame)
    with open(GOLDEN, "rb") as fh:
        assert fh.read() == data
    assert pickle.loads(data) == frame
