"""Cluster benchmarks (S12, S11): durable steps on PostgreSQL, and failover after kill -9.

Run from a checkout: ``python -m benchmarks.cluster_cases [--quick] [--json FILE]``. It needs
PostgreSQL's binaries (``initdb``, ``pg_ctl``): it makes a throwaway server with the defaults
(fsync on, synchronous commit), or uses ``WIPPY_BENCH_PG_DSN``.

* floor ``pg-commit``: one ``INSERT`` + ``COMMIT`` per step of a ~100-byte record, from one
  connection: what a journal without group commit pays on this database.
* ``steps_per_s`` on ``lmdb`` and on ``pg``: W workflows at once, each S activities, on one
  node without and with ``--cluster`` (same application, same run): the journal's cost.
* ``step_latency_us`` on both: one workflow alone, S sequential steps, wall time / S.
* peer ``dbos`` (when the ``dbos`` package is installed: extra ``bench``): the same workflows
  (W at once, each S ``@DBOS.step`` calls; one alone for the latency) on a fresh database of
  the same server, in its own OS process (S11: wippy on PostgreSQL >= 5x DBOS).
* ``takeover_s``: M workflows on n1 each journal one step and wait for a signal; n1's tree is
  killed (SIGKILL) and every workflow is signalled through n2 at once (the signals wait in
  the journal's inbox); the time from the kill until all M have finished on n2 (claimed,
  replayed, signalled): S11's recovery case, across nodes.
* ``failover_s``: two nodes (lease TTL ``--ttl``, default 1 s); K workflows on n1 that journal
  a step every 50 ms; n1's whole OS process tree is killed with SIGKILL; the time from the kill
  to the first step journaled by n2 (S11's target: <= TTL + 1 s). Repeated ``--rounds`` times.

* ``messaging``: two nodes on 127.0.0.1; a process on n1 sends to a process on n2 and waits
  for its reply, R times (round trip p50/p99, measured inside the process); then sends N
  messages one way to a process on n2 that answers once it has them all (messages/s). The
  same on one node (both processes on n1), and the peer ``raw zmq tcp+CURVE``: a DEALER and
  a ROUTER in two OS processes on 127.0.0.1 with CURVE (S11: cross-node round trip <= 1.5x
  it).
* ``spawn``: two nodes; a process on n1 spawns SP processes (``spawn_monitored``, all at
  once, then awaits every EXIT) on its own host and on ``n2@bm:procs`` (spawns/s), and calls
  a function C times, one at a time, here and as ``n2@bm:fn`` (latency p50/p99).

* ``registry``: registry versions across nodes. A applies (each one ``registry.entry``
  created through the API: client -> node) on one node without ``--cluster`` (the apply's
  cost, p50), then on n1 of a two-node cluster (the same, now publishing the version to
  PostgreSQL first), and for each the time until n2's registry (its LMDB, which its hosts
  read) holds that version, measured from the start of the apply (p50/p99).

Processes are not pinned; the report says so.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any, Iterator

import psutil

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: bc
        entries:
          - {name: flows, kind: process.host, host: {workers: 2}}
          - {name: act, kind: function.py, source: file://cb.py, method: act}
          - {name: steps, kind: workflow.py, source: file://cb.py, method: steps, host: flows}
          - {name: ticker, kind: workflow.py, source: file://cb.py, method: ticker, host: flows}
          - {name: parked, kind: workflow.py, source: file://cb.py, method: parked, host: flows}
    """,
    "config/cb.py": """
        from wippy import funcs, process, time


        def act(i):
            return i + 1


        async def steps(n):
            total = 0
            for i in range(n):
                total += await funcs.call("bc:act", i)
            return total


        async def parked(_):
            await funcs.call("bc:act", 0)
            msg = await process.inbox().receive()
            return msg.payload


        async def ticker(n):
            for i in range(n):
                await funcs.call("bc:act", i)
                await time.sleep(0.05)
            return n
    """,
}


