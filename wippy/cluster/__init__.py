"""Several nodes, one system: the workflow journal, membership and leases in one PostgreSQL
that every node of a cluster names (S12; ``wippy run APP --cluster DSN --node NAME``).

* :mod:`.db`: the connection; :mod:`.schema`: the tables;
* :mod:`.journal`: the shared journal with fencing tokens, and the claims of a takeover;
* :mod:`.membership`: node rows and leases; :mod:`.part`: the node's loop side (renew, take
  over, self-fence); :mod:`.notify`: wake-ups between nodes (LISTEN/NOTIFY);
* :mod:`.registry`: the registry's versions in the cluster's order.

Without ``--cluster`` none of this is loaded: the journal stays in LMDB.
"""
from __future__ import annotations

import socket

from ..errors import ClusterError, StorageError
from .db import Db
from .journal import PgJournal
from .membership import DEFAULT_TTL_S, Membership, check_name
from .notify import Listener
from .schema import ensure

__all__ = ["join", "default_node", "DEFAULT_TTL_S", "Db", "PgJournal", "Membership", "Listener"]


def default_node() -> str:
    """A node's name when none is given: the machine's host name."""
    return socket.gethostname()


def join(dsn: str, node: str, ttl: float = DEFAULT_TTL_S, listen: str | None = None,
         pubkey: str | None = None) -> tuple[PgJournal, Membership]:
    """Connect, create the tables if missing, and join as ``node``: the journal this node
    writes through and its membership (``listen``/``pubkey``: its peer socket, S12). Raises ClusterError (naming the database, never its
    password) when the database cannot be used or the name is held by a live node."""
    check_name(node)
    db = Db(dsn, application=f"wippy node {node}")
    try:
        with db.transaction() as cur:
            ensure(cur)
        membership = Membership(db, node, ttl)
        membership.listen, membership.pubkey = listen, pubkey
        membership.join()
    except StorageError as exc:
        db.close()
        raise ClusterError(f"cannot join the cluster at {db.where}: {exc.cause}") from None
    except ClusterError:
        db.close()
        raise
    return PgJournal(db, node), membership
