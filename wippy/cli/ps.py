"""``wippy ps [APP] [--json] [--watch]``: the node's status as a table, once or every interval;
``wippy ps --cluster [DSN]``: every node of a cluster, as each last published it (see
:mod:`wippy.node.published`)."""
from __future__ import annotations

import argparse
import sys
import time as _time
from typing import Any

from .cluster import add_cluster_option, dsn_of
from .common import (
    add_app,
    app_of,
    connect_or_none,
    fmt_bytes,
    fmt_cpu,
    host_label,
    print_json,
    until_interrupted,
)

__all__ = ["format_ps", "format_cluster_ps", "cluster_ps", "register"]

CLEAR = "\x1b[H\x1b[2J"      # cursor home, clear screen (ANSI)


def format_ps(ps: dict[str, Any]) -> str:
    """``wippy ps``'s table of a node's status (``Connection.ps()``)."""
    lines = []
    node = ps["node"]
    denied = (node.get("denied") or 0) + sum(h.get("denied") or 0 for h in ps["hosts"])
    lines.append(f"node pid {node['pid']}  app {node['app_dir']}  up {node['uptime']:.0f}s  "
                 f"registry v{node.get('registry_version')}  denied {denied}"
                 + ("  (strict)" if node.get("strict") else ""))
    cl = node.get("cluster")
    if cl:
        lines.append(f"cluster node {cl['node']} at {cl['database']}  driving {cl['driving']} "
                     f"workflow(s), {cl['taken_over']} taken over, lease renewed "
                     f"{cl['renewed_ago']:.1f}s ago (TTL {cl['lease_ttl']:g}s)"
                     + ("  FENCED: the database is out of reach" if cl["fenced"] else ""))
    obs = node.get("observe")
    if obs:
        lines.append(f"observer {obs['url']}  os pid {obs['os_pid']}  {obs['state']}, "
                     f"{obs['restarts']} restart(s), "
                     + ("operator actions with the token" if obs.get("writable") else "read-only"))
    lines.append(f"{'HOST':<28} {'STATE':<9} {'OS PID':>7} {'CPU%':>6} {'RSS':>10} {'PROCS':>6} "
                 f"{'RESTARTS':>8} {'DENIED':>6}")
    for h in ps["hosts"]:
        procs = h.get("processes")
        count = len(procs) if procs is not None else h.get("count", 0)
        lines.append(f"{host_label(h):<28} {h.get('state', '-'):<9} "
                     f"{h['os_pid']:>7} {fmt_cpu(h.get('cpu')):>6} {fmt_bytes(h.get('rss')):>10} "
                     f"{count:>6} {h.get('restarts', 0):>8} {h.get('denied') or 0:>6}")
        for p in procs or []:
            names = f" ({', '.join(p['names'])})" if p.get("names") else ""
            lines.append(f"    {p['pid']:<34} {p['entry']}{names}  mailbox {p['mailbox']}")
        if h.get("last_failure"):
            lines.append(f"    last failure: {h['last_failure']}")
    for sup in ps.get("supervisors", []):
        lines.append(f"supervisor {sup['id']} ({sup['strategy']}, intensity {sup['intensity']} per "
                     f"{sup['period']:g}s) {sup['state']}, {sup['restarts']} restart(s)"
                     + (f", under {sup['parent']}" if sup.get("parent") else "")
                     + (f"; last error: {sup['last_error']}" if sup.get("last_error") else ""))
        for c in sup["children"]:
            lines.append(f"    {c['kind']:<10} {c['id']} ({c['restart']})")
    if ps.get("services"):
        lines.append(f"{'SERVICE':<28} {'STATE':<9} {'RESTARTS':>8}  PID / LAST ERROR")
        for s in ps["services"]:
            lines.append(f"{s['id']:<28} {s['state']:<9} {s['restarts']:>8}  {s['pid'] or ''}"
                         + (f"  last error: {s['last_error']}" if s.get("last_error") else ""))
    wf = ps.get("workflows") or {}
    if wf.get("running"):
        lines.append(f"workflows running {wf['running']}, {wf.get('steps', 0)} step(s) journaled "
                     "since the node started")
    return "\n".join(lines)


