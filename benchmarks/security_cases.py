"""Security benchmarks (S9): what a policy check costs on the hot paths.

    python -m benchmarks.security_cases [--quick] [--json FILE]

Self-contained: writes a small application to a temporary directory and drives it with
``wippy.Node``. One measuring process times blocks of each operation, each block under one of
the variants (between blocks the benchmark sets the context of the process itself, as the
runtime does for a process spawned under one; what it spawns inherits it):

* ``operator``: no actor (every check is one attribute test);
* ``actor+N``: an actor whose scope holds N policies that never match (conditions on the
  actor's metadata, other actions) plus the one that allows the measured actions, last; N = 0,
  10, 100.

The operations: ``process.send`` to a local sink (``send``; the block ends when the sink has
drained it), ``spawn_monitored`` of a no-op until every EXIT is back (``spawn``),
``registry.get`` (``get``) and ``funcs.call`` of a no-op ``function.py`` (``call``): ns per
operation, ``time.perf_counter_ns`` inside the process. The variants' blocks alternate,
``ROUNDS`` times, in an order that rotates every round, and the report keeps each one's median
block and its fastest block (interference from other programs only ever slows a block down,
so the fastest is the steadier figure), so drift on a shared machine hits all alike; ``operator-again`` runs the operator's variant a second
time in each round: its "overhead" is the noise of the measurement. ``overhead`` is a variant's
median over the operator's, minus one. Target: <= 10%
on send and spawn with 10 policies.

Also reported: the cost of a check alone (``Context.check`` of an allowed pair, cached), and
of the first check after a policy change (the scope rebuilt).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time

EXTRA_POLICIES = (0, 10, 100)
HOT = ["process.send", "process.spawn", "process.spawn.monitored", "process.host",
       "registry.get", "funcs.call"]


def _index(max_extra: int) -> str:
    lines = ['version: "1.0"', "namespace: sb", "entries:",
             "  - {name: a, kind: process.host}",
             "  - {name: knob, kind: registry.entry, level: 1}",
             "  - {name: driver, kind: process.py, source: file://bench.py, method: driver}",
             "  - {name: measure, kind: process.py, source: file://bench.py, method: measure}",
             "  - {name: sink, kind: process.py, source: file://bench.py, method: sink}",
             "  - {name: noop, kind: process.py, source: file://bench.py, method: noop}",
             "  - {name: fn, kind: function.py, source: file://bench.py, method: fn}",
             "  - name: allow_hot", "    kind: security.policy", "    policy:",
             f"      actions: {json.dumps(HOT)}", '      resources: "*"', "      effect: allow"]
    for i in range(max_extra):
        lines += [f"  - name: p{i:03d}", "    kind: security.policy", "    policy:",
                  f'      actions: ["other.{i}", "registry.apply"]',
                  f'      resources: ["app.other{i}:*"]', "      effect: allow",
                  "      conditions:",
                  f"        - {{field: actor.meta.team, operator: eq, value: team{i}}}"]
    return "\n".join(lines) + "\n"


PY = '''
import time
from wippy import funcs, process, registry, security
from wippy.runtime import table as _rt

async def noop():
    return None

def fn(x):
    return x

async def sink():
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        if msg.topic == "ping":
            process.send(msg.sender, "pong", None)
        elif msg.topic == "stop":
            return None

async def _block(op, n, sink_pid, events, inbox):
    payload = {"n": 1, "s": "hello"}
    if op == "send":
        t0 = time.perf_counter_ns()
        for _ in range(n):
            process.send(sink_pid, "m", payload)
        took = time.perf_counter_ns() - t0
        process.send(sink_pid, "ping", None)
        await inbox.receive()                      # the sink has drained the block
        return took / n
    if op == "spawn":
        n = max(1, n // 8)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            process.spawn_monitored("sb:noop", "sb:a")
        for _ in range(n):
            await events.receive()
        return (time.perf_counter_ns() - t0) / n
    if op == "get":
        t0 = time.perf_counter_ns()
        for _ in range(n):
            registry.get("sb:knob")
        return (time.perf_counter_ns() - t0) / n
    t0 = time.perf_counter_ns()
    for i in range(n):
        await funcs.call("sb:fn", i)
    return (time.perf_counter_ns() - t0) / n

async def driver(n, rounds, extras):
    rt = _rt.get()
    ctxs = {"operator": None}
    for extra in extras:
        ids = [f"sb:p{i:03d}" for i in range(extra)] + ["sb:allow_hot"]
        ctxs[f"actor+{extra}"] = security.spawn_context(
            security.new_actor("bench:agent", {"team": "bench"}),
            security.new_scope([security.policy(p) for p in ids]))
    ctxs["operator-again"] = None              # a control: the noise between two equal runs
    sink_pid = process.spawn("sb:sink", "sb:a")
    events, inbox = process.events(), process.inbox()
    results = {name: {op: [] for op in ("send", "spawn", "get", "call")} for name in ctxs}
    names = list(ctxs)
    me = rt.current()
    rt.guard.secured = True  # a host where some process has an actor (else: one attribute test)
    for r in range(rounds):
        for op in ("send", "spawn", "get", "call"):
            order = names[r % len(names):] + names[:r % len(names)]   # no variant always first
            for name in order:
                me.security = ctxs[name]     # what a process spawned under that context has
                try:
                    results[name][op].append(await _block(op, n, sink_pid, events, inbox))
                finally:
                    me.security = None
    process.send(sink_pid, "stop", None)
    return results
'''


def check_alone(repeat: int) -> dict[str, float]:
    """The check by itself, in this process: a cached allowed pair, and the first check after
    a policy change (the scope is rebuilt)."""
    from wippy.security import context
    from wippy.security.book import BOOK
    entries = {
        f"sb:p{i:03d}": {"id": f"sb:p{i:03d}", "kind": "security.policy",
                         "data": {"policy": {"actions": [f"other.{i}"], "resources": "*",
                                             "effect": "allow"}}} for i in range(10)}
    entries["sb:allow"] = {"id": "sb:allow", "kind": "security.policy",
                           "data": {"policy": {"actions": HOT, "resources": "*",
                                               "effect": "allow"}}}
    BOOK.attach(lambda: entries, entries.get)
    ctx = context.from_wire([["bench:agent", {}, sorted(entries), []]])
    assert ctx is not None
    ctx.check("process.send", "{a/1|1}")
    t0 = time.perf_counter_ns()
    for _ in range(repeat):
        ctx.check("process.send", "{a/1|1}")
    cached = (time.perf_counter_ns() - t0) / repeat
    rebuilt = []
    for i in range(200):
        BOOK.changed(["sb:allow"])
        BOOK.reset()
        t0 = time.perf_counter_ns()
        ctx.check("process.send", f"{{a/1|{i}}}")
        rebuilt.append(time.perf_counter_ns() - t0)
    return {"check_cached_ns": cached, "check_after_policy_change_ns": statistics.median(rebuilt)}


def run(quick: bool) -> list[dict]:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import wippy
    n = 1000 if quick else 4000
    rounds = 5 if quick else 41
    rows: list[dict] = []
    app = tempfile.mkdtemp(prefix="sbench-", dir="/tmp")
    try:
        with open(os.path.join(app, "_index.yaml"), "w") as fh:
            fh.write(_index(max(EXTRA_POLICIES)))
        with open(os.path.join(app, "bench.py"), "w") as fh:
            fh.write(textwrap.dedent(PY).lstrip("\n"))
        with wippy.Node(app, data_dir=os.path.join(app, ".data")) as node:
            results = node.exec("sb:driver", "sb:a", n, rounds, list(EXTRA_POLICIES),
                                timeout=600)
            denied = sum(h.get("denied") or 0 for h in node.ps()["hosts"])
    finally:
        shutil.rmtree(app, ignore_errors=True)
    for stat, pick in (("min", min), ("median", statistics.median)):
        base = {op: pick(results["operator"][op]) for op in ("send", "spawn", "get", "call")}
        for name, by_op in results.items():
            for op in ("send", "spawn", "get", "call"):
                value = pick(by_op[op])
                rows.append({"case": f"security/{op}", "system": name,
                             "metric": f"ns_per_op_{stat}", "value": round(value, 1),
                             "overhead": round(value / base[op] - 1, 4),
                             "rounds": len(by_op[op]), "n": n})
    for metric, value in check_alone(200_000 if not quick else 50_000).items():
        rows.append({"case": "security/check", "system": "actor+10", "metric": metric,
                     "value": round(value, 1)})
    rows.append({"case": "security/denied", "system": "all", "metric": "denials",
                 "value": denied})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = run(args.quick)
    print(f"{'case':<18} {'system':<15} {'metric':<30} {'value':>10}  overhead")
    for r in rows:
        extra = f"{r['overhead'] * 100:+.1f}%" if "overhead" in r else ""
        print(f"{r['case']:<18} {r['system']:<15} {r['metric']:<30} {r['value']:>10}  {extra}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"time": t0, "cpus": os.cpu_count(), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
