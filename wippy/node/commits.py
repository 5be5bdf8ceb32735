"""The workflow journal's commits, pipelined: one commit runs in its own thread while the node's
loop gathers the next batch.

A journal commit is mostly waiting: on LMDB's fsync, or on PostgreSQL's round trips and its
WAL flush; both release the GIL. Run on the loop, that wait stops everything else (profiles
put the node at 52-58% of its time in the commit under load). Here the loop hands a batch to
:class:`CommitThread` and goes on serving hosts; the writes that arrive meanwhile form the
next batch, handed over as soon as this one is durable. At most one batch is in flight, so
batches commit in order and each is one transaction, as before.

Exactly-once is unchanged: nobody is answered before the batch holding their writes is durable
(the manager runs a batch's callbacks only once :meth:`CommitThread.result` returns it). The
thread wakes the loop through a pipe (:attr:`CommitThread.fd`, polled with the node's sockets).

A store says whether it wants this (``commit_in_thread``); otherwise its commits run on the
loop, through the same interface. Neither journal does today: the PostgreSQL one shares its
connection with the loop's reads and claims, and for LMDB it measured slower on a 2-core
machine (the loop waiting on the fsync lets the hosts' writes pile up into one big batch at
no cost; README, performance).
"""
from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Any, NamedTuple

from ..errors import StorageError

__all__ = ["CommitThread", "Outcome"]

SWITCH_S = 0.0002    # the node's GIL switch interval once the commit thread runs


class Outcome(NamedTuple):
    """What became of one batch: the workflows whose writes were refused (fencing), or the
    error that kept the whole batch out of the journal."""

    refused: frozenset[str]
    error: StorageError | None


class CommitThread:
    """Commits batches of journal writes one at a time, in a thread of its own when the store
    allows it (started on first use, so never before the node forks its zygote)."""

    def __init__(self, store: Any) -> None:
        self._store = store                 # looked up per commit: tests replace its commit
        self.threaded = bool(getattr(store, "commit_in_thread", False))
        self.busy = False                   # a batch is in flight (at most one)
        self._todo: queue.SimpleQueue[list[tuple] | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._outcome: Outcome | None = None
        self._crash: BaseException | None = None   # a bug in a commit: raised on the loop
        self._thread: threading.Thread | None = None
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    @property
    def fd(self) -> int:
        """Readable once the batch in flight has an outcome (poll it with the loop's sockets)."""
        return self._r

    def submit(self, writes: list[tuple]) -> None:
        """Start committing ``writes`` (nothing may be in flight)."""
        assert not self.busy, "one batch in flight at a time"
        self.busy = True
        if not self.threaded:
            self._settle(writes)
            return
        if self._thread is None:
            # the thread needs the GIL back after each fsync; a busy loop would keep it for the
            # whole switch interval (5 ms by default: longer than the fsync). Only a thread
            # waiting for the GIL makes the holder drop it, so this costs nothing otherwise.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_S))
            self._thread = threading.Thread(target=self._serve, name="wippy-journal-commit",
                                            daemon=True)
            self._thread.start()
        self._todo.put(writes)

    def result(self, block: bool = False) -> Outcome | None:
        """The outcome of the batch in flight once it has one (waiting for it with ``block``);
        None while it runs, or when nothing is in flight."""
        if not self.busy or not (self._ready.is_set() or (block and self._ready.wait())):
            return None
        self._ready.clear()
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass                            # the thread's wake-up byte is on its way
        self.busy = False
        crash, self._crash = self._crash, None
        if crash is not None:
            raise crash
        outcome, self._outcome = self._outcome, None
        assert outcome is not None
        return outcome

    def close(self) -> None:
        """Stop the thread (after the batch in flight, if any) and close the pipe."""
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join(timeout=60)
            self._thread = None
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the commit itself ---------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            writes = self._todo.get()
            if writes is None:
                return
            self._settle(writes)
            try:
                os.write(self._w, b"\0")
            except (BlockingIOError, OSError):
                pass                        # the pipe is full of wake-ups already (or closed)

    def _settle(self, writes: list[tuple]) -> None:
        try:
            self._outcome = Outcome(self._store.commit(writes), None)
        except StorageError as exc:
            self._outcome = Outcome(frozenset(), exc)
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which raises it
            self._crash = exc
        self._ready.set()
