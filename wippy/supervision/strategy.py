"""Supervision decisions, as small pure functions (Erlang's supervisor is the model).

The node's supervisors call these with their inputs and the clock as arguments, act on the
answer by scheduling work (a restart is a timer, never a loop), and so the policy is tested
without processes, sockets or real time:

* :func:`restart_child`: restart type x how the child ended -> restart it or not;
* :func:`restart_plan`: strategy x ordered children x failed child -> which children restart,
  in start order (the others of the plan are stopped first, in reverse order);
* :func:`within_intensity`: the restart-intensity window (``intensity`` restarts in
  ``period`` seconds; one more and the supervisor gives up and escalates).
"""
from __future__ import annotations

import enum
from typing import Sequence

__all__ = ["Strategy", "RestartType", "restart_child", "restart_plan", "within_intensity",
           "stop_order"]


class Strategy(str, enum.Enum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class RestartType(str, enum.Enum):
    PERMANENT = "permanent"     # always restarted
    TRANSIENT = "transient"     # restarted only after an error exit
    TEMPORARY = "temporary"     # never restarted


def restart_child(restart: RestartType, failed: bool) -> bool:
    """Erlang's rule: does a child that ended (with an error when ``failed``) come back?"""
    if restart is RestartType.PERMANENT:
        return True
    if restart is RestartType.TRANSIENT:
        return failed
    return False


def restart_plan(strategy: Strategy, children: Sequence[str], failed: str) -> list[str]:
    """The children to restart after ``failed`` ended, in start (list) order."""
    if strategy is Strategy.ONE_FOR_ONE:
        return [failed]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(children)
    return list(children[children.index(failed):])


def stop_order(plan: Sequence[str], failed: str) -> list[str]:
    """Of a plan, the children still running that must stop first, last started first."""
    return [c for c in reversed(plan) if c != failed]


def within_intensity(restarts: tuple[float, ...], now: float, intensity: int,
                     period: float) -> tuple[tuple[float, ...], bool]:
    """Record a restart at ``now``; False when it makes more than ``intensity`` restarts
    within ``period`` seconds (the supervisor must then stop its children and escalate)."""
    kept = tuple(t for t in restarts if now - t < period) + (now,)
    return kept, len(kept) <= intensity
