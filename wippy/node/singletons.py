"""Which singleton services this node starts and stops (S12): the decisions, as pure functions
of the services and the claim's answer; :class:`~wippy.node.services.ServiceManager` applies
them. The claims themselves are :class:`~wippy.cluster.singletons.Singletons`'s.

A singleton is ``lifecycle.singleton: true`` on a ``process.service`` outside any supervisor
(a supervisor's child follows its supervisor, which runs on every node). Outside a cluster
the flag changes nothing: there is no claim to ask.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol, TypeVar

from ..supervision.services import ServiceSpec

__all__ = ["is_singleton", "wanted", "plan", "ask", "ELSEWHERE", "LOST"]



class Svc(Protocol):
    """What the decisions read of a service (:class:`~wippy.node.services.Svc`)."""

    spec: ServiceSpec
    parent: str | None
    pid: str | None
    waiting_host: bool
    timer: Any
    elsewhere: bool
    deleted: bool


S = TypeVar("S", bound=Svc)

ELSEWHERE = "a singleton: it runs on another node of the cluster"
LOST = "a singleton: this node no longer holds it"


def is_singleton(svc: Svc) -> bool:
    """Whether the cluster runs ``svc`` once (a supervisor's child never is)."""
    return svc.spec.singleton and svc.parent is None


def _active(svc: Svc) -> bool:
    return svc.pid is not None or svc.waiting_host or svc.timer is not None


def wanted(svcs: Iterable[Svc]) -> list[str]:
    """The singletons this node would run: claimed for it at every round."""
    return [s.spec.id for s in svcs if is_singleton(s) and not s.deleted
            and (s.spec.auto_start or s.elsewhere or _active(s))]


def plan(svcs: Iterable[S], held: set[str], stopping: bool) -> tuple[list[S], list[S]]:
    """A round's answer ``held`` (the ids this node holds now) -> the singletons to start
    (held now, waiting for it) and those to stop (running or about to, no longer held)."""
    start: list[S] = []
    lose: list[S] = []
    for svc in svcs:
        if not is_singleton(svc):
            continue
        if svc.spec.id in held:
            if svc.elsewhere and svc.pid is None and not stopping:
                start.append(svc)
        elif _active(svc):
            lose.append(svc)
    return start, lose


def ask(claim: Callable[[str], bool], svc: Svc) -> str | None:
    """Claim ``svc`` for this node; None when it holds it, else why not (another node does, or
    the database failed: the next round asks again)."""
    try:
        return None if claim(svc.spec.id) else ELSEWHERE
    except Exception as exc:  # noqa: BLE001 - the database: reported, claimed again later
        return f"a singleton that could not be claimed: {exc}"
