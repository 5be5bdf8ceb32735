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

Security (S9): a process under a context needs ``registry.get`` on an entry to read it;
``find``, snapshots and their ``entries`` leave out what it may not get. Changes are checked
by the node (``registry.apply`` on each entry, ``registry.apply.python``,
``registry.apply.security``, ``registry.apply_version``): a refusal raises
:class:`wippy.PermissionDenied` and commits nothing.

The pieces live in private modules, each one concept: the entry and its forms
(:mod:`.entry`), the kinds' validators (:mod:`.kinds`), the YAML loader (:mod:`.loader`), the
references (:mod:`.refs`), the diff (:mod:`.diff`), the change plan (:mod:`.changes`), the
filter (:mod:`.query`) and the LMDB store (:mod:`.store`).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from ..errors import ChangeRejected, EntryNotFound, PermissionDenied, RegistryError, WippyError
from ..runtime import codeload as _codeload
from ..runtime import table as _rt
from .changes import nesting_problems
from .diff import Op, build_delta
from .entry import public_entry
from .query import match

__all__ = ["get", "find", "snapshot", "snapshot_at", "current_version", "versions", "history",
           "apply_version", "build_delta", "parse_id", "Version", "Snapshot", "Changes",
           "public_entry", "match", "effective_version", "numbered_versions",
           "restored_version"]


def parse_id(id: str) -> dict[str, str]:
    """``{"ns", "name"}`` of an entry id, split at the first colon (no colon: ``ns`` is
    empty), as Wippy does."""
    ns, sep, name = id.partition(":")
    return {"ns": ns, "name": name} if sep else {"ns": "", "name": id}


# -- version numbers as Wippy shows them ------------------------------------------------------
# The store keeps every change as the next version, a rollback included (its record's source is
# "apply_version v<K>"). Wippy's API shows a rollback as a move back: after apply_version(v),
# current_version() is v, and versions() lists the versions that changed something new.
_RESTORE = "apply_version v"


def restored_version(record: dict[str, Any] | None) -> int | None:
    """The version a history record went back to, or None for an ordinary change."""
    source = (record or {}).get("source") or ""
    if source.startswith(_RESTORE) and source[len(_RESTORE):].isdigit():
        return int(source[len(_RESTORE):])
    return None


def effective_version(store: Any, version: int) -> int:
    """The version number Wippy's API shows for stored version ``version``: a rollback shows
    as the version it went back to. Remembered for the store's latest version asked (a
    version's record never changes), so a snapshot does not decode a record each time."""
    memo = getattr(store, "effective_memo", None)
    if memo is not None and memo[0] == version:
        return int(memo[1])
    shown = _effective(store, version)
    if hasattr(store, "effective_memo"):
        store.effective_memo = (version, shown)
    return shown


def _effective(store: Any, version: int) -> int:
    seen = 0
    while seen < 64:        # a chain of rollbacks to rollbacks ends at an ordinary change
        back = restored_version(store.changeset(version))
        if back is None or back >= version:
            return version
        version, seen = back, seen + 1
    return version


