"""The observer's one link to its node: a thread that owns the connection, the registry and
the journal, and runs every read and every operator action one at a time.

The connection (:class:`wippy.client.Connection`) is synchronous and bound to one thread, and
a status request waits up to two seconds for the hosts to answer: so it lives on a thread of
its own, and the event loop that serves HTTP hands it jobs (:meth:`NodeLink.run`) and awaits
their results. Between jobs the thread drains what the node broadcast (topology, registry
versions) every ``PUMP_S``, so nothing piles up while nobody looks at the page.

What it reads: the node's status (the request ``wippy top`` makes), the registry from LMDB
through the connection's read-only view (history, a version's entries), and the workflow
journal, opened read-only in LMDB (a cluster's, in PostgreSQL, when the node belongs to one).
What it changes, through the node, as the CLI does: a
rollback (signed ``observer`` in the registry's history), a workflow's cancellation, a
process's termination.

Rejected: an asyncio rewrite of the connection for this one reader (a second implementation
of the control protocol to keep in step); a thread per request (the connection is not
thread-safe, and the node serialises requests anyway).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any, Callable, TypeVar

from ..client import Connection, connect
from ..core.pid import make_pid
from ..errors import NodeError
from ..workflow.journal import Journal, JournalStore
from . import views

__all__ = ["NodeLink", "AUTHOR", "PUMP_S"]

AUTHOR = "observer"     # who the registry's history names for a rollback made here
PUMP_S = 1.0            # how often an idle link drains the node's broadcasts
SHOWN = 200             # versions and workflows listed (the newest; the totals are given)

T = TypeVar("T")


class NodeLink:
    """The observer's link to the node at ``run_dir`` (journal under ``data_dir``).

    :meth:`run` runs a method of this class on the link's thread; the other public methods
    block and must only run there."""

    def __init__(self, run_dir: str, data_dir: str,
                 connector: Callable[[str], Connection] = connect,
                 cluster: str | None = None) -> None:
        self.run_dir = run_dir
        self.cluster = cluster          # the cluster's DSN: its journal is the one shown
        self.journal_path = os.path.join(data_dir, "journal")
        self._connector = connector
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wippy-observe")
        self.conn: Connection | None = None
        self._journal: JournalStore | None = None
        self._thread: int | None = None

    # -- the thread ----------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the link's thread; its result (or its exception)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _here(self) -> None:
        me = threading.get_ident()
        if self._thread is None:
            self._thread = me
        assert self._thread == me, "NodeLink methods run on the link's thread only"

    def connect(self) -> None:
        """Attach to the node (raises NodeError when it does not answer)."""
        self._here()
        conn = self._connector(self.run_dir)
        conn.registry.via = AUTHOR
        self.conn = conn

    def _c(self) -> Connection:
        self._here()
        if self.conn is None:
            raise NodeError("the observer is not attached to its node")
        return self.conn

    def pump(self) -> None:
        """Drain the node's broadcasts (the connection handles them while it waits)."""
        self._c().receive(timeout=0.001)

    def close(self) -> None:
        """Detach (on the link's thread), then end the thread."""
        def _close() -> None:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self.conn is not None:
                self.conn.close()
                self.conn = None
        try:
            self._pool.submit(_close).result(timeout=5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self._pool.shutdown(wait=False)

    # -- reads ---------------------------------------------------------------------------
    def status(self, processes: bool) -> dict[str, Any]:
        """The node's status (``processes``: with every host's processes, trimmed)."""
        status = self._c().status(processes=processes)
        return views.trim_processes(status) if processes else status

    def history(self, limit: int = SHOWN) -> dict[str, Any]:
        """The registry's current version and the newest ``limit`` versions' summaries
        (newest first), with ``total``."""
        reg = self._c().registry
        history = reg.history()
        return {"version": reg.version(), "total": len(history),
                "history": list(reversed(history[-limit:] if limit > 0 else []))}

    def diff(self, v1: int, v2: int) -> dict[str, Any]:
        """What changed from version ``v1`` to ``v2`` (raises EntryNotFound for a version
        that does not exist)."""
        reg = self._c().registry
        old, new = reg.snapshot_at(v1), reg.snapshot_at(v2)
        changeset = reg.changeset(v2) or {}
        return {"from": v1, "to": v2, "changes": views.diff_rows(old.entries(), new.entries()),
                "author": changeset.get("author") if v2 == v1 + 1 else None}

    def _jr(self) -> JournalStore | None:
        self._here()
        if self._journal is None and self.cluster:
            from ..cluster import Db, PgJournal
            self._journal = PgJournal(Db(self.cluster, application="wippy observer"), "")
        if self._journal is None:
            if not os.path.exists(os.path.join(self.journal_path, "data.mdb")):
                return None
            self._journal = Journal(self.journal_path, readonly=True)
        return self._journal

    def workflows(self, limit: int = SHOWN) -> dict[str, Any]:
        """The newest ``limit`` workflows with their numbers of steps (newest first), the
        total and how many run."""
        jr = self._jr()
        if jr is None:
            return {"workflows": [], "total": 0, "running": 0}
        every = sorted(jr.workflows(), key=lambda w: -(w.get("created") or 0))
        rows = [views.workflow_row(w, len(jr.steps(w["id"]))) for w in every[:max(0, limit)]]
        return {"workflows": rows, "total": len(every),
                "running": sum(1 for w in every if w.get("status") == "running")}

    def _resolve(self, jr: JournalStore, text: str) -> str | None:
        wf = text[1:-1].rpartition("|")[2] if text.startswith("{") else text
        if jr.workflow(wf) is not None:
            return wf
        return jr.by_name(text)

    def workflow(self, text: str) -> dict[str, Any] | None:
        """One workflow (by ID, PID or name) with its journal; None when unknown."""
        jr = self._jr()
        wf = self._resolve(jr, text) if jr is not None else None
        if jr is None or wf is None:
            return None
        w = jr.workflow(wf)
        if w is None:
            return None
        return {**views.journal_view(w, jr.steps(wf), jr.signals(wf)),
                "pid": make_pid("wf", 0, wf)}

    # -- the operator's actions ----------------------------------------------------------
    def cancel(self, text: str) -> str | None:
        """Cancel a workflow (by ID, PID or name): its PID, or None when unknown."""
        jr = self._jr()
        wf = self._resolve(jr, text) if jr is not None else None
        if wf is None:
            return None
        pid = make_pid("wf", 0, wf)
        self._c().workflow_cancel(pid)
        return pid

    def rollback(self, version: int) -> int:
        """Make ``version``'s contents current (as a new version, which is returned)."""
        return int(self._c().registry.apply_version(version))

    def terminate(self, pid: str) -> None:
        """End process ``pid`` at once (a service's supervisor decides what comes next)."""
        self._c().terminate(pid)
