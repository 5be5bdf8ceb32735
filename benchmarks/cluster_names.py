"""Cluster-wide names and singleton services (S12): what they cost and how fast they move.

Run from a checkout: ``python -m benchmarks.cluster_names [--rounds N] [--json FILE]``; it
makes a throwaway PostgreSQL (fsync on) as :mod:`benchmarks.cluster_cases` does, or uses
``WIPPY_BENCH_PG_DSN``.

* ``register_us``: a process registers R new names in a row (``await
  process.registry.register``), timed inside the process: on one node without ``--cluster``
  and on a node of a two-node cluster (one upsert in PostgreSQL first).
* ``visible_ms``: a process on n1 registers a name; a process on n2 polls ``lookup`` every
  millisecond; the time from ``register`` returning on n1 to the name seen on n2 (the
  notification, n2's 50 ms listener read, the broadcast to its hosts). Wall clocks of one
  machine.
* ``failover_s``: a singleton service on two nodes (TTL ``--ttl``, default 1 s); the node
  running it is killed (SIGKILL, its whole tree); the time from the kill to the instance
  started on the survivor (the line it writes at start).

Processes are not pinned; the machine may be shared.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from typing import Any

from .cluster_cases import _app, fresh, postgres

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: bn
        entries:
          - {name: procs, kind: process.host}
          - {name: reg, kind: process.py, source: file://bn.py, method: reg}
          - {name: regnow, kind: process.py, source: file://bn.py, method: regnow}
          - {name: watch, kind: process.py, source: file://bn.py, method: watch}
          - {name: mark, kind: process.py, source: file://bn.py, method: mark}
          - name: single
            kind: process.service
            process: bn:mark
            host: bn:procs
            input: ["single.log"]
            lifecycle: {auto_start: true, singleton: true}
    """,
    "config/bn.py": """
        import os
        import time

        from wippy import process
        from wippy import time as wtime


        async def reg(n):
            took = []
            for i in range(n):
                t0 = time.perf_counter()
                await process.registry.register(f"b{i}")
                took.append(time.perf_counter() - t0)
            return took


        async def regnow(name, out):
            await process.registry.register(name)
            registered = time.time()
            with open(out, "w") as fh:
                fh.write(repr(registered))
            await process.inbox().receive()       # holds the name until told


        async def watch(name, out):
            while process.registry.lookup(name) is None:
                await wtime.sleep(0.001)
            seen = time.time()
            with open(out, "w") as fh:
                fh.write(repr(seen))


        async def mark(out):
            with open(os.path.join(os.environ.get("BN_DIR", "."), out), "a") as fh:
                fh.write(f"{time.time()}\\n")
            while True:
                await process.inbox().receive()
    """,
}


def _bench_app() -> str:
    app = _app(APP)
    os.environ["BN_DIR"] = app          # the nodes inherit it: where the service writes
    return app


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def register_us(dsn: str, n: int) -> dict[str, Any]:
    import wippy
    out: dict[str, Any] = {}
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("one node", {}), ("cluster", {"cluster": fresh(dsn), "node": "n1"}))
    for label, kw in cases:
        app = _bench_app()
        try:
            with wippy.Node(app, boot_timeout=120, **kw) as node:
                took = node.exec("bn:reg", "bn:procs", n, timeout=120)
            out[label] = {"p50": round(_pct(took, 0.5) * 1e6), "p99": round(_pct(took, 0.99) * 1e6)}
        finally:
            shutil.rmtree(app, ignore_errors=True)
    return out


def visible_ms(dsn: str, n: int) -> dict[str, Any]:
    import wippy
    app = _bench_app()
    db = fresh(dsn)
    lags = []
    n1 = wippy.Node(app, cluster=db, node="n1", boot_timeout=120).start()
    n2 = wippy.Node(app, cluster=db, node="n2", boot_timeout=120).start()
    try:
        for i in range(n):
            out, reg = os.path.join(app, f"seen{i}"), os.path.join(app, f"reg{i}")
            n2.spawn("bn:watch", "bn:procs", f"v{i}", out)
            holder = n1.spawn("bn:regnow", "bn:procs", f"v{i}", reg)
            deadline = time.monotonic() + 30
            while not all(os.path.exists(f) and os.path.getsize(f) for f in (out, reg)):
                if time.monotonic() > deadline:
                    raise SystemExit(f"name v{i} not seen on n2 in 30 s")
                time.sleep(0.005)
            with open(out) as fh, open(reg) as fr:
                lags.append((float(fh.read()) - float(fr.read())) * 1000)
            n1.send(holder, "done")
    finally:
        n1.stop()
        n2.stop()
        shutil.rmtree(app, ignore_errors=True)
    return {"p50": round(statistics.median(lags), 1), "min": round(min(lags), 1),
            "max": round(max(lags), 1), "n": n}


def _kill_tree(pid: int) -> None:
    import signal

    import psutil
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    psutil.wait_procs(procs, timeout=10)


def failover(dsn: str, rounds: int, ttl: float) -> list[float]:
    """Seconds from kill -9 of the singleton's node to its start on the survivor."""
    import wippy
    took = []
    for _ in range(rounds):
        app = _bench_app()
        db = fresh(dsn)
        log = os.path.join(app, "single.log")
        nodes = [wippy.Node(app, cluster=db, node=f"n{i}", lease_ttl=ttl,
                            boot_timeout=120).start() for i in (1, 2)]
        try:
            owner = nodes[0]         # started first: it claimed the singleton at its boot
            with open(log) as fh:
                assert len(fh.read().splitlines()) == 1
            assert owner.process is not None
            t_kill = time.time()
            _kill_tree(owner.process.pid)
            deadline = time.monotonic() + 30
            while True:
                with open(log) as fh:
                    marks = fh.read().splitlines()
                if len(marks) >= 2:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the singleton did not start on the survivor in 30 s")
                time.sleep(0.005)
            took.append(round(float(marks[1]) - t_kill, 3))
        finally:
            for n in nodes:
                if n.process is not None and n.process.poll() is None:
                    n.stop()
            shutil.rmtree(app, ignore_errors=True)
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster_names")
    p.add_argument("--rounds", type=int, default=3, help="failovers (default 3)")
    p.add_argument("--names", type=int, default=200, help="registrations timed (default 200)")
    p.add_argument("--visible", type=int, default=20, help="names watched on n2 (default 20)")
    p.add_argument("--ttl", type=float, default=1.0, help="lease TTL in seconds (default 1)")
    p.add_argument("--json", help="write the figures to this file too")
    args = p.parse_args(argv)
    report: dict[str, Any] = {}
    for dsn in postgres():
        report["register_us"] = register_us(dsn, args.names)
        report["visible_ms"] = visible_ms(dsn, args.visible)
        report["failover_s"] = failover(dsn, args.rounds, args.ttl)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
