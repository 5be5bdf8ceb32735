"""The durable workflow journal in LMDB (S8). Written by the node only, with group commit.

Layout (``APP/.wippy/data/journal``), frozen by a golden test:

* ``workflows``: workflow id -> JSON ``{"id", "entry", "host", "input", "name", "status"
  ("running" | "completed" | "failed" | "cancelled"), "result", "error", "created",
  "finished", "signals": n}``;
* ``steps``: workflow id + ``\\0`` + 8-byte big-endian sequence -> JSON step
  ``{"op": "call" | "timer" | "after" | "now" | "uuid" | "random" | "version" | "child",
  "key": ..., "result": ..., "error": ..., "v": 2}``, as the workflow's context makes them
  (``replay.record``; time values in integer nanoseconds; a step without ``v`` is format 1,
  see :mod:`wippy.workflow.replay`);
* ``signals``: workflow id + ``\\0`` + 8-byte sequence -> JSON ``{"topic", "payload", "from"}``;
* ``names``: workflow name -> workflow id (a name stays bound after completion).

Group commit: the node collects every journal write of one loop turn and commits them in one
transaction (one fsync), then acknowledges each; a step's effect becomes visible to the
workflow only after that acknowledgement. A commit that fails (a full disk) raises
:class:`~wippy.errors.StorageError` and writes nothing of the batch.

:class:`JournalStore` is what the node needs of a journal; :class:`Journal` (LMDB, one node)
is the default, and :mod:`wippy.cluster` holds the PostgreSQL one that several nodes share,
where each workflow has one owner at a time and a write by any other node is refused
(``commit`` returns the ids of the workflows it refused).
"""
from __future__ import annotations

import json
import struct
from typing import Any, Iterable, Iterator, Protocol

from ..registry.store import MAP_SIZE, close_env, open_env, writing

__all__ = ["Journal", "JournalStore", "FORMAT", "write_owner"]

FORMAT = "1"
_SEQ = struct.Struct(">Q")


def _key(wf: str, seq: int) -> bytes:
    return wf.encode() + b"\0" + _SEQ.pack(seq)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_owner(w: tuple) -> str:
    """The workflow a journal write belongs to."""
    kind = w[0]
    if kind == "wf":
        return str(w[1]["id"])
    return str(w[2] if kind == "name" else w[1])


class JournalStore(Protocol):
    """What the node's workflow manager needs of a journal: reads, and one atomic commit of a
    turn's writes (group commit)."""

    #: whether ``commit`` may run in a thread of its own while the loop goes on reading
    #: (the node then gathers the next batch while this one is made durable)
    commit_in_thread: bool

    def workflow(self, wf: str) -> dict[str, Any] | None:
        """A workflow's record, or None."""

    def workflows(self) -> Iterable[dict[str, Any]]:
        """Every workflow's record."""

    def by_name(self, name: str) -> str | None:
        """The workflow a name is bound to."""

    def steps(self, wf: str) -> list[dict[str, Any]]:
        """A workflow's steps, in order."""

    def signals(self, wf: str) -> list[dict[str, Any]]:
        """A workflow's signals, in order."""

    def commit(self, writes: list[tuple]) -> frozenset[str]:
        """Apply ``writes`` atomically; returns the workflows whose writes were refused
        because this node no longer owns them (none of their writes is applied). Raises
        StorageError (nothing written) when the store cannot be written."""

    def owns(self, wf: str) -> bool:
        """Whether this node drives workflow ``wf`` (always, on one node)."""

    def preload(self, wfs: list[str] | None) -> None:
        """Read these workflows' records, steps and signals at once, for the reads that
        follow (a store with costly round trips batches them); None forgets them."""

    def resumable(self) -> list[dict[str, Any]]:
        """At boot: the unfinished workflows this node runs now."""

    def close(self) -> None:
        """Release the store."""


class Journal:
    """The journal's LMDB environment: reads for anyone, batched writes for the node."""

    # LMDB would allow it (readers never block the writer; the write transaction would live
    # and die in the commit thread, as py-lmdb requires; fsync releases the GIL), but on the
    # loop it is faster where cores are few: while the loop waits on the fsync, the hosts'
    # writes pile up into the next batch at no cost, where a thread made the loop take them a
    # few at a time (measured on 2 cores: steps/s 12.8k against 22k, one step 690 against 590
    # us; README, performance)
    commit_in_thread = False

    def __init__(self, path: str, readonly: bool = False, map_size: int = MAP_SIZE) -> None:
        self.path = path
        self.map_size = map_size
        self.env = open_env(path, 5, readonly, map_size)
        self._wf = self.env.open_db(b"workflows", create=not readonly)
        self._steps = self.env.open_db(b"steps", create=not readonly)
        self._sig = self.env.open_db(b"signals", create=not readonly)
        self._names = self.env.open_db(b"names", create=not readonly)
        self._meta = self.env.open_db(b"meta", create=not readonly)
        if not readonly:
            with writing(path, map_size), self.env.begin(write=True) as txn:
                txn.put(b"format", FORMAT.encode(), db=self._meta)

    def close(self) -> None:
        close_env(self.env)

    # -- reads ---------------------------------------------------------------------------
    def workflow(self, wf: str) -> dict[str, Any] | None:
        with self.env.begin(db=self._wf) as txn:
            raw = txn.get(wf.encode())
        return None if raw is None else json.loads(raw)

    def workflows(self) -> Iterator[dict[str, Any]]:
        with self.env.begin(db=self._wf) as txn:
            for _, v in txn.cursor():
                yield json.loads(v)

    def by_name(self, name: str) -> str | None:
        with self.env.begin(db=self._names) as txn:
            raw = txn.get(name.encode())
        return None if raw is None else raw.decode()

    def _range(self, db: Any, wf: str) -> list[dict[str, Any]]:
        prefix = wf.encode() + b"\0"
        out = []
        with self.env.begin(db=db) as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for k, v in cur:
                    if not k.startswith(prefix):
                        break
                    out.append(json.loads(v))
        return out

    def steps(self, wf: str) -> list[dict[str, Any]]:
        return self._range(self._steps, wf)

    def signals(self, wf: str) -> list[dict[str, Any]]:
        return self._range(self._sig, wf)

    # -- writes: one transaction for a whole batch (group commit) --------------------------
    def owns(self, wf: str) -> bool:
        return True                     # one node: every workflow is its own

    def resumable(self) -> list[dict[str, Any]]:
        return [wf for wf in self.workflows() if wf["status"] == "running"]

    def preload(self, wfs: list[str] | None) -> None:
        pass                            # a read costs microseconds here

    def commit(self, writes: list[tuple]) -> frozenset[str]:
        """Apply ``writes`` atomically: ("wf", record) | ("step", wf, seq, record) |
        ("signal", wf, seq, record) | ("name", name, wf). Raises StorageError (nothing of
        them is written) when the journal cannot be written: a full disk or map. Refuses
        nothing (one node owns every workflow)."""
        with writing(self.path, self.map_size), self.env.begin(write=True) as txn:
            for w in writes:
                kind = w[0]
                if kind == "wf":
                    txn.put(w[1]["id"].encode(), _dump(w[1]), db=self._wf)
                elif kind == "step":
                    txn.put(_key(w[1], w[2]), _dump(w[3]), db=self._steps)
                elif kind == "signal":
                    txn.put(_key(w[1], w[2]), _dump(w[3]), db=self._sig)
                elif kind == "name":
                    txn.put(w[1].encode(), w[2].encode(), db=self._names)
        return frozenset()
