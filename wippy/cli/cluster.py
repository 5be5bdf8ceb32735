"""``wippy cluster status [--cluster DSN] [--json]``: the nodes of a cluster, read from its
PostgreSQL (``WIPPY_CLUSTER`` when ``--cluster`` is not given): name, machine, the address it
listens on for the other nodes, pid, whether its lease is live, seconds since its last
renewal, and the unfinished workflows it owns; which node runs each singleton service, and how
many process names are bound cluster-wide.

Every command that reads a cluster (``cluster status``, ``ps``, ``workflow list|show``,
``registry list|show|history|diff``) takes ``--cluster`` the same way
(:func:`add_cluster_option`): ``--cluster DSN``, or a bare ``--cluster`` for
``WIPPY_CLUSTER``."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import print_json

__all__ = ["register", "run", "dsn_of", "add_cluster_option"]


def add_cluster_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--cluster [DSN]`` on ``p``: a bare ``--cluster`` means ``WIPPY_CLUSTER``."""
    p.add_argument("--cluster", nargs="?", const="", default=None, metavar="DSN",
                   help=f"{help} (a bare --cluster: WIPPY_CLUSTER)")


def dsn_of(a: argparse.Namespace, command: str = "wippy") -> str | None:
    """The cluster's DSN: ``--cluster DSN``, else ``WIPPY_CLUSTER`` (None: neither). A bare
    ``--cluster`` without ``WIPPY_CLUSTER`` ends the command with a message and exit code 2."""
    given = getattr(a, "cluster", None)
    dsn = given or os.environ.get("WIPPY_CLUSTER") or None
    if given == "" and dsn is None:
        print(f"{command}: --cluster needs the cluster's database: --cluster DSN or "
              "WIPPY_CLUSTER", file=sys.stderr)
        raise SystemExit(2)
    return dsn


def format_status(rows: list[dict[str, Any]], orphans: int,
                  singletons: dict[str, str] | None = None) -> str:
    """The table ``wippy cluster status`` prints."""
    lines = [f"{'NODE':<16} {'STATE':<8} {'MACHINE':<16} {'LISTENS ON':<21} {'PID':>7} "
             f"{'RENEWED':>9} {'LEASE LEFT':>10} {'WORKFLOWS':>9}"]
    for r in rows:
        listen = (r.get("listen") or "-").removeprefix("tcp://")
        lines.append(f"{r['node']:<16} {'live' if r['live'] else 'expired':<8} "
                     f"{r['address']:<16} {listen:<21} {r['pid']:>7} {r['lease_age']:>7.1f} s "
                     f"{max(r['lease_left'], 0.0):>8.1f} s {r['workflows']:>9}")
    lines.append(f"{len(rows)} node(s), {sum(1 for r in rows if r['live'])} live; "
                 f"{sum(r['workflows'] for r in rows)} unfinished workflow(s), "
                 f"{orphans} waiting to be taken over")
    if singletons:
        lines.append("singletons: " + ", ".join(f"{s} on {n}" for s, n in singletons.items()))
    return "\n".join(lines)


def run(a: argparse.Namespace) -> int:
    """``wippy cluster ...`` with parsed arguments."""
    dsn = dsn_of(a, "wippy cluster")
    if not dsn:
        print("wippy cluster: name the cluster's database with --cluster DSN or WIPPY_CLUSTER",
              file=sys.stderr)
        return 2
    from ..cluster import Db
    from ..cluster.membership import status
    from ..cluster.names import live_count
    from ..cluster.singletons import owners
    from ..errors import StorageError
    db = Db(dsn, application="wippy cluster status")
    try:
        rows = status(db)
        orphans = sum(r["workflows"] for r in rows if not r["live"])
        try:
            singletons, names = owners(db), live_count(db)
        except StorageError:        # a cluster of an older version: no such tables yet
            singletons, names = {}, 0
    except StorageError as exc:
        missing = "does not exist" in exc.cause
        print(f"wippy cluster: {'no cluster in ' + db.where if missing else exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if a.json:
        print_json({"nodes": rows, "orphans": orphans, "singletons": singletons,
                    "names": names})
    else:
        print(format_status(rows, orphans, singletons))
    return 0


def register(sub: Any) -> None:
    """Add ``cluster`` to the command's subparsers."""
    p = sub.add_parser("cluster", help="the nodes of a cluster (on PostgreSQL) and their leases",
                       usage="wippy cluster status [--cluster [DSN]] [--json]",
                       description="Nodes that name the same PostgreSQL with `wippy run APP "
                                   "--cluster DSN --node NAME` form one cluster; this reads it "
                                   "from the database (no node needs to run).")
    csub = p.add_subparsers(dest="cmd", required=True, metavar="{status}")
    st = csub.add_parser("status", help="nodes, addresses, lease ages, workflows owned")
    add_cluster_option(st, "the cluster's PostgreSQL")
    st.add_argument("--json", action="store_true", help="print the nodes as JSON")
    p.set_defaults(func=run)
