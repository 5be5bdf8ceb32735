"""Bounded mailboxes inside one host OS process: the receiving side of flow control, and the
tasks waiting for room (:mod:`wippy.core.flow` has the design).

The runtime reports what happens to messages (:meth:`Credits.arrived` for one counted by its
sender's window, :meth:`Credits.dropped` for one nobody will read, :meth:`Credits.gone` for a
process that exits); the host loop calls :meth:`Credits.settle` after processes ran, which
turns what they read into credits and wakes senders waiting for room in a mailbox here, and
:meth:`Credits.emit` at the end of a turn. A CREDIT frame from elsewhere opens a window of this
OS process (:meth:`Credits.on_credit`).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..core import wire
from ..core.flow import MAILBOX_DEFAULT, Owed, credit_batch
from ..core.mesh import Mesh
from ..core.pid import parse_pid
from ..errors import WippyError
from . import scheduler
from .proc import Process

__all__ = ["Credits", "LIMITS_TTL_S"]

LIMITS_TTL_S = 1.0    # how long an entry's mailbox limit is cached (a registry read per second)


class Credits:
    """Credits owed to other OS processes for what this one's processes read, and the tasks
    waiting for room at a destination. ``prefix`` starts every local PID (``{host/serial|``);
    ``procs`` maps local ids to processes; ``entry(id)`` reads a stored registry entry."""

    def __init__(self, mesh: Mesh, sched: scheduler.Scheduler, prefix: str,
                 procs: Mapping[str, Process], entry: Callable[[str], Any],
                 host_id: str) -> None:
        self._mesh = mesh
        self._sched = sched
        self._prefix = prefix
        self._plen = len(prefix)
        self._procs = procs
        self._entry = entry
        self._host_id = host_id
        self.owing: set[Process] = set()            # holding unread counted messages
        self.out: dict[int, list[tuple[str, int, int]]] = {}   # origin -> credits to send
        self.waits: dict[str, list[scheduler.Wait]] = {}       # destination PID -> senders
        self._limits: dict[str, tuple[float, int]] = {}

    def _pid(self, local: str) -> str:
        return self._prefix + local + "}"

    # -- what happens to messages here ---------------------------------------------------
    def arrived(self, proc: Process, origin: int, size: int) -> None:
        """``proc`` gets a message that OS process ``origin`` counted (``size`` bytes)."""
        owed = proc.owed
        if owed is None:
            owed = proc.owed = Owed(proc.delivered - proc.mailbox_depth())
            self.owing.add(proc)
        elif not owed.runs:         # it had read everything: follow its reads from here on
            owed.taken = proc.delivered - proc.mailbox_depth()
            self.owing.add(proc)
        owed.arrived(origin, size)
        if proc.limit != MAILBOX_DEFAULT and owed.tell(origin):
            # its sender assumes the default until it hears the limit
            self.credit(origin, self._pid(proc.local), 0, proc.limit)

    def uncounted(self, proc: Process) -> None:
        """``proc`` gets a message no window counted (from this OS process or the node): it
        keeps its place in the order reads are credited in."""
        owed = proc.owed
        if owed is not None and owed.runs:
            owed.arrived(wire.NO_ORIGIN, 0)

    def dropped(self, origin: int, local: str) -> None:
        """A counted message for ``local`` that nobody will read (it is gone, or never came)."""
        if origin > 0:
            self.credit(origin, self._pid(local), 1, MAILBOX_DEFAULT)

    def gone(self, proc: Process) -> None:
        """``proc`` exited: what it held counts as read, and its waiting senders wake."""
        if proc.owed is not None:
            own = self._pid(proc.local)
            for origin, n in proc.owed.settle():
                self.credit(origin, own, n, proc.limit)
            self.owing.discard(proc)
        if self.waits:
            self.wake(self._pid(proc.local))

    def credit(self, origin: int, pid: str, n: int, limit: int) -> None:
        """Owe ``origin`` ``n`` credits for ``pid`` (whose mailbox holds ``limit``)."""
        out = self.out.get(origin)
        if out is None:
            self.out[origin] = [(pid, n, limit)]
        else:
            out.append((pid, n, limit))

    # -- the host loop -------------------------------------------------------------------
    def pending(self) -> bool:
        """Whether a :meth:`settle` may find something to do."""
        return bool(self.owing or self.waits)

    def settle(self) -> None:
        """After processes ran: what they read earns its senders credits (a quarter of the
        limit at a time, or all of it once a process has read everything it held), and
        senders waiting for room in a mailbox here wake once there is some; then the credits
        go out."""
        for proc in list(self.owing):
            owed = proc.owed
            assert owed is not None
            read = proc.delivered - proc.mailbox_depth() - owed.taken
            if read > 0:
                owed.taken += read
                owed.read(read)
                for origin, n in owed.ripe(credit_batch(proc.limit)):
                    self.credit(origin, self._pid(proc.local), n, proc.limit)
            if not owed.runs:           # it read all it held: all of it goes back, and an
                for origin, n in owed.settle():   # idle process keeps no bookkeeping
                    self.credit(origin, self._pid(proc.local), n, proc.limit)
                proc.owed = None
                self.owing.discard(proc)
        if self.waits:
            for pid in [p for p in self.waits if p.startswith(self._prefix)]:
                dest = self._procs.get(pid[self._plen:-1])
                if dest is None or dest.limit - dest.mailbox_depth() >= credit_batch(dest.limit):
                    self.wake(pid)
        self.emit()

    def emit(self) -> None:
        """Send the credits collected so far, one CREDIT frame per origin."""
        out, self.out = self.out, {}
        for origin, items in out.items():
            try:
                self._mesh.send(origin, wire.dumps((wire.Op.CREDIT, items)))
            except WippyError:
                pass        # that OS process is gone: nobody waits for these

    # -- senders here --------------------------------------------------------------------
    def on_credit(self, frame: tuple) -> None:
        """A CREDIT frame: destinations elsewhere read some of our messages."""
        flow = self._mesh.flow
        for pid, n, limit in frame[1]:
            flow.credit(pid, n, limit)
            if pid in self.waits and flow.room(pid):
                self.wake(pid)

    async def wait(self, pid: str) -> None:
        """Suspend the current task until ``pid`` may have room (or is gone)."""
        waits = self.waits.get(pid)
        if waits is None:
            waits = self.waits[pid] = []
        waits.append(self._sched.new_wait())
        await scheduler.suspend()

    def wake(self, pid: str) -> None:
        """The tasks waiting for room at ``pid`` try again."""
        for w in self.waits.pop(pid, ()):
            self._sched.wake(w, None)

    def wake_serial(self, serial: int) -> None:
        """OS process ``serial`` died: its processes' waiting senders find that out."""
        for pid in [p for p in self.waits if parse_pid(p).serial == serial]:
            self.wake(pid)

    # -- limits --------------------------------------------------------------------------
    def limit_of(self, entry_id: str) -> int:
        """The mailbox limit of ``entry_id``'s processes: its ``limits.mailbox``, else its
        host entry's, else the default (read at most once a second per entry)."""
        now = scheduler.monotonic()
        hit = self._limits.get(entry_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        limit = MAILBOX_DEFAULT
        for eid in (entry_id, self._host_id):
            stored = self._entry(eid) if ":" in eid else None
            value = ((stored or {}).get("data") or {}).get("limits") or {}
            if isinstance(value, dict) and isinstance(value.get("mailbox"), int):
                limit = value["mailbox"]
                break
        self._limits[entry_id] = (now + LIMITS_TTL_S, limit)
        return limit
