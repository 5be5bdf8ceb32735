"""Workflow replay as a pure decision (S8): given the journal and the step the code asks for,
use the recorded result, run the step and record it, or fail with :class:`NondeterminismError`.

The workflow context (``context.py``) applies the decision; this module touches no process,
socket, clock or LMDB, so every rule here is tested against recorded journals alone
(``tests/test_workflow_replay.py``, ``tests/test_workflow_histories.py``).

A step record is ``{"op", "key", "result"[, "error"], "v"}``: ``op`` names the kind of step
(:class:`Op`), ``key`` says which one (the function called, the timer's duration...), and a
replay matches both, in order. ``v`` is the step format (:data:`FORMAT`); records without it
were written by earlier versions (format 1) and keep replaying:

* Format 2 holds every time value as integer nanoseconds (the instant of ``now``, the due time
  of ``timer`` and ``after``, the duration in their keys). Format 1 wrote Python's values as
  float seconds and Lua's ``now``/``after`` instants as nanoseconds, so a float in a time field
  is seconds: :func:`recorded_ns` reads both, exactly (a float instant converts to the nearest
  nanosecond, and back to the same float: ``ns / 10**9``).
* Format 1 did not journal Python's ``time.after``. Replaying format-1 records, an ``after``
  that meets a different recorded step runs without being journaled (:attr:`Verdict.UNJOURNALED`),
  as it did then, instead of failing the workflow.

Rejected: rewriting old journals to format 2 when the node boots (a migration that must run
before any workflow resumes and is lost on a crash half-way, for a rule of a few lines here).
"""
from __future__ import annotations

import enum
import math
from typing import Any, Mapping, Sequence

from ..errors import NondeterminismError, exit_error

__all__ = ["Op", "Verdict", "FORMAT", "NondeterminismError", "decide", "same_key", "record",
           "outcome", "recorded_ns", "check_version"]

#: The step format this version writes (the ``v`` of every new step record).
FORMAT = 2
_NS = 10**9
# A format-1 duration key (float seconds) matches a nanosecond key within this relative error:
# Lua wrote ``ns / 1e9``, which does not always convert back to the same integer.
_KEY_REL_TOL = 1e-12


class Op(str, enum.Enum):
    """The kinds of journal step, with the names the journal stores."""

    CALL = "call"          # an activity (funcs.call): its result or error
    TIMER = "timer"        # time.sleep: a durable timer; result = due time
    AFTER = "after"        # time.after: a timer channel; result = due time
    NOW = "now"            # time.now: result = the instant
    UUID = "uuid"          # workflow.uuid, Lua's uuid.v1/v4/v7
    RANDOM = "random"      # workflow.random: a float in [0, 1)
    VERSION = "version"    # workflow.version: key = change id, result = version
    CHILD = "child"        # workflow.start inside a workflow: result = the child's PID


_DURATION_KEYS = frozenset({Op.TIMER.value, Op.AFTER.value})


class Verdict(enum.Enum):
    """What the context does with the step the code asks for."""

    REPLAY = "use the recorded result"
    RECORD = "run it and record"
    UNJOURNALED = "run it and record nothing"   # a time.after a format-1 journal lacks


def decide(wf_id: str, steps: Sequence[Mapping[str, Any]], seq: int, op: Op, key: Any) -> Verdict:
    """The decision for step ``seq`` of workflow ``wf_id`` when its code asks for ``op`` with
    ``key``, given the recorded ``steps``. Raises :class:`NondeterminismError` when the journal
    holds a different step there."""
    if seq >= len(steps):
        return Verdict.RECORD
    rec = steps[seq]
    rop = rec.get("op")
    if rop == op.value and same_key(rop, rec.get("key"), key):
        return Verdict.REPLAY
    if op is Op.AFTER and rop != Op.AFTER.value and "v" not in rec:
        return Verdict.UNJOURNALED
    raise NondeterminismError(
        f"workflow {wf_id} step {seq}: the journal has {rop} {rec.get('key')!r}, "
        f"the code now asks for {op.value} {key!r}")


def same_key(op: str, recorded: Any, asked: Any) -> bool:
    """Whether a recorded key is the one the code asks for (a format-1 duration in float
    seconds matches the same duration in nanoseconds)."""
    if op in _DURATION_KEYS and type(recorded) is float and type(asked) is int:
        return math.isclose(recorded * _NS, asked, rel_tol=_KEY_REL_TOL, abs_tol=0.5)
    return bool(recorded == asked)


_FALLIBLE = frozenset({Op.CALL, Op.CHILD})


def record(op: Op, key: Any, result: Any, error: dict[str, str] | None = None) -> dict[str, Any]:
    """A new step record; the steps that can fail (calls, children) also hold ``error``."""
    rec: dict[str, Any] = {"op": op.value, "key": key, "result": result, "v": FORMAT}
    if op in _FALLIBLE:
        rec["error"] = error
    return rec


def outcome(rec: Mapping[str, Any]) -> Any:
    """A recorded step's result, or its recorded error raised (as the caller saw it then)."""
    error = rec.get("error")
    if error is not None:
        raise exit_error(error)
    return rec.get("result")


def recorded_ns(value: int | float) -> int:
    """A recorded instant or duration in integer nanoseconds (a float is format-1 seconds,
    converted to the nearest nanosecond without going through a float)."""
    if type(value) is int:
        return value
    num, den = float(value).as_integer_ratio()
    return (2 * num * _NS + den) // (2 * den)


def check_version(change_id: str, got: int, min_version: int) -> int:
    """``workflow.version``: the recorded (or new) version, unless it is below the oldest the
    code still supports."""
    if got < min_version:
        raise NondeterminismError(f"workflow change {change_id!r}: recorded version {got} is "
                                  f"below the oldest supported {min_version}")
    return got
