"""``wippy.registry``: read and change the node's versioned registry (S3, Wippy's names).

Reads go straight to LMDB (read your writes: after ``apply`` returns, the next read sees the
new version). Changes go to the node, the registry's single writer, which validates the whole
new version and commits it atomically or rejects it with every problem named.

Inside a process::

    entry = registry.get("app:settings")                 # {"id", "kind", "meta", "data"}
    snap = registry.snapshot()
    changes = snap.changes()
    changes.update({**entry, "data": {**entry["data"], "level": 3}})
    version = await changes.apply()                      # Version; str(version) == "v4"
    sub = wippy.events.subscribe("registry")             # entry.create / update / delete

The pieces live in private modules, each one concept: the entry and its forms
(:mod:`.entry`), the kinds' validators (:mod:`.kinds`), the YAML loader (:mod:`.loader`), the
references (:mod:`.refs`), the diff (:mod:`.diff`), the change plan (:mod:`.changes`), the
filter (:mod:`.query`) and the LMDB store (:mod:`.store`).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..errors import ChangeRejected, EntryNotFound, RegistryError, WippyError
from ..runtime import table as _rt
from .changes import nesting_problems
from .diff import Op, build_delta
from .entry import public_entry
from .query import match

__all__ = ["get", "find", "snapshot", "snapshot_at", "current_version", "versions", "history",
           "apply_version", "build_delta", "parse_id", "Version", "Snapshot", "Changes",
           "public_entry", "match"]


def parse_id(id: str) -> dict[str, str]:
    """``{"ns", "name"}`` of an entry id."""
    ns, _, name = id.partition(":")
    return {"ns": ns, "name": name}


class Version:
    """A registry version: ``id()`` (an int) and ``string()`` (``"v<id>"``)."""

    __slots__ = ("_id",)

    def __init__(self, id: int) -> None:
        self._id = int(id)

    def id(self) -> int:
        return self._id

    def string(self) -> str:
        return f"v{self._id}"

    def previous(self) -> Version | None:
        return Version(self._id - 1) if self._id > 0 else None

    def __int__(self) -> int:
        return self._id

    def __index__(self) -> int:
        return self._id

    def __str__(self) -> str:
        return self.string()

    def __repr__(self) -> str:
        return f"Version({self._id})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Version):
            return other._id == self._id
        return isinstance(other, int) and other == self._id

    def __hash__(self) -> int:
        return hash(self._id)


class Changes:
    """A changeset built on a snapshot: ``create``, ``update``, ``delete``, then ``apply``."""

    def __init__(self, submit: Callable[[list[dict[str, Any]]], Any]) -> None:
        self._ops: list[dict[str, Any]] = []
        self._submit = submit

    def create(self, entry: dict[str, Any]) -> Changes:
        """Add the creation of ``entry`` (``id``, ``kind``, ``meta``, ``data``)."""
        self._ops.append({"op": Op.CREATE.value, "entry": _plain_entry(entry)})
        return self

    def update(self, entry: dict[str, Any]) -> Changes:
        """Add the replacement of entry ``entry["id"]`` by ``entry``."""
        self._ops.append({"op": Op.UPDATE.value, "entry": _plain_entry(entry)})
        return self

    def delete(self, id: str | dict[str, str]) -> Changes:
        """Add the deletion of entry ``id`` (a string or ``{"ns", "name"}``)."""
        if isinstance(id, dict):
            id = f"{id['ns']}:{id['name']}"
        self._ops.append({"op": Op.DELETE.value, "id": id})
        return self

    def ops(self) -> list[dict[str, Any]]:
        return list(self._ops)

    def apply(self) -> Any:
        """Send the changeset to the node; returns (or, in a process, awaits) the new Version.
        Raises :class:`wippy.RegistryError` with every problem when it is rejected."""
        return self._submit(list(self._ops))


def _plain_entry(entry: dict[str, Any]) -> dict[str, Any]:
    if "id" not in entry or "kind" not in entry:
        raise RegistryError("an entry needs 'id' and 'kind'")
    return public_entry(entry)


class Snapshot:
    """A point-in-time view of the registry."""

    def __init__(self, version: int, entries: dict[str, dict[str, Any]],
                 submit: Callable[[list[dict[str, Any]]], Any]) -> None:
        self._version = version
        self._entries = entries
        self._submit = submit

    def version(self) -> Version:
        return Version(self._version)

    def entries(self) -> list[dict[str, Any]]:
        return [public_entry(e) for e in self._entries.values()]

    def get(self, id: str) -> dict[str, Any]:
        e = self._entries.get(id)
        if e is None:
            raise EntryNotFound(f"entry {id} not found")
        return public_entry(e)

    def find(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Entries matching every key of ``flt`` (see :func:`match`)."""
        return [public_entry(e) for e in self._entries.values() if match(e, flt)]

    def namespace(self, ns: str) -> list[dict[str, Any]]:
        return self.find({".ns": ns})

    def changes(self) -> Changes:
        return Changes(self._submit)


def history_of(store: Any) -> list[dict[str, Any]]:
    """One summary per version: version, time, source and the ids it touched."""
    return [{"version": h["version"], "time": h.get("time"), "source": h.get("source"),
             "created": [e["id"] for e in h.get("created", [])],
             "updated": [e["id"] for e in h.get("updated", [])],
             "deleted": list(h.get("deleted", []))} for h in store.history()]


# -- inside a process -------------------------------------------------------------------------
def _store() -> Any:
    store = _rt.get().store
    if store is None:
        raise RegistryError("no registry in this OS process")
    return store


def registry_error(exc: Exception) -> RegistryError:
    """Errors of registry requests surface as :class:`wippy.RegistryError` (kind kept)."""
    if isinstance(exc, RegistryError):
        return exc
    out = RegistryError(str(exc))
    out.kind = getattr(exc, "kind", out.kind)
    return out


async def _submit(ops: list[dict[str, Any]]) -> Version:
    deep = nesting_problems(ops)
    if deep:                    # named here: encoding them for the node would fail blindly
        raise ChangeRejected(deep)
    try:
        return Version(await _rt.get().ctl_request("registry_apply", ops))
    except WippyError as exc:
        raise registry_error(exc) from None


def get(id: str) -> dict[str, Any]:
    """The entry ``id``; raises :class:`wippy.EntryNotFound`."""
    stored = _store().get(id)
    if stored is None:
        raise EntryNotFound(f"entry {id} not found")
    return public_entry(stored)


def find(flt: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries matching every key of ``flt`` (see :func:`match`)."""
    return [public_entry(e) for e in _store().entries().values() if match(e, flt)]


def snapshot() -> Snapshot:
    store = _store()
    return Snapshot(store.version() or 0, store.entries(), _submit)


def snapshot_at(version: int | Version) -> Snapshot:
    return Snapshot(int(version), _store().snapshot_at(int(version)), _submit)


def current_version() -> Version:
    return Version(_store().version() or 0)


def versions() -> list[Version]:
    return [Version(h["version"]) for h in _store().history()]


def history() -> list[dict[str, Any]]:
    return history_of(_store())


def apply_version(version: int | Version) -> Awaitable[Version]:
    """Roll back (or forward) to ``version``: its snapshot becomes a new version."""
    async def run() -> Version:
        try:
            return Version(await _rt.get().ctl_request("registry_rollback", int(version)))
        except WippyError as exc:
            raise registry_error(exc) from None
    return run()
