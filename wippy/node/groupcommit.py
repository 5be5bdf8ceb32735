"""The workflow journal's single writer on the node: group commit, pipelined.

Every journal write a loop turn receives (steps, signals, starts, completions) joins the
current batch; whoever waits for a write registers what to do once it is durable
(:meth:`GroupCommit.then`). At the end of a turn (:meth:`GroupCommit.flush`) the batch is
committed (:mod:`wippy.node.commits`: on the loop, or in a thread of its own for a store that
allows it). With a thread, a batch in flight makes the next one keep gathering; it leaves as
soon as that one is durable. Only then are a batch's writers
answered, so a step's effect is never visible before it is durable, and batches commit (and
are answered) in the order they were gathered.

Reads see the writes not committed yet: the current batch's records and names, then those of
the batch in flight, then the journal (two signals in two turns must not both read the
committed record and take the same sequence number; two starts of one name must not both
find it unbound).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, NamedTuple

from ..errors import FencedError, StorageError
from ..workflow.journal import Journal, JournalStore
from .commits import CommitThread

__all__ = ["GroupCommit"]

log = logging.getLogger("wippy.workflow")

After = tuple[Callable[[], None], Callable[[StorageError], None] | None, str | None]


class _Batch(NamedTuple):
    writes: list[tuple]
    after: list[After]
    loading: list[str]
    records: dict[str, dict[str, Any]]
    names: dict[str, str]


class GroupCommit:
    """The journal, the batch a turn gathers, and the batch being committed."""

    def __init__(self, journal: str | JournalStore) -> None:
        # a path: the LMDB journal of one node; else a shared one (a cluster's)
        self.journal: JournalStore = Journal(journal) if isinstance(journal, str) else journal
        self.committer = CommitThread(self.journal)
        self.batch: list[tuple] = []
        # once the batch is committed: (what to do, what to do instead if it failed or None,
        # the workflow whose writes it waits for: refused alone when another node owns it)
        self.after: list[After] = []
        self.loading: list[str] = []        # workflows whose processes load them this turn
        self.records: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        self.inflight: _Batch | None = None
        self.commits = 0
        self.writes = 0
        self.storage_error: StorageError | None = None   # the last commit failed with this
        self._read_error = ""               # the last read error logged

    @property
    def fd(self) -> int:
        """Readable when the batch in flight is durable (or failed): poll it in the loop."""
        return self.committer.fd

    def write(self, *w: Any) -> None:
        if w[0] == "wf":
            self.records[w[1]["id"]] = w[1]
        elif w[0] == "name":
            self.names[w[1]] = w[2]
        self.batch.append(w)

    def then(self, ok: Callable[[], None], failed: Callable[[StorageError], None] | None = None,
             wf: str | None = None) -> None:
        """Run ``ok`` once this turn's writes are durable, or ``failed`` if they cannot be
        (or, for ``wf``'s writes, if the journal refused them: another node owns it)."""
        self.after.append((ok, failed, wf))

    def record(self, wf_id: str) -> dict[str, Any] | None:
        """A workflow's record, including writes not committed yet (a copy to change); None
        also when a shared journal cannot be read now (the cluster part sorts that out)."""
        rec = self.records.get(wf_id)
        if rec is None and self.inflight is not None:
            rec = self.inflight.records.get(wf_id)
        if rec is None:
            rec = self._read(self.journal.workflow, wf_id)
        return None if rec is None else dict(rec)

    def bound(self, name: str) -> str | None:
        """The workflow ``name`` is bound to, including bindings not committed yet."""
        wf = self.names.get(name)
        if wf is None and self.inflight is not None:
            wf = self.inflight.names.get(name)
        return wf or self._read(self.journal.by_name, name)

    def _read(self, read: Callable[[str], Any], key: str) -> Any:
        try:
            return read(key)
        except StorageError as exc:
            if str(exc) != self._read_error:     # once per outage, not once per read
                log.warning("%s", exc)
                self._read_error = str(exc)
            return None

    def flush(self, wait: bool = True) -> None:
        """End of a turn: answer the batch in flight if it is durable, then start committing
        this turn's writes. With ``wait`` (default), wait for both: when it returns, this
        turn's writes are committed and everyone who waited on them answered (the node's
        loop passes False and is woken through :attr:`fd`)."""
        self._settle(block=wait)
        if self.inflight is not None or (not self.batch and not self.after):
            return
        batch = _Batch(self.batch, self.after, self.loading, self.records, self.names)
        self.batch, self.after, self.loading, self.records, self.names = [], [], [], {}, {}
        if not batch.writes:            # only answers waiting (loads): nothing to commit
            self._answer(batch, frozenset())
            return
        self.inflight = batch
        self.committer.submit(batch.writes)
        self._settle(block=wait or not self.committer.threaded)

    def _settle(self, block: bool) -> None:
        """Answer the batch in flight if it has an outcome (waiting for it with ``block``)."""
        if self.inflight is None:
            return
        outcome = self.committer.result(block)
        if outcome is None:
            return
        batch, self.inflight = self.inflight, None
        if outcome.error is not None:
            # the batch gathered meanwhile read this one's records (a signal's sequence
            # number, a name's binding): it fails with it, as one commit would have
            after = batch.after + self.after
            self.batch, self.after, self.loading, self.records, self.names = [], [], [], {}, {}
            self._commit_failed(outcome.error, after)
            return
        self.commits += 1
        self.writes += len(batch.writes)
        if self.storage_error is not None:
            log.warning("the workflow journal is writable again")
            self.storage_error = None
        if outcome.refused:
            self.disown(sorted(outcome.refused), "another node took them over: their journal "
                                                 "writes were refused")
        self._answer(batch, outcome.refused)

    def _answer(self, batch: _Batch, refused: frozenset[str]) -> None:
        if batch.loading:     # many workflows resuming at once: their journals in a few reads
            try:
                self.journal.preload(batch.loading)
            except StorageError:
                pass                        # each load reads (and reports) on its own
        try:
            for ok, failed, wf in batch.after:
                if wf is not None and wf in refused:
                    if failed is not None:
                        failed(FencedError("the cluster journal", f"workflow {wf} is driven by "
                                                                  "another node"))
                else:
                    ok()
        finally:
            if batch.loading:
                self.journal.preload(None)

    def _commit_failed(self, exc: StorageError, after: list[After]) -> None:
        if self.storage_error is None or str(self.storage_error) != str(exc):
            log.error("%s; workflows wait until it can be written", exc)
        self.storage_error = exc
        for _, failed, _wf in after:
            if failed is not None:
                failed(exc)

    def disown(self, wfs: list[str], why: str = "its fencing token moved on") -> None:
        """Stop driving ``wfs`` (the manager's)."""
        raise NotImplementedError

    def close(self) -> None:
        """Commit and answer everything pending, then release the journal."""
        self.flush()
        self.flush()            # what the answers of the last batch wrote
        self.committer.close()
        self.journal.close()
