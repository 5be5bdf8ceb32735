"""Registry changes as pure functions: validate a changeset against a snapshot, diff files.

The node is the registry's single writer. Every change, from ``changes:apply()``, a rollback or
an edited file, goes through :func:`plan`: it applies the operations to a copy of the current
snapshot, validates each touched entry with its kind's validator, checks every reference of
the resulting registry, and returns either the changeset to commit or the problems, named
``entry ns:name: field 'f': message``. Nothing here touches LMDB, sockets or the clock.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable

from . import kinds
from .entry import LUA_KINDS, PYTHON_KINDS, source_path
from .loader import Entry, validate_references

__all__ = ["plan", "stored_entry", "source_hash", "ChangeRejected", "changed_ids", "delta_ops",
           "PYTHON_CODE_KINDS", "MAX_WORKERS"]

PYTHON_CODE_KINDS = PYTHON_KINDS
MAX_WORKERS = 64        # a host entry asking for more OS processes than this is refused


class ChangeRejected(Exception):
    """The changeset is invalid; ``issues`` lists every problem."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = issues
        super().__init__("; ".join(issues))


def source_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return None


def _source_path(data: dict[str, Any], base_dir: str) -> str | None:
    return source_path(data.get("source"), base_dir)


def stored_entry(plain: dict[str, Any], path: str = "", base_dir: str = "") -> dict[str, Any]:
    """The form kept in LMDB: the plain entry, where it came from, and a hash of its source
    file, so that editing a code file changes the entry (and restarts what runs it)."""
    out = {"id": plain["id"], "kind": plain["kind"], "meta": dict(plain.get("meta") or {}),
           "data": dict(plain.get("data") or {}), "path": path, "base_dir": base_dir}
    src = _source_path(out["data"], base_dir)
    if src is not None:
        out["source_hash"] = source_hash(src)
    return out


def _check(entry: dict[str, Any], app_dir: str) -> tuple[dict[str, Any] | None, list[str]]:
    eid, kind = entry.get("id"), entry.get("kind")
    if not isinstance(eid, str) or ":" not in eid:
        return None, [f"entry {eid!r}: field 'id': must be 'namespace:name'"]
    if not isinstance(kind, str):
        return None, [f"entry {eid}: field 'kind': missing"]
    ns = eid.partition(":")[0]
    data = entry.get("data") or {}
    meta = entry.get("meta") or {}
    if not isinstance(data, dict) or not isinstance(meta, dict):
        return None, [f"entry {eid}: 'meta' and 'data' must be maps"]
    base_dir = entry.get("base_dir") or app_dir
    if kind in PYTHON_CODE_KINDS and _source_path(data, base_dir) is None:
        return None, [f"entry {eid}: field 'source': inline Python source is refused in a registry "
                      "change: Python code is arbitrary code and must come from a file the operator "
                      "put there (no security policy grants registry.apply.python)"]
    checked = kinds.validate(kind, data, ns, base_dir, root=app_dir)
    issues = [f"entry {eid}: field '{p.field}': {p.message}" for p in checked.problems if not p.warning]
    if kind == "process.host":
        workers = (checked.data.get("host") or {}).get("workers", 1)
        if isinstance(workers, int) and workers > MAX_WORKERS:
            issues.append(f"entry {eid}: field 'host.workers': {workers} OS processes is more than "
                          f"the {MAX_WORKERS} a host may have")
    if not issues and kind in LUA_KINDS:
        from ..typedlua.lint import check_entry
        candidate = Entry.from_plain({"id": eid, "kind": kind, "meta": meta, "data": checked.data})
        issues += [f"entry {eid}: field 'source': line {i.line}:{i.col}: {i.message}"
                   for i in check_entry(candidate)]
    if issues:
        return None, issues
    return stored_entry({"id": eid, "kind": kind, "meta": meta, "data": checked.data},
                        entry.get("path", ""), base_dir), []


