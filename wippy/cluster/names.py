"""Cluster-wide process names (S12): one binding per name in the whole cluster, in
``wippy_process_names`` (name -> the PID as its node writes it, the node, and that node's
incarnation).

* **Registering** claims the row in one statement: it is taken when free, when it is this
  node's already, or when its node's incarnation holds no live lease (a binding of a dead or
  restarted node is free again); otherwise the registration is refused naming the holder, as
  a name held on the same node is. The claim and every drop notify the other nodes
  (:class:`~wippy.cluster.notify.Wake` ``names``).
* **Reads are local.** Every node keeps a copy of the live bindings of the others (their PIDs
  qualified with their node, ``{n2@app:procs/1|7}``) in its name table, which its hosts mirror
  as they mirror the node's own names: ``lookup`` and ``send`` to a name cost no round trip
  and stay as fast as on one node. The copy is read again (:meth:`ClusterNames.sync`, one
  statement) when a notification says a binding changed, and at every lease round (TTL/3),
  which is also how the bindings of a node whose lease expired disappear.
* **The binding dies with its process** (the node deletes it when the process exits or its
  OS process dies) **and with its node** (a row whose incarnation is not live is ignored by
  reads and free for claims; a node that starts again deletes its former incarnation's rows).

Rejected: asking the database at each lookup or at each miss. ``lookup`` is a synchronous
call in Python and Lua, and a send to a name must not cost a round trip on the sending
process's path; names are few (services, well-known processes), so a full copy per node is
small. What this costs: a name bound on another node is visible here once the notification
arrived (tens of milliseconds), not when ``register`` returns there; a name of a dead node
stays in the copies until its lease expires (messages to it are dropped as to any PID of a
dead node).
"""
from __future__ import annotations

from typing import Iterable

from .db import Db
from .notify import Wake, notify_sql

__all__ = ["ClusterNames", "reconcile", "qualify", "live_count"]

_LIVE = ("EXISTS (SELECT 1 FROM wippy_nodes n WHERE n.name = {t}.node "
         "AND n.incarnation = {t}.incarnation AND n.lease_until >= now())")
_NOTIFY = f"SELECT {notify_sql(repr(Wake.NAMES.value))}"


def qualify(node: str, pid: str) -> str:
    """``pid`` of node ``node`` as the other nodes name it (S12: ``{node@host/serial|id}``)."""
    return "{" + node + "@" + pid[1:]


def reconcile(bound: dict[str, str], live: dict[str, tuple[str, str]],
              me: str) -> tuple[list[str], list[str], list[str]]:
    """Compare this node's cluster-wide names (``bound``: name -> local PID) with the live
    bindings of the database (``live``: name -> (node, PID)). Returns ``(lost, missing,
    stale)``: names bound here that another node now holds (drop them here), names bound here
    with no live row of this node (claim them again: a write that failed, or a lease that
    lapsed), and this node's rows that nothing here holds any more (delete them)."""
    lost, missing = [], []
    for name, pid in bound.items():
        row = live.get(name)
        if row is not None and row[0] != me:
            lost.append(name)
        elif row != (me, pid):
            missing.append(name)
    stale = [name for name, (node, _) in live.items() if node == me and name not in bound]
    return sorted(lost), sorted(missing), sorted(stale)


def live_count(db: Db) -> int:
    """How many names are bound to live nodes (``wippy cluster status``)."""
    row = db.run(lambda c: c.execute(
        f"SELECT count(*) FROM wippy_process_names p WHERE {_LIVE.format(t='p')}").fetchone())
    return int(row[0])


