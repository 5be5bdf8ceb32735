"""``wippy registry [APP] list | show ID | history | diff V1 V2 | rollback V``.

``history`` names who made each version (a process with its actor, PID and entry; the files
that changed; the CLI; the API); ``show`` says who wrote an entry at run time.

Against a running node (through a connection; ``rollback`` goes to the node, the single
writer) or, read-only, against a stopped node's data directory. With ``--cluster DSN`` (or
``WIPPY_CLUSTER`` in the environment) ``list``, ``show``, ``history`` and ``diff`` read the
cluster's registry from its PostgreSQL: its history, replayed into a temporary copy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

from .cluster import add_cluster_option, dsn_of

__all__ = ["register", "run", "fmt_author", "SUBCOMMANDS"]


def _from_cluster(dsn: str) -> tuple[Any, Callable[[], None]]:
    """A read-only view of the cluster's registry (its history replayed into a temporary
    LMDB copy) and what removes the copy. Raises SystemExit when there is none."""
    import shutil
    import tempfile

    from ..client import RegistryView
    from ..cluster.db import Db
    from ..cluster.registry import VersionLog
    from ..errors import StorageError
    from ..registry.store import Store
    db = Db(dsn, application="wippy registry")
    try:
        records = [r.record for r in VersionLog(db, "").history()]
    except StorageError as exc:
        if "wippy_registry" in exc.cause:       # a database no node of a cluster used yet
            records = []
        else:
            raise SystemExit(f"wippy registry: {exc}") from None
    finally:
        db.close()
    if not records:
        raise SystemExit(f"wippy registry: the cluster at {db.where} has no registry yet")
    tmp = tempfile.mkdtemp(prefix="wippy-registry-")
    store = Store(os.path.join(tmp, "registry"))
    store.append(records)

    def drop() -> None:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return RegistryView(store), drop


def _open(app: str, data_dir: str | None) -> tuple[Any, Any]:
    """(registry view, connection or None)."""
    from ..client import RegistryView, connect
    from ..core.rundir import data_dir_for, run_dir_for
    from ..errors import NodeError
    from ..registry.store import Store
    if os.path.exists(os.path.join(run_dir_for(app), "ctl")):
        try:
            conn = connect(run_dir_for(app))
            return conn.registry, conn
        except NodeError:
            pass
    path = os.path.join(data_dir_for(app, data_dir), "registry")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        raise SystemExit(f"wippy registry: no node is running for {app} and there is no registry at {path}")
    return RegistryView(Store(path, readonly=True)), None


def _fmt_entry(e: dict[str, Any]) -> str:
    return json.dumps(e, indent=2, sort_keys=True, default=str)


def fmt_author(author: dict[str, Any] | None) -> str:
    """Who made a version, in a few words: ``actor agent:x pid {..} entry app:y``,
    ``file:config/_index.yaml``, ``cli``, ``api`` (``-`` for records older than authors), and
    ``on node n2`` for a version of a cluster."""
    if not author:
        return "-"
    if author.get("node"):          # a version of a cluster: made on that node
        rest = fmt_author({k: v for k, v in author.items() if k != "node"})
        return f"{rest} on node {author['node']}"
    if "files" in author:
        files = author["files"]
        return ", ".join(f"file:{f}" for f in files) if files else "files"
    if "via" in author:
        return str(author["via"])
    who = f"actor {author['actor']}" if author.get("actor") else "process (no actor)"
    return f"{who} pid {author.get('pid')} entry {author.get('entry')}"


SUBCOMMANDS = ("list", "show", "history", "diff", "rollback")


def _version(text: str) -> int:
    return int(text.lstrip("v"))


def register(sub: Any) -> None:
    """Add ``registry`` to the command's subparsers."""
    from .common import add_app, add_data_dir
    p = sub.add_parser("registry", help="read and roll back the registry (running or stopped node)",
                       usage="wippy registry [APP] {list,show,history,diff,rollback} ...",
                       description="The registry's entries and versions: against a running node, "
                                   "or read-only against a stopped node's data directory.")
    add_app(p, positional=False)
    add_data_dir(p)
    rsub = p.add_subparsers(dest="cmd", required=True, metavar="{list,show,history,diff,rollback}")
    ls = rsub.add_parser("list", help="entries of the current version")
    ls.add_argument("--kind", default=None, help="only entries of this kind (process.lua...)")
    ls.add_argument("--ns", default=None, help="only entries of this namespace")
    ls.add_argument("--json", action="store_true", help="print the entries as JSON")
    sh = rsub.add_parser("show", help="one entry")
    sh.add_argument("id", help="the entry id, ns:name")
    rsub.add_parser("history", help="every version, what it changed and who made it").add_argument(
        "--json", action="store_true", help="print the history as JSON")
    df = rsub.add_parser("diff", help="what changed between two versions")
    df.add_argument("v1", type=_version, help="the older version (3 or v3)")
    df.add_argument("v2", type=_version, help="the newer version")
    rb = rsub.add_parser("rollback", help="make an earlier version's contents current (as a new version)")
    rb.add_argument("version", type=_version, help="the version whose contents come back")
    for sp in rsub.choices.values():      # --app after the subcommand too
        sp.add_argument("--app", dest="app_opt", default=argparse.SUPPRESS, metavar="APP",
                        help="the application directory (the same as APP before the subcommand)")
        if sp is not rb:
            add_cluster_option(sp, "read the registry a cluster shares in this PostgreSQL, as "
                                   "WIPPY_CLUSTER does")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    """``wippy registry ...`` with parsed arguments."""
    from .common import app_of, fmt_when
    a.app = app_of(a)
    from ..errors import WippyError
    dsn = dsn_of(a, "wippy registry") if a.cmd != "rollback" else None
    drop: Callable[[], None] | None = None
    if dsn and a.cmd != "rollback":
        (reg, drop), conn = _from_cluster(dsn), None
    else:
        reg, conn = _open(a.app, a.data_dir)
    reg.via = "cli"         # versions made from here are signed "cli"
    try:
        if a.cmd == "list":
            flt = {k: v for k, v in ((".kind", a.kind), (".ns", a.ns)) if v}
            found = sorted(reg.find(flt), key=lambda e: e["id"])
            if a.json:
                print(json.dumps({"version": reg.version(), "entries": found}, indent=2,
                                 default=str))
                return 0
            print(f"registry v{reg.version()}")
            for e in found:
                print(f"  {e['id']:<40} {e['kind']}")
        elif a.cmd == "show":
            print(_fmt_entry(reg.get(a.id)))
            stamp = reg.author(a.id)
            if stamp:
                print(f"written at run time by actor {stamp.get('actor')} (process "
                      f"{stamp.get('pid')}, entry {stamp.get('entry')}) in v{stamp.get('version')}: "
                      "its code runs with no more than that actor's authority")
        elif a.cmd == "history" and a.json:
            print(json.dumps(reg.history(), indent=2, default=str))
        elif a.cmd == "history":
            for h in reg.history():
                when = fmt_when(h.get("time"))
                parts = [f"+{len(h['created'])}", f"~{len(h['updated'])}", f"-{len(h['deleted'])}"]
                print(f"v{h['version']:<5} {when}  {h.get('source') or '-':<16} "
                      f"{' '.join(parts):<12}  by {fmt_author(h.get('author'))}")
                changed = ", ".join(h["created"] + h["updated"] + h["deleted"])
                if changed:
                    print(f"       {changed[:200]}")
        elif a.cmd == "diff":
            old, new = reg.snapshot_at(a.v1), reg.snapshot_at(a.v2)
            from ..registry import build_delta
            for op in build_delta(old.entries(), new.entries()):
                sign = {"entry.create": "+", "entry.update": "~", "entry.delete": "-"}[op["kind"]]
                print(f"{sign} {op['entry']['id']}")
                if op["kind"] == "entry.update":
                    before = old.get(op["entry"]["id"])
                    for key in ("meta", "data"):
                        if before[key] != op["entry"][key]:
                            print(f"    {key}: {json.dumps(before[key], sort_keys=True, default=str)}")
                            print(f"    {' ' * len(key)}  -> {json.dumps(op['entry'][key], sort_keys=True, default=str)}")
        elif a.cmd == "rollback":
            if conn is None:
                print("wippy registry rollback: the node is not running (the registry is read-only)",
                      file=sys.stderr)
                return 1
            version = reg.apply_version(a.version)
            print(f"registry now at {version} (contents of v{a.version})")
    except WippyError as exc:
        print(f"wippy registry: {exc}", file=sys.stderr)
        return 1
    finally:
        if conn is not None:
            conn.close()
        if drop is not None:
            drop()
    return 0
