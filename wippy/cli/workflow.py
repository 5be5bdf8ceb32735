"""``wippy workflow list | show ID | signal ID TOPIC [PAYLOAD] | cancel ID``.

``list`` and ``show`` read the journal (also of a stopped node); ``signal`` and ``cancel`` go
through the running node, which journals them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time as _time
from typing import Any

__all__ = ["main"]


def _journal(app: str, data_dir: str | None) -> Any:
    from ..core.rundir import data_dir_for
    from ..workflow.journal import Journal
    path = os.path.join(data_dir_for(app, data_dir), "journal")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        raise SystemExit(f"wippy workflow: no workflow journal at {path}")
    return Journal(path, readonly=True)


def _when(t: float | None) -> str:
    return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(t)) if t else "-"


def _wf_id(text: str) -> str:
    return text[1:-1].rpartition("|")[2] if text.startswith("{") else text


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="wippy workflow")
    p.add_argument("--app", default=".", help="application directory (default: .)")
    p.add_argument("--data-dir", default=None)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="every workflow and its state")
    sh = sub.add_parser("show", help="one workflow: its steps, pending timer, signals")
    sh.add_argument("id")
    sg = sub.add_parser("signal", help="send a message to a workflow (journaled)")
    sg.add_argument("id")
    sg.add_argument("topic")
    sg.add_argument("payload", nargs="?", default=None, help="JSON (a bare word is a string)")
    cn = sub.add_parser("cancel", help="stop a workflow for good")
    cn.add_argument("id")
    a = p.parse_args(argv)
    if a.cmd in ("list", "show"):
        journal = _journal(a.app, a.data_dir)
        try:
            if a.cmd == "list":
                rows = sorted(journal.workflows(), key=lambda w: w["created"])
                print(f"{'ID':<14} {'STATUS':<10} {'ENTRY':<28} {'NAME':<16} {'STEPS':>5}  CREATED")
                for w in rows:
                    print(f"{w['id']:<14} {w['status']:<10} {w['entry']:<28} {w['name'] or '-':<16} "
                          f"{len(journal.steps(w['id'])):>5}  {_when(w['created'])}")
                return 0
            w = journal.workflow(_wf_id(a.id))
            if w is None:
                print(f"wippy workflow: no workflow {a.id}", file=sys.stderr)
                return 1
            print(f"workflow {w['id']} ({w['entry']} on {w['host']}) {w['status']}"
                  + (f", name {w['name']}" if w["name"] else ""))
            print(f"  created {_when(w['created'])}, finished {_when(w['finished'])}")
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
                    extra = f" due {_when(due)}" + (f" (pending, {left:.1f} s left)"
                                                    if left > 0 and w["status"] == "running" else "")
                res = json.dumps(s.get("result"), default=str)
                print(f"  step {i:<4} {s['op']:<7} {str(s.get('key')):<24} -> "
                      f"{res[:60] if not s.get('error') else 'error: ' + s['error'].get('message', '')}{extra}")
            for i, sig in enumerate(journal.signals(w["id"])):
                print(f"  signal {i:<3} {sig['topic']} {json.dumps(sig.get('payload'), default=str)[:60]}"
                      f" from {sig.get('from')}")
            return 0
        finally:
            journal.close()
    from ..client import connect
    from ..core.pid import make_pid
    from ..core.rundir import run_dir_for
    from ..errors import WippyError
    try:
        conn = connect(run_dir_for(a.app))
    except WippyError as exc:
        print(f"wippy workflow: {exc}", file=sys.stderr)
        return 1
    try:
        pid = make_pid("wf", 0, _wf_id(a.id))
        if a.cmd == "signal":
            payload: Any = a.payload
            if payload is not None:
                try:
                    payload = json.loads(payload)
                except ValueError:
                    pass
            conn.send(pid, a.topic, payload)
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
