"""Singleton services in a cluster (S12: a ``process.service`` with ``lifecycle.singleton:
true`` runs on one node of the cluster, and moves when its node dies).

The nodes agree through ``wippy_singletons``: a row per singleton entry id with the node that
runs it and that node's incarnation. A node claims the singletons it wants in one statement
(an upsert that takes a row when it is free, already its own, or held by an incarnation
without a live lease), before it starts one and again at every lease round (TTL/3): what the
claim returns is what this node may run. A node that dies stops renewing; once its lease
expired (TTL), the next round of a survivor takes its singletons and starts them, so a
singleton is back within about a TTL and a third of one. The row's lock serialises
concurrent claims: two nodes never both get a row.

A node that cannot renew (its database out of reach) stops its singletons at once, as it
stops driving its workflows (:mod:`.part`), since another node may take them once its lease
runs out; it claims them back at its next good round if nobody did.

Rejected: an advisory lock per singleton held by the node's connection. It dies with the
connection rather than with the lease, so a node that merely reconnects would lose (and
another gain) its singletons while every other lease-based decision still names it.
"""
from __future__ import annotations

from typing import Iterable

from .db import Db

__all__ = ["Singletons", "owners"]


class Singletons:
    """This node's claims in ``wippy_singletons`` (StorageError when the database fails)."""

    def __init__(self, db: Db, node: str, incarnation: int) -> None:
        self.db = db
        self.node = node
        self.incarnation = incarnation
        self.held: set[str] = set()     # what the last claim gave this node

    def claim(self, ids: Iterable[str]) -> set[str]:
        """Claim ``ids`` (the singletons this node wants to run) and release those it held and
        no longer wants; returns the ids this node holds now. One statement, two when
        something is released."""
        want = sorted(set(ids))
        gone = sorted(self.held - set(want))
        if gone:
            self.release(gone)
        self.held = self._upsert(want) if want else set()
        return set(self.held)

    def claim_one(self, sid: str) -> bool:
        """Claim one singleton (before starting it); True when this node holds it."""
        got = self._upsert([sid])
        self.held |= got
        return sid in got

    def _upsert(self, want: list[str]) -> set[str]:
        rows = self.db.run(lambda c: c.execute(
            "INSERT INTO wippy_singletons AS s (id, node, incarnation) "
            "SELECT unnest(%s::text[]), %s, %s "
            "ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, "
            "  incarnation = EXCLUDED.incarnation, "
            "  since = CASE WHEN s.node = EXCLUDED.node AND s.incarnation = EXCLUDED.incarnation "
            "          THEN s.since ELSE now() END "
            "WHERE (s.node = EXCLUDED.node AND s.incarnation = EXCLUDED.incarnation) "
            "   OR NOT EXISTS (SELECT 1 FROM wippy_nodes n WHERE n.name = s.node "
            "                  AND n.incarnation = s.incarnation AND n.lease_until >= now()) "
            "RETURNING id", (want, self.node, self.incarnation)).fetchall())
        return {r[0] for r in rows}

    def release(self, ids: Iterable[str]) -> None:
        """Give up ``ids`` (no longer wanted here): another node may claim them at once."""
        ids = list(ids)
        self.held -= set(ids)
        if ids:
            self.db.run(lambda c: c.execute(
                "DELETE FROM wippy_singletons WHERE id = ANY(%s) AND node = %s "
                "AND incarnation = %s", (ids, self.node, self.incarnation)))

    def forget_old(self) -> None:
        """Delete the rows of this node's former incarnations (at start)."""
        self.db.run(lambda c: c.execute(
            "DELETE FROM wippy_singletons WHERE node = %s AND incarnation <> %s",
            (self.node, self.incarnation)))



def owners(db: Db) -> dict[str, str]:
    """Every singleton with a live owner: id -> node (``wippy cluster status``)."""
    rows = db.run(lambda c: c.execute(
        "SELECT s.id, s.node FROM wippy_singletons s JOIN wippy_nodes n "
        "ON n.name = s.node AND n.incarnation = s.incarnation AND n.lease_until >= now() "
        "ORDER BY s.id").fetchall())
    return {r[0]: r[1] for r in rows}
