"""References between registry entries: who references whom, and the rules they keep (S3, S5).

The rules: every reference names an entry that exists and has one of the kinds its field
allows; a supervised child has one supervisor; ``lifecycle.depends_on`` and supervision have no
cycle. :func:`problems` checks them for the entries a change *touched*, against a
:class:`RefGraph`:

* the loader checks a whole application: every entry is touched;
* the change planner checks one change against the running registry: the touched entries are
  those the change creates, updates or deletes; the references that point at them from outside
  the change are checked again too (a deletion leaves them dangling, a new kind may not be one
  they allow). The rest of the registry was valid before and the change did not alter it.

The planner's graph is the node's :class:`RefIndex` of the committed registry (updated with
every commit) seen through the change (:meth:`RefIndex.with_changes`), so an apply does work in
proportion to the change and the entries next to it, not to the size of the registry.

Rejected alternative: rebuilding every entry and checking the whole registry on each apply, as
the loader does for an application. Simple, but it was two thirds of an apply at 10k entries.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import kinds
from .entry import Kind

__all__ = ["RefProblem", "RefGraph", "RefIndex", "problems", "entry_refs"]

_SUPERVISOR = Kind.SUPERVISOR.value
_DEPENDS = "lifecycle.depends_on"
_CHILDREN = "children"

Refs = tuple[kinds.Ref, ...]
Edge = tuple[str, str]          # (target id, the field holding the reference)


@dataclass(frozen=True, slots=True)
class RefProblem:
    """A broken rule, found at ``field`` (a dotted path) of entry ``entry``."""

    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"entry {self.entry}: field '{self.field}': {self.message}"


class RefGraph(Protocol):
    """What :func:`problems` reads: each entry's kind and references, and who points at whom."""

    def kind(self, eid: str) -> str | None:
        """The kind of entry ``eid``; None when there is no such entry."""

    def refs(self, eid: str) -> Refs:
        """The references entry ``eid`` holds (empty when there is no such entry)."""

    def referrers(self, eid: str) -> Iterable[str]:
        """The entries holding a reference to ``eid`` (whether or not ``eid`` exists)."""

    def ids(self) -> Iterable[str]:
        """Every entry id (for "did you mean" suggestions: read only when a problem is found)."""


def entry_refs(eid: str, kind: str, data: Mapping[str, Any]) -> Refs:
    """The references held by the (clean) data of entry ``eid``."""
    return tuple(kinds.references(kind, data, eid.partition(":")[0]))


