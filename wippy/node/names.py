"""The node's table of registered process names: the one place that changes it.

Every host holds a copy (``lookup`` is local), so a change is broadcast to every member; a
registration is answered only once every host that was ready when it was announced has acked
it (S4: "visible on every host when ``register`` returns"). A host that does not ack within
``ACK_TIMEOUT_S`` is presumed dying (its death, handled elsewhere, releases it anyway), so a
registration never waits forever. Names die with their process (RELEASE from its host) and with
its OS process (:meth:`NameTable.host_down`).

In a cluster (S12) a registered name is cluster-wide: the table's ``shared`` side
(:class:`~wippy.cluster.names.ClusterNames`) claims it in the database before the node gives
it, and the table also holds a copy of the other nodes' names (qualified PIDs), which the
hosts mirror like the node's own, refreshed by :meth:`NameTable.sync`. A running service's
entry id stays a name of its node (each node runs its own instance), except a singleton's.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Protocol

from ..core import protocol
from ..core.pid import parse_pid
from ..errors import ForeignName, StorageError

__all__ = ["NameTable", "ACK_TIMEOUT_S", "SharedNames"]

log = logging.getLogger("wippy.node")

ACK_TIMEOUT_S = 2.0        # a host that does not ack a name in time is presumed dying


class _Pending:
    __slots__ = ("waiting", "done")

    def __init__(self, waiting: set[int], done: Callable[[], None] | None) -> None:
        self.waiting = waiting
        self.done = done


class SharedNames(Protocol):
    """The cluster's bindings (:class:`~wippy.cluster.names.ClusterNames`)."""

    def claim(self, name: str, pid: str) -> str | None: ...

    def bind(self, name: str, pid: str) -> None: ...

    def drop(self, names: Iterable[str]) -> None: ...

    def drop_any(self, name: str) -> None: ...

    def sync(self, bound: dict[str, str]) -> tuple[dict[str, str], list[str]]: ...


