"""The workflow journal in PostgreSQL, shared by every node of a cluster, with fencing.

It is a :class:`~wippy.workflow.journal.JournalStore`: the node's workflow manager uses it as
it uses the LMDB journal (same records, same group commit: a loop turn's writes are one
transaction). What it adds is ownership: each running workflow has an ``owner`` node and a
fencing ``token``; this object holds the tokens of the workflows its node drives.

Fencing. A commit first reads the rows of the workflows it writes with ``FOR SHARE`` and keeps
only those whose owner and token are still this node's and the token it holds; the share
lock, held until the commit, makes a concurrent takeover (an ``UPDATE`` of the token) wait for
it, and a takeover committed first is seen (PostgreSQL re-checks a locked row's newest
version). So once another node has claimed a workflow, no write of the old owner lands,
however late it arrives (a node cut off from the database and back). The writes of refused
workflows are left out, the others commit, and :meth:`PgJournal.commit` names the refused
ones; the manager stops driving them.

A new workflow is inserted with this node as its owner and a fresh token; a name binds once
in the whole cluster (``wippy_names``' key): a start whose name another node bound first is
refused and its row removed in the same transaction.

Claims (takeover). :meth:`claim_own` takes, with new tokens, every unfinished workflow owned
by this node name (at start: a restarted node resumes what it owned, unless someone took it
over meanwhile). :meth:`claim_orphans` takes up to ``limit`` unfinished workflows whose owner's
lease has expired, ``FOR UPDATE SKIP LOCKED`` so that survivors claiming at the same moment
take disjoint sets.

Rejected: a conditional ``INSERT ... WHERE EXISTS (owner, token)`` per write. Without a lock
it can commit after a takeover it did not see; with one per statement it is the same lock
taken once per write instead of once per turn.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from ..workflow.journal import write_owner
from .db import Db
from .notify import Wake, notify_sql

__all__ = ["PgJournal"]

CLAIM_MAX = 1000            # workflows one claim takes at most (a claim is one transaction)
_NOTIFY_OWNERS = ("SELECT " + notify_sql(f"'{Wake.INBOX.value} ' || o.owner") + " FROM (SELECT "
                  "DISTINCT owner FROM wippy_workflows WHERE id = ANY(%s)) o")
_NOTIFY_ENDED = "SELECT " + notify_sql(f"'{Wake.ENDED.value}'")


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class PgJournal:
    """The cluster's journal as seen by node ``node`` (see the module docstring)."""

    # one connection serves the loop's reads and claims and this journal's commits: a commit
    # in another thread would interleave with them in one session
    commit_in_thread = False

    def __init__(self, db: Db, node: str) -> None:
        self.db = db
        self.node = node
        self.tokens: dict[str, int] = {}       # the workflows this node drives -> their token
        self.refused = 0                       # writes refused by fencing, since start
        # preloaded reads (see preload): workflow -> (record, steps, signals)
        self._cache: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]],
                                     list[dict[str, Any]]]] = {}

    # -- reads ---------------------------------------------------------------------------
    def preload(self, wfs: list[str] | None) -> None:
        """Read ``wfs``' records, steps and signals in three statements for the reads that
        follow (None: forget them): a takeover resumes hundreds of workflows in one turn."""
        self._cache = {}
        if not wfs:
            return
        ids = sorted(set(wfs))
        recs = dict(self.db.run(lambda c: c.execute(
            "SELECT id, rec FROM wippy_workflows WHERE id = ANY(%s)", (ids,)).fetchall()))
        seqs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for table in ("wippy_steps", "wippy_signals"):
            got: dict[str, list[dict[str, Any]]] = {}
            for wf, rec in self.db.run(lambda c: c.execute(
                    f"SELECT wf, rec FROM {table} WHERE wf = ANY(%s) ORDER BY wf, seq",
                    (ids,)).fetchall()):
                got.setdefault(wf, []).append(json.loads(rec))
            seqs[table] = got
        self._cache = {wf: (json.loads(recs[wf]) if wf in recs else None,
                            seqs["wippy_steps"].get(wf, []), seqs["wippy_signals"].get(wf, []))
                       for wf in ids}

    def workflow(self, wf: str) -> dict[str, Any] | None:
        if wf in self._cache:
            rec = self._cache[wf][0]
            return None if rec is None else dict(rec)
        row = self.db.run(lambda c: c.execute("SELECT rec FROM wippy_workflows WHERE id = %s",
                                              (wf,)).fetchone())
        return None if row is None else json.loads(row[0])

    def workflows(self) -> list[dict[str, Any]]:
        rows = self.db.run(lambda c: c.execute(
            "SELECT rec FROM wippy_workflows ORDER BY created").fetchall())
        return [json.loads(r[0]) for r in rows]

    def by_name(self, name: str) -> str | None:
        row = self.db.run(lambda c: c.execute("SELECT wf FROM wippy_names WHERE name = %s",
                                              (name,)).fetchone())
        return None if row is None else str(row[0])

    def _seq(self, table: str, wf: str) -> list[dict[str, Any]]:
        rows = self.db.run(lambda c: c.execute(
            f"SELECT rec FROM {table} WHERE wf = %s ORDER BY seq", (wf,)).fetchall())
        return [json.loads(r[0]) for r in rows]

    def steps(self, wf: str) -> list[dict[str, Any]]:
        if wf in self._cache:
            return list(self._cache[wf][1])
        return self._seq("wippy_steps", wf)

    def signals(self, wf: str) -> list[dict[str, Any]]:
        if wf in self._cache:
            return list(self._cache[wf][2])
        return self._seq("wippy_signals", wf)

    def owner(self, wf: str) -> tuple[str, int] | None:
        """A workflow's owner node and token, as the database has them."""
        row = self.db.run(lambda c: c.execute(
            "SELECT owner, token FROM wippy_workflows WHERE id = %s", (wf,)).fetchone())
        return None if row is None else (str(row[0]), int(row[1]))

    # -- ownership -----------------------------------------------------------------------
    def owns(self, wf: str) -> bool:
        return wf in self.tokens

    def disown(self, wfs: Iterable[str] | None = None) -> list[str]:
        """Forget the tokens of ``wfs`` (all when None): this node stops driving them."""
        if wfs is None:
            gone, self.tokens = list(self.tokens), {}
            return gone
        return [wf for wf in wfs if self.tokens.pop(wf, None) is not None]

    def resumable(self) -> list[dict[str, Any]]:
        return self.claim_own()

    def claim_own(self) -> list[dict[str, Any]]:
        """Take every unfinished workflow owned by this node's name, with new tokens; their
        records (to resume)."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "UPDATE wippy_workflows SET token = nextval('wippy_fence') "
                "WHERE owner = %s AND status = 'running' RETURNING id, token, rec",
                (self.node,)).fetchall()
        return self._took(rows)

    def claim_orphans(self, limit: int) -> list[dict[str, Any]]:
        """Take up to ``limit`` unfinished workflows whose owner's lease has expired (or whose
        owner is unknown), with new tokens; their records (to resume)."""
        if limit <= 0:
            return []
        took: list[tuple] = []
        while len(took) < limit:     # in transactions of at most CLAIM_MAX workflows
            want = min(limit - len(took), CLAIM_MAX)
            rows = self._claim_orphans(want)
            took += rows
            if len(rows) < want:
                break
        return self._took(took)

    def _claim_orphans(self, limit: int) -> list[tuple]:
        with self.db.transaction() as cur:
            return cur.execute(
                "UPDATE wippy_workflows w SET owner = %s, token = nextval('wippy_fence') "
                "FROM (SELECT o.id FROM wippy_workflows o "
                "      LEFT JOIN wippy_nodes n ON n.name = o.owner "
                "      WHERE o.status = 'running' AND o.owner <> %s "
                "        AND (n.name IS NULL OR n.lease_until < now()) "
                "      ORDER BY o.created LIMIT %s FOR UPDATE OF o SKIP LOCKED) c "
                "WHERE w.id = c.id RETURNING w.id, w.token, w.rec",
                (self.node, self.node, limit)).fetchall()

    def load(self) -> tuple[int, int, int]:
        """Unfinished workflows: (without a live owner, with a live owner, owned by this
        node)."""
        row = self.db.run(lambda c: c.execute(
            "SELECT count(*) FILTER (WHERE o.owner <> %s AND "
            "                        (n.name IS NULL OR n.lease_until < now())), "
            "       count(*) FILTER (WHERE n.lease_until >= now()), "
            "       count(*) FILTER (WHERE o.owner = %s) "
            "FROM wippy_workflows o LEFT JOIN wippy_nodes n ON n.name = o.owner "
            "WHERE o.status = 'running'", (self.node, self.node)).fetchone())
        return int(row[0]), int(row[1]), int(row[2])

    def orphans(self) -> int:
        """How many unfinished workflows have no live owner."""
        return self.load()[0]

    def inbox(self) -> list[tuple[int, str, dict[str, Any]]]:
        """Signals other nodes left for workflows this node owns, oldest first:
        (row id, workflow, signal)."""
        rows = self.db.run(lambda c: c.execute(
            "SELECT i.id, i.wf, i.rec FROM wippy_inbox i JOIN wippy_workflows w ON w.id = i.wf "
            "WHERE w.owner = %s ORDER BY i.id LIMIT %s", (self.node, CLAIM_MAX)).fetchall())
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    def ended(self, wfs: list[str]) -> list[dict[str, Any]]:
        """The records of those of ``wfs`` that have finished."""
        rows = self.db.run(lambda c: c.execute(
            "SELECT rec FROM wippy_workflows WHERE id = ANY(%s) AND status <> 'running'",
            (wfs,)).fetchall())
        return [json.loads(r[0]) for r in rows]

    def _took(self, rows: list[tuple]) -> list[dict[str, Any]]:
        out = []
        for wf, token, rec in rows:
            self.tokens[wf] = int(token)
            out.append(json.loads(rec))
        return out

    # -- writes: one transaction per turn (group commit), fenced --------------------------
    def commit(self, writes: list[tuple]) -> frozenset[str]:
        """Apply ``writes`` (the LMDB journal's write tuples) in one transaction, leaving out
        those of workflows this node no longer owns; returns those workflows. Raises
        StorageError (nothing written) when the database fails."""
        if not writes:
            return frozenset()
        records: dict[str, dict[str, Any]] = {}      # the last record written, per workflow
        order: list[str] = []
        names: dict[str, str] = {}
        steps: dict[tuple[str, int], dict[str, Any]] = {}
        signals: dict[tuple[str, int], dict[str, Any]] = {}
        inbox: list[tuple[str, dict[str, Any]]] = []        # anyone may post (not fenced)
        taken: list[tuple[str, int]] = []                   # inbox rows journaled here
        for w in writes:
            kind = w[0]
            if kind == "wf":
                if w[1]["id"] not in records:
                    order.append(w[1]["id"])
                records[w[1]["id"]] = w[1]
            elif kind == "name":
                names[w[1]] = w[2]
            elif kind == "step":
                steps[(w[1], w[2])] = w[3]
            elif kind == "signal":
                signals[(w[1], w[2])] = w[3]
            elif kind == "inbox":
                inbox.append((w[1], w[2]))
            elif kind == "inbox_done":
                taken.append((w[1], w[2]))
        owners = {write_owner(w) for w in writes if w[0] != "inbox"}
        known = sorted(wf for wf in owners if wf in self.tokens)
        fresh = [wf for wf in order if wf not in self.tokens]
        refused = set(owners) - set(known) - set(fresh)   # writes to a workflow never ours
        new_tokens: dict[str, int] = {}
        with self.db.transaction() as cur:
            if known:
                rows = cur.execute(
                    "SELECT id, owner, token FROM wippy_workflows WHERE id = ANY(%s) "
                    "FOR SHARE", (known,)).fetchall()
                current = {r[0]: (r[1], r[2]) for r in rows}
                refused |= {wf for wf in known if current.get(wf) != (self.node, self.tokens[wf])}
            if fresh:
                recs = [records[wf] for wf in fresh]
                rows = cur.execute(
                    "INSERT INTO wippy_workflows (id, rec, status, name, owner, token, created) "
                    "SELECT r.id, r.rec, r.status, r.name, %s, nextval('wippy_fence'), r.created "
                    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
                    "            %s::float8[]) AS r(id, rec, status, name, created) "
                    "ON CONFLICT (id) DO NOTHING RETURNING id, token",
                    (self.node, fresh, [_dump(r) for r in recs], [r["status"] for r in recs],
                     [r.get("name") for r in recs], [float(r.get("created") or 0) for r in recs]
                     )).fetchall()
                new_tokens = {r[0]: int(r[1]) for r in rows}
                refused |= set(fresh) - set(new_tokens)
            bind = {n: wf for n, wf in names.items() if wf not in refused}
            if bind:
                rows = cur.execute(
                    "INSERT INTO wippy_names (name, wf) SELECT * FROM unnest(%s::text[], %s::text[]) "
                    "ON CONFLICT (name) DO NOTHING RETURNING name",
                    (list(bind), list(bind.values()))).fetchall()
                lost = {bind[n] for n in set(bind) - {r[0] for r in rows}}
                if lost:        # its name was bound by another node first: no such start
                    cur.execute("DELETE FROM wippy_workflows WHERE id = ANY(%s)", (list(lost),))
                    for wf in lost:
                        new_tokens.pop(wf, None)
                    refused |= lost
            updates = [wf for wf in order if wf in self.tokens and wf not in refused]
            if updates:
                recs = [records[wf] for wf in updates]
                cur.execute(
                    "UPDATE wippy_workflows w SET rec = r.rec, status = r.status "
                    "FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(id, rec, status) "
                    "WHERE w.id = r.id", (updates, [_dump(r) for r in recs],
                                          [r["status"] for r in recs]))
            if inbox:
                cur.execute("INSERT INTO wippy_inbox (wf, rec) "
                            "SELECT r.wf, r.rec FROM unnest(%s::text[], %s::text[]) "
                            "WITH ORDINALITY AS r(wf, rec, n) ORDER BY r.n",
                            ([wf for wf, _ in inbox], [_dump(r) for _, r in inbox]))
                cur.execute(_NOTIFY_OWNERS, (sorted({wf for wf, _ in inbox}),))
            if any(records[wf]["status"] != "running" for wf in order if wf not in refused):
                cur.execute(_NOTIFY_ENDED)      # watchers on other nodes look now
            done = [row for wf, row in taken if wf not in refused]
            if done:
                cur.execute("DELETE FROM wippy_inbox WHERE id = ANY(%s)", (done,))
            for table, rows_ in (("wippy_steps", steps), ("wippy_signals", signals)):
                keep = [(k, v) for k, v in rows_.items() if k[0] not in refused]
                if keep:
                    cur.execute(
                        f"INSERT INTO {table} (wf, seq, rec) "
                        "SELECT * FROM unnest(%s::text[], %s::int8[], %s::text[]) "
                        "ON CONFLICT (wf, seq) DO UPDATE SET rec = EXCLUDED.rec",
                        ([k[0] for k, _ in keep], [k[1] for k, _ in keep],
                         [_dump(v) for _, v in keep]))
        self.tokens.update(new_tokens)
        for wf in refused:
            self.tokens.pop(wf, None)
        self.refused += len(refused)
        return frozenset(refused)

    def close(self) -> None:
        self.db.close()