class RefIndex:
    """Each entry's kind and references, and for each id the entries referring to it.

    The node keeps one for the committed registry and updates it with every commit
    (:meth:`apply`); :meth:`with_changes` shows it as a change would leave it."""

    __slots__ = ("_by_target", "_kind", "_last_view", "_refs")

    def __init__(self) -> None:
        self._kind: dict[str, str] = {}
        self._refs: dict[str, Refs] = {}
        self._by_target: dict[str, set[str]] = {}
        # the references :meth:`with_changes` last computed, by id, with the entry they came
        # from: committing the change that was just planned need not compute them again
        self._last_view: dict[str, tuple[Mapping[str, Any], Refs]] = {}

    @classmethod
    def of(cls, entries: Mapping[str, Mapping[str, Any]]) -> RefIndex:
        """The index of a snapshot (id -> stored or public entry)."""
        index = cls()
        for eid, e in entries.items():
            index.put(eid, e["kind"], entry_refs(eid, e["kind"], e.get("data") or {}))
        return index

    def put(self, eid: str, kind: str, refs: Refs) -> None:
        """Record entry ``eid`` (replacing what was known of it)."""
        self.drop(eid)
        self._kind[eid] = kind
        self._refs[eid] = refs
        for ref in refs:
            self._by_target.setdefault(ref.target, set()).add(eid)

    def drop(self, eid: str) -> None:
        """Forget entry ``eid`` (its references; references to it stay known)."""
        self._kind.pop(eid, None)
        for ref in self._refs.pop(eid, ()):
            holders = self._by_target.get(ref.target)
            if holders is not None:
                holders.discard(eid)
                if not holders:
                    del self._by_target[ref.target]

    def apply(self, changes: Mapping[str, list[Any]]) -> None:
        """Follow a committed changeset (``created``/``updated`` entries, ``deleted`` ids)."""
        seen, self._last_view = self._last_view, {}
        for e in list(changes.get("created", [])) + list(changes.get("updated", [])):
            known = seen.get(e["id"])
            refs = known[1] if known is not None and known[0] is e else \
                entry_refs(e["id"], e["kind"], e.get("data") or {})
            self.put(e["id"], e["kind"], refs)
        for eid in changes.get("deleted", []):
            self.drop(eid)

    def with_changes(self, staged: Mapping[str, Mapping[str, Any] | None]) -> RefGraph:
        """This index as it would be with ``staged`` (id -> new entry, or None: deleted). The
        index itself does not change (it only remembers the references it computed)."""
        self._last_view = {eid: (e, entry_refs(eid, e["kind"], e.get("data") or {}))
                           for eid, e in staged.items() if e is not None}
        return _View(self, {eid: None if e is None else (e["kind"], self._last_view[eid][1])
                            for eid, e in staged.items()})

    def kind(self, eid: str) -> str | None:
        """See :class:`RefGraph`."""
        return self._kind.get(eid)

    def refs(self, eid: str) -> Refs:
        """See :class:`RefGraph`."""
        return self._refs.get(eid, ())

    def referrers(self, eid: str) -> Iterable[str]:
        """See :class:`RefGraph`."""
        return self._by_target.get(eid, ())

    def ids(self) -> Iterable[str]:
        """See :class:`RefGraph`."""
        return self._kind.keys()


class _View:
    """A :class:`RefIndex` with some entries replaced or deleted, without copying it."""

    __slots__ = ("_base", "_by_target", "_staged")

    def __init__(self, base: RefIndex, staged: dict[str, tuple[str, Refs] | None]) -> None:
        self._base = base
        self._staged = staged
        self._by_target: dict[str, set[str]] = {}       # the staged entries' references
        for holder, new in staged.items():
            for ref in () if new is None else new[1]:
                self._by_target.setdefault(ref.target, set()).add(holder)

    def kind(self, eid: str) -> str | None:
        if eid in self._staged:
            new = self._staged[eid]
            return None if new is None else new[0]
        return self._base.kind(eid)

    def refs(self, eid: str) -> Refs:
        if eid in self._staged:
            new = self._staged[eid]
            return () if new is None else new[1]
        return self._base.refs(eid)

    def referrers(self, eid: str) -> Iterable[str]:
        out = {r for r in self._base.referrers(eid) if r not in self._staged}
        out.update(self._by_target.get(eid, ()))
        return out

    def ids(self) -> Iterator[str]:
        yield from (eid for eid in self._base.ids() if eid not in self._staged)
        yield from (eid for eid, new in self._staged.items() if new is not None)


def _target_problem(graph: RefGraph, ref: kinds.Ref) -> str | None:
    kind = graph.kind(ref.target)
    if kind is None:
        return f"unknown entry {ref.target!r}" + kinds.suggest(ref.target, graph.ids())
    if kind not in ref.kinds:
        return f"{ref.target!r} is a {kind}, expected " + " or ".join(sorted(ref.kinds))
    return None


def _holds(graph: RefGraph, ref: kinds.Ref) -> bool:
    """Whether ``ref`` names an entry of an allowed kind (:func:`_target_problem` without the
    message, which may search every id for a suggestion)."""
    return graph.kind(ref.target) in ref.kinds


def _is_child_ref(kind: str | None, ref: kinds.Ref) -> bool:
    return kind == _SUPERVISOR and ref.field.startswith(_CHILDREN)


