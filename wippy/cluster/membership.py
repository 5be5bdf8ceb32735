"""Membership and leases: who is in the cluster, and who is alive (S12).

Each node has a row in ``wippy_nodes`` under its name, with a lease that ends at
``lease_until``, in the database's clock (the nodes' clocks never meet). A node joins with a
fresh ``incarnation`` (a token from ``wippy_fence``) and renews every TTL/3; a renewal only
touches the row of its own incarnation, so an older process of the same name (one that was
cut off and came back) learns that it has been replaced. A node whose lease has expired is
dead to the others, who take its workflows over (:mod:`wippy.cluster.part`).

Joining under a name whose lease is still live waits for it to run out (a node restarted
right after a kill -9 finds its own former lease), and fails after ``JOIN_WAIT_TTLS`` leases
if a live node keeps renewing it: two nodes never share a name.

Rejected: a consensus protocol among the nodes (Raft, a gossip of heartbeats). The cluster
already depends on one PostgreSQL for its journal; leases in the same database fail together
with it and need no quorum of our own. What this costs: the database is the single point of
failure, as it is for the journal.
"""
from __future__ import annotations

import os
import socket
import time as _time
from typing import Any

from ..errors import ClusterError
from .db import Db
from .notify import Wake, notify_sql

__all__ = ["Membership", "status", "statuses", "peers", "check_name", "DEFAULT_TTL_S",
           "JOIN_WAIT_TTLS"]

DEFAULT_TTL_S = 5.0         # S12: a lease lasts 5 s unless --lease-ttl says otherwise
JOIN_WAIT_TTLS = 2.5        # joining waits at most this many leases for a live name to expire



def check_name(node: str) -> None:
    """Raise ClusterError unless ``node`` can name a node (it becomes part of PIDs)."""
    if not node or "/" in node or "@" in node or "|" in node or len(node) > 64:
        raise ClusterError(f"invalid node name {node!r}: 1 to 64 characters, no '/', '@' "
                           "or '|'")

