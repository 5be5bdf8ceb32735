"""``supervisor`` entries: Erlang's supervisors over services, hosts and other supervisors.

When a child ends, its restart type (permanent, transient, temporary) decides whether it comes
back; the strategy (one_for_one, one_for_all, rest_for_one) decides which siblings restart with
it, the others of the plan being stopped first, last started first; every restart counts
against the supervisor's ``intensity`` per ``period``, and past it the supervisor stops its
children and escalates to its parent. A top-level supervisor escalating stops the node (exit
code 1). The decisions are :mod:`wippy.supervision.strategy`'s pure functions; this module keeps
the supervisors' state and applies them, acting on children through :class:`Children`.
"""
from __future__ import annotations

import enum
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..core.durations import parse_duration
from ..supervision import strategy as supervision
from ..supervision.strategy import RestartType, Strategy

__all__ = ["Sup", "SupState", "Children", "SupervisorTree"]

log = logging.getLogger("wippy.supervisor")


class SupState(str, enum.Enum):
    RUNNING = "running"
    FAILED = "failed"       # gave up (past its intensity)
    STOPPED = "stopped"     # stopped by its parent's restart


@dataclass
class Sup:
    """One ``supervisor`` entry."""

    id: str
    strategy: Strategy
    intensity: int
    period: float
    children: list[tuple[str, RestartType]] = field(default_factory=list)
    parent: str | None = None
    restarts: tuple[float, ...] = ()
    restart_count: int = 0
    state: SupState = SupState.RUNNING
    last_error: str | None = None


class Children(Protocol):
    """What a supervisor does to a child that is a service or a host entry, by id."""

    def is_service(self, cid: str) -> bool: ...

    def restart_service(self, cid: str, first: bool) -> None:
        """``first``: the child that ended (its own backoff delays it); else start it now."""

    def stop_service(self, cid: str) -> None: ...

    def service_done(self, cid: str, failed: bool) -> None:
        """The service ended and is not restarted."""

    def restart_host(self, host_id: str, counted: bool) -> None: ...

    def stop_host(self, host_id: str) -> None: ...


class SupervisorTree:
    """Every ``supervisor`` entry of the node. ``stop_node(code, reason)`` stops the node;
    ``clock()`` is monotonic seconds (the intensity window)."""

    def __init__(self, children: Children, stop_node: Callable[[int, str], None],
                 clock: Callable[[], float]) -> None:
        self._children = children
        self._stop_node = stop_node
        self._clock = clock
        self.sups: dict[str, Sup] = {}
        self.host_parent: dict[str, str] = {}         # host entry id -> its supervisor

    # -- building ------------------------------------------------------------------------
    def add(self, e: dict[str, Any]) -> None:
        """Take (or take again) a stored ``supervisor`` entry; :meth:`link` afterwards."""
        d = e.get("data") or {}
        children = []
        for c in d.get("children") or []:
            cid, rtype = (c["id"], c.get("restart", "permanent")) if isinstance(c, dict) else (c, "permanent")
            children.append((cid, RestartType(rtype)))
        self.sups[e["id"]] = Sup(e["id"], Strategy(d.get("strategy", "one_for_one")),
                                 int(d.get("intensity", 1)), parse_duration(d.get("period", 5)),
                                 children)

    def link(self) -> dict[str, tuple[str, RestartType]]:
        """Connect parents and children; returns service id -> (its supervisor, restart type)."""
        self.host_parent.clear()
        services: dict[str, tuple[str, RestartType]] = {}
        for sup in self.sups.values():
            for cid, rtype in sup.children:
                if self._children.is_service(cid):
                    services[cid] = (sup.id, rtype)
                elif cid in self.sups:
                    self.sups[cid].parent = sup.id
                else:
                    self.host_parent[cid] = sup.id
        return services

    def start_order(self) -> dict[str, int]:
        """Child id -> its place in its supervisor's list (children start in list order)."""
        return {cid: i for sup in self.sups.values() for i, (cid, _) in enumerate(sup.children)}

    def running(self, sup_id: str) -> bool:
        return self.sups[sup_id].state is SupState.RUNNING

    # -- a child ended -------------------------------------------------------------------
    def host_failed(self, host_id: str, reason: str) -> bool:
        """A worker of a host entry died. True when a supervisor took charge (it decides
        about the restart); False for the implicit root (restart without limit)."""
        parent = self.host_parent.get(host_id)
        if parent is None:
            return False
        self.child_ended(parent, host_id, True, reason)
        return True

    def child_ended(self, sup_id: str, child: str, failed: bool, reason: str | None) -> None:
        """Child ``child`` of ``sup_id`` ended (with an error when ``failed``)."""
        sup = self.sups[sup_id]
        if sup.state is not SupState.RUNNING:
            return
        rtype = dict(sup.children).get(child, RestartType.PERMANENT)
        if not supervision.restart_child(rtype, failed):
            if self._children.is_service(child):
                self._children.service_done(child, failed)
            return
        sup.restarts, ok = supervision.within_intensity(sup.restarts, self._clock(),
                                                        sup.intensity, sup.period)
        if not ok:
            self._escalate(sup, f"child {child} failed: {reason}" if failed else f"child {child} exited")
            return
        sup.restart_count += 1
        plan = supervision.restart_plan(sup.strategy, [c for c, _ in sup.children], child)
        for sibling in supervision.stop_order(plan, child):
            self._stop_child(sibling)
        for cid in plan:
            self._restart_child(cid, first=cid == child)

    def _restart_child(self, cid: str, first: bool) -> None:
        if self._children.is_service(cid):
            self._children.restart_service(cid, first)
        elif cid in self.sups:
            self._start_sup(self.sups[cid])
        else:       # a host entry: first, only its dead slot is reforked
            self._children.restart_host(cid, counted=not first)

    def _stop_child(self, cid: str) -> None:
        if self._children.is_service(cid):
            self._children.stop_service(cid)
        elif cid in self.sups:
            sub = self.sups[cid]
            for child, _ in reversed(sub.children):
                self._stop_child(child)
            sub.state = SupState.STOPPED
        else:
            self._children.stop_host(cid)

    def _start_sup(self, sup: Sup) -> None:
        sup.state = SupState.RUNNING
        sup.restarts = ()
        for cid, _ in sup.children:
            self._restart_child(cid, first=False)

    def _escalate(self, sup: Sup, reason: str) -> None:
        log.error("supervisor %s: more than %d restart(s) in %.0f s (%s); stopping its children",
                  sup.id, sup.intensity, sup.period, reason)
        for cid, _ in reversed(sup.children):
            self._stop_child(cid)
        sup.state = SupState.FAILED
        sup.last_error = reason
        if sup.parent is not None:
            self.child_ended(sup.parent, sup.id, True, f"supervisor {sup.id} gave up: {reason}")
        else:
            msg = f"supervisor {sup.id} reached its restart intensity ({reason}); stopping the node"
            print(f"wippy: {msg}", file=sys.stderr, flush=True)
            self._stop_node(1, msg)

    # -- views ---------------------------------------------------------------------------
    def tree(self) -> list[dict[str, Any]]:
        """Every supervisor with its children, for ``ps``."""
        def kind(cid: str) -> str:
            return ("service" if self._children.is_service(cid)
                    else "supervisor" if cid in self.sups else "host")
        return [{"id": s.id, "strategy": s.strategy.value, "intensity": s.intensity,
                 "period": s.period, "state": s.state.value, "restarts": s.restart_count,
                 "parent": s.parent, "last_error": s.last_error,
                 "children": [{"id": c, "kind": kind(c), "restart": r.value} for c, r in s.children]}
                for s in self.sups.values()]
