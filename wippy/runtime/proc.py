"""A process as its host sees it: mailbox, lifecycle events, monitors, links, tasks, timers.

Mailbox rule (S4): a message is kept, in order, until someone asks for it. A message whose
topic has a ``listen`` channel goes there; otherwise to the inbox channel once ``inbox()`` was
called; before that it waits in ``pending`` and moves when a listener or the inbox appears.
Everything is created lazily so that an idle process stays small.

The mailbox is bounded (``limit`` unread messages, :mod:`wippy.core.flow`): a send from this
OS process checks :meth:`Process.has_room`; messages from other OS processes were admitted by
their sender's window, and ``owed`` counts them per origin until they are read and credited.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..channel import Channel
from ..core.flow import MAILBOX_DEFAULT, Owed
from ..errors import WippyError

if TYPE_CHECKING:
    from ..security.context import Context
    from .durable import Durable

__all__ = ["Message", "Event", "Result", "Process", "EXIT", "LINK_DOWN", "CANCEL"]

EXIT = "EXIT"
LINK_DOWN = "LINK_DOWN"
CANCEL = "CANCEL"


class Message(NamedTuple):
    """A message from a process inbox: ``topic``, ``sender`` (PID or None), ``payload``.

    (NamedTuples, not dataclasses: one is made per delivered message, and a frozen dataclass
    costs several times more to create.)"""

    topic: str
    sender: str | None
    payload: Any

    @property
    def from_(self) -> str | None:
        return self.sender


# A Message from its fields, as ``tuple.__new__(Message, (topic, sender, payload))``: what
# ``Message._make`` does after a Python-level call, which costs as much again per message.
_tuple_new: Any = tuple.__new__


class Result(NamedTuple):
    """How a process ended: ``value`` on a normal exit, ``error`` otherwise."""

    value: Any = None
    error: WippyError | None = None


class Event(NamedTuple):
    """A lifecycle event from ``process.events()``: compare ``kind`` with ``process.event.*``."""

    kind: str
    from_: str | None = None
    result: Result | None = None
    reason: str | None = None


class Process:
    """Host-side state of one running process."""

    __slots__ = (
        "local", "pid", "entry", "main", "tasks", "timers", "exited",
        "_inbox", "_events", "_listeners", "_pending",
        "monitors", "links", "watching", "exec_waits", "names", "trap_links", "workflow",
        "security",
        "limit", "full_at", "delivered", "owed",
    )

    def __init__(self, local: str, pid: str, entry: str, limit: int = MAILBOX_DEFAULT) -> None:
        self.local = local
        self.pid = pid
        self.entry = entry
        self.main: Any = None                       # the main Task
        self.tasks: list[Any] | None = None         # other Tasks (coroutine.spawn)
        self.timers: list[Any] | None = None        # TimerHandles to cancel on exit
        self.exited = False
        self._inbox: Channel | None = None
        self._events: Channel | None = None
        self._listeners: dict[str, Channel] | None = None
        self._pending: list[Message] | None = None
        self.monitors: set[str] | None = None       # PIDs watching us (get EXIT)
        self.links: set[str] | None = None          # PIDs linked with us
        self.watching: set[str] | None = None       # PIDs we monitor
        self.exec_waits: dict[str, Any] | None = None  # PID -> Wait of a pending exec
        self.names: list[str] | None = None
        self.trap_links = False
        self.workflow: Durable | None = None        # the journal, when running a workflow
        self.security: Context | None = None        # who it acts as (None: the operator)
        self.limit = limit                          # unread messages the mailbox holds
        self.delivered = 0                          # messages delivered, ever
        # the mailbox surely has room until ``delivered`` reaches this (reads are not seen
        # as they happen, so it is counted again then); a count, not a countdown, so an idle
        # process shares its int objects
        self.full_at = limit
        self.owed: Owed | None = None               # unread messages from other OS processes

    # -- mailbox -------------------------------------------------------------------------
    def has_room(self) -> bool:
        """Whether one more message fits under the mailbox limit (cheap: the mailbox is
        counted only when the deliveries since the last count may have filled it)."""
        if self.delivered < self.full_at:
            return True
        depth = self.mailbox_depth()
        self.full_at = self.delivered + self.limit - depth
        return depth < self.limit

    def deliver(self, topic: str, sender: str | None, payload: Any) -> None:
        self.delivered += 1
        ls = self._listeners
        if ls is not None:
            ch = ls.get(topic)
            if ch is not None:
                ch.send_nowait(payload)
                return
        msg = _tuple_new(Message, (topic, sender, payload))
        ch = self._inbox
        if ch is not None:
            ch.send_nowait(msg)
        elif self._pending is None:
            self._pending = [msg]
        else:
            self._pending.append(msg)

    def inbox(self) -> Channel:
        ch = self._inbox
        if ch is None:
            ch = self._inbox = Channel(None)
            if self._pending:
                for msg in self._pending:
                    ch.send_nowait(msg)
                self._pending = None
        return ch

    def listen(self, topic: str) -> Channel:
        if self._listeners is None:
            self._listeners = {}
        ch = self._listeners.get(topic)
        if ch is None:
            ch = self._listeners[topic] = Channel(None)
            if self._pending:
                keep = []
                for msg in self._pending:
                    if msg.topic == topic:
                        ch.send_nowait(msg.payload)
                    else:
                        keep.append(msg)
                self._pending = keep or None
        return ch

    def unlisten(self, ch: Channel) -> None:
        if not self._listeners:
            return
        for topic, c in list(self._listeners.items()):
            if c is ch:
                del self._listeners[topic]
                c.close()

    def events(self) -> Channel:
        if self._events is None:
            self._events = Channel(None)
        return self._events

    def events_requested(self) -> bool:
        return self._events is not None

    def post_event(self, event: Event) -> None:
        self.events().send_nowait(event)

    def mailbox_depth(self) -> int:
        n = len(self._pending or ())
        if self._inbox is not None:
            n += len(self._inbox)
        for ch in (self._listeners or {}).values():
            n += len(ch)
        return n

    # -- bookkeeping ---------------------------------------------------------------------
    def add_monitor(self, watcher: str) -> None:
        if self.monitors is None:
            self.monitors = {watcher}
        else:
            self.monitors.add(watcher)

    def add_link(self, peer: str) -> None:
        if self.links is None:
            self.links = {peer}
        else:
            self.links.add(peer)

    def add_timer(self, handle: Any) -> None:
        if self.timers is None:
            self.timers = [handle]
        else:
            if len(self.timers) > 64:  # drop fired/cancelled handles now and then
                self.timers = [t for t in self.timers if not t.cancelled]
            self.timers.append(handle)

    def __repr__(self) -> str:
        return f"<Process {self.pid} {self.entry}>"