MSG_APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: bm
        entries:
          - {name: procs, kind: process.host}
          - {name: echo, kind: process.py, source: file://m.py, method: echo}
          - {name: sink, kind: process.py, source: file://m.py, method: sink}
          - {name: rtt, kind: process.py, source: file://m.py, method: rtt}
          - {name: flood, kind: process.py, source: file://m.py, method: flood}
          - {name: quick, kind: process.py, source: file://m.py, method: quick}
          - {name: spawns, kind: process.py, source: file://m.py, method: spawns}
          - {name: fn, kind: function.py, source: file://m.py, method: fn}
          - {name: calls, kind: process.py, source: file://m.py, method: calls}
    """,
    "config/m.py": """
        import time

        from wippy import process


        async def echo():
            inbox = process.inbox()
            while True:
                msg = await inbox.receive()
                process.send(msg.sender, "pong", msg.payload)


        async def sink(n):
            inbox = process.inbox()
            for _ in range(n):
                msg = await inbox.receive()
            process.send(msg.sender, "done", n)


        async def rtt(target, n):
            inbox = process.inbox()
            out = []
            for i in range(n):
                t0 = time.perf_counter()
                process.send(target, "ping", i)
                await inbox.receive()
                out.append(time.perf_counter() - t0)
            return out


        async def quick(i):
            return i


        def fn(i):
            return i


        async def spawns(host, n):
            events = process.events()
            t0 = time.perf_counter()
            for i in range(n):
                process.spawn_monitored("bm:quick", host, i)
            for _ in range(n):
                await events.receive()
            return time.perf_counter() - t0


        async def calls(fid, n):
            from wippy import funcs
            out = []
            for i in range(n):
                t0 = time.perf_counter()
                await funcs.call(fid, i)
                out.append(time.perf_counter() - t0)
            return out


        async def flood(target, n):
            t0 = time.perf_counter()
            for i in range(n):
                await process.wait_send(target, "m", i)
            await process.inbox().receive()
            return time.perf_counter() - t0
    """,
}


def _app(files: dict[str, str] | None = None) -> str:
    root = tempfile.mkdtemp(prefix="wcb-", dir="/tmp")
    for rel, text in (files or APP).items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    return root


def _bin(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"cluster benchmarks: {name} not found (or set WIPPY_BENCH_PG_DSN)")
    return found


def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL with durable commits (fsync on), or WIPPY_BENCH_PG_DSN."""
    dsn = os.environ.get("WIPPY_BENCH_PG_DSN")
    if dsn:
        yield dsn
        return
    import pwd
    import socket
    run_as: list[str] = []
    root = tempfile.mkdtemp(prefix="wcbpg-", dir="/tmp")
    if os.geteuid() == 0:
        pwd.getpwnam("postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    try:
        subprocess.run(run_as + [_bin("initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                                 "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        subprocess.run(run_as + [_bin("pg_ctl"), "-D", data, "-o",
                                 f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "-l",
                                 os.path.join(root, "log"), "-w", "start"],
                       check=True, capture_output=True, timeout=90)
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(run_as + [_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def fresh(dsn: str) -> str:
    import psycopg
    name = f"wcb_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    parts["dbname"] = name
    return str(psycopg.conninfo.make_conninfo("", **parts))


def floor(dsn: str, n: int) -> dict[str, Any]:
    import psycopg
    rec = json.dumps({"op": "call", "key": "bc:act", "result": 1, "error": None, "pad": "x" * 40})
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor (wf text, seq bigint, rec text, "
                     "PRIMARY KEY (wf, seq))")
        conn.commit()
        t = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO floor VALUES ('w', %s, %s)", (i, rec))
            conn.commit()
        dt = time.perf_counter() - t
    return {"steps_per_s": n / dt, "step_latency_us": dt / n * 1e6, "n": n}


def journal_cost(app: str, dsn: str | None, w: int, s: int, lat: int) -> dict[str, Any]:
    import wippy
    kw: dict[str, Any] = {"cluster": dsn, "node": "b1"} if dsn else {}
    data = tempfile.mkdtemp(prefix="wcbd-", dir="/tmp")
    try:
        with wippy.Node(app, data_dir=data, boot_timeout=120, **kw) as node:
            node.workflow_result(node.workflow_start("bc:steps", 5), timeout=60)   # warm up
            t = time.perf_counter()
            pids = [node.workflow_start("bc:steps", s) for _ in range(w)]
            for p in pids:
                node.workflow_result(p, timeout=600)
            tput = w * s / (time.perf_counter() - t)
            t = time.perf_counter()
            node.workflow_result(node.workflow_start("bc:steps", lat), timeout=600)
            latency = (time.perf_counter() - t) / lat * 1e6
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {"steps_per_s": tput, "step_latency_us": latency, "workflows": w, "steps_each": s}


DBOS_PEER = """
import json, sys, time
from dbos import DBOS
url, w, s, lat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DBOS(config={"name": "wcbench", "system_database_url": url, "log_level": "ERROR",
             "console_log_level": "ERROR"})

@DBOS.step()
def act(i):
    return i + 1

@DBOS.workflow()
def steps(n):
    total = 0
    for i in range(n):
        total += act(i)
    return total

DBOS.launch()
steps(5)
t = time.perf_counter()
handles = [DBOS.start_workflow(steps, s) for _ in range(w)]
for h in handles:
    h.get_result()
tput = w * s / (time.perf_counter() - t)
t = time.perf_counter()
steps(lat)
latency = (time.perf_counter() - t) / lat * 1e6
print(json.dumps({"steps_per_s": tput, "step_latency_us": latency, "workflows": w, "steps_each": s}))
DBOS.destroy()
"""


def dbos_peer(dsn: str, w: int, s: int, lat: int) -> dict[str, Any] | None:
    """DBOS on a database of its own (None when dbos is not installed)."""
    import importlib.util

    import psycopg
    if importlib.util.find_spec("dbos") is None:
        return None
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    url = (f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:"
           f"{p.get('port', 5432)}/{p['dbname']}")
    out = subprocess.run([sys.executable, "-c", DBOS_PEER, url, str(w), str(s), str(lat)],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _steps_by(dsn: str, node: str) -> int:
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM wippy_steps s JOIN wippy_workflows w "
                           "ON w.id = s.wf WHERE w.owner = %s", (node,)).fetchone()
    return int(row[0]) if row else 0


def failover(app: str, server: str, ttl: float, k: int) -> float:
    """Seconds from kill -9 of n1 to the first step journaled by n2."""
    import wippy
    dsn = fresh(server)
    datas = [tempfile.mkdtemp(prefix="wcbd-", dir="/tmp") for _ in range(2)]
    n1 = wippy.Node(app, data_dir=datas[0], cluster=dsn, node="n1", lease_ttl=ttl, boot_timeout=120)
    n2 = wippy.Node(app, data_dir=datas[1], cluster=dsn, node="n2", lease_ttl=ttl, boot_timeout=120)
    try:
        n1.start()
        n2.start()
        for _ in range(k):
            n1.workflow_start("bc:ticker", 100_000)
        deadline = time.monotonic() + 60
        while _steps_by(dsn, "n1") < 2 * k and time.monotonic() < deadline:
            time.sleep(0.05)
        assert n1.process is not None
        root = psutil.Process(n1.process.pid)
        tree = [root, *root.children(recursive=True)]
        base = _steps_by(dsn, "n2")
        t0 = time.monotonic()
        for p in tree:
            os.kill(p.pid, signal.SIGKILL)
        while _steps_by(dsn, "n2") == base:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("no step resumed within 60 s")
            time.sleep(0.002)
        took = time.monotonic() - t0
        n1.process.wait(10)
        psutil.wait_procs(tree[1:], timeout=10)
        n1.process = None
        n1.close()
        return took
    finally:
        n2.stop()
        if n1.process is not None:
            n1.stop()
        for d in datas:
            shutil.rmtree(d, ignore_errors=True)


RAW_PEER = """
import sys, zmq
ctx = zmq.Context()
pub, sec = sys.argv[1].encode(), sys.argv[2].encode()
s = ctx.socket(zmq.ROUTER)
s.curve_server = True
s.curve_publickey, s.curve_secretkey = pub, sec
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
while True:
    ident, msg = s.recv_multipart()
    if msg == b"stop":
        break
    if msg[:1] != b"m" or msg == b"m-last":
        s.send_multipart([ident, msg])
"""


def raw_curve(r: int, n: int) -> dict[str, Any]:
    """Round trip and one-way throughput of a DEALER to a ROUTER (another OS process) over
    tcp with CURVE on 127.0.0.1: the floor the cross-node case is measured against."""
    import zmq
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    srv = subprocess.Popen([sys.executable, "-c", RAW_PEER, spub.decode(), ssec.decode()],
                           stdout=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    try:
        assert srv.stdout is not None
        port = int(srv.stdout.readline())
        c = ctx.socket(zmq.DEALER)
        c.curve_serverkey, c.curve_publickey, c.curve_secretkey = spub, cpub, csec
        c.connect(f"tcp://127.0.0.1:{port}")
        c.send(b"p")
        c.recv()
        rtts = []
        for i in range(r):
            t0 = time.perf_counter()
            c.send(b"p%d" % i)
            c.recv()
            rtts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(n - 1):
            c.send(b"m%d" % i)
        c.send(b"m-last")
        c.recv()
        took = time.perf_counter() - t0
        c.send(b"stop")
        return {**_rtt(rtts), "msgs_per_s": n / took}
    finally:
        srv.wait(10)
        ctx.destroy(linger=0)


def _rtt(samples: list[float]) -> dict[str, float]:
    xs = sorted(samples)
    return {"rtt_p50_us": xs[len(xs) // 2] * 1e6, "rtt_p99_us": xs[int(len(xs) * 0.99)] * 1e6}


def messaging(server: str, r: int, n: int) -> dict[str, Any]:
    """Cross-node and same-node round trips and throughput between processes, and the raw
    zmq tcp+CURVE peer, in one run."""
    import wippy
    app = _app(MSG_APP)
    dsn = fresh(server)
    n1 = wippy.Node(app, cluster=dsn, node="n1", boot_timeout=120)
    n2 = wippy.Node(app, cluster=dsn, node="n2", boot_timeout=120)
    out: dict[str, Any] = {"round_trips": r, "messages": n}
    try:
        n1.start()
        n2.start()
        for where, node, name in (("same_node", n1, None), ("cross_node", n2, "n2")):
            echo = node.spawn("bm:echo", "bm:procs")
            target = echo if name is None else "{" + name + "@" + echo[1:]
            n1.exec("bm:rtt", "bm:procs", target, 50, timeout=120)        # warm up
            res = _rtt(n1.exec("bm:rtt", "bm:procs", target, r, timeout=300))
            sink = node.spawn("bm:sink", "bm:procs", n)
            target = sink if name is None else "{" + name + "@" + sink[1:]
            took = n1.exec("bm:flood", "bm:procs", target, n, timeout=300)
            out[where] = {**res, "msgs_per_s": n / took}
    finally:
        n1.stop()
        n2.stop()
        shutil.rmtree(app, ignore_errors=True)
    out["raw_zmq_tcp_curve"] = raw_curve(r, n)
    out["cross_over_raw_rtt"] = (out["cross_node"]["rtt_p50_us"]
                                 / out["raw_zmq_tcp_curve"]["rtt_p50_us"])
    return out


def spawning(server: str, n: int, c: int) -> dict[str, Any]:
    """Spawns on this node's host and on another node's (each spawn_monitored, all at once,
    then every EXIT awaited: spawns/s), and ``funcs.call`` of a function here and on the
    other node (one at a time: latency p50/p99), from a process on n1."""
    import wippy
    app = _app(MSG_APP)
    dsn = fresh(server)
    n1 = wippy.Node(app, cluster=dsn, node="n1", boot_timeout=120)
    n2 = wippy.Node(app, cluster=dsn, node="n2", boot_timeout=120)
    out: dict[str, Any] = {"spawns": n, "calls": c}
    try:
        n1.start()
        n2.start()
        for where, host, fid in (("same_node", "bm:procs", "bm:fn"),
                                 ("cross_node", "n2@bm:procs", "n2@bm:fn")):
            n1.exec("bm:spawns", "bm:procs", host, 50, timeout=120)        # warm up
            took = n1.exec("bm:spawns", "bm:procs", host, n, timeout=300)
            n1.exec("bm:calls", "bm:procs", fid, 50, timeout=120)
            lat = sorted(n1.exec("bm:calls", "bm:procs", fid, c, timeout=300))
            out[where] = {"spawns_per_s": n / took, "call_p50_us": lat[len(lat) // 2] * 1e6,
                          "call_p99_us": lat[int(len(lat) * 0.99)] * 1e6}
    finally:
        n1.stop()
        n2.stop()
        shutil.rmtree(app, ignore_errors=True)
    return out


REG_APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: rg
        entries:
          - {name: procs, kind: process.host}
    """,
}


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def registry_case(server: str, applies: int) -> dict[str, Any]:
    """Apply cost without and with the cluster, and apply -> visible on another node."""
    import wippy

    def create(node: Any, i: int) -> int:
        return int(node.registry.snapshot().changes().create(
            {"id": f"rg:e{i}", "kind": "registry.entry", "meta": {},
             "data": {"n": i}}).apply().id())

    out: dict[str, Any] = {"applies": applies}
    app = _app(REG_APP)
    try:
        with wippy.Node(app, boot_timeout=120) as solo:
            costs = []
            for i in range(applies):
                t0 = time.perf_counter()
                create(solo, i)
                costs.append(time.perf_counter() - t0)
        out["apply_ms_local"] = {"p50": _pct(costs, 0.5) * 1e3, "p99": _pct(costs, 0.99) * 1e3}
        shutil.rmtree(os.path.join(app, ".wippy"), ignore_errors=True)
        dsn = fresh(server)
        n1 = wippy.Node(app, cluster=dsn, node="n1", boot_timeout=120)
        n2 = wippy.Node(app, cluster=dsn, node="n2", boot_timeout=120)
        try:
            n1.start()
            n2.start()
            costs, seen = [], []
            for i in range(applies):
                t0 = time.perf_counter()
                v = create(n1, i)
                costs.append(time.perf_counter() - t0)
                while (n2.registry.version() or 0) < v:
                    time.sleep(0.0005)
                seen.append(time.perf_counter() - t0)
        finally:
            n1.stop()
            n2.stop()
        out["apply_ms_cluster"] = {"p50": _pct(costs, 0.5) * 1e3, "p99": _pct(costs, 0.99) * 1e3}
        out["visible_ms"] = {"p50": _pct(seen, 0.5) * 1e3, "p99": _pct(seen, 0.99) * 1e3,
                             "min": min(seen) * 1e3}
    finally:
        shutil.rmtree(app, ignore_errors=True)
    return out


def takeover(app: str, server: str, ttl: float, m: int) -> float:
    """Seconds from kill -9 of n1 until its M parked workflows finished on n2."""
    import psycopg

    import wippy
    dsn = fresh(server)
    datas = [tempfile.mkdtemp(prefix="wcbd-", dir="/tmp") for _ in range(2)]
    n1 = wippy.Node(app, data_dir=datas[0], cluster=dsn, node="n1", lease_ttl=ttl, boot_timeout=120)
    n2 = wippy.Node(app, data_dir=datas[1], cluster=dsn, node="n2", lease_ttl=ttl, boot_timeout=120)

    def count(sql: str) -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0
    try:
        n1.start()
        n2.start()
        pids = [n1.workflow_start("bc:parked", None) for _ in range(m)]
        deadline = time.monotonic() + 300
        while count("SELECT count(DISTINCT wf) FROM wippy_steps") < m:
            if time.monotonic() > deadline:
                raise RuntimeError("the parked workflows did not all start")
            time.sleep(0.1)
        assert n1.process is not None
        root = psutil.Process(n1.process.pid)
        tree = [root, *root.children(recursive=True)]
        t0 = time.monotonic()
        for p in tree:
            os.kill(p.pid, signal.SIGKILL)
        for pid in pids:
            n2.send(pid, "go", 1)
        while count("SELECT count(*) FROM wippy_workflows WHERE status = 'completed'") < m:
            if time.monotonic() - t0 > 600:
                raise RuntimeError("the takeover did not finish within 600 s")
            time.sleep(0.02)
        took = time.monotonic() - t0
        n1.process.wait(10)
        psutil.wait_procs(tree[1:], timeout=10)
        n1.process = None
        n1.close()
        return took
    finally:
        n2.stop()
        if n1.process is not None:
            n1.stop()
        for d in datas:
            shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster_cases",
                                description="durable steps on PostgreSQL and failover (S12)")
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--ttl", type=float, default=1.0, help="lease TTL of the failover case (s)")
    p.add_argument("--rounds", type=int, default=3, help="failover rounds")
    p.add_argument("--takeover", type=int, default=None, metavar="M",
                   help="parked workflows of the takeover case (default 1000, quick 200)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the results here")
    p.add_argument("--only", choices=("journal", "failover", "takeover", "messaging", "spawn",
                                       "registry"),
                   default=None,
                   help="run one part")
    a = p.parse_args(argv)
    sz = ({"floor": 300, "W": 20, "S": 20, "lat": 100, "K": 10, "M": 200, "R": 300,
           "N": 5000, "SP": 300, "C": 300, "A": 50} if a.quick
          else {"floor": 2000, "W": 50, "S": 100, "lat": 500, "K": 50, "M": 1000, "R": 2000,
                "N": 50_000, "SP": 3000, "C": 2000, "A": 200})
    if a.takeover:
        sz["M"] = a.takeover
    out: dict[str, Any] = {"placement": "not pinned", "sizes": sz, "ttl": a.ttl}
    app = _app()
    try:
        for server in postgres():
            if a.only in (None, "journal"):
                out["floor:pg-commit"] = floor(fresh(server), sz["floor"])
                out["lmdb"] = journal_cost(app, None, sz["W"], sz["S"], sz["lat"])
                out["pg"] = journal_cost(app, fresh(server), sz["W"], sz["S"], sz["lat"])
                out["dbos"] = dbos_peer(fresh(server), sz["W"], sz["S"], sz["lat"])
            if a.only in (None, "failover"):
                rounds = [failover(app, server, a.ttl, sz["K"]) for _ in range(a.rounds)]
                out["failover_s"] = {"median": statistics.median(rounds), "rounds": rounds,
                                     "target": a.ttl + 1.0, "workflows": sz["K"]}
            if a.only in (None, "takeover"):
                out["takeover_s"] = {"seconds": takeover(app, server, a.ttl, sz["M"]),
                                     "workflows": sz["M"], "ttl": a.ttl}
            if a.only in (None, "messaging"):
                out["messaging"] = messaging(server, sz["R"], sz["N"])
            if a.only in (None, "spawn"):
                out["spawn"] = spawning(server, sz["SP"], sz["C"])
            if a.only in (None, "registry"):
                out["registry"] = registry_case(server, sz["A"])
    finally:
        shutil.rmtree(app, ignore_errors=True)
    report(out, a.ttl, sz)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


def report(out: dict[str, Any], ttl: float, sz: dict[str, int]) -> None:
    """The short table."""
    if "pg" in out:
        _report_journal(out, sz)
    if "failover_s" in out:
        fo = out["failover_s"]
        print(f"failover (kill -9 -> first resumed step, TTL {ttl:g} s, {sz['K']} workflows): "
              f"median {fo['median']:.2f} s, rounds {', '.join(f'{r:.2f}' for r in fo['rounds'])} "
              f"(target <= {fo['target']:.1f} s); processes not pinned")
    if "takeover_s" in out:
        to = out["takeover_s"]
        print(f"takeover (kill -9 -> all {to['workflows']} parked workflows claimed, replayed, "
              f"signalled and finished on the survivor, TTL {ttl:g} s): {to['seconds']:.2f} s")
    if "messaging" in out:
        m = out["messaging"]
        print(f"{'messages between processes':<28} {'rtt p50 us':>11} {'rtt p99 us':>11} "
              f"{'msgs/s':>10}")
        for name, key in (("same node, one OS process", "same_node"), ("cross node (tcp+CURVE)", "cross_node"),
                          ("peer: raw zmq tcp+CURVE", "raw_zmq_tcp_curve")):
            r = m[key]
            print(f"{name:<28} {r['rtt_p50_us']:>11.0f} {r['rtt_p99_us']:>11.0f} "
                  f"{r['msgs_per_s']:>10.0f}")
        print(f"cross-node round trip: {m['cross_over_raw_rtt']:.1f}x raw zmq tcp+CURVE "
              f"(target <= 1.5x; {m['round_trips']} round trips, {m['messages']} messages)")
    if "spawn" in out:
        _report_spawn(out["spawn"])
    if "registry" in out:
        _report_registry(out["registry"])


def _report_spawn(sp: dict[str, Any]) -> None:
    print(f"{'spawns and calls from n1':<28} {'spawns/s':>10} {'call p50 us':>12} "
          f"{'call p99 us':>12}")
    for name, key in (("same node", "same_node"), ("on n2 (n2@host, n2@fn)", "cross_node")):
        r = sp[key]
        print(f"{name:<28} {r['spawns_per_s']:>10.0f} {r['call_p50_us']:>12.0f} "
              f"{r['call_p99_us']:>12.0f}")
    print(f"({sp['spawns']} spawn_monitored at once, then their EXITs; {sp['calls']} "
          "funcs.call one at a time)")


def _report_registry(r: dict[str, Any]) -> None:
    local, clustered = r["apply_ms_local"], r["apply_ms_cluster"]
    print(f"registry ({r['applies']} applies through the API): apply p50 "
          f"{local['p50']:.2f} ms on one node, {clustered['p50']:.2f} ms "
          f"in a cluster (p99 {local['p99']:.2f} / {clustered['p99']:.2f})"
          f"; apply -> visible on the other node p50 {r['visible_ms']['p50']:.1f} ms, p99 "
          f"{r['visible_ms']['p99']:.1f} ms, min {r['visible_ms']['min']:.1f} ms")


def _report_journal(out: dict[str, Any], sz: dict[str, int]) -> None:
    fl, pg, lm = out["floor:pg-commit"], out["pg"], out["lmdb"]
    print(f"{'case':<28} {'steps/s':>10} {'step us':>10}")
    for name, r in (("floor: pg one commit/step", fl), ("wippy journal on LMDB", lm),
                    ("wippy journal on PostgreSQL", pg)):
        print(f"{name:<28} {r['steps_per_s']:>10.0f} {r['step_latency_us']:>10.0f}")
    peer = out["dbos"]
    if peer and "steps_per_s" in peer:
        print(f"{'peer: DBOS (same server)':<28} {peer['steps_per_s']:>10.0f} "
              f"{peer['step_latency_us']:>10.0f}")
        print(f"PostgreSQL journal: {pg['steps_per_s'] / peer['steps_per_s']:.1f}x DBOS's steps/s")
    else:
        print(f"peer DBOS: {'not installed' if peer is None else peer['error']}")
    print(f"PostgreSQL journal: {pg['steps_per_s'] / fl['steps_per_s']:.1f}x the one-commit-per-step "
          f"floor, {pg['steps_per_s'] / lm['steps_per_s']:.2f}x the LMDB journal "
          f"({sz['W']} workflows x {sz['S']} steps)")


if __name__ == "__main__":
    sys.exit(main())
