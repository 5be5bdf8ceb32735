"""The registry change plan: is this change allowed, and what exactly does it change? (S3, S9)

The node is the registry's single writer, and every change goes through :func:`plan`: an
``apply()`` from a process or a program, a rollback, an edited file, and the files at boot. It
is a pure decision, as Erlang's supervisor decides a restart: the current snapshot and the
operations in, the changeset to commit (or every problem, named ``entry ns:name: field 'f':
message``) out. Nothing here touches LMDB, sockets or the clock; the caller commits.

What it decides, in order:

1. each operation against the registry as the earlier operations left it (``create`` of an
   existing id, ``update`` or ``delete`` of a missing one are refused; a delete then a create of
   one id in one change is a replacement);
2. each created or updated entry with its kind's validator (sources confined to the
   application), unless ``prechecked`` (the loader validated it with file positions), its code
   with the ``check_code`` the node hands in (Lua must translate), and whether its code defines
   its ``method`` (:mod:`.methods`; for Lua, only with a code check);
3. the caller's authority: ``authorize(action, entry id, meta)`` for each check the change
   needs (:mod:`wippy.security.rules`: ``registry.apply`` on every entry before it is
   validated, ``registry.apply.python`` and ``registry.apply.security`` where they apply); it
   raises :class:`~wippy.errors.PermissionDenied`, which ends the plan. Without ``python``,
   creating or altering Python code is refused outright;
4. the outcome is the difference between the final state and the current one, so an update to
   what is already there is no change at all;
5. the references that outcome touches (:mod:`wippy.registry.refs`): work in proportion to the
   change, given the node's index of who references whom.

The same planner serves the files: :func:`file_ops` turns an edit of the application's files
(their last snapshot, the *baseline*, against the new one) into operations on the running
registry, so entries created at run time survive file edits and reboots.

Rejected alternatives: applying the operations to a copy of the snapshot and diffing or
validating the copy (every apply would cost the size of the registry); and tracking created /
updated / deleted lists while walking the operations (an update followed by its undo, in one
change, committed the intermediate value).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ChangeRejected
from . import kinds
from .diff import Op, changed_ids, delta_ops, diff
from .entry import (
    LUA_KINDS,
    MAX_DEPTH,
    PYTHON_KINDS,
    CodeCheck,
    Entry,
    Kind,
    source_path,
    stored_entry,
    too_deep,
)
from .methods import method_problem
from .refs import RefIndex, problems
from ..security.rules import APPLY, apply_meta, content, python_code_changed, required

__all__ = ["plan", "file_ops", "ChangeRejected", "PYTHON_CODE_KINDS", "MAX_WORKERS",
           "changed_ids", "delta_ops", "stored_entry", "nesting_problems", "deep_field"]

PYTHON_CODE_KINDS = PYTHON_KINDS
MAX_WORKERS = 64        # a host entry asking for more OS processes than this is refused

Snapshot = Mapping[str, Mapping[str, Any]]
Changeset = dict[str, list[Any]]
#: ``authorize(action, entry id, meta)``: returns when the caller may, raises PermissionDenied.
Authorize = Callable[[str, str, Mapping[str, Any]], None]


def deep_field(entry: Mapping[str, Any]) -> str | None:
    """``"field 'x.y[0]...': nested deeper than N levels"`` for an entry whose data or meta
    nests too deeply to store, else None (names the field, shortened)."""
    for part, prefix in ((entry.get("data"), ""), (entry.get("meta"), "meta.")):
        where = too_deep(part)
        if where is not None:
            where = prefix + where
            if len(where) > 40:
                where = where[:40] + "..."
            return f"field '{where}': nested deeper than {MAX_DEPTH} levels"
    return None


def nesting_problems(ops: Iterable[Any]) -> list[str]:
    """The entries of a change that nest too deeply to be sent or stored, each named: checked
    before a change leaves its caller, whose encoder would otherwise fail on them."""
    out = []
    for op in ops:
        entry = op.get("entry") if isinstance(op, Mapping) else None
        if isinstance(entry, Mapping):
            problem = deep_field(entry)
            if problem is not None:
                out.append(f"entry {entry.get('id')}: {problem}")
    return out


def _check(entry: Mapping[str, Any], app_dir: str,
           check_code: CodeCheck | None) -> tuple[dict[str, Any] | None, list[str]]:
    """An entry from a change (its id already checked): its stored form, or the problems that
    refuse it."""
    eid, kind = str(entry.get("id")), entry.get("kind")
    if not isinstance(kind, str):
        return None, [f"entry {eid}: field 'kind': missing"]
    ns = eid.partition(":")[0]
    data = entry.get("data") or {}
    meta = entry.get("meta") or {}
    if not isinstance(data, dict) or not isinstance(meta, dict):
        return None, [f"entry {eid}: 'meta' and 'data' must be maps"]
    deep = deep_field(entry)
    if deep is not None:
        return None, [f"entry {eid}: {deep}"]
    base_dir = entry.get("base_dir") or app_dir
    if kind in PYTHON_CODE_KINDS and source_path(data.get("source"), base_dir) is None:
        return None, [f"entry {eid}: field 'source': inline Python source is refused in a "
                      "registry change: Python code is arbitrary code and must come from a file "
                      "the operator put there (no security policy grants registry.apply.python)"]
    checked = kinds.validate(kind, data, ns, base_dir, root=app_dir)
    issues = [f"entry {eid}: field '{p.field}': {p.message}" for p in checked.errors]
    if kind == Kind.PROCESS_HOST:
        workers = (checked.data.get("host") or {}).get("workers", 1)
        if isinstance(workers, int) and workers > MAX_WORKERS:
            issues.append(f"entry {eid}: field 'host.workers': {workers} OS processes is more than "
                          f"the {MAX_WORKERS} a host may have")
    if not issues and kind in LUA_KINDS and check_code is not None:
        candidate = Entry.from_plain({"id": eid, "kind": kind, "meta": meta, "data": checked.data})
        issues += [f"entry {eid}: field 'source': line {i.line}:{i.col}: {i.message}"
                   for i in check_code(candidate)]
    if not issues and (kind in PYTHON_CODE_KINDS or (kind in LUA_KINDS and check_code is not None)):
        missing = method_problem(kind, checked.data, base_dir)
        if missing is not None:
            issues.append(f"entry {eid}: field 'method': {missing}")
    if issues:
        return None, issues
    return stored_entry({"id": eid, "kind": kind, "meta": meta, "data": checked.data},
                        entry.get("path", ""), base_dir), []


def _stage(current: Snapshot, ops: list[Any], app_dir: str, prechecked: bool,
           python: bool, check_code: CodeCheck | None, authorize: Authorize | None,
           issues: list[str]) -> dict[str, Mapping[str, Any] | None]:
    """Each operation in turn: id -> the entry it leaves (None: deleted); problems to ``issues``."""
    staged: dict[str, Mapping[str, Any] | None] = {}

    def now(eid: str) -> Mapping[str, Any] | None:
        return staged[eid] if eid in staged else current.get(eid)

    for op in ops:
        if not isinstance(op, Mapping):
            issues.append(f"operation {op!r}: must be a map with 'op'")
            continue
        name = op.get("op")
        try:
            kind = Op(name)
        except ValueError:
            issues.append(f"unknown operation {name!r} (create, update, delete)")
            continue
        entry = {} if kind is Op.DELETE else (op.get("entry") or {})
        if not isinstance(entry, Mapping):
            issues.append(f"operation {kind.value}: the entry must be a map")
            continue
        eid = op.get("id") if kind is Op.DELETE else entry.get("id")
        if not isinstance(eid, str) or ":" not in eid:
            issues.append(f"entry {eid!r}: field 'id': must be 'namespace:name'")
            continue
        exists = now(eid) is not None
        if authorize is not None:
            target = now(eid) if kind is Op.DELETE else entry
            authorize(APPLY, eid, apply_meta(kind.value, eid, (target or {}).get("kind")))
        if kind is Op.DELETE:
            if not exists:
                issues.append(f"entry {eid}: cannot delete: not found")
            else:
                if authorize is not None:
                    for action, meta in required(kind.value, eid, now(eid), None):
                        authorize(action, eid, meta)
                staged[eid] = None
            continue
        if kind is Op.CREATE and exists:
            issues.append(f"entry {eid}: cannot create: it already exists")
            continue
        if kind is Op.UPDATE and not exists:
            issues.append(f"entry {eid}: cannot update: not found")
            continue
        stored, found = (entry, []) if prechecked else _check(entry, app_dir, check_code)
        if found or stored is None:
            issues.extend(found)
            continue
        before = now(eid)
        if not python and python_code_changed(current.get(eid), stored):
            issues.append(f"entry {eid}: creating or changing Python code at run time needs "
                          "registry.apply.python, which this caller does not hold (Python code "
                          "is not sandboxed; write it to the application's files instead)")
            continue
        if authorize is not None:
            for action, meta in required(kind.value, eid, before, stored):
                authorize(action, eid, meta)
        if before is not None and content(before) == content(stored):
            stored = before          # the same content: no change, and its author stays
        staged[eid] = stored
    return staged


def plan(current: Snapshot, ops: Iterable[dict[str, Any]], app_dir: str, *,
         prechecked: bool = False, python: bool = True, check_code: CodeCheck | None = None,
         refs: RefIndex | None = None, authorize: Authorize | None = None,
         author: Mapping[str, Any] | None = None) -> Changeset:
    """The changeset that ``ops`` make of ``current``; raises :class:`ChangeRejected`.

    ``current``: the registry (id -> stored entry). ``ops`` items: ``{"op": "create" |
    "update", "entry": {...}}`` or ``{"op": "delete", "id": ...}``. ``app_dir``: the
    application, which every ``file://`` source must stay inside. ``prechecked``: the entries
    are stored entries the loader validated (the files, a rollback's snapshot); their kind and
    code checks are skipped. ``python=False``: the change comes from a process, which may run
    code an agent wrote, so it may not create or alter Python code. ``check_code``: the code
    check for created and updated Lua entries (none when not given). ``refs``: the index of
    ``current``'s references (built from ``current`` when not given: O(registry)).
    ``authorize``: the caller's authority (see the module's note; a rollback's entries are
    checked too). ``author``: the stamp every created or updated entry gets (its ``author``
    field, which the caller cannot set: None removes it); entries taken as they are
    (``prechecked``: the files, a rollback) keep theirs.

    Returns ``{"created": [stored entries], "updated": [stored entries], "deleted": [ids]}``,
    empty lists when every operation leaves the registry as it is. Pure.
    """
    ops = list(ops)
    if not ops:
        raise ChangeRejected(["no changes to apply"])
    issues: list[str] = []
    staged = _stage(current, ops, app_dir, prechecked, python, check_code, authorize, issues)
    changes = diff({eid: current[eid] for eid in staged if eid in current},
                   {eid: e for eid, e in staged.items() if e is not None})
    if not issues:
        touched = ([e["id"] for e in changes["created"]] + [e["id"] for e in changes["updated"]]
                   + changes["deleted"])
        if touched:
            index = refs if refs is not None else RefIndex.of(current)
            graph = index.with_changes({eid: staged[eid] for eid in touched})
            issues = [str(p) for p in problems(graph, touched)]
    if issues:
        raise ChangeRejected(issues)
    if not prechecked:
        for e in changes["created"] + changes["updated"]:
            if author:
                e["author"] = dict(author)
            else:
                e.pop("author", None)
    return changes


def file_ops(baseline: Snapshot, files: Snapshot, live: Snapshot) -> list[dict[str, Any]]:
    """The operations that carry an edit of the application's files onto the live registry.

    ``baseline`` is what the files said when last applied, ``files`` what they say now, and
    ``live`` the registry. Only what the files changed is applied, as a create or an update by
    what ``live`` holds, so entries created at run time stay; a file's deletion of an entry
    already gone is dropped. Pure.
    """
    out: list[dict[str, Any]] = []
    for op in delta_ops(baseline, files):
        if op["op"] == Op.DELETE:
            if op["id"] in live:
                out.append(op)
        else:
            kind = Op.UPDATE if op["entry"]["id"] in live else Op.CREATE
            out.append({"op": kind.value, "entry": op["entry"]})
    return out