class NameTable:
    """Names -> PIDs, kept in step with every host.

    ``broadcast(message)`` sends a control message to every member; ``ready_hosts()`` gives
    the serials that must ack a registration; ``call_later(delay, fn, *args)`` is the node's
    timer."""

    def __init__(self, broadcast: Callable[[tuple], None], ready_hosts: Callable[[], Iterable[int]],
                 call_later: Callable[..., Any]) -> None:
        self._names: dict[str, str] = {}
        self._broadcast = broadcast
        self._ready_hosts = ready_hosts
        self._call_later = call_later
        self._pending: dict[int, _Pending] = {}
        self._seq = 0
        self.shared: SharedNames | None = None  # in a cluster: names bind cluster-wide
        self._remote: dict[str, str] = {}       # other nodes' names -> their qualified PIDs
        self._node_only: set[str] = set()       # names of this node only (services' entry ids)

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, name: str) -> str | None:
        """The PID registered as ``name`` (on another node: its qualified PID), or None."""
        pid = self._names.get(name)
        return pid if pid is not None else self._remote.get(name)

    def snapshot(self) -> dict[str, str]:
        """A copy of the whole table (for a member's WELCOME)."""
        return {**self._remote, **self._names} if self._remote else dict(self._names)

    def by_pid(self) -> dict[str, list[str]]:
        """PID -> the names it holds."""
        out: dict[str, list[str]] = {}
        for name, pid in self._names.items():
            out.setdefault(pid, []).append(name)
        return out

    # -- changes -------------------------------------------------------------------------
    def register(self, name: str, pid: str, done: Callable[[], None]) -> str | None:
        """Give ``name`` to ``pid`` and call ``done()`` once every ready host has it. Returns
        the other PID holding ``name`` instead (and changes nothing). In a cluster the name
        is claimed in the database first (a holder on another node refuses it too); raises
        StorageError when the database fails, ForeignName for another node's PID."""
        holder = self._names.get(name)
        if holder is not None and holder != pid:
            return holder
        if self.shared is not None:
            if "@" in pid.partition("|")[0]:
                raise ForeignName(f"cannot register '{name}' for {pid}, a process of another "
                                  "node: register it on that node")
            holder = self.shared.claim(name, pid)
            if holder is not None:
                return holder
            self._remote.pop(name, None)
            self._node_only.discard(name)
        self._names[name] = pid
        self._announce(name, pid, done)
        return None

    def assign(self, name: str, pid: str, shared: bool = False) -> None:
        """Give ``name`` to ``pid`` whoever held it (a running service's entry id). In a
        cluster it stays a name of this node, unless ``shared`` (a singleton service's)."""
        self._names[name] = pid
        if self.shared is not None:
            if shared:
                self._node_only.discard(name)
                try:
                    self.shared.bind(name, pid)
                except StorageError as exc:      # the next sync binds it again
                    log.warning("could not bind name %r in the cluster: %s", name, exc)
            else:
                self._node_only.add(name)
        self._announce(name, pid, None)

    def unregister(self, name: str) -> None:
        """Drop ``name``, whoever holds it (in a cluster, on whatever node; raises
        StorageError when the database fails)."""
        if self.shared is not None and name not in self._names and name in self._remote:
            self.shared.drop_any(name)
            del self._remote[name]
            self._broadcast(protocol.name(name, None))
            return
        held = self._names.pop(name, None)
        self._broadcast(protocol.name(name, self._remote.get(name)))
        if held is not None:
            self._unbind([name])

    def release(self, pid: str, names: Iterable[str]) -> None:
        """``pid`` has exited (or stopped holding ``names``): drop those it still holds."""
        dropped = []
        for name in names:
            if self._names.get(name) == pid:
                del self._names[name]
                self._broadcast(protocol.name(name, self._remote.get(name)))
                dropped.append(name)
        self._unbind(dropped)

    def _unbind(self, names: list[str]) -> None:
        """In a cluster: delete the bindings of ``names`` (just dropped here)."""
        if self.shared is None or not names:
            return
        shared = [n for n in names if n not in self._node_only]
        self._node_only.difference_update(names)
        try:
            self.shared.drop(shared)
        except StorageError as exc:     # the next sync deletes them
            log.warning("could not drop names %s in the cluster: %s", shared, exc)

    def sync(self) -> None:
        """In a cluster: read the other nodes' names again, and drop here what another node
        holds now (raises StorageError when the database fails)."""
        if self.shared is None:
            return
        bound = {n: p for n, p in self._names.items() if n not in self._node_only}
        remote, lost = self.shared.sync(bound)
        for name in lost:
            log.warning("name %r of %s is held by another node now; dropped here", name,
                        self._names.pop(name, None))
        old, self._remote = self._remote, remote
        for name in set(old) | set(remote) | set(lost):
            if name not in self._names and (name in lost or old.get(name) != remote.get(name)):
                self._broadcast(protocol.name(name, remote.get(name)))

    def host_down(self, serial: int) -> None:
        """OS process ``serial`` died: its processes' names go (every host drops them on the
        HOST_DOWN itself), and it owes no more acks."""
        dropped = [name for name, pid in self._names.items() if parse_pid(pid).serial == serial]
        for name in dropped:
            del self._names[name]
        self._unbind(dropped)
        for seq, pend in list(self._pending.items()):
            pend.waiting.discard(serial)
            if not pend.waiting:
                self._finish(seq)

    def ack(self, serial: int, seq: int) -> None:
        """Host ``serial`` has applied the announcement ``seq``."""
        pend = self._pending.get(seq)
        if pend is not None:
            pend.waiting.discard(serial)
            if not pend.waiting:
                self._finish(seq)

    # -- announcing ----------------------------------------------------------------------
    def _announce(self, name: str, pid: str, done: Callable[[], None] | None) -> None:
        self._seq += 1
        seq = self._seq
        waiting = set(self._ready_hosts())
        self._broadcast(protocol.name(name, pid, seq))
        if not waiting:
            if done is not None:
                done()
            return
        self._pending[seq] = _Pending(waiting, done)
        self._call_later(ACK_TIMEOUT_S, self._expire, seq)

    def _expire(self, seq: int) -> None:
        pend = self._pending.get(seq)
        if pend is not None:
            log.warning("hosts %s did not acknowledge a name in %.0f s", sorted(pend.waiting),
                        ACK_TIMEOUT_S)
            self._finish(seq)

    def _finish(self, seq: int) -> None:
        pend = self._pending.pop(seq)
        if pend.done is not None:
            pend.done()
