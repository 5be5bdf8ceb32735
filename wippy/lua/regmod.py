"""Wippy's Lua ``registry`` and ``events`` modules, over :mod:`wippy.registry` and
:mod:`wippy.events` (``registry.apply_version`` and ``Changes:apply`` block: ``blocking.py``).
See ``api.py`` for the conventions at the boundary.
"""
from __future__ import annotations

from typing import Any

from .. import events as _events
from .. import registry as _registry
from ..runtime import table as _runtime
from .api import ApiError, New, current_ctx, field, function, lua_value, method, text
from .engine import from_lua, is_lua_table

__all__ = ["version_arg"]


# -- registry --------------------------------------------------------------------------------
# Over wippy.registry: reads come from this host's LMDB reader; changes go to the node, and a
# process that applied a change sees it in its next read (S3).
def _reg() -> Any:
    return _registry


def _entries(lst: list) -> Any:
    return lua_value(sorted(lst, key=lambda e: e["id"]))


@function("registry")
def get(id: Any) -> Any:
    return lua_value(_reg().get(text(id, "entry id")))


@function("registry")
def find(flt: Any = None) -> Any:
    f = from_lua(flt) if flt is not None else {}
    if not isinstance(f, dict):
        raise ApiError("INVALID", "registry.find expects a table of filters")
    return _entries(_reg().find(f))


@function("registry")
def parse_id(id: Any) -> Any:
    return lua_value(_reg().parse_id(text(id, "entry id")))


def version_arg(v: Any) -> int:
    """A registry version argument (a Version object or an integer) as an int."""
    if is_lua_table(v) and type(v[1]) is int:       # a Version object
        return v[1]
    if type(v) is int:
        return v
    raise ApiError("INVALID", "a registry version (a Version or an integer) expected")


@function("registry")
def current_version() -> Any:
    return New((b"Version", int(_reg().current_version())))


@function("registry")
def versions() -> Any:
    return _list_of(current_ctx(), [int(v) for v in _reg().versions()])


def _store() -> Any:
    store = _runtime.get().store
    if store is None:
        raise ApiError("INTERNAL", "no registry in this OS process")
    return store


def _list_of(ctx: Any, ids: list[int]) -> Any:
    t = ctx.state.lua.table()
    for i, v in enumerate(ids, 1):
        t[i] = ctx.new_obj(b"Version", v)
    return t


@function("registry")
def history() -> Any:
    return New((b"History",))


@method("History", "versions")
def history_versions(_a: Any, _b: Any, _c: Any) -> Any:
    return versions()


@method("History")
def get_version(_a: Any, _b: Any, _c: Any, id: Any = None) -> Any:
    v = version_arg(id)
    if v < 0:
        raise ApiError("INVALID", f"invalid version {v}")
    if v not in _reg().numbered_versions(_store()):
        raise ApiError("NOT_FOUND", f"version v{v} not found")
    return New((b"Version", v))


@method("History", "snapshot_at")
def history_snapshot_at(_a: Any, _b: Any, _c: Any, v: Any = None) -> Any:
    return snapshot_at(v)


@method("History", "tostring")
def history_tostring(_a: Any, _b: Any, _c: Any) -> bytes:
    nums = _reg().numbered_versions(_store())
    return (f"History(v{nums[0]}..v{nums[-1]})" if nums else "History()").encode()


@function("registry")
def snapshot() -> Any:
    return New((b"Snapshot", _reg().snapshot()))


@function("registry")
def snapshot_at(v: Any) -> Any:
    return New((b"Snapshot", _reg().snapshot_at(version_arg(v))))


@function("registry")
def build_delta(old: Any, new: Any) -> Any:
    a, b = from_lua(old, empty=list), from_lua(new, empty=list)
    if not isinstance(a, list) or not isinstance(b, list):
        raise ApiError("INVALID", "build_delta expects two lists of entries")
    return lua_value(_reg().build_delta(a, b))


field("Version", "id", 1)


@method("Version", "string")
def version_string(v: int, _a: Any, _b: Any) -> bytes:
    return f"v{v}".encode()


