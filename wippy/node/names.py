"""The node's table of registered process names: the one place that changes it.

Every host holds a copy (``lookup`` is local), so a change is broadcast to every member; a
registration is answered only once every host that was ready when it was announced has acked
it (S4: "visible on every host when ``register`` returns"). A host that does not ack within
``ACK_TIMEOUT_S`` is presumed dying (its death, handled elsewhere, releases it anyway), so a
registration never waits forever. Names die with their process (RELEASE from its host) and with
its OS process (:meth:`NameTable.host_down`).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from ..core import protocol
from ..core.pid import parse_pid

__all__ = ["NameTable", "ACK_TIMEOUT_S"]

log = logging.getLogger("wippy.node")

ACK_TIMEOUT_S = 2.0        # a host that does not ack a name in time is presumed dying


class _Pending:
    __slots__ = ("waiting", "done")

    def __init__(self, waiting: set[int], done: Callable[[], None] | None) -> None:
        self.waiting = waiting
        self.done = done


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

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, name: str) -> str | None:
        """The PID registered as ``name``, or None."""
        return self._names.get(name)

    def snapshot(self) -> dict[str, str]:
        """A copy of the whole table (for a member's WELCOME)."""
        return dict(self._names)

    def by_pid(self) -> dict[str, list[str]]:
        """PID -> the names it holds."""
        out: dict[str, list[str]] = {}
        for name, pid in self._names.items():
            out.setdefault(pid, []).append(name)
        return out

    # -- changes -------------------------------------------------------------------------
    def register(self, name: str, pid: str, done: Callable[[], None]) -> str | None:
        """Give ``name`` to ``pid`` and call ``done()`` once every ready host has it. Returns
        the other PID holding ``name`` instead (and changes nothing)."""
        holder = self._names.get(name)
        if holder is not None and holder != pid:
            return holder
        self._names[name] = pid
        self._announce(name, pid, done)
        return None

    def assign(self, name: str, pid: str) -> None:
        """Give ``name`` to ``pid`` whoever held it (a running service's entry id)."""
        self._names[name] = pid
        self._announce(name, pid, None)

    def unregister(self, name: str) -> None:
        """Drop ``name``, whoever holds it."""
        self._names.pop(name, None)
        self._broadcast(protocol.name(name, None))

    def release(self, pid: str, names: Iterable[str]) -> None:
        """``pid`` has exited (or stopped holding ``names``): drop those it still holds."""
        for name in names:
            if self._names.get(name) == pid:
                del self._names[name]
                self._broadcast(protocol.name(name, None))

    def host_down(self, serial: int) -> None:
        """OS process ``serial`` died: its processes' names go (every host drops them on the
        HOST_DOWN itself), and it owes no more acks."""
        for name, pid in list(self._names.items()):
            if parse_pid(pid).serial == serial:
                del self._names[name]
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
