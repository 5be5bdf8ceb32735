"""The context a service runs under: its ``lifecycle.security``, and its author's (S9).

``lifecycle.security: {actor: {id, meta}, policies: [ids], groups: [names]}`` makes a
principal: the actor (or none, when only a scope is given) under the listed policies plus every
``security.policy`` in the listed groups. A service created or changed by an agent also acts
as that agent (its entry's ``author`` stamp): with no ``lifecycle.security`` of its own it runs
under the author's context alone, so an agent cannot borrow the operator's authority by
creating a service; with one, under both.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import from_wire, narrowed

__all__ = ["declared", "service_context"]


def declared(entry: Mapping[str, Any]) -> list[list[Any]] | None:
    """The plain form of the principal an entry's ``lifecycle.security`` declares, or None."""
    data = entry.get("data") or {}
    lifecycle = data.get("lifecycle") if isinstance(data, Mapping) else None
    sec = lifecycle.get("security") if isinstance(lifecycle, Mapping) else None
    if not isinstance(sec, Mapping) or not sec:
        return None
    actor = sec.get("actor") if isinstance(sec.get("actor"), Mapping) else None
    return [[None if actor is None else actor.get("id"),
             dict((actor or {}).get("meta") or {}),
             list(sec.get("policies") or []), list(sec.get("groups") or [])]]


def service_context(entry: Mapping[str, Any]) -> list[list[Any]] | None:
    """The plain form of the context a service entry runs under (None: the operator)."""
    stamp = entry.get("author")
    author = from_wire(stamp.get("context")) if isinstance(stamp, Mapping) else None
    ctx = narrowed(from_wire(declared(entry)), author)
    return None if ctx is None else ctx.wire
