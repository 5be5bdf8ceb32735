"""Channels inside one process, with Wippy's names: ``new``, ``send``, ``receive``, ``close``,
``select`` with ``case_send`` / ``case_receive`` and ``default``.

Go semantics: an unbuffered channel (``new()``) hands a value from sender to receiver directly;
a buffered one (``new(n)``) blocks senders only when full. Mailboxes (inbox, events, listen) are
unbounded channels, so delivering a message never blocks the host loop.

Channels live inside one OS process; passing one to a process on another host is refused
(a channel is not plain data).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import ChannelClosed
from .runtime import scheduler

__all__ = ["Channel", "SelectResult", "new", "select"]

_RECV = 0
_SEND = 1
_suspend = scheduler.suspend


class Channel:
    """A FIFO of values between tasks of one process (or the host and a process)."""

    __slots__ = ("_buf", "_cap", "_closed", "_recvq", "_sendq", "__weakref__")

    def __init__(self, size: int | None = 0) -> None:
        # made on the first value that must wait: an idle mailbox costs no deque (~760 bytes,
        # a third of an idle process, S11)
        self._buf: deque[Any] | None = None
        self._cap = size            # None: unbounded
        self._closed = False
        # receivers: (wait, case_index or -1); senders: (wait, case_index or -1, value)
        # lists, not deques: an idle mailbox should cost little (a deque is ~600 bytes)
        self._recvq: list[tuple[scheduler.Wait, int]] = []
        self._sendq: list[tuple[scheduler.Wait, int, Any]] = []

    # -- non-blocking core ---------------------------------------------------------------
    def _hand_to_receiver(self, value: Any) -> bool:
        q = self._recvq
        while q:
            w, idx = q.pop(0)
            if w.done:
                continue
            w.done = True        # Scheduler.wake, inlined: this is every delivery's path
            scheduler._SCHED.ready.append(  # type: ignore[union-attr] # a waiter implies one
                (w.task, value if idx < 0 else (idx, value, True), None))
            return True
        return False

    def _take_sender(self) -> tuple[bool, Any]:
        sched = scheduler.get()
        q = self._sendq
        while q:
            w, idx, value = q.pop(0)
            if w.done:
                continue
            sched.wake(w, None if idx < 0 else (idx, None, True))
            return True, value
        return False, None

    def send_nowait(self, value: Any) -> bool:
        """Deliver or buffer ``value`` without blocking; False when it would block."""
        if self._closed:
            raise ChannelClosed("send on a closed channel")
        if self._recvq and self._hand_to_receiver(value):
            return True
        buf = self._buf
        if self._cap is None or len(buf or ()) < self._cap:
            if buf is None:
                buf = self._buf = deque()
            buf.append(value)
            return True
        return False

    def receive_nowait(self) -> tuple[Any, bool]:
        """``(value, True)`` when one is available, ``(None, False)`` otherwise (or closed)."""
        if self._buf:
            value = self._buf.popleft()
            if self._sendq:  # a blocked sender may now fill the freed slot
                ok, v = self._take_sender()
                if ok:
                    self._buf.append(v)
            return value, True
        if self._sendq:
            ok, v = self._take_sender()
            if ok:
                return v, True
        return None, False

    # -- blocking API --------------------------------------------------------------------
    async def send(self, value: Any) -> None:
        """Send, waiting while the channel is full. Raises ChannelClosed."""
        if self.send_nowait(value):
            return
        sched = scheduler.get()
        w = sched.new_wait()
        self._sendq.append((w, -1, value))
        await scheduler.suspend()

    async def receive(self) -> Any:
        """The next value; raises :class:`wippy.ChannelClosed` when closed and drained."""
        sched = scheduler.get()
        sched.budget -= 1
        if sched.budget < 0:               # fairness: a receive loop that never blocks
            await scheduler.yield_now()     # still lets the host's other work run
        if self._sendq:
            value, ok = self.receive_nowait()
            if ok:
                return value
        elif self._buf:
            return self._buf.popleft()
        if self._closed:
            raise ChannelClosed("receive on a closed channel")
        self._recvq.append((sched.new_wait(), -1))
        return await _suspend()

    def close(self) -> None:
        """Close: waiting receivers get ChannelClosed (``ok=False`` in select), senders too."""
        if self._closed:
            return
        self._closed = True
        sched = scheduler.get()
        while self._recvq:
            w, idx = self._recvq.pop(0)
            if idx < 0:
                sched.wake_exc(w, ChannelClosed("channel closed"))
            else:
                sched.wake(w, (idx, None, False))
        while self._sendq:
            w, idx, _ = self._sendq.pop(0)
            sched.wake_exc(w, ChannelClosed("send on a closed channel"))

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._buf or ())

    def case_receive(self) -> tuple[int, Channel, Any]:
        return (_RECV, self, None)

    def case_send(self, value: Any) -> tuple[int, Channel, Any]:
        return (_SEND, self, value)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._buf or ())}/{self._cap or 'inf'}"
        return f"<Channel {state}>"


@dataclass(frozen=True, slots=True)
class SelectResult:
    """Which case of a :func:`select` fired: ``channel``, ``value``, ``ok`` (False: closed),
    or ``default`` True when nothing was ready and a default was given."""

    channel: Channel | None
    value: Any = None
    ok: bool = True
    default: bool = False
    index: int = -1          # which case fired (its position in the call); -1 for default


def new(size: int = 0) -> Channel:
    """A channel; ``size`` 0 is unbuffered (a send waits for a receiver)."""
    if size < 0:
        raise ValueError("channel size must be >= 0")
    return Channel(size)


async def select(*cases: tuple[int, Channel, Any], default: bool = False) -> SelectResult:
    """Wait for the first ready case, in the order given. With ``default=True`` never blocks."""
    sched = scheduler.get()
    sched.budget -= 1
    if sched.budget < 0 and not default:
        await scheduler.yield_now()
    for i, (op, ch, value) in enumerate(cases):
        if op == _RECV:
            v, ok = ch.receive_nowait()
            if ok:
                return SelectResult(ch, v, True, False, i)
            if ch._closed:
                return SelectResult(ch, None, False, False, i)
        else:
            if ch._closed:
                raise ChannelClosed("send on a closed channel")
            if ch.send_nowait(value):
                return SelectResult(ch, value, True, False, i)
    if default:
        return SelectResult(None, None, True, True)
    if not cases:
        raise ValueError("select needs at least one case or default=True")
    w = sched.new_wait()
    for i, (op, ch, value) in enumerate(cases):
        if op == _RECV:
            ch._recvq.append((w, i))
        else:
            ch._sendq.append((w, i, value))
    idx, value, ok = await scheduler.suspend()
    op, ch, sent = cases[idx]
    return SelectResult(ch, sent if op == _SEND else value, ok, False, idx)
