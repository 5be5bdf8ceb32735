"""``process.service`` entries: pure decisions about starting and restarting them.

Outside a supervisor, Wippy's rule (S5): a normal return is Exited and is not restarted; an
error exit is Failed and retried with exponential backoff (``initial_delay`` * ``backoff_factor``
^ attempt, capped at ``max_delay``, +-``jitter``), up to ``max_attempts`` (0 = unlimited). A
service whose host died is restarted as soon as the host is back, with no backoff and not
counted. These functions take their inputs (and randomness) as arguments, so they are tested
without processes or clocks.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..core.durations import parse_duration

__all__ = ["State", "RestartPolicy", "ServiceSpec", "backoff_delay", "should_restart",
           "start_levels", "service_spec"]


class State(str, enum.Enum):
    STARTING = "Starting"
    RUNNING = "Running"
    FAILED = "Failed"
    EXITED = "Exited"
    STOPPED = "Stopped"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    initial_delay: float = 1.0
    max_delay: float = 90.0
    backoff_factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 0


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    id: str
    process: str
    host: str
    input: list[Any] = field(default_factory=list)
    auto_start: bool = False
    stop_timeout: float = 10.0
    start_timeout: float = 10.0
    stable_threshold: float = 5.0
    depends_on: tuple[str, ...] = ()
    restart: RestartPolicy = RestartPolicy()
    singleton: bool = False        # in a cluster: one instance in the whole cluster


def _dur(v: Any, default: float) -> float:
    return default if v is None else parse_duration(v)


def service_spec(entry: dict[str, Any]) -> ServiceSpec:
    """Build a spec from a stored ``process.service`` entry (defaults are Wippy's)."""
    data = entry.get("data") or {}
    lc = data.get("lifecycle") or {}
    rs = lc.get("restart") or {}
    raw_input = data.get("input", [])
    args = raw_input if isinstance(raw_input, list) else [raw_input]
    return ServiceSpec(
        id=entry["id"], process=data["process"], host=data["host"], input=list(args),
        auto_start=bool(lc.get("auto_start", False)),
        stop_timeout=_dur(lc.get("stop_timeout"), 10.0),
        start_timeout=_dur(lc.get("start_timeout"), 10.0),
        stable_threshold=_dur(lc.get("stable_threshold"), 5.0),
        depends_on=tuple(lc.get("depends_on") or data.get("depends_on") or ()),
        singleton=bool(lc.get("singleton", False)),
        restart=RestartPolicy(
            initial_delay=_dur(rs.get("initial_delay"), 1.0),
            max_delay=_dur(rs.get("max_delay"), 90.0),
            backoff_factor=float(rs.get("backoff_factor", 2.0)),
            jitter=float(rs.get("jitter", 0.1)),
            max_attempts=int(rs.get("max_attempts", 0)),
        ),
    )


def backoff_delay(policy: RestartPolicy, attempt: int, rand: float) -> float:
    """Delay before restart number ``attempt`` (0-based); ``rand`` is uniform in [0, 1)."""
    base = min(policy.max_delay, policy.initial_delay * policy.backoff_factor ** attempt)
    return max(0.0, base * (1.0 + policy.jitter * (2.0 * rand - 1.0)))


def should_restart(policy: RestartPolicy, failed: bool, attempts_so_far: int) -> bool:
    """Wippy's rule outside a supervisor: only failures, within ``max_attempts``."""
    if not failed:
        return False
    return policy.max_attempts == 0 or attempts_so_far < policy.max_attempts


def start_levels(deps: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Group ids into levels: each level depends only on earlier ones (start in parallel
    within a level, stop in reverse). Dependencies outside ``deps`` are ignored; a cycle
    raises ValueError naming its members."""
    remaining = {k: {d for d in v if d in deps} for k, v in deps.items()}
    levels: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        level = sorted(k for k, v in remaining.items() if v <= done)
        if not level:
            raise ValueError("dependency cycle among: " + ", ".join(sorted(remaining)))
        levels.append(level)
        done.update(level)
        for k in level:
            del remaining[k]
    return levels
