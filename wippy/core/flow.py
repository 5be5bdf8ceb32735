"""Flow control: bounded mailboxes, and senders that hear when a receiver falls behind (S4).

The rule. A process's mailbox holds at most ``limit`` unread messages (``limits.mailbox`` on
its entry, else on its host entry, else :data:`MAILBOX_DEFAULT`). A send that would go past
it fails at once with :class:`~wippy.errors.MailboxFull`; ``await process.wait_send(...)``
waits for room instead. ``send`` still never blocks and never drops what it accepted.

How: credits per sender/receiver pair. Inside one OS process the sender sees the mailbox and
checks it. Across OS processes, the sending OS process keeps a :class:`Flow`: for each
destination process, how many of its messages (and bytes) that process has not read yet, in
the sender's buffer, in flight or in the mailbox. A send that would take this past the
destination's limit (or past :data:`MAILBOX_BYTES`) is refused. Every zmq message names the
OS process it comes from (``wire.pack_from``), so the receiving host knows, per process and
per origin, how many messages it holds (:class:`Owed`). When a process has read
:func:`credit_batch` of them (a quarter of its limit) or :data:`CREDIT_BYTES`, or everything it
held, its host sends the credits back to that origin in one ``CREDIT`` frame, with the limit,
from which the sender learns it (a process that keeps up owes nothing between two looks, and
keeps no bookkeeping). Messages for a process that is gone are credited at once, and a
process that exits credits all it held.

So memory is bounded on both sides: a process holds at most ``limit`` unread messages from
each sending OS process (K x limit with K of them: the limit is per pair; from its own OS
process it holds at most ``limit``), and a sender never buffers more than it may have
unread. A process whose limit is not the default tells it (a credit of 0) to each OS process
the first time one of its messages arrives; until then the sender assumes the default, so
the first burst at a process with a smaller limit may overshoot it, by what one turn sent.

Messages the node sends (serial 0: workflow signals, forwarded once journaled) are not
counted: the node must never be refused, and what it forwards is on disk already.

Rejected alternatives:

* Stop reading the socket when a process is full (TCP-style backpressure through zmq's
  high-water mark): the inbox also carries control (host deaths, names, EXITs), so one slow
  process would stall every process of its host; and the sender would hear of it only once
  its whole send budget (hundreds of MB) had piled up.
* One window per pair of OS processes: bounds the pipe but not a mailbox, or, if credits
  wait for the mailbox to drain, one slow process blocks every other process of its host
  from that sender (head-of-line blocking).
* Bounce a message that finds its mailbox full back to its sender: ``send`` has returned by
  then; resending breaks per-sender FIFO order.
* Drop when full (a bounded mailbox that discards, Orleans' "backpressured" delivery): S4
  says send never drops. Block the sender (Pony mutes it): S4 says send never blocks, so
  waiting is opt-in.
* Acknowledge every message: twice the frames in a flood; credits go back a quarter of the
  limit at a time, so a sender with room never waits for them.
"""
from __future__ import annotations

from ..errors import MailboxFull
from .pid import parse_pid

__all__ = ["Flow", "Owed", "credit_batch", "full_message", "MAILBOX_DEFAULT", "MAILBOX_BYTES",
           "CREDIT_BYTES"]

#: Unread messages a process's mailbox holds (per sending OS process) unless its entry or its
#: host entry says otherwise (``limits: {mailbox: N}``). ~0.65 KB each for small messages.
MAILBOX_DEFAULT = 10_000
#: Bytes (as sent) one OS process may have unread at one process; a single message of any
#: size still goes when nothing is unread.
MAILBOX_BYTES = 64 << 20
#: Destinations whose limit a sender remembers after their window emptied.
LIMITS_KEPT = 100_000