def numbered_versions(store: Any) -> list[int]:
    """The versions Wippy's ``versions()`` lists: every ordinary change, oldest first."""
    return [h["version"] for h in store.history() if restored_version(h) is None]


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
    """A point-in-time view of the registry (for a process under a context: of the entries
    it may ``registry.get``)."""

    def __init__(self, version: int, entries: Mapping[str, dict[str, Any]],
                 submit: Callable[[list[dict[str, Any]]], Any], readable: Any = None) -> None:
        self._version = version
        self._entries = entries
        self._submit = submit
        self._readable = readable        # the reader's context (None: everything)

    def _may(self, id: str) -> bool:
        return self._readable is None or self._readable.allows("registry.get", id)

    def version(self) -> Version:
        return Version(self._version)

    def entries(self) -> list[dict[str, Any]]:
        return [public_entry(e) for e in self._entries.values() if self._may(e["id"])]

    def get(self, id: str) -> dict[str, Any]:
        if self._readable is not None:
            self._readable.check("registry.get", id)
        e = self._entries.get(id)
        if e is None:
            raise EntryNotFound(f"entry {id} not found")
        return public_entry(e)

    def find(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Entries matching every key of ``flt`` (see :func:`match`)."""
        return [public_entry(e) for e in self._entries.values()
                if match(e, flt) and self._may(e["id"])]

    def namespace(self, ns: str) -> list[dict[str, Any]]:
        return self.find({".ns": ns})

    def changes(self) -> Changes:
        return Changes(self._submit)


def history_of(store: Any) -> list[dict[str, Any]]:
    """One summary per version: version, time, source, author (who made it: ``{"actor",
    "pid", "entry"}``, ``{"files": [...]}``, ``{"via": "cli" | "api"}``; None in records
    older than authors) and the ids it touched."""
    return [{"version": h["version"], "time": h.get("time"), "source": h.get("source"),
             "author": h.get("author"),
             "created": [e["id"] for e in h.get("created", [])],
             "updated": [e["id"] for e in h.get("updated", [])],
             "deleted": list(h.get("deleted", []))} for h in store.history()]


# -- inside a process -------------------------------------------------------------------------
def _store() -> Any:
    store = _rt.get().store
    if store is None:
        raise RegistryError("no registry in this OS process")
    return store


def registry_error(exc: Exception) -> WippyError:
    """Errors of registry requests surface as :class:`wippy.RegistryError` (kind kept), and
    refusals as :class:`wippy.PermissionDenied`."""
    if isinstance(exc, (RegistryError, PermissionDenied)):
        return exc
    out = RegistryError(str(exc))
    out.kind = getattr(exc, "kind", out.kind)
    return out


async def _submit(ops: list[dict[str, Any]]) -> Version:
    deep = nesting_problems(ops)
    if deep:                    # named here: encoding them for the node would fail blindly
        raise ChangeRejected(deep)
    rt = _rt.get()
    try:
        version = Version(await rt.ctl_request("registry_apply", ops))
    except WippyError as exc:
        raise registry_error(exc) from None
    if rt.store is not None:
        _codeload.catch_up(rt.store)   # read your writes: code and policies of the new version
    return version


def get(id: str) -> dict[str, Any]:
    """The entry ``id``; raises :class:`wippy.EntryNotFound` (and
    :class:`wippy.PermissionDenied` without ``registry.get`` on it)."""
    rt = _rt.get()
    rt.check("registry.get", id)
    stored = _store().get(id)
    if stored is None:
        raise EntryNotFound(f"entry {id} not found")
    return public_entry(stored)


def find(flt: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries matching every key of ``flt`` (see :func:`match`) that the caller may get."""
    ctx = _rt.get().security()
    return [public_entry(e) for e in _store().entries().values()
            if match(e, flt) and (ctx is None or ctx.allows("registry.get", e["id"]))]


def snapshot() -> Snapshot:
    store = _store()
    return Snapshot(effective_version(store, store.version() or 0), store.entries(), _submit,
                    _rt.get().security())


def snapshot_at(version: int | Version) -> Snapshot:
    """The registry as it was at ``version``; raises EntryNotFound for a version that does
    not exist, RegistryError (INVALID) for a negative one."""
    v = int(version)
    store = _store()
    if v < 0:
        raise RegistryError(f"invalid version {v}")
    if v > (store.version() or 0) or store.changeset(v) is None:
        raise EntryNotFound(f"version v{v} not found")
    return Snapshot(v, store.snapshot_at(v), _submit, _rt.get().security())


def current_version() -> Version:
    """The current version, as Wippy numbers it (after ``apply_version(v)``: ``v``)."""
    store = _store()
    return Version(effective_version(store, store.version() or 0))


def versions() -> list[Version]:
    """Every version that changed something, oldest first (rollbacks are moves, not versions)."""
    return [Version(v) for v in numbered_versions(_store())]


def history() -> list[dict[str, Any]]:
    return history_of(_store())


def apply_version(version: int | Version) -> Awaitable[Version]:
    """Roll back (or forward) to ``version``: its contents become current again (stored as a
    new change; the API shows the registry at ``version``, which is returned)."""
    async def run() -> Version:
        store = _store()
        if effective_version(store, store.version() or 0) == int(version):
            return Version(int(version))          # already there: nothing to do
        try:
            await _rt.get().ctl_request("registry_rollback", int(version))
        except WippyError as exc:
            raise registry_error(exc) from None
        return Version(int(version))
    return run()
