"""What a committed registry version does on this node, after the
:class:`~wippy.node.registry.RegistryKeeper` has written it.

Every member hears of the version at once (a REGISTRY message with the changed ids). Once the
node has booted, each changed entry takes effect through the part that runs its kind, from one
table keyed by entry kind: ``process.host`` (its workers), ``process.service``, ``supervisor``
and ``http.service``; the resources hear of every change, and the services of every changed id
(their code may be among them). Before the boot nothing runs yet: the parts read the store when
they start.

A deleted entry carries no kind, so its kind is the one of what the node runs under its id.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

from ..core import protocol
from ..registry.changes import changed_ids
from ..registry.entry import Kind as EntryKind
from .hosts import wanted_workers

__all__ = ["RegistryEffects"]


class _Resources(Protocol):
    def registry_changed(self, events: list[tuple[str, str, dict[str, Any] | None]]) -> None: ...


class _Services(Protocol):
    @property
    def svcs(self) -> Mapping[str, Any]: ...

    def changed(self, eid: str, entry: dict[str, Any] | None) -> None: ...

    def supervisor_changed(self, entry: dict[str, Any]) -> None: ...

    def code_changed(self, touched: set[str]) -> None: ...


class _Hosts(Protocol):
    @property
    def workers(self) -> Mapping[str, int]: ...

    def set_workers(self, host_id: str, want: int) -> None: ...


class _Http(Protocol):
    @property
    def entries(self) -> Mapping[str, Any]: ...

    def changed(self, eid: str, entry: dict[str, Any] | None,
                entries: Mapping[str, Mapping[str, Any]]) -> None: ...


class RegistryEffects:
    """Carries out each committed version (:meth:`on_change`, the keeper's ``on_change``).
    ``broadcast(message)`` reaches every member; ``booted()``: whether the parts run yet;
    ``entries()``: the registry's entries now."""

    def __init__(self, broadcast: Callable[[tuple], None], booted: Callable[[], bool],
                 resources: _Resources, services: _Services, hosts: _Hosts, http: _Http,
                 entries: Callable[[], Mapping[str, Mapping[str, Any]]]) -> None:
        self._broadcast = broadcast
        self._booted = booted
        self._resources = resources
        self._services = services
        self._hosts = hosts
        self._http = http
        self._effects: dict[str, Callable[[str, dict[str, Any] | None], None]] = {
            EntryKind.PROCESS_HOST.value: self._host_entry_changed,
            EntryKind.PROCESS_SERVICE.value: services.changed,
            EntryKind.SUPERVISOR.value: self._supervisor_entry_changed,
            EntryKind.HTTP_SERVICE.value: lambda eid, e: http.changed(eid, e, entries()),
        }

    def on_change(self, version: int, changes: dict[str, list], source: str) -> None:
        """A version was committed: tell every member, then carry out its effects."""
        events = changed_ids(changes)
        self._broadcast(protocol.registry(version, events))
        if not self._booted():
            return
        self._resources.registry_changed(events)
        for _, eid, entry in events:
            kind = (entry or {}).get("kind") or self._known_kind(eid)
            effect = self._effects.get(kind or "")
            if effect is not None:
                effect(eid, entry)
        self._services.code_changed({eid for _, eid, _ in events})

    def _known_kind(self, eid: str) -> str | None:
        """The kind of a deleted entry that the node was running."""
        if eid in self._services.svcs:
            return EntryKind.PROCESS_SERVICE.value
        if eid in self._hosts.workers:
            return EntryKind.PROCESS_HOST.value
        if eid in self._http.entries:
            return EntryKind.HTTP_SERVICE.value
        return None

    def _host_entry_changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        self._hosts.set_workers(eid, wanted_workers(entry))

    def _supervisor_entry_changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        if entry is not None:
            self._services.supervisor_changed(entry)