def credit_batch(limit: int) -> int:
    """How many read messages a receiver collects before it gives them back as credits: a
    quarter of the limit, and never more than a quarter of the default (a sender that has not
    heard the limit yet assumes the default, and must not wait for more than it may send)."""
    return max(1, min(limit, MAILBOX_DEFAULT) // 4)


#: Bytes read that also make the credits go back (a quarter of what a window may hold).
CREDIT_BYTES = MAILBOX_BYTES // 4


class Flow:
    """A sending OS process's windows: per destination PID, ``[unread messages, bytes]``."""

    __slots__ = ("windows", "limits")

    def __init__(self) -> None:
        self.windows: dict[str, list[int]] = {}
        self.limits: dict[str, int] = {}        # learned from credits (insertion order: age)

    def admit(self, pid: str, size: int) -> None:
        """Count one message of ``size`` bytes to ``pid``; raises MailboxFull (and counts
        nothing) when its mailbox has no room for it."""
        w = self.windows.get(pid)
        if w is None:
            self.windows[pid] = [1, size]
            return
        limit = self.limits.get(pid, MAILBOX_DEFAULT)
        if w[0] >= limit or (w[1] + size > MAILBOX_BYTES and w[0] > 0):
            raise MailboxFull(full_message(pid, w[0], w[1], limit))
        w[0] += 1
        w[1] += size

    def room(self, pid: str) -> bool:
        """Whether one more (small) message to ``pid`` would be admitted now."""
        w = self.windows.get(pid)
        return w is None or (w[0] < self.limits.get(pid, MAILBOX_DEFAULT) and w[1] < MAILBOX_BYTES)

    def credit(self, pid: str, n: int, limit: int) -> None:
        """``pid`` read ``n`` of our messages; its mailbox holds ``limit``."""
        limits = self.limits
        if limits.get(pid) != limit:
            if limit == MAILBOX_DEFAULT:
                limits.pop(pid, None)
            else:
                if len(limits) >= LIMITS_KEPT:
                    del limits[next(iter(limits))]
                limits[pid] = limit
        w = self.windows.get(pid)
        if w is None:
            return
        if n >= w[0]:
            del self.windows[pid]
        else:
            w[1] = max(0, w[1] - n * (w[1] // w[0]))   # bytes of the read ones: the average
            w[0] -= n

    def forget(self, pid: str) -> None:
        """``pid`` is gone: nothing of ours is unread there any more."""
        self.windows.pop(pid, None)
        self.limits.pop(pid, None)

    def forget_serial(self, serial: int) -> list[str]:
        """OS process ``serial`` is gone: forget its processes; returns their PIDs."""
        gone = [p for p in self.windows if _serial(p) == serial]
        for p in gone:
            del self.windows[p]
        for p in [p for p in self.limits if _serial(p) == serial]:
            del self.limits[p]
        return gone


def _serial(pid: str) -> int:
    try:
        return parse_pid(pid).serial
    except ValueError:
        return -1


def full_message(pid: str, unread: int, size: int, limit: int, local: bool = False) -> str:
    """The text of a MailboxFull for ``pid`` (``local``: a destination in this OS process,
    whose whole mailbox the sender sees)."""
    if local:
        why = f"{unread} messages are unread in its mailbox, which holds {limit}"
    elif unread >= limit:
        why = f"{unread} messages from this OS process are unread there (its mailbox holds {limit})"
    else:
        why = (f"{size} bytes from this OS process are unread there (at most {MAILBOX_BYTES} "
               "may be)")
    return (f"process {pid} is not keeping up: {why}; the message was not sent "
            "(await process.wait_send(...) waits for room)")


class Owed:
    """What a receiving process owes the OS processes that sent it messages.

    ``runs``: its unread messages in arrival order, as ``[origin, messages, bytes]`` runs (an
    origin of 0 or less: not counted by a window, such as its own OS process's); ``due``:
    per origin, ``[messages, bytes]`` read but not credited yet; ``taken``: how many messages
    the process had read in all when its host last looked; ``told``: the origins that have
    heard its limit. Reads are assumed to follow arrival order, which the inbox does; a
    ``listen`` channel read out of order only moves credit between senders, never loses any."""

    __slots__ = ("runs", "due", "taken", "told")

    def __init__(self, taken: int) -> None:
        # plain lists and containers made when needed: one is made for every process that
        # gets a message from another OS process, and most hold one or two runs
        self.runs: list[list[int]] = []
        self.due: dict[int, list[int]] | None = None
        self.taken = taken
        self.told: set[int] | None = None

    def arrived(self, origin: int, size: int) -> None:
        """One more unread message from ``origin`` (``size`` bytes), after all the others."""
        runs = self.runs
        if runs:
            last = runs[-1]
            if last[0] == origin:
                last[1] += 1
                last[2] += size
                return
        runs.append([origin, 1, size])

    def tell(self, origin: int) -> bool:
        """Whether ``origin`` has yet to hear this process's limit (it has now)."""
        told = self.told
        if told is None:
            self.told = {origin}
            return True
        if origin in told:
            return False
        told.add(origin)
        return True

    def read(self, n: int) -> None:
        """``n`` more messages were read: the oldest unread ones."""
        runs = self.runs
        due = self.due
        if due is None:
            due = self.due = {}
        done = 0
        while n > 0 and done < len(runs):
            run = runs[done]
            origin, k, size = run
            if n >= k:
                take, part = k, size
                done += 1
            else:
                take, part = n, size * n // k
                run[1] = k - n
                run[2] = size - part
            if origin > 0:
                d = due.get(origin)
                if d is None:
                    due[origin] = [take, part]
                else:
                    d[0] += take
                    d[1] += part
            n -= take
        if done:
            del runs[:done]

    def ripe(self, batch: int) -> list[tuple[int, int]]:
        """The credits to give back now: ``(origin, messages)`` for every origin with ``batch``
        messages or :data:`CREDIT_BYTES` bytes read."""
        due = self.due
        if not due:
            return []
        out = [(o, d[0]) for o, d in due.items() if d[0] >= batch or d[1] >= CREDIT_BYTES]
        for o, _ in out:
            del due[o]
        return out

    def settle(self) -> list[tuple[int, int]]:
        """Everything owed, read or not (the process is gone, or has read it all); leaves
        nothing owed."""
        out = {o: d[0] for o, d in (self.due or {}).items()}
        for origin, k, _ in self.runs:
            if origin > 0:
                out[origin] = out.get(origin, 0) + k
        self.runs.clear()
        self.due = None
        return list(out.items())