class ClusterNames:
    """This node's side of ``wippy_process_names``; every method is one or two statements on
    the node's loop and raises StorageError when the database fails."""

    def __init__(self, db: Db, node: str, incarnation: int) -> None:
        self.db = db
        self.node = node
        self.incarnation = incarnation
        self.syncs = 0            # reads of the bindings, since start
        self.claims = 0           # successful claims

    def forget_old(self) -> None:
        """Delete the rows of this node's former incarnations (at start)."""
        self.db.run(lambda c: c.execute(
            "DELETE FROM wippy_process_names WHERE node = %s AND incarnation <> %s",
            (self.node, self.incarnation)))

    def claim(self, name: str, pid: str) -> str | None:
        """Bind ``name`` to this node's ``pid`` unless a live binding of another node holds
        it; returns that holder's qualified PID instead (and changes nothing)."""
        got = self.db.run(lambda c: c.execute(
            "WITH b AS (INSERT INTO wippy_process_names AS p (name, pid, node, incarnation) "
            "  VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, "
            "  node = EXCLUDED.node, incarnation = EXCLUDED.incarnation "
            "  WHERE (p.node = EXCLUDED.node AND p.incarnation = EXCLUDED.incarnation) "
            f"    OR NOT {_LIVE.format(t='p')} RETURNING 1) "
            f"{_NOTIFY} FROM b", (name, pid, self.node, self.incarnation)).fetchall())
        if got:
            self.claims += 1
            return None
        row = self.db.run(lambda c: c.execute(
            "SELECT node, pid FROM wippy_process_names WHERE name = %s", (name,)).fetchone())
        # gone in between (its holder dropped it): refused all the same; a retry takes it
        return qualify(row[0], row[1]) if row is not None else "another node's process"

    def bind(self, name: str, pid: str) -> None:
        """Bind ``name`` to this node's ``pid`` whoever held it (a singleton service's entry
        id: the claim of the singleton already made this node its only runner)."""
        self.db.run(lambda c: c.execute(
            "WITH b AS (INSERT INTO wippy_process_names (name, pid, node, incarnation) "
            "  VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, "
            "  node = EXCLUDED.node, incarnation = EXCLUDED.incarnation RETURNING 1) "
            f"{_NOTIFY} FROM b", (name, pid, self.node, self.incarnation)))

    def drop(self, names: Iterable[str]) -> None:
        """Delete this node's bindings of ``names`` (their process ended or unregistered)."""
        names = list(names)
        if names:
            self.db.run(lambda c: c.execute(
                "WITH d AS (DELETE FROM wippy_process_names WHERE name = ANY(%s) "
                "  AND node = %s AND incarnation = %s RETURNING 1) "
                f"{_NOTIFY} FROM (SELECT 1 FROM d LIMIT 1) x",
                (names, self.node, self.incarnation)))

    def drop_any(self, name: str) -> None:
        """Delete the binding of ``name`` whichever node holds it (``unregister`` of a name
        of another node: that node drops it from its table at its next read)."""
        self.db.run(lambda c: c.execute(
            "WITH d AS (DELETE FROM wippy_process_names WHERE name = %s RETURNING 1) "
            f"{_NOTIFY} FROM d", (name,)))

    def read(self) -> dict[str, tuple[str, str]]:
        """Every live binding: name -> (node, PID as that node writes it)."""
        self.syncs += 1
        rows = self.db.run(lambda c: c.execute(
            "SELECT p.name, p.node, p.pid FROM wippy_process_names p "
            f"WHERE {_LIVE.format(t='p')}").fetchall())
        return {r[0]: (r[1], r[2]) for r in rows}

    def sync(self, bound: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """Read the live bindings and repair this node's (see :func:`reconcile`); returns
        the other nodes' names (name -> qualified PID) and the names bound here that this
        node has lost (held elsewhere now: drop them here)."""
        live = self.read()
        lost, missing, stale = reconcile(bound, live, self.node)
        for name in missing:
            holder = self.claim(name, bound[name])
            if holder is not None:
                lost.append(name)
            else:
                live[name] = (self.node, bound[name])
        if stale:
            self.drop(stale)
        remote = {name: qualify(node, pid) for name, (node, pid) in live.items()
                  if node != self.node}
        return remote, lost