class Membership:
    """This node's row in ``wippy_nodes``: join, renew, leave."""

    def __init__(self, db: Db, node: str, ttl: float = DEFAULT_TTL_S,
                 address: str | None = None) -> None:
        if ttl <= 0:
            raise ClusterError(f"the lease TTL must be positive, not {ttl}")
        self.db = db
        self.node = node
        self.ttl = ttl
        self.address = address or socket.gethostname()
        self.incarnation: int | None = None
        self.listen: str | None = None      # the peer socket's endpoint, set before join
        self.pubkey: str | None = None      # its CURVE public key

    def join(self) -> int:
        """Take the node's name with a new incarnation and a fresh lease; blocks while another
        live node holds the name (its lease not expired), up to ``JOIN_WAIT_TTLS`` leases.
        Raises ClusterError when the name stays held, StorageError when the database fails."""
        deadline = _time.monotonic() + JOIN_WAIT_TTLS * self.ttl
        while True:
            with self.db.transaction() as cur:
                row = cur.execute(
                    "INSERT INTO wippy_nodes (name, address, pid, incarnation, lease_until, "
                    "  listen, pubkey) "
                    "VALUES (%s, %s, %s, nextval('wippy_fence'), now() + %s * interval '1 second', "
                    "  %s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, "
                    "  pid = EXCLUDED.pid, incarnation = EXCLUDED.incarnation, "
                    "  lease_until = EXCLUDED.lease_until, joined = now(), renewed = now(), "
                    "  listen = EXCLUDED.listen, pubkey = EXCLUDED.pubkey "
                    "WHERE wippy_nodes.lease_until < now() RETURNING incarnation",
                    (self.node, self.address, os.getpid(), self.ttl, self.listen,
                     self.pubkey)).fetchone()
                held = None if row is not None else cur.execute(
                    "SELECT address, pid, extract(epoch FROM lease_until - now()) "
                    "FROM wippy_nodes WHERE name = %s", (self.node,)).fetchone()
            if row is not None:
                self.incarnation = int(row[0])
                return self.incarnation
            left = float(held[2]) if held else 0.0
            if _time.monotonic() + left > deadline:
                raise ClusterError(
                    f"node name {self.node!r} is held by a live node ({held[0] if held else '?'}, "
                    f"pid {held[1] if held else '?'}) that keeps renewing its lease; "
                    "give this node another --node name")
            _time.sleep(min(max(left, 0.01), self.ttl / 3))

    def renew(self) -> bool:
        """Extend the lease by a TTL from now; False when another incarnation of this name has
        replaced us (StorageError when the database fails)."""
        n = self.db.run(lambda c: c.execute(
            "UPDATE wippy_nodes SET lease_until = now() + %s * interval '1 second', "
            "renewed = now() WHERE name = %s AND incarnation = %s",
            (self.ttl, self.node, self.incarnation)).rowcount)
        return n == 1

    def publish(self, ps: str) -> None:
        """Store this node's status (JSON) in its row, for ``wippy ps --cluster``."""
        self.db.run(lambda c: c.execute(
            "UPDATE wippy_nodes SET ps = %s, ps_at = now() WHERE name = %s AND incarnation = %s",
            (ps, self.node, self.incarnation)))

    def live(self) -> int:
        """How many nodes hold a live lease (this one included, if it does)."""
        row = self.db.run(lambda c: c.execute(
            "SELECT count(*) FROM wippy_nodes WHERE lease_until >= now()").fetchone())
        return int(row[0])

    def leave(self) -> None:
        """End the lease now (an orderly stop): the others take this node's unfinished
        workflows over at their next renewal."""
        with self.db.transaction() as cur:
            cur.execute("UPDATE wippy_nodes SET lease_until = now() - interval '1 millisecond' "
                        "WHERE name = %s AND incarnation = %s", (self.node, self.incarnation))
            cur.execute(f"SELECT {notify_sql('%s')}", (f"{Wake.LEFT.value} {self.node}",))


def peers(db: Db) -> list[tuple[str, str | None, str | None, bool, int]]:
    """Every node's (name, listen endpoint, public key, lease live, incarnation)."""
    rows = db.run(lambda c: c.execute(
        "SELECT name, listen, pubkey, lease_until >= now(), incarnation FROM wippy_nodes "
        "ORDER BY name").fetchall())
    return [(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows]


def statuses(db: Db) -> dict[str, tuple[str | None, float | None]]:
    """Every node's last published status (JSON text, or None) and its age in seconds."""
    rows = db.run(lambda c: c.execute(
        "SELECT name, ps, extract(epoch FROM now() - ps_at) FROM wippy_nodes").fetchall())
    return {r[0]: (r[1], None if r[2] is None else round(float(r[2]), 3)) for r in rows}


def status(db: Db) -> list[dict[str, Any]]:
    """Every node: name, address, pid, whether its lease is live, seconds since its last
    renewal, seconds its lease has left (negative: expired), workflows it owns unfinished,
    and where it listens for the other nodes."""
    rows = db.run(lambda c: c.execute(
        "SELECT n.name, n.address, n.pid, n.lease_until >= now(), "
        "       extract(epoch FROM now() - n.renewed), extract(epoch FROM n.lease_until - now()), "
        "       extract(epoch FROM n.joined), "
        "       (SELECT count(*) FROM wippy_workflows w "
        "        WHERE w.owner = n.name AND w.status = 'running'), n.listen "
        "FROM wippy_nodes n ORDER BY n.name").fetchall())
    return [{"node": r[0], "address": r[1], "pid": r[2], "live": bool(r[3]),
             "lease_age": round(float(r[4]), 3), "lease_left": round(float(r[5]), 3),
             "joined": float(r[6]), "workflows": int(r[7]), "listen": r[8]} for r in rows]
