"""Security benchmarks (S9): what a policy check costs on the hot paths.

    python -m benchmarks.security_cases [--quick] [--json FILE]

Self-contained: writes a small application to a temporary directory and drives it with
``wippy.Node``. One driver process (the operator) spawns a measuring process per variant, on
the same host, with ``process.spawn(..., actor=, scope=)``:

* ``operator``: no actor (every check is one attribute test);
* ``actor+N``: an actor whose scope holds N policies that never match (conditions on the
  actor's metadata, other actions) plus the one that allows the measured actions, last; N = 0,
  10, 100.

Each measuring process times, in one OS process: ``process.send`` to a local sink (``send``),
``spawn_monitored`` of a no-op until every EXIT is back (``spawn``), ``registry.get``
(``get``) and ``funcs.call`` of a no-op ``function.py`` (``call``): ns per operation, taken
with ``time.perf_counter_ns`` inside the process. The variants run interleaved, ``ROUNDS``
times, and the report keeps each one's median, so drift on a shared machine hits all alike.
``overhead`` is a variant's median over the operator's, minus one. Target (S9 brief): <= 10%
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

async def noop():
    return None

def fn(x):
    return x

async def sink(count, origin):
    inbox = process.inbox()
    for _ in range(count):
        await inbox.receive()
    process.send(origin, "drained", count)

async def measure(n):
    me = process.pid()
    out = {}
    sink_pid = process.spawn("sb:sink", "sb:a", n, me)
    payload = {"n": 1, "s": "hello"}
    t0 = time.perf_counter_ns()
    for _ in range(n):
        process.send(sink_pid, "m", payload)
    out["send"] = (time.perf_counter_ns() - t0) / n
    await process.inbox().receive()
    events = process.events()
    spawns = max(1, n // 4)
    t0 = time.perf_counter_ns()
    for _ in range(spawns):
        process.spawn_monitored("sb:noop", "sb:a")
    for _ in range(spawns):
        await events.receive()
    out["spawn"] = (time.perf_counter_ns() - t0) / spawns
    t0 = time.perf_counter_ns()
    for _ in range(n):
        registry.get("sb:knob")
    out["get"] = (time.perf_counter_ns() - t0) / n
    t0 = time.perf_counter_ns()
    for i in range(n):
        await funcs.call("sb:fn", i)
    out["call"] = (time.perf_counter_ns() - t0) / n
    return out

async def driver(n, rounds, extras):
    actor = security.new_actor("bench:agent", {"team": "bench"})
    variants = {"operator": None}
    for extra in extras:
        ids = [f"sb:p{i:03d}" for i in range(extra)] + ["sb:allow_hot"]
        variants[f"actor+{extra}"] = security.new_scope([security.policy(p) for p in ids])
    results = {name: [] for name in variants}
    events = process.events()
    for _ in range(rounds):
        for name, scope in variants.items():
            if scope is None:
                pid = process.spawn_monitored("sb:measure", "sb:a", n)
            else:
                pid = process.spawn_monitored("sb:measure", "sb:a", n, actor=actor, scope=scope)
            while True:
                ev = await events.receive()
                if ev.from_ == pid:
                    break
            if ev.result.error is not None:
                raise RuntimeError(f"{name}: {ev.result.error}")
            results[name].append(ev.result.value)
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
    n = 2000 if quick else 10000
    rounds = 3 if quick else 7
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
    base = {op: statistics.median(r[op] for r in results["operator"])
            for op in ("send", "spawn", "get", "call")}
    for name, runs in results.items():
        for op in ("send", "spawn", "get", "call"):
            value = statistics.median(r[op] for r in runs)
            rows.append({"case": f"security/{op}", "system": name, "metric": "ns_per_op",
                         "value": round(value, 1),
                         "overhead": round(value / base[op] - 1, 4), "rounds": len(runs),
                         "n": n})
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
    print(f"{'case':<18} {'system':<10} {'metric':<30} {'value':>10}  overhead")
    for r in rows:
        extra = f"{r['overhead'] * 100:+.1f}%" if "overhead" in r else ""
        print(f"{r['case']:<18} {r['system']:<10} {r['metric']:<30} {r['value']:>10}  {extra}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"time": t0, "cpus": os.cpu_count(), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