def plan(current: dict[str, dict[str, Any]], ops: Iterable[dict[str, Any]], app_dir: str,
         *, prechecked: bool = False, python: bool = True) -> dict[str, list]:
    """Validate ``ops`` against ``current``; return the changeset or raise ChangeRejected.

    ``ops`` items: ``{"op": "create"|"update", "entry": {...}}`` or ``{"op": "delete", "id"}``.
    ``prechecked`` entries (from the file loader, already validated) skip the kind check.
    Without ``python`` (the change comes from a process, which may run code an agent wrote),
    creating or altering an entry whose code is Python is refused.
    """
    ops = list(ops)
    if not ops:
        raise ChangeRejected(["no changes to apply"])
    after = dict(current)
    created: dict[str, dict] = {}
    updated: dict[str, dict] = {}
    deleted: list[str] = []
    issues: list[str] = []
    for op in ops:
        kind = op.get("op")
        if kind == "delete":
            eid = op.get("id")
            if eid not in after:
                issues.append(f"entry {eid}: cannot delete: not found")
                continue
            del after[eid]
            created.pop(eid, None)
            updated.pop(eid, None)
            if eid in current:
                deleted.append(eid)
            continue
        if kind not in ("create", "update"):
            issues.append(f"unknown operation {kind!r} (create, update, delete)")
            continue
        entry = op.get("entry") or {}
        eid = entry.get("id")
        if kind == "create" and eid in after:
            issues.append(f"entry {eid}: cannot create: it already exists")
            continue
        if kind == "update" and eid not in after:
            issues.append(f"entry {eid}: cannot update: not found")
            continue
        if prechecked:
            stored, problems = entry, []
        else:
            stored, problems = _check(entry, app_dir)
        if problems or stored is None:
            issues.extend(problems)
            continue
        if not python and _python_code_changed(current.get(eid), stored):
            issues.append(f"entry {eid}: creating or changing Python code at run time needs "
                          "registry.apply.python, which this caller does not hold (Python code "
                          "is not sandboxed; write it to the application's files instead)")
            continue
        after[eid] = stored
        if eid in current:
            if current[eid] != stored:
                updated[eid] = stored
            if eid in deleted:
                deleted.remove(eid)
        else:
            created[eid] = stored
    if not issues:
        issues = _reference_issues(after, set(created) | set(updated) | set(deleted))
    if issues:
        raise ChangeRejected(issues)
    return {"created": list(created.values()), "updated": list(updated.values()), "deleted": deleted}


def _python_code_changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Whether storing ``after`` over ``before`` creates or alters Python code."""
    if after.get("kind") not in PYTHON_CODE_KINDS and (before or {}).get("kind") not in PYTHON_CODE_KINDS:
        return False
    return before is None or before.get("kind") != after.get("kind") or before.get("data") != after.get("data")


def _reference_issues(after: dict[str, dict[str, Any]], touched: set[str]) -> list[str]:
    entries = {}
    for eid, e in after.items():
        try:
            entries[eid] = Entry.from_plain(e)
        except ValueError as exc:
            return [f"entry {eid}: {exc}"]
    out = []
    for issue in validate_references(entries):
        # a reference problem matters when the change caused it: the entry was touched, or it
        # points at something the change touched (a deletion leaves it dangling)
        if issue.entry in touched or any(t in issue.message for t in touched):
            text = f"entry {issue.entry}: " if issue.entry else ""
            if issue.field:
                text += f"field '{issue.field}': "
            out.append(text + issue.message)
    return out


def delta_ops(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Operations turning ``old`` into ``new`` (Wippy's build_delta)."""
    ops: list[dict[str, Any]] = []
    for eid, e in new.items():
        if eid not in old:
            ops.append({"op": "create", "entry": e})
        elif old[eid] != e:
            ops.append({"op": "update", "entry": e})
    ops.extend({"op": "delete", "id": eid} for eid in old if eid not in new)
    return ops


def changed_ids(changes: dict[str, list]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(event kind, id, entry) for every change: ``entry.create | entry.update | entry.delete``."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    out += [("entry.create", e["id"], e) for e in changes.get("created", [])]
    out += [("entry.update", e["id"], e) for e in changes.get("updated", [])]
    out += [("entry.delete", eid, None) for eid in changes.get("deleted", [])]
    return out
