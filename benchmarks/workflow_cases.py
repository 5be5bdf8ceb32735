"""The ``workflow`` case (S8, S11): durable steps per second, step latency, recovery.

* floor ``lmdb-fsync``: one LMDB write transaction (fsync'd, LMDB's defaults) per step of a
  ~100-byte JSON record: what a journal without group commit pays.
* wippy ``steps_per_s``: 1,000 workflows at once (200 with ``--quick``), 40 activities each
  (10), as ``steps_per_s_50``; timed from the first workflow's start to the last one's finish
  as the journal records them (the client starts and collects them one round trip each).
* wippy ``steps_per_s_50``: W workflows at once, each S activities (``funcs.call`` of a trivial
  ``function.py``); every step is journaled by the node (fsync'd LMDB, group commit: one
  transaction per node loop turn for every step that arrived in it) before the workflow sees
  its result. Wall time from the first start to the last result, over W x S steps.
* wippy ``step_latency_us``: one workflow alone, S sequential steps: wall time / S (an
  activity call plus a journal round trip through the node and its fsync).
* wippy ``recovery_s``: N workflows each journal one step and wait for a signal; the node is
  killed (SIGKILL) and started again on the same data; ``recovery_s`` is the time from the
  new node's start until every workflow, replayed, has received a signal sent right after the
  boot and finished, as the journal records it (the last ``finished`` time; 10,000
  workflows, 1,000 with ``--quick``). Its report adds ``boot_s`` (until the node is ready:
  the journal read and every workflow launched again), ``signals_s`` (the client's signals,
  one call each) and ``with_client_s``: until the client has collected every result, one
  call (a round trip to the node) per workflow, ``results_s`` of it. That collection is the
  client's pace, not the node's, so it is not the row's figure.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from ._harness import Ctx, Unit, short_tmpdir

__all__ = ["UNITS"]

_CASE = "workflow"
APP = Path(__file__).resolve().parent / "app" / "workflow"


def _sizes(quick: bool) -> dict[str, int]:
    return ({"floor": 300, "W": 20, "S": 20, "F": 200, "FS": 10, "lat": 200, "N": 1000} if quick
            else {"floor": 2000, "W": 50, "S": 100, "F": 1000, "FS": 40, "lat": 1000, "N": 10_000})


def floor(ctx: Ctx) -> None:
    from wippy.registry.store import open_env
    d = short_tmpdir("lmdb-")
    env = open_env(d, 2)
    db = env.open_db(b"steps")
    n = _sizes(ctx.quick)["floor"]
    rec = json.dumps({"op": "call", "key": "bwf:act", "result": 1, "error": None, "pad": "x" * 40}).encode()
    t = time.perf_counter()
    for i in range(n):
        with env.begin(write=True, db=db) as txn:
            txn.put(b"w\0" + i.to_bytes(8, "big"), rec)
    dt = time.perf_counter() - t
    env.close()
    shutil.rmtree(d, ignore_errors=True)
    ctx.add(_CASE, "floor:lmdb-fsync", "steps_per_s", n / dt, "steps/s", n=n)
    ctx.add(_CASE, "floor:lmdb-fsync", "step_latency_us", dt / n * 1e6, "us", n=n)


def _app() -> str:
    d = short_tmpdir("wfapp-")
    for f in APP.iterdir():
        shutil.copy2(f, d)
    return d


def _span(app: str, pids: list[str]) -> float:
    """Seconds from the first start to the last finish of these workflows, as their journal
    records have them (the node's clock: the client's calls to start and collect them, one
    round trip each, are not in it)."""
    from wippy.core.pid import parse_pid
    from wippy.workflow.journal import Journal
    j = Journal(os.path.join(app, ".wippy", "data", "journal"), readonly=True)
    recs = [j.workflow(parse_pid(p).local) for p in pids]
    j.close()
    return max(r["finished"] for r in recs if r) - min(r["created"] for r in recs if r)


def wippy_cases(ctx: Ctx) -> None:
    import wippy
    sz = _sizes(ctx.quick)
    app = _app()
    with ctx.attempt(_CASE, "wippy"):
        with wippy.Node(app, boot_timeout=120) as node:
            assert node.process is not None
            ctx.place(node.process.pid, "node")
            # throughput: W workflows at once
            t = time.perf_counter()
            pids = [node.workflow_start("bwf:steps", sz["S"]) for _ in range(sz["W"])]
            for p in pids:
                node.workflow_result(p, timeout=600)
            dt = time.perf_counter() - t
            ctx.add(_CASE, "wippy", "steps_per_s_50", sz["W"] * sz["S"] / dt, "steps/s",
                    workflows=sz["W"], steps_each=sz["S"])
            # throughput with 1,000 in flight (S11's condition), timed by the node's journal
            fpids = [node.workflow_start("bwf:steps", sz["FS"]) for _ in range(sz["F"])]
            for p in fpids:
                node.workflow_result(p, timeout=600)
            ctx.add(_CASE, "wippy", "steps_per_s", sz["F"] * sz["FS"] / _span(app, fpids),
                    "steps/s", workflows=sz["F"], steps_each=sz["FS"],
                    what="first start to last finish as the journal records them")
            # latency: one workflow alone
            t = time.perf_counter()
            node.workflow_result(node.workflow_start("bwf:steps", sz["lat"]), timeout=600)
            dt = time.perf_counter() - t
            ctx.add(_CASE, "wippy", "step_latency_us", dt / sz["lat"] * 1e6, "us", steps=sz["lat"])
            # recovery: N parked workflows, then kill -9 of the node
            parked = [node.workflow_start("bwf:parked", None, name=f"p{i}") for i in range(sz["N"])]
            from wippy.workflow.journal import Journal
            jpath = os.path.join(app, ".wippy", "data", "journal")
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                j = Journal(jpath, readonly=True)
                done = sum(1 for w in j.workflows() if w["entry"] == "bwf:parked" and j.steps(w["id"]))
                j.close()
                if done == sz["N"]:
                    break
                time.sleep(0.2)
            proc = node.process
            assert proc is not None
            root = psutil.Process(proc.pid)
            tree = root.children(recursive=True)
            node.close()
            root.send_signal(signal.SIGKILL)
            proc.wait(10)
            psutil.wait_procs(tree, timeout=10)
            node.process = None
        t, t_wall = time.perf_counter(), time.time()
        with wippy.Node(app, boot_timeout=120) as node:
            t_boot = time.perf_counter()
            for p in parked:
                node.send(p, "go", 1)
            t_sent = time.perf_counter()
            for p in parked:
                node.workflow_result(p, timeout=600)
            dt = time.perf_counter() - t
        j = Journal(jpath, readonly=True)
        last = max(w["finished"] or 0.0 for w in j.workflows() if w["entry"] == "bwf:parked")
        j.close()
        ctx.add(_CASE, "wippy", "recovery_s", last - t_wall, "s", workflows=sz["N"],
                boot_s=round(t_boot - t, 3), signals_s=round(t_sent - t_boot, 3),
                with_client_s=round(dt, 3), results_s=round(t - t_sent + dt, 3),
                what="node start -> the last workflow finished, replayed and signalled (its "
                     "journal record's time); boot_s: until the node is ready; signals_s: one "
                     "signal each from the client; with_client_s: until the client has "
                     "collected every result, one call each (results_s of it)")
    shutil.rmtree(app, ignore_errors=True)


def run_workflow(ctx: Ctx, cases: tuple[str, ...]) -> None:
    ctx.place(os.getpid(), "client (case runner)")
    floor(ctx)
    wippy_cases(ctx)


UNITS: list[Unit] = [
    Unit("wippy.workflow", "wippy", (_CASE,), ("wippy", "floor:lmdb-fsync"), run_workflow, 600, 3600),
]
