"""The registry diff: what changed between two snapshots, as a changeset, operations or events.

One pure function, :func:`diff`, compares two snapshots (id -> entry, stored or public form),
and :func:`patch` is its inverse (``patch(old, diff(old, new)) == new``); everything else that
compares registries, or moves one forward by a changeset, is built on them:

* a *changeset* ``{"created": [entries], "updated": [entries], "deleted": [ids]}`` is what a
  version holds (the planner's output, the store's history record, the node's announcement);
* *operations* (:func:`delta_ops`) are what ``changes:apply()`` sends: ``{"op": "create" |
  "update", "entry"}`` and ``{"op": "delete", "id"}`` (a rollback, a file edit);
* *events* (:func:`changed_ids`, :func:`build_delta`) are Wippy's ``entry.create |
  entry.update | entry.delete``.

A changeset stays a plain dict, not a dataclass: it is persisted as JSON in every history
record and travels to every host, and its shape is frozen by the store's golden test.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from .entry import public_entry

__all__ = ["EntryEvent", "Op", "build_delta", "changed_ids", "delta_ops", "diff", "is_empty",
           "patch"]

Snapshot = Mapping[str, Mapping[str, Any]]
Changeset = dict[str, list[Any]]


class Op(str, enum.Enum):
    """What one operation of a change does (Wippy's ``changes:create/update/delete``)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class EntryEvent(str, enum.Enum):
    """The event kind announcing a change of one entry (S3)."""

    CREATE = "entry.create"
    UPDATE = "entry.update"
    DELETE = "entry.delete"


def diff(old: Snapshot, new: Snapshot) -> Changeset:
    """What changed from ``old`` to ``new``: entries of ``new`` missing from ``old``
    (``created``) or different there (``updated``), in ``new``'s order, and the ids of
    ``old`` missing from ``new`` (``deleted``), in ``old``'s order. Pure."""
    created = [e for eid, e in new.items() if eid not in old]
    updated = [e for eid, e in new.items() if eid in old and old[eid] != e]
    deleted = [eid for eid in old if eid not in new]
    return {"created": created, "updated": updated, "deleted": deleted}


def patch(snapshot: Mapping[str, Any], changes: Mapping[str, list[Any]]) -> dict[str, Any]:
    """A new snapshot: ``snapshot`` with a changeset applied (``snapshot`` is left as it was;
    entries are shared, not copied). Pure."""
    out = dict(snapshot)
    for e in list(changes.get("created", [])) + list(changes.get("updated", [])):
        out[e["id"]] = e
    for eid in changes.get("deleted", []):
        out.pop(eid, None)
    return out


def is_empty(changes: Mapping[str, Iterable[Any]]) -> bool:
    """Whether a changeset changes nothing."""
    return not any(changes.get(k) for k in ("created", "updated", "deleted"))


def delta_ops(old: Snapshot, new: Snapshot) -> list[dict[str, Any]]:
    """The operations that turn ``old`` into ``new``."""
    changes = diff(old, new)
    return ([{"op": Op.CREATE.value, "entry": e} for e in changes["created"]]
            + [{"op": Op.UPDATE.value, "entry": e} for e in changes["updated"]]
            + [{"op": Op.DELETE.value, "id": eid} for eid in changes["deleted"]])


def changed_ids(changes: Mapping[str, list[Any]]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """``(event kind, id, entry or None)`` for every change of a changeset, created first, then
    updated, then deleted (the event kinds are plain strings: they cross OS processes)."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    out += [(EntryEvent.CREATE.value, e["id"], e) for e in changes.get("created", [])]
    out += [(EntryEvent.UPDATE.value, e["id"], e) for e in changes.get("updated", [])]
    out += [(EntryEvent.DELETE.value, eid, None) for eid in changes.get("deleted", [])]
    return out


def build_delta(old: Iterable[Mapping[str, Any]],
                new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Wippy's ``registry.build_delta``: ``{"kind": "entry.create" | "entry.update" |
    "entry.delete", "entry": ...}`` turning entry list ``old`` into ``new``, compared in their
    public form (a deleted entry is given as it was)."""
    a = {e["id"]: public_entry(e) for e in old}
    b = {e["id"]: public_entry(e) for e in new}
    return [{"kind": kind, "entry": a[eid] if entry is None else entry}
            for kind, eid, entry in changed_ids(diff(a, b))]
