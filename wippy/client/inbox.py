"""What reaches an attached program over the data plane: its mailbox, with the credits its
reads give back to the senders (:mod:`wippy.core.flow`), and the lifecycle events (EXIT,
LINK_DOWN) of the processes it watches.

A :class:`wippy.client.connection.Connection` feeds every data-plane frame to its
:class:`Inbox` and reads from it; the inbox never waits (the connection pumps its sockets).
"""
from __future__ import annotations

from collections import deque
from typing import Any

from ..core import wire
from ..core.flow import MAILBOX_DEFAULT, credit_batch
from ..core.mesh import Mesh
from ..core.pid import parse_pid
from ..errors import WippyError, exit_error
from ..runtime.proc import EXIT, LINK_DOWN, Event, Message, Result

__all__ = ["Inbox"]


class Inbox:
    """An attached program's mailbox ``pid``, its lifecycle events and the exits of the
    processes it watches (monitored spawns, ``monitor``)."""

    def __init__(self, mesh: Mesh, pid: str) -> None:
        self._mesh = mesh
        self._pid = pid
        self.mailbox: deque[Message] = deque()
        self._origins: deque[int] = deque()      # the OS process each mailbox message came from
        self._due: dict[int, int] = {}           # origin -> messages read, not credited yet
        self.events: deque[Event] = deque()
        self.exits: dict[str, tuple[Any, Any]] = {}
        self.watch: set[str] = set()

    def on_frame(self, f: tuple, origin: int = wire.NO_ORIGIN) -> None:
        """Take one data-plane frame (MSG, CREDIT, EXIT, LINK_DOWN) from OS process ``origin``."""
        op = f[0]
        if op == wire.Op.MSG:
            self.mailbox.append(Message(f[3], f[2], f[4]))
            self._origins.append(origin)
        elif op == wire.Op.CREDIT:
            for pid, n, limit in f[1]:
                self._mesh.flow.credit(pid, n, limit)
        elif op == wire.Op.EXIT:
            _, _, pid, value, error = f
            if pid not in self.watch:
                return          # already ended for us (its host's death overtook this EXIT)
            self.watch.discard(pid)
            self._mesh.note_dead(pid)
            self.exits[pid] = (value, error)
            self.events.append(Event(EXIT, pid, Result(value, exit_error(error) if error else None)))
        elif op == wire.Op.LINK_DOWN:
            self.events.append(Event(LINK_DOWN, f[2], Result(None, exit_error(f[3]))))

    def host_down(self, serial: int, message: str) -> None:
        """Every watched process of the dead OS process ``serial`` ends with HOST_DOWN."""
        err = {"kind": "HOST_DOWN", "message": message}
        for pid in [p for p in self.watch if parse_pid(p).serial == serial]:
            self.on_frame((wire.Op.EXIT, "0", pid, None, err))

    def take_message(self) -> Message:
        """The oldest message (the mailbox must not be empty); credits its sender by batches."""
        origin = self._origins.popleft()
        if origin > 0:
            n = self._due.get(origin, 0) + 1
            if n >= credit_batch(MAILBOX_DEFAULT):
                self._due.pop(origin, None)
                self._give_credit(origin, n)
            else:
                self._due[origin] = n
        return self.mailbox.popleft()

    def take_exit(self, pid: str) -> tuple[Any, Any] | None:
        """(value, error) of watched ``pid`` if it has ended, taken with its EXIT event."""
        got = self.exits.pop(pid, None)
        if got is not None:
            self.events = deque(e for e in self.events if e.from_ != pid)
        return got

    def credit_unread(self) -> None:
        """Give back the credits of everything never read (the program detaches)."""
        unread: dict[int, int] = dict(self._due)
        for origin in self._origins:
            if origin > 0:
                unread[origin] = unread.get(origin, 0) + 1
        for origin, n in unread.items():
            self._give_credit(origin, n)

    def _give_credit(self, origin: int, n: int) -> None:
        try:
            self._mesh.send(origin, wire.dumps((wire.Op.CREDIT, [(self._pid, n, MAILBOX_DEFAULT)])))
        except WippyError:
            pass        # that OS process is gone