def format_cluster_ps(nodes: list[dict[str, Any]]) -> str:
    """``wippy ps --cluster``'s text: per node, its lease and its last published status."""
    out = []
    for n in nodes:
        head = (f"== node {n['node']} ({n['address']}, pid {n['pid']}) "
                + (f"lease live, renewed {n['lease_age']:.1f}s ago" if n["live"]
                   else f"DOWN: lease expired {-n['lease_left']:.1f}s ago"))
        ps = n.get("ps")
        if ps is None:
            out.append(head + "; no status published yet")
            continue
        out.append(head + f"; status {n['ps_age']:.1f}s old")
        if n["live"]:
            out.append(format_ps(ps))
    live = sum(1 for n in nodes if n["live"])
    procs = sum(h.get("count") or 0 for n in nodes if n["live"] and n.get("ps")
                for h in n["ps"]["hosts"])
    out.append(f"{len(nodes)} node(s), {live} live, {procs} process(es) on the live ones")
    return "\n".join(out)


def cluster_ps(dsn: str) -> list[dict[str, Any]]:
    """Every node's row (``wippy cluster status``'s) with its last published status under
    ``ps`` (None before its first) and that status's age in seconds under ``ps_age``."""
    import json

    from ..cluster import Db
    from ..cluster.membership import status, statuses
    db = Db(dsn, application="wippy ps --cluster")
    try:
        rows, published = status(db), statuses(db)
    finally:
        db.close()
    for r in rows:
        text, age = published.get(r["node"], (None, None))
        r["ps"], r["ps_age"] = (json.loads(text) if text else None), age
    return rows


def _ps_cluster(a: argparse.Namespace) -> int:
    from ..errors import StorageError
    dsn = dsn_of(a, "wippy ps")
    if not dsn:
        print("wippy ps: --cluster needs the cluster's database: --cluster DSN or WIPPY_CLUSTER",
              file=sys.stderr)
        return 2

    def once() -> int:
        try:
            nodes = cluster_ps(dsn)
        except StorageError as exc:
            print(f"wippy ps: {exc}", file=sys.stderr)
            return 1
        if a.json:
            print_json({"nodes": nodes})
        else:
            print(format_cluster_ps(nodes), flush=True)
        return 0

    if not a.watch:
        return once()
    tty = sys.stdout.isatty()

    def watch() -> int:
        while True:
            if tty and not a.json:
                print(CLEAR, end="")
            once()
            _time.sleep(a.interval)

    return until_interrupted("wippy ps", watch)


def _ps(a: argparse.Namespace) -> int:
    if a.cluster is not None:
        return _ps_cluster(a)
    conn = connect_or_none(app_of(a), "wippy ps")
    if conn is None:
        return 1
    with conn:
        if not a.watch:
            ps = conn.ps()
            print_json(ps) if a.json else print(format_ps(ps))
            return 0
        tty = sys.stdout.isatty()

        def watch() -> int:
            while True:
                ps = conn.ps()
                if a.json:
                    import json
                    print(json.dumps(ps, default=str), flush=True)     # one object per line
                else:
                    print((CLEAR if tty else "\n") + format_ps(ps), flush=True)
                _time.sleep(a.interval)

        return until_interrupted("wippy ps", watch)


def register(sub: Any) -> None:
    """Add ``ps`` to the command's subparsers."""
    p = sub.add_parser("ps", help="the running node's hosts, processes, services",
                       description="Show the running node's hosts (OS pid, CPU, RSS, processes, "
                                   "restarts), its processes, supervisors and services.")
    add_app(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("-w", "--watch", action="store_true",
                   help="print it again every --interval seconds until Ctrl-C (for a live, "
                        "sortable view with rates: wippy top)")
    p.add_argument("-n", "--interval", type=float, default=1.0, metavar="S",
                   help="seconds between two prints with --watch (default 1)")
    add_cluster_option(p, "every node of the cluster in this PostgreSQL, as each last "
                          "published its status (every lease round)")
    p.set_defaults(func=_ps)