def _parent(graph: RefGraph, child: str, sup: str, order: Mapping[str, int]) -> str | None:
    """The supervisor that ``child`` belongs to before ``sup`` claims it, if any: supervisors
    outside the change keep their children; inside it, the first one listed wins."""
    best: tuple[int, str] | None = None
    for other in graph.referrers(child):
        if other == sup or graph.kind(other) != _SUPERVISOR:
            continue
        if not any(r.target == child and r.field.startswith(_CHILDREN) for r in graph.refs(other)):
            continue
        rank = (order.get(other, -1), other)
        if rank[0] < order[sup] and (best is None or rank < best):
            best = rank
    return None if best is None else best[1]


def _cycles(roots: Iterable[str], edges: Any) -> list[list[str]]:
    """Every cycle closed by a back edge of a depth-first search from ``roots`` (iterative: no
    depth limit); ``edges(node)`` lists a node's ``(target, field)`` edges."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    found: list[list[str]] = []
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        path, stack = [root], [iter(edges(root))]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            target = edge[0]
            if state.get(target) == 1:
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                state[target] = 1
                path.append(target)
                stack.append(iter(edges(target)))
    return found


def problems(graph: RefGraph, touched: Sequence[str]) -> list[RefProblem]:
    """The broken rules a change to ``touched`` (ids, in change order) leaves in ``graph``.

    Pure. Reads the touched entries' references, the references pointing at touched ids, and
    the dependency and supervision edges reachable from touched entries; problems found only
    elsewhere were there before and are not reported.
    """
    order = {eid: i for i, eid in enumerate(touched)}
    out: list[RefProblem] = []
    depends: dict[str, list[Edge]] = {}
    supervises: dict[str, list[Edge]] = {}
    for eid in touched:
        kind = graph.kind(eid)
        if kind is None:
            continue                                    # deleted
        for ref in graph.refs(eid):
            problem = _target_problem(graph, ref)
            if problem is None and _is_child_ref(kind, ref):
                parent = _parent(graph, ref.target, eid, order)
                if parent is not None:
                    problem = f"{ref.target!r} is already a child of supervisor {parent!r}"
                else:
                    supervises.setdefault(eid, []).append((ref.target, ref.field))
            elif problem is None and ref.field.startswith(_DEPENDS):
                depends.setdefault(eid, []).append((ref.target, ref.field))
            if problem is not None:
                out.append(RefProblem(eid, ref.field, problem))
    holders = {h for t in touched for h in graph.referrers(t)} - order.keys()
    for eid in sorted(holders):
        if graph.kind(eid) is None:
            continue
        for ref in graph.refs(eid):
            if ref.target in order:
                problem = _target_problem(graph, ref)
                if problem is not None:
                    out.append(RefProblem(eid, ref.field, problem))

    def outside_edges(eid: str, children: bool) -> list[Edge]:
        # an entry outside the change: its references were valid before it; follow those that
        # still are (one the change broke is reported above)
        kind = graph.kind(eid)
        return [(r.target, r.field) for r in graph.refs(eid)
                if (_is_child_ref(kind, r) if children else r.field.startswith(_DEPENDS))
                and _holds(graph, r)]

    roots = [eid for eid in touched if graph.kind(eid) is not None]
    for found, children, what in ((depends, False, "dependency"),
                                  (supervises, True, "supervision")):
        def edges(eid: str, found: dict[str, list[Edge]] = found,
                  children: bool = children) -> list[Edge]:
            return found.get(eid, []) if eid in order else outside_edges(eid, children)
        for cycle in _cycles(roots, edges):
            if not any(eid in order for eid in cycle):
                continue                                # there before the change
            via = next(f for t, f in edges(cycle[0]) if t == cycle[1])
            out.append(RefProblem(cycle[0], via, f"{what} cycle: " + " -> ".join(cycle)))
    return out
