"""The policies of the registry, compiled, and the scopes built from them (one book per OS
process).

A scope names policies (ids) and groups; the book resolves it against the registry as it is
*now*: every ``security.policy`` entry compiled once (:func:`~.policy.policy_from_data`), and
one :class:`~.policy.Scope` per (policy ids, groups), shared by every process that names the
same ones. ``generation`` counts the changes of the policies: a context compares it with the
generation its decisions were made in, so a hot-reloaded policy applies to the next check.

The book reads the registry through two callables (``entries()``: id -> stored entry, and
``get(id)``), handed in by whoever owns the store (a host's runtime, the node). It indexes the
policies the first time a scope is asked for, then follows the changes it is told about
(:meth:`PolicyBook.changed`), re-reading only the changed entries; an OS process where no
context is ever checked never builds the index.

Rejected: rebuilding every scope on every registry version (a version that touches no policy
would drop every cached decision on every host), and reading the policies at spawn time only
(a narrowed policy would not reach running agents until they were restarted).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Mapping

from ..errors import PolicyError
from ..registry.entry import Kind
from .policy import Policy, Scope, policy_from_data

__all__ = ["PolicyBook", "BOOK", "POLICY_KIND"]

log = logging.getLogger("wippy.security")

POLICY_KIND = Kind.SECURITY_POLICY.value

Entries = Callable[[], Mapping[str, Mapping[str, Any]]]
Getter = Callable[[str], Mapping[str, Any] | None]


def _compile(entry: Mapping[str, Any]) -> Policy | None:
    try:
        return policy_from_data(entry["id"], entry.get("data") or {})
    except PolicyError as exc:   # validated at boot and apply; an older store may hold one
        log.warning("security.policy %s is invalid and ignored: %s", entry.get("id"), exc)
        return None


class PolicyBook:
    """Compiled policies and shared scopes, following the registry."""

    def __init__(self) -> None:
        self.generation = 0
        # called at every new generation: contexts drop the decisions they remember
        self.listeners: list[Callable[[], None]] = []
        self._entries: Entries = dict
        self._get: Getter = lambda _id: None
        self._policies: dict[str, Policy] | None = None     # None: not indexed yet
        self._scopes: dict[tuple[tuple[str, ...], tuple[str, ...]], Scope] = {}

    def attach(self, entries: Entries, get: Getter) -> None:
        """Read the registry through ``entries()`` and ``get(id)`` from now on."""
        self._entries, self._get = entries, get
        self.reset()

    def new_generation(self) -> None:
        """Drop every decision made so far (what decides them changed: strict mode)."""
        self._scopes.clear()
        self._bump()

    def reset(self) -> None:
        """Forget everything (the next use indexes the registry again)."""
        self._policies = None
        self._scopes.clear()
        self._bump()

    def _bump(self) -> None:
        self.generation += 1
        for listener in self.listeners:
            listener()

    def changed(self, entry_ids: Iterable[str] | None) -> None:
        """Entries ``entry_ids`` changed (None: anything may have): re-read those that are or
        were policies; a change of a policy starts a new generation."""
        if entry_ids is None:
            self.reset()
            return
        policies = self._policies
        if policies is None:
            return                      # nothing indexed yet: the first use reads it all
        touched = False
        for eid in entry_ids:
            entry = self._get(eid)
            if entry is not None and entry.get("kind") == POLICY_KIND:
                compiled = _compile(entry)
                if compiled is None:
                    touched |= policies.pop(eid, None) is not None
                elif policies.get(eid) != compiled:
                    policies[eid] = compiled
                    touched = True
            elif eid in policies:
                del policies[eid]
                touched = True
        if touched:
            self._scopes.clear()
            self._bump()

    def _index(self) -> dict[str, Policy]:
        if self._policies is None:
            out: dict[str, Policy] = {}
            for eid, entry in self._entries().items():
                if entry.get("kind") == POLICY_KIND:
                    compiled = _compile(entry)
                    if compiled is not None:
                        out[eid] = compiled
            self._policies = out
        return self._policies

    def policy(self, policy_id: str) -> Policy | None:
        """The compiled policy ``policy_id``, or None."""
        return self._index().get(policy_id)

    def group(self, name: str) -> list[Policy]:
        """Every policy in group ``name``. ``ns:group`` (Wippy's named scope id) takes the
        policies of namespace ``ns`` in group ``group``; a plain name takes them all."""
        ns, sep, group = name.rpartition(":")
        return [p for pid, p in self._index().items()
                if (group if sep else name) in p.groups
                and (not sep or pid.partition(":")[0] == ns)]

    def scope(self, policy_ids: tuple[str, ...], groups: tuple[str, ...] = ()) -> Scope:
        """The scope of ``policy_ids`` plus the policies of ``groups``, as the registry is now
        (a missing policy is simply absent: a scope only narrows when a policy goes away)."""
        key = (policy_ids, groups)
        scope = self._scopes.get(key)
        if scope is None:
            index = self._index()
            chosen = [index[p] for p in policy_ids if p in index]
            for g in groups:
                chosen.extend(self.group(g))
            scope = self._scopes[key] = Scope(chosen)
        return scope


#: This OS process's book (a host's runtime or the node attaches its store).
BOOK = PolicyBook()
