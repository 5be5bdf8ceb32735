"""Workflow replay as a pure decision (wippy.workflow.replay): recorded journals in, verdicts
out. No process, socket, clock or LMDB."""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wippy.errors import ProcessFailed
from wippy.workflow.replay import (
    FORMAT,
    NondeterminismError,
    Op,
    Verdict,
    check_version,
    decide,
    outcome,
    record,
    recorded_ns,
)

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden")
NS = 10**9


def golden_journal_steps() -> list[dict]:
    """The steps of tests/data/golden/journal_v1.json, decoded as Journal.steps returns them."""
    with open(os.path.join(GOLDEN, "journal_v1.json")) as fh:
        raw = json.load(fh)["steps"]
    return [json.loads(v) for _, v in sorted(raw.items())]


def history(name: str) -> dict:
    with open(os.path.join(GOLDEN, name)) as fh:
        return json.load(fh)


def asks_of(steps: list[dict]) -> list[tuple[Op, object]]:
    """What today's code asks for to make each recorded step (time keys in nanoseconds)."""
    out = []
    for s in steps:
        op, key = Op(s["op"]), s["key"]
        if op in (Op.TIMER, Op.AFTER) and isinstance(key, float):
            key = round(key * 1e9)
        out.append((op, key))
    return out


def test_a_step_past_the_end_of_the_journal_is_run_and_recorded():
    assert decide("w", [], 0, Op.NOW, None) is Verdict.RECORD
    steps = [record(Op.NOW, None, 5)]
    assert decide("w", steps, 1, Op.CALL, "app:f") is Verdict.RECORD


def test_a_recorded_step_with_the_same_op_and_key_replays():
    steps = [record(Op.CALL, "app:f", 4), record(Op.TIMER, 10 * NS, 99 * NS)]
    assert decide("w", steps, 0, Op.CALL, "app:f") is Verdict.REPLAY
    assert decide("w", steps, 1, Op.TIMER, 10 * NS) is Verdict.REPLAY


def test_a_different_op_at_the_same_step_is_a_named_nondeterminism_error():
    steps = [record(Op.NOW, None, 5)]
    with pytest.raises(NondeterminismError, match=r"workflow w1 step 0: the journal has now None, "
                                                  r"the code now asks for uuid None") as info:
        decide("w1", steps, 0, Op.UUID, None)
    assert info.value.kind == "NONDETERMINISM"


def test_a_different_key_at_the_same_step_is_nondeterminism():
    steps = [record(Op.CALL, "app:charge", 4)]
    with pytest.raises(NondeterminismError, match="app:refund"):
        decide("w", steps, 0, Op.CALL, "app:refund")


def test_a_format_2_duration_must_match_to_the_nanosecond():
    steps = [record(Op.TIMER, 10_000_000, 1)]
    with pytest.raises(NondeterminismError):
        decide("w", steps, 0, Op.TIMER, 10_000_001)


@pytest.mark.parametrize("seconds", [0.01, 0.1, 1.1, 3600.0, 86400 * 90 + 0.123456789])
def test_a_format_1_duration_in_float_seconds_matches_the_same_duration_in_nanoseconds(seconds):
    for op in (Op.TIMER, Op.AFTER):
        steps = [{"op": op.value, "key": seconds, "result": 1.0}]
        assert decide("w", steps, 0, op, round(seconds * 1e9)) is Verdict.REPLAY
        ns_via_lua = round(seconds * 1e9)            # Lua wrote ns / 1e9 as the key
        steps = [{"op": op.value, "key": ns_via_lua / 1e9, "result": 1}]
        assert decide("w", steps, 0, op, ns_via_lua) is Verdict.REPLAY
        with pytest.raises(NondeterminismError):
            decide("w", steps, 0, op, ns_via_lua + 1_000_000)


def test_a_time_after_that_a_format_1_journal_lacks_runs_unjournaled():
    # format 1 did not journal Python's time.after: the journal goes on with the next step
    steps = [{"op": "call", "key": "app:double", "result": 10, "error": None}]
    assert decide("w", steps, 0, Op.AFTER, 10_000_000) is Verdict.UNJOURNALED
    assert decide("w", steps, 0, Op.CALL, "app:double") is Verdict.REPLAY


def test_a_time_after_missing_from_a_format_2_journal_is_nondeterminism():
    steps = [record(Op.CALL, "app:double", 10)]
    with pytest.raises(NondeterminismError):
        decide("w", steps, 0, Op.AFTER, 10_000_000)


def test_a_format_1_time_after_with_another_duration_is_still_nondeterminism():
    steps = [{"op": "after", "key": 0.01, "result": 123}]
    with pytest.raises(NondeterminismError):
        decide("w", steps, 0, Op.AFTER, 20_000_000)


def test_new_records_carry_the_format_and_errors_only_where_a_step_can_fail():
    assert record(Op.NOW, None, 7) == {"op": "now", "key": None, "result": 7, "v": FORMAT}
    assert record(Op.CALL, "app:f", 1) == {"op": "call", "key": "app:f", "result": 1,
                                           "error": None, "v": FORMAT}
    err = {"kind": "CONFLICT", "message": "taken"}
    assert record(Op.CHILD, "app:c", None, err)["error"] == err


def test_a_recorded_error_is_raised_again_with_its_kind():
    assert outcome(record(Op.CALL, "app:f", 42)) == 42
    with pytest.raises(ProcessFailed, match="taken") as info:
        outcome(record(Op.CALL, "app:f", None, {"kind": "CONFLICT", "message": "taken"}))
    assert info.value.kind == "CONFLICT"


def test_a_recorded_version_below_the_oldest_supported_is_nondeterminism():
    assert check_version("c", 2, 1) == 2
    with pytest.raises(NondeterminismError, match="recorded version 1 is below the oldest "
                                                  "supported 2"):
        check_version("c", 1, 2)


@given(st.floats(min_value=2**23, max_value=2**32, allow_nan=False))
def test_a_format_1_instant_in_float_seconds_reads_as_nanoseconds_and_back_exactly(seconds):
    # any instant since early 1970 (where a float's spacing exceeds a nanosecond)
    ns = recorded_ns(seconds)
    assert isinstance(ns, int)
    assert ns / NS == seconds


def test_nanoseconds_are_read_as_they_are():
    assert recorded_ns(1796317881423074747) == 1796317881423074747


def test_the_golden_journal_replays_its_steps_and_then_records():
    steps = golden_journal_steps()
    assert decide("w1", steps, 0, Op.NOW, None) is Verdict.REPLAY
    assert recorded_ns(steps[0]["result"]) / NS == 2.5       # what Python's time.now() returns
    assert decide("w1", steps, 1, Op.CALL, "app:charge") is Verdict.REPLAY
    assert outcome(steps[1]) == 4
    assert decide("w1", steps, 2, Op.UUID, None) is Verdict.RECORD


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(GOLDEN) if f.startswith("history_")))
def test_every_step_of_a_recorded_history_replays(name):
    steps = history(name)["steps"]
    for seq, (op, key) in enumerate(asks_of(steps)):
        assert decide("w", steps, seq, op, key) is Verdict.REPLAY
    assert decide("w", steps, len(steps), Op.NOW, None) is Verdict.RECORD
