"""``wippy workflow [APP] list | show WF | start ENTRY [JSON] | signal WF TOPIC [JSON] | cancel WF``.

``WF`` is a workflow's ID (``3f2a...`` or its PID ``{wf/0|3f2a...}``) or the name it was
started with. ``list`` and ``show`` read the journal (also of a stopped node; a cluster's, in
PostgreSQL, with ``--cluster DSN`` or ``WIPPY_CLUSTER``); ``start``, ``signal`` and ``cancel`` go
through the running node, which journals them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time as _time
from typing import Any

from .cluster import add_cluster_option, dsn_of
from .common import add_app, add_data_dir, app_of, fmt_when, print_json

__all__ = ["register", "run", "SUBCOMMANDS"]

SUBCOMMANDS = ("list", "show", "start", "signal", "cancel")


def _journal(app: str, data_dir: str | None, required: bool = True) -> Any:
    from ..core.rundir import data_dir_for
    from ..workflow.journal import Journal
    path = os.path.join(data_dir_for(app, data_dir), "journal")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        if not required:
            return None
        raise SystemExit(f"wippy workflow: no workflow journal at {path}")
    return Journal(path, readonly=True)


def _shared_journal(dsn: str) -> Any:
    from ..cluster import Db, PgJournal
    return PgJournal(Db(dsn, application="wippy workflow"), "")


def _wf_id(text: str) -> str:
    return text[1:-1].rpartition("|")[2] if text.startswith("{") else text


def resolve(journal: Any, text: str) -> str | None:
    """The workflow ID that ``text`` names: an ID, a PID or a name (None: no such workflow)."""
    wf_id = _wf_id(text)
    if journal.workflow(wf_id) is not None:
        return wf_id
    return journal.by_name(text)


def _node_here(a: argparse.Namespace, app: str, dsn: str) -> str:
    """The node of the cluster that ``start``, ``signal`` and ``cancel`` go through: ``--node``,
    else ``WIPPY_NODE``, else a live node of the cluster that runs ``app`` on this machine
    (any one: a workflow started on any node is the cluster's). Raises ClusterError when
    there is none, StorageError when the database is out of reach."""
    named = a.node or os.environ.get("WIPPY_NODE")
    if named:
        return str(named)
    from ..cluster import Db
    from ..cluster.membership import status
    from ..core.rundir import run_dir_for
    from ..errors import ClusterError
    db = Db(dsn, application="wippy workflow")
    try:
        rows = status(db)
    finally:
        db.close()
    here = sorted(r["node"] for r in rows if r["live"] and os.path.isdir(run_dir_for(app, r["node"])))
    if not here:
        raise ClusterError(f"no live node of the cluster at {db.where} runs {app} on this "
                           "machine: start one (wippy run APP --node NAME) or name one with --node")
    return here[0]


def _payload(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text         # a bare word is a string


def _list(journal: Any, as_json: bool) -> int:
    rows = sorted(journal.workflows(), key=lambda w: w["created"])
    if as_json:
        print_json([{**w, "steps": len(journal.steps(w["id"]))} for w in rows])
        return 0
    print(f"{'ID':<14} {'STATUS':<10} {'ENTRY':<28} {'NAME':<16} {'STEPS':>5}  CREATED")
    for w in rows:
        print(f"{w['id']:<14} {w['status']:<10} {w['entry']:<28} {w['name'] or '-':<16} "
              f"{len(journal.steps(w['id'])):>5}  {fmt_when(w['created'])}")
    return 0


def _show(journal: Any, text: str, as_json: bool) -> int:
    wf_id = resolve(journal, text)
    w = journal.workflow(wf_id) if wf_id else None
    if w is None:
        print(f"wippy workflow: no workflow with the ID or name '{text}'", file=sys.stderr)
        return 1
    if as_json:
        print_json({**w, "steps": journal.steps(wf_id), "signals": journal.signals(wf_id)})
        return 0
    print(f"workflow {w['id']} ({w['entry']} on {w['host']}) {w['status']}"
          + (f", name {w['name']}" if w["name"] else ""))
    print(f"  created {fmt_when(w['created'])}, finished {fmt_when(w['finished'])}")
    print(f"  input  {json.dumps(w['input'], default=str)}")
    if w["status"] != "running":
        print(f"  result {json.dumps(w['result'], default=str)}" if not w["error"]
              else f"  error  {w['error'].get('message')}")
    from ..workflow.replay import recorded_ns
    for i, s in enumerate(journal.steps(w["id"])):
        extra = ""
        if s["op"] == "timer":
            due = recorded_ns(s["result"]) / 10**9    # the journal holds nanoseconds
            left = due - _time.time()
            extra = f" due {fmt_when(due)}" + (f" (pending, {left:.1f} s left)"
                                            if left > 0 and w["status"] == "running" else "")
        res = json.dumps(s.get("result"), default=str)
        print(f"  step {i:<4} {s['op']:<7} {str(s.get('key')):<24} -> "
              f"{res[:60] if not s.get('error') else 'error: ' + s['error'].get('message', '')}{extra}")
    for i, sig in enumerate(journal.signals(w["id"])):
        print(f"  signal {i:<3} {sig['topic']} {json.dumps(sig.get('payload'), default=str)[:60]}"
              f" from {sig.get('from')}")
    return 0


def run(a: argparse.Namespace) -> int:
    """``wippy workflow ...`` with parsed arguments."""
    app = app_of(a)
    if a.cmd in ("list", "show"):
        dsn = dsn_of(a, "wippy workflow")
        journal = _journal(app, a.data_dir) if not dsn else _shared_journal(dsn)
        from ..errors import StorageError
        try:
            return _list(journal, a.json) if a.cmd == "list" else _show(journal, a.wf, a.json)
        except StorageError as exc:
            print(f"wippy workflow: {exc}", file=sys.stderr)
            return 1
        finally:
            journal.close()
    from ..client import connect
    from ..core.pid import make_pid
    from ..core.rundir import run_dir_for
    from ..errors import WippyError
    dsn = dsn_of(a, "wippy workflow")
    try:
        node = _node_here(a, app, dsn) if dsn else None
        wf_id = None
        if a.cmd != "start":
            journal = _shared_journal(dsn) if dsn else _journal(app, a.data_dir, required=False)
            try:
                wf_id = resolve(journal, a.wf) if journal is not None else _wf_id(a.wf)
            finally:
                if journal is not None:
                    journal.close()
            if wf_id is None:
                print(f"wippy workflow: no workflow with the ID or name '{a.wf}'", file=sys.stderr)
                return 1
        conn = connect(run_dir_for(app, node))
    except WippyError as exc:
        print(f"wippy workflow: {exc}", file=sys.stderr)
        return 1
    try:
        if a.cmd == "start":
            pid = conn.workflow_start(a.entry, _payload(a.input), a.name)
            print(pid)
            if a.wait:
                result = conn.workflow_result(pid)
                print(result if isinstance(result, str) else json.dumps(result, default=str))
            return 0
        assert wf_id is not None
        pid = make_pid("wf", 0, wf_id)
        if a.cmd == "signal":
            conn.send(pid, a.topic, _payload(a.payload))
            print(f"signal {a.topic} sent to {pid}")
        else:
            conn.workflow_cancel(pid)
            print(f"workflow {pid} cancelled")
    except WippyError as exc:
        print(f"wippy workflow: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


def register(sub: Any) -> None:
    """Add ``workflow`` to the command's subparsers."""
    p = sub.add_parser("workflow", help="list, inspect, start, signal and cancel durable workflows",
                       usage="wippy workflow [APP] {list,show,start,signal,cancel} ...",
                       description="Durable workflows. WF is a workflow's ID, its PID or the name "
                                   "it was started with. list and show read the journal (also of "
                                   "a stopped node); start, signal and cancel need the running node.")
    add_app(p, positional=False)
    add_data_dir(p)
    wsub = p.add_subparsers(dest="cmd", required=True, metavar="{list,show,start,signal,cancel}")
    ls = wsub.add_parser("list", help="every workflow and its state")
    ls.add_argument("--json", action="store_true", help="print the workflows as JSON")
    add_cluster_option(ls, "read the journal a cluster shares in this PostgreSQL, as "
                           "WIPPY_CLUSTER does")
    sh = wsub.add_parser("show", help="one workflow: its steps, pending timer, signals")
    sh.add_argument("wf", metavar="WF", help="the workflow's ID, PID or name")
    sh.add_argument("--json", action="store_true", help="print the workflow and its journal as JSON")
    add_cluster_option(sh, "read the journal a cluster shares in this PostgreSQL, as "
                           "WIPPY_CLUSTER does")
    st = wsub.add_parser("start", help="start a workflow entry; prints its PID")
    st.add_argument("entry", metavar="ENTRY", help="a workflow.py or workflow.lua entry (ns:name)")
    st.add_argument("input", nargs="?", default=None, metavar="JSON",
                    help="its input, as JSON (a bare word is a string)")
    st.add_argument("--name", default=None,
                    help="a name that makes the start idempotent (the same workflow comes back)")
    st.add_argument("--wait", action="store_true", help="wait for its result and print it")
    sg = wsub.add_parser("signal", help="send a message to a workflow (journaled)")
    sg.add_argument("wf", metavar="WF", help="the workflow's ID, PID or name")
    sg.add_argument("topic", help="the message's topic")
    sg.add_argument("payload", nargs="?", default=None, metavar="JSON",
                    help="the payload, as JSON (a bare word is a string)")
    cn = wsub.add_parser("cancel", help="stop a workflow for good")
    cn.add_argument("wf", metavar="WF", help="the workflow's ID, PID or name")
    for sp in (st, sg, cn):
        add_cluster_option(sp, "go through a node of the cluster in this PostgreSQL that runs "
                               "APP on this machine, as WIPPY_CLUSTER does")
        sp.add_argument("--node", default=None, metavar="NAME",
                        help="with --cluster: the node to go through (default: WIPPY_NODE, "
                             "else any live one running APP here)")
    for sp in wsub.choices.values():      # --app after the subcommand too
        sp.add_argument("--app", dest="app_opt", default=argparse.SUPPRESS, metavar="APP",
                        help="the application directory (the same as APP before the subcommand)")
    p.set_defaults(func=run)
