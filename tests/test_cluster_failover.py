"""Several nodes of one application on one PostgreSQL (127.0.0.1): kill -9 of the node running
the workflows (Python and Lua; its whole OS process tree), and the survivors finish every one
of them exactly once, timers at their journaled due times; the dead node restarted rejoins and runs nothing
again. A node cut off from the database stops driving its workflows, which another finishes. ``WIPPY_TEST_CLUSTER_N`` sets how many workflows (default 24)."""
from __future__ import annotations

import json
import os

import pytest

import wippy
from wippy.cli.main import format_ps
from clusterkit import Proxy, kill_tree, query
from conftest import run_wippy, wait_until, write_app
from httpkit import fetch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

N = int(os.environ.get("WIPPY_TEST_CLUSTER_N") or 24)
TTL = 1.0           # short leases: the takeover comes within a second or two
SLEEP = 4.0         # the timer each workflow waits on across the kill


def make_app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: flows, kind: process.host}
          - {name: job, kind: workflow.py, source: file://flows.py, method: job, host: flows}
          - {name: effect, kind: function.py, source: file://flows.py, method: effect}
          - {name: waiter, kind: workflow.py, source: file://flows.py, method: waiter, host: flows}
          - {name: ljob, kind: workflow.lua, source: file://ljob.lua, method: main, host: flows,
             modules: [funcs, time]}
    """, "config/flows.py": """
        import time as _t

        from wippy import funcs, process, time, workflow


        def effect(log, n, step):
            # one line per run: the idempotency key, which workflow, which step, when
            with open(log, "a") as fh:
                fh.write(f"{workflow.idempotency_key()} {n} {step} {_t.time_ns()}\\n")
            return f"{n}{step}"


        async def job(input):
            a = await funcs.call("app:effect", input["log"], input["n"], "a")
            await time.sleep(input["sleep"])
            b = await funcs.call("app:effect", input["log"], input["n"], "b")
            return [a, b]


        async def waiter(input):
            msg = await process.inbox().receive()
            return [msg.topic, msg.payload]
    """, "config/ljob.lua": """
        -- the same job in Lua: the same journal, the same takeover
        local funcs = require("funcs")
        local time = require("time")

        local function main(input)
          local a = funcs.call("app:effect", input.log, input.n, "a")
          time.sleep(input.sleep * time.SECOND)
          local b = funcs.call("app:effect", input.log, input.n, "b")
          return {a, b}
        end

        return {main = main}
    """})


def effects(log: str) -> list[tuple[str, int, str, int]]:
    if not os.path.exists(log):
        return []
    with open(log) as fh:
        rows = [line.split() for line in fh if line.strip()]
    return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]


def statuses(dsn: str) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in query(dsn, "SELECT id, status, owner FROM wippy_workflows")}


def steps_of(dsn: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for wf, rec in query(dsn, "SELECT wf, rec FROM wippy_steps ORDER BY wf, seq"):
        out.setdefault(wf, []).append(rec)
    return out


def node(app: str, dsn: str, name: str) -> wippy.Node:
    return wippy.Node(app, cluster=dsn, node=name, lease_ttl=TTL, stop_timeout=5)


def test_kill_9_of_a_node_its_workflows_finish_once_on_the_survivors(app_dir: str, dsn: str) -> None:
    app = make_app(app_dir)
    log = os.path.join(app_dir, "effects.log")
    n1, n2, n3 = node(app, dsn, "n1"), node(app, dsn, "n2"), node(app, dsn, "n3")
    started: list[wippy.Node] = []
    try:
        for n in (n1, n2, n3):
            n.start()
            started.append(n)
        pids = [n1.workflow_start("app:job" if i % 2 else "app:ljob",    # Python and Lua alike
                                  {"log": log, "n": i, "sleep": SLEEP}) for i in range(N)]
        ids = {p[1:-1].rpartition("|")[2] for p in pids}
        # every workflow has run its first activity and journaled its timer on n1
        wait_until(lambda: sum(len(s) >= 2 for s in steps_of(dsn).values()) == N, 60,
                   interval=0.05, what="every workflow to reach its timer")
        before = steps_of(dsn)
        assert {o for s, o in statuses(dsn).values()} == {"n1"}
        assert len(effects(log)) == N
        kill_tree(n1.process.pid)                 # the machine of n1 dies
        n1.process.wait(10)
        n1.process = None
        n1.close()
        started.remove(n1)
        done = wait_until(lambda: (lambda s: s if all(v[0] == "completed" for v in s.values())
                                   else None)(statuses(dsn)), 90, interval=0.1,
                          what="every workflow to complete on the survivors")
        assert set(done) == ids
        assert {owner for _, owner in done.values()} <= {"n2", "n3"}
        assert {owner for _, owner in done.values()} == {"n2", "n3"}   # spread between them
        assert sum(n.ps()["node"]["cluster"]["taken_over"] for n in (n2, n3)) == N
        runs = effects(log)
        assert sorted((n, step) for _, n, step, _ in runs) == sorted(
            (i, s) for i in range(N) for s in ("a", "b"))          # each effect exactly once
        after = steps_of(dsn)
        for wf in ids:
            timer_then, timer_now = json.loads(before[wf][1]), json.loads(after[wf][1])
            assert timer_then["op"] == "timer" and timer_now == timer_then   # the same due time
            n = json.loads(query(dsn, "SELECT rec FROM wippy_workflows WHERE id = %s", wf)[0][0])["input"]["n"]
            (b_at,) = [at for _, i, step, at in runs if i == n and step == "b"]
            assert b_at >= timer_then["result"]        # not before its journaled due time
        results = {json.dumps(json.loads(r[0])["result"]) for r in
                   query(dsn, "SELECT rec FROM wippy_workflows")}
        assert results == {json.dumps([f"{i}a", f"{i}b"]) for i in range(N)}

        # n1 comes back: it rejoins, takes nothing twice, and runs new work
        back = node(app, dsn, "n1")
        back.start()
        started.append(back)
        out = run_wippy(["cluster", "status", "--cluster", dsn, "--json"])
        assert out.returncode == 0, out.stderr
        rows = {r["node"]: r for r in json.loads(out.stdout)["nodes"]}
        assert set(rows) == {"n1", "n2", "n3"} and all(r["live"] for r in rows.values())
        assert rows["n1"]["workflows"] == 0
        pid = back.workflow_start("app:job", {"log": log, "n": N, "sleep": 0.01})
        assert back.workflow_result(pid, timeout=30) == [f"{N}a", f"{N}b"]
        assert len(effects(log)) == len(runs) + 2          # nothing of the old ones ran again
    finally:
        for n in started:
            n.stop()


def test_workflows_started_signalled_and_awaited_from_any_node_share_one_journal(app_dir: str, dsn: str) -> None:
    app = make_app(app_dir)
    log = os.path.join(app_dir, "effects.log")
    with wippy.Node(app, cluster=dsn, node="a", lease_ttl=TTL, stop_timeout=5,
                    observe="127.0.0.1:0") as a, node(app, dsn, "b") as b:
        pa = a.workflow_start("app:job", {"log": log, "n": 1, "sleep": 0.01}, name="one")
        pb = b.workflow_start("app:job", {"log": log, "n": 2, "sleep": 0.01}, name="two")
        assert a.workflow_result(pa, timeout=30) == ["1a", "1b"]
        assert b.workflow_result(pb, timeout=30) == ["2a", "2b"]
        # a name binds once in the whole cluster: starting it on the other node returns it
        assert b.workflow_start("app:job", {"log": log, "n": 9, "sleep": 0.01}, name="one") == pa
        assert statuses(dsn) == {pa[1:-1].rpartition("|")[2]: ("completed", "a"),
                                 pb[1:-1].rpartition("|")[2]: ("completed", "b")}
        listed = run_wippy(["workflow", "list", "--cluster", dsn, "--json"])
        assert listed.returncode == 0, listed.stderr
        assert sorted((w["name"], w["status"], w["steps"]) for w in json.loads(listed.stdout)) == [
            ("one", "completed", 3), ("two", "completed", 3)]
        shown = run_wippy(["workflow", "show", "one", "--cluster", dsn])
        assert "completed" in shown.stdout and "timer" in shown.stdout
        table = run_wippy(["cluster", "status", "--cluster", dsn])
        assert table.returncode == 0 and "2 node(s), 2 live" in table.stdout
        assert "cluster node a at postgresql://" in format_ps(a.ps())
        # a's web observer shows the cluster's journal, b's workflow included
        assert a.observe_addr is not None
        seen = fetch(int(a.observe_addr.rpartition(":")[2]), "GET", "/api/workflows").json()
        assert sorted(w["name"] for w in seen["workflows"]) == ["one", "two"]
        # a signal sent on b reaches the workflow a runs; its end reaches a monitor on b
        pw = a.workflow_start("app:waiter", None)
        b.send(pw, "go", 5)
        assert b.workflow_result(pw, timeout=30) == ["go", 5]
        assert query(dsn, "SELECT count(*) FROM wippy_inbox") == [(0,)]
        # and a cancel asked on b stops a workflow a runs
        pc = a.workflow_start("app:waiter", None)
        b.workflow_cancel(pc)
        with pytest.raises(wippy.WippyError, match="cancelled"):
            b.workflow_result(pc, timeout=30)
        assert statuses(dsn)[pc[1:-1].rpartition("|")[2]] == ("cancelled", "a")
        # the command line: start a named workflow through node b, signal it by its name
        # through any node of the cluster running the app here (--cluster alone picks one)
        env_cli = ["--app", app, "--cluster", dsn]
        out = run_wippy(["workflow", "start", "app:waiter", "--name", "cli", "--node", "b",
                         *env_cli])
        assert out.returncode == 0, out.stderr
        pcli = out.stdout.strip()
        assert statuses(dsn)[pcli[1:-1].rpartition("|")[2]][1] == "b"
        again = run_wippy(["workflow", "start", "app:waiter", "--name", "cli", *env_cli])
        assert again.stdout.strip() == pcli         # a name binds once in the cluster
        out = run_wippy(["workflow", "signal", "cli", "go", "[1, 2]", *env_cli])
        assert out.returncode == 0, out.stderr
        assert a.workflow_result(pcli, timeout=30) == ["go", [1, 2]]
        out = run_wippy(["workflow", "cancel", "nothing-named-so", *env_cli])
        assert out.returncode == 1 and "no workflow with the ID or name" in out.stderr
        out = run_wippy(["workflow", "start", "app:waiter", "--node", "zz", *env_cli])
        assert out.returncode == 1 and "no node is running" in out.stderr
    assert len(effects(log)) == 4
    gone = run_wippy(["cluster", "status", "--cluster", dsn, "--json"])
    assert {r["node"]: r["live"] for r in json.loads(gone.stdout)["nodes"]} == {
        "a": False, "b": False}              # an orderly stop ends the lease at once


def test_a_node_cut_off_from_the_database_stops_and_the_others_finish_its_work(
        app_dir: str, dsn: str) -> None:
    app = make_app(app_dir)
    log = os.path.join(app_dir, "effects.log")
    n = N // 2
    proxy = Proxy(dsn)
    cut_err = open(os.environ.get("WIPPY_TEST_CUT_LOG") or os.path.join(app_dir, "n1.err"), "w+")
    try:
        with node(app, dsn, "n2") as n2, \
                wippy.Node(app, cluster=proxy.dsn, node="n1", lease_ttl=TTL, stop_timeout=5,
                           stderr=cut_err, log_level="INFO") as n1:
            for i in range(n):
                n1.workflow_start("app:job", {"log": log, "n": i, "sleep": SLEEP})
            wait_until(lambda: sum(len(s) >= 2 for s in steps_of(dsn).values()) == n, 60,
                       interval=0.05, what="every workflow to reach its timer")
            proxy.cut()
            done = wait_until(lambda: (lambda s: s if len(s) == n and all(
                v == ("completed", "n2") for v in s.values()) else None)(statuses(dsn)), 90,
                interval=0.1, what="n2 to finish n1's workflows")
            assert n1.process is not None and n1.process.poll() is None   # n1 stays up
            proxy.restore()
            wait_until(lambda: "reachable again" in open(cut_err.name).read(), 30,
                       what="n1 to reach the database again")
            assert all(len(s) == 3 for s in steps_of(dsn).values())   # a, timer, b: once each
            assert len(done) == n
            assert {(i, step) for _, i, step, _ in effects(log)} == {
                (i, s) for i in range(n) for s in ("a", "b")}
            keys: dict[tuple[int, str], set[str]] = {}
            for key, i, step, _ in effects(log):
                keys.setdefault((i, step), set()).add(key)
            assert all(len(k) == 1 for k in keys.values())   # a repeat carries the same key
            rows = {r["node"]: r for r in json.loads(run_wippy(
                ["cluster", "status", "--cluster", dsn, "--json"]).stdout)["nodes"]}
            assert rows["n1"]["workflows"] == 0 and rows["n2"]["workflows"] == 0
        text = open(cut_err.name).read()
        assert "stops driving" in text
    finally:
        cut_err.close()
        proxy.close()
