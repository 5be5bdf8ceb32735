"""The registry from outside the node (``node.registry``, ``wippy registry``): reads from
LMDB, changes through the node, the same names as inside a process but synchronous."""
from __future__ import annotations

from typing import Any, Callable

from ..core.protocol import ReqOp
from ..errors import ChangeRejected, NodeError, WippyError
from ..registry import Snapshot, Version, history_of, match, public_entry, registry_error
from ..registry.changes import nesting_problems
from ..registry.store import Store

__all__ = ["RegistryView"]


class RegistryView:
    """The registry from outside the node: reads from LMDB, changes through the node.

    Same names as inside a process (``get``, ``find``, ``snapshot``, ``history``,
    ``apply_version``...), but synchronous: ``snapshot().changes()...apply()`` returns the
    new :class:`wippy.registry.Version`."""

    def __init__(self, store: Store, request: Callable[..., Any] | None = None) -> None:
        self._store = store
        self._request = request
        self.via = "api"        # who the history names as the author: "api", or "cli"

    def get(self, id: str) -> dict[str, Any]:
        from ..errors import EntryNotFound
        stored = self._store.get(id)
        if stored is None:
            raise EntryNotFound(f"entry {id} not found")
        return public_entry(stored)

    def find(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for e in (public_entry(s) for s in self._store.entries().values()) if match(e, flt)]

    def _submit(self, ops: list[dict[str, Any]]) -> Version:
        if self._request is None:
            raise NodeError("the registry can only be changed through a running node")
        deep = nesting_problems(ops)
        if deep:                # named here: encoding them for the node would fail blindly
            raise ChangeRejected(deep)
        try:
            return Version(self._request(ReqOp.REGISTRY_APPLY, ops, self.via))
        except WippyError as exc:
            raise registry_error(exc) from None

    def snapshot(self) -> Snapshot:
        return Snapshot(self._store.version() or 0, self._store.entries(), self._submit)

    def snapshot_at(self, version: int) -> Snapshot:
        return Snapshot(int(version), self._store.snapshot_at(int(version)), self._submit)

    def current_version(self) -> Version:
        return Version(self._store.version() or 0)

    def version(self) -> int | None:
        return self._store.version()

    def versions(self) -> list[Version]:
        return [Version(h["version"]) for h in self._store.history()]

    def history(self) -> list[dict[str, Any]]:
        return history_of(self._store)

    def changeset(self, version: int) -> dict[str, Any] | None:
        return self._store.changeset(int(version))

    def author(self, id: str) -> dict[str, Any] | None:
        """Who wrote entry ``id`` at run time (its ``author`` stamp: actor, context, PID,
        entry, version), or None for the operator's entries."""
        stored = self._store.get(id)
        return None if stored is None else stored.get("author")

    def apply_version(self, version: int) -> Version:
        if self._request is None:
            raise NodeError("the registry can only be changed through a running node")
        try:
            return Version(self._request(ReqOp.REGISTRY_ROLLBACK, int(version), self.via))
        except WippyError as exc:
            raise registry_error(exc) from None