@method("Version", "tostring")
def version_tostring(v: int, _a: Any, _b: Any) -> bytes:
    return f"Version(v{v})".encode()


@method("Version", "previous")
def version_previous(v: int, _a: Any, _b: Any) -> Any:
    older = [n for n in _reg().numbered_versions(_store()) if n < v]
    return New((b"Version", older[-1])) if older else None


@method("Version", "next")
def version_next(v: int, _a: Any, _b: Any) -> Any:
    newer = [n for n in _reg().numbered_versions(_store()) if n > v]
    return New((b"Version", newer[0])) if newer else None


@method("Snapshot", "entries")
def snapshot_entries(snap: Any, _a: Any, _b: Any) -> Any:
    return _entries(snap.entries())


@method("Snapshot", "get")
def snapshot_get(snap: Any, _a: Any, _b: Any, id: Any = None) -> Any:
    return lua_value(snap.get(text(id, "entry id")))


@method("Snapshot", "find")
def snapshot_find(snap: Any, _a: Any, _b: Any, flt: Any = None) -> Any:
    f = from_lua(flt) if flt is not None else {}
    return _entries(snap.find(f if isinstance(f, dict) else {}))


@method("Snapshot", "namespace")
def snapshot_namespace(snap: Any, _a: Any, _b: Any, ns: Any = None) -> Any:
    return _entries(snap.namespace(text(ns, "namespace")))


@method("Snapshot", "version")
def snapshot_version(snap: Any, _a: Any, _b: Any) -> Any:
    return New((b"Version", int(snap.version())))


@method("Snapshot", "changes")
def snapshot_changes(snap: Any, _a: Any, _b: Any) -> Any:
    return New((b"Changes", snap.changes()))


@method("Snapshot", "tostring")
def snapshot_tostring(snap: Any, _a: Any, _b: Any) -> bytes:
    return f"Snapshot({snap.version()}, {len(snap.entries())} entries)".encode()


@method("Changes", "tostring")
def changes_tostring(ch: Any, _a: Any, _b: Any) -> bytes:
    return f"Changes({len(ch.ops())} ops)".encode()


def _entry_arg(e: Any) -> dict:
    data = from_lua(e)
    if not isinstance(data, dict):
        raise ApiError("INVALID", "an entry table {id, kind, meta, data} expected")
    return data


@method("Changes", "create")
def changes_create(ch: Any, _a: Any, _b: Any, entry: Any = None) -> Any:
    ch.create(_entry_arg(entry))
    return New((b"Changes", ch))


@method("Changes", "update")
def changes_update(ch: Any, _a: Any, _b: Any, entry: Any = None) -> Any:
    ch.update(_entry_arg(entry))
    return New((b"Changes", ch))


@method("Changes", "delete")
def changes_delete(ch: Any, _a: Any, _b: Any, id: Any = None) -> Any:
    ch.delete(from_lua(id))
    return New((b"Changes", ch))


@method("Changes", "ops")
def changes_ops(ch: Any, _a: Any, _b: Any) -> Any:
    # Wippy's shape: {kind = "entry.create" | "entry.update" | "entry.delete", entry = {...}}
    return lua_value([{"kind": f"entry.{op['op']}", "entry": op.get("entry") or {"id": op["id"]}}
                      for op in ch.ops()])


# -- events ----------------------------------------------------------------------------------
@function("events", "send")
def events_send(system: Any, kind: Any, path: Any, data: Any = None) -> bool:
    s, k, p = text(system, "system"), text(kind, "kind"), text(path, "path")
    if not s or not k or not p:
        raise ApiError("INVALID", "events.send: system, kind and path must not be empty")
    return _events.send(s, k, p, from_lua(data))


field("Subscription", "channel", 2)


@function("events")
def subscribe(system: Any, kind: Any = None) -> Any:
    sub = _events.subscribe(text(system, "system"), None if kind is None else text(kind, "kind"))
    return New((b"Subscription", sub, sub.channel()))


@method("Subscription")
def close(sub: Any, _ch: Any, _: Any) -> bool:
    return sub.close()
