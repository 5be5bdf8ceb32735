"""One service as the node's service manager keeps it (:class:`Svc`: its spec, state, PID,
restart counts and timer), and the narrow interfaces through which the manager
(:class:`~wippy.node.services.ServiceManager`) sees the rest of the node: :class:`Spawner`
(start and end processes), :class:`NameWriter` (a running service is registered under its
entry id) and :class:`HostEntries` (a supervisor may own host entries).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from ..supervision import services
from ..supervision.services import State
from ..supervision.strategy import RestartType

__all__ = ["HostEntries", "NameWriter", "Spawner", "Svc"]


@dataclass
class Svc:
    spec: services.ServiceSpec
    state: State = State.STOPPED
    pid: str | None = None
    attempts: int = 0
    restarts: int = 0
    last_error: str | None = None
    started_at: float = 0.0
    last_update: float = 0.0
    waiting_host: bool = False
    restart_pending: bool = False     # its entry or code changed: start again once it exits
    deleted: bool = False
    parent: str | None = None         # supervisor id
    restart_type: RestartType = RestartType.PERMANENT
    timer: Any = None
    security: Any = None              # plain form of the context it runs under (S9)
    elsewhere: bool = False           # a singleton another node of the cluster runs


class Spawner(Protocol):
    """Starting and ending processes on the node's behalf."""

    def spawn(self, entry_id: str, host_id: str, args: list[Any], monitor: bool = True,
              ack: bool = False, security: Any = None) -> str: ...

    def terminate(self, pid: str) -> None: ...


class NameWriter(Protocol):
    """The name table, as far as services change it."""

    def assign(self, name: str, pid: str, shared: bool = False) -> None: ...

    def release(self, pid: str, names: Iterable[str]) -> None: ...


class HostEntries(Protocol):
    """Host entries that a supervisor names as its children."""

    def restart_entry(self, host_id: str, counted: bool) -> None: ...

    def stop_entry(self, host_id: str) -> None: ...
