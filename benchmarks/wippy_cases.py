"""wippy's side of every case, driven through the Python API (S7) and ``benchmarks/app/``.

The application is copied to a private temporary directory per run (its ``.wippy/`` state
never lands in the checkout), with ``bench:cpun`` set to ``os.cpu_count()`` workers. One node
serves roundtrip, oneway, inproc, spawn, memory and cpu; the restart case boots its own node
with ``app/restart/`` added (it kills a host OS process).

Measurements happen inside the node where possible (a pinger process times its own round
trips, a coordinator process times a stream or a batch), so the external client's costs are
excluded. A case that fails reports ``error: ...``; a node that cannot boot, or a ``wippy``
package that is not there yet, turns every selected case into one such row instead of
crashing the run.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from . import _work
from ._harness import Ctx, Unit, short_tmpdir
from ._stats import rate_per_s
from .floor import INPROC_RUNS, SPAWN_COUNTS, add_latency, add_runs

__all__ = ["UNITS", "APP_DIR", "prepare_app"]

_SYSTEM = "wippy"
#: The benchmark application in the checkout.
APP_DIR = Path(__file__).resolve().parent / "app"
_CORE_CASES = ("roundtrip", "oneway", "inproc", "spawn", "cpu", "memory")


def prepare_app(*, restart: bool = False, cpu_workers: int | None = None) -> str:
    """Copy ``app/`` to a fresh temporary directory and return its path.

    ``restart`` adds ``app/restart/`` (the service the restart case kills); ``cpu_workers``
    (default ``os.cpu_count()``) becomes ``bench:cpun``'s ``host.workers``.
    """
    import yaml

    dest = short_tmpdir("app-")
    for item in APP_DIR.iterdir():
        if item.is_file() and item.suffix in (".py", ".yaml"):
            shutil.copy2(item, dest)
    if restart:
        shutil.copytree(APP_DIR / "restart", Path(dest) / "restart")
    index = Path(dest) / "_index.yaml"
    doc = yaml.safe_load(index.read_text())
    for entry in doc["entries"]:
        if entry.get("name") == "cpun":
            entry["host"] = {"workers": int(cpu_workers or os.cpu_count() or 1)}
    index.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


# --------------------------------------------------------------------------- helpers


def _hosts(node: Any) -> list[dict[str, Any]]:
    """Rows of ``node.ps()["hosts"]`` (``host``, ``slot``, ``os_pid`` ...), or [] if unavailable."""
    ps = getattr(node, "ps", None)
    if ps is None:
        return []
    try:
        return list(ps().get("hosts", []))
    except Exception:  # noqa: BLE001 - ps is a convenience; callers fall back
        return []


def _host_os_pids(node: Any, host_id: str) -> list[int]:
    """OS pids of ``host_id``'s OS processes, from ``ps()`` or else from a probe process."""
    pids = [int(h["os_pid"]) for h in _hosts(node) if h.get("host") == host_id and h.get("os_pid")]
    if pids:
        return pids
    return [int(node.exec("bench:probe", host_id, timeout=30))]


def _place_node(ctx: Ctx, node: Any) -> None:
    """Record (and with --pin, pin) the node and its host OS processes.

    Pin slots: bench:a -> 0 and bench:b -> 1 (the two ends of the cross-process cases),
    bench:cpun worker i -> i; the other hosts and the node are recorded, not pinned.
    """
    proc = getattr(node, "process", None)
    if proc is not None and getattr(proc, "pid", None):
        ctx.place(proc.pid, "node")
    fixed = {"bench:a": 0, "bench:b": 1}
    for h in _hosts(node):
        host_id, os_pid = str(h.get("host")), h.get("os_pid")
        if not os_pid:
            continue
        slot = fixed.get(host_id)
        if host_id == "bench:cpun":
            slot = int(h.get("slot") or 0)
        ctx.place(int(os_pid), f"host {host_id}/{h.get('slot', 0)}", slot)


def _node_log() -> Any:
    """A temporary file for the node's stderr (kept out of the table; quoted on errors)."""
    return tempfile.TemporaryFile(mode="w+b")


def _log_tail(log: Any, lines: int = 8) -> str:
    try:
        log.flush()
        log.seek(0)
        text = log.read().decode(errors="replace")
    except (OSError, ValueError):
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


def _exec(node: Any, entry: str, host: str, *args: Any, timeout: float) -> Any:
    return node.exec(entry, host, *args, timeout=timeout)


# --------------------------------------------------------------------------- cases


def roundtrip(ctx: Ctx, node: Any) -> None:
    """Pinger on bench:a, ponger (echo) on bench:b: two host OS processes."""
    p = ctx.params
    ponger = node.spawn("bench:echo", "bench:b")
    out = _exec(node, "bench:pinger", "bench:a", ponger, p.rt_rounds, p.rt_warmup, timeout=120)
    add_latency(ctx, "roundtrip", _SYSTEM, out["samples_ns"], pinger_os_pid=out["os_pid"],
                what="process.send + inbox.receive between hosts bench:a and bench:b")


def _stream(ctx: Ctx, node: Any, case: str, send_host: str, recv_host: str) -> None:
    p = ctx.params
    count = p.ow_msgs if case == "oneway" else p.inproc_msgs
    out = _exec(node, "bench:stream", "bench:a", send_host, recv_host, count, p.ow_warmup,
                timeout=300)
    same = out["sender_os_pid"] == out["receiver_os_pid"]
    if (case == "inproc") != same:
        raise RuntimeError(f"sender and receiver OS pids {out['sender_os_pid']}, "
                           f"{out['receiver_os_pid']}: not the placement case '{case}' needs")
    ctx.add(case, _SYSTEM, "rate", rate_per_s(count, out["t_end"] - out["t_start"]), "msg/s",
            n=count, sender_host=send_host, receiver_host=recv_host,
            what="process.send of a fresh small dict per message, unbatched")


def oneway(ctx: Ctx, node: Any) -> None:
    """Sender on bench:a, receiver on bench:b."""
    _stream(ctx, node, "oneway", "bench:a", "bench:b")


def inproc(ctx: Ctx, node: Any) -> None:
    """Sender and receiver both on bench:a (one OS process), INPROC_RUNS times."""
    p = ctx.params
    rates = []
    for _ in range(INPROC_RUNS):
        out = _exec(node, "bench:stream", "bench:a", "bench:a", "bench:a", p.inproc_msgs,
                    p.ow_warmup, timeout=300)
        if out["sender_os_pid"] != out["receiver_os_pid"]:
            raise RuntimeError("inproc: sender and receiver on different OS processes")
        rates.append(rate_per_s(p.inproc_msgs, out["t_end"] - out["t_start"]))
    add_runs(ctx, "inproc", _SYSTEM, rates, n=p.inproc_msgs, sender_host="bench:a",
             receiver_host="bench:a", what="process.send of a fresh small dict per message")


def spawn(ctx: Ctx, node: Any) -> None:
    """A spawner on bench:a spawns monitored no-op processes and waits for every EXIT:
    1k, 10k and 100k on its own OS process (flatness), 10k on another (``rate_remote``)."""
    _exec(node, "bench:spawner", "bench:a", "bench:a", 1_000, timeout=120)   # warm-up
    rates = {}
    for n in SPAWN_COUNTS:
        out = _exec(node, "bench:spawner", "bench:a", "bench:a", n, timeout=600)
        rates[n] = rate_per_s(out["count"], out["elapsed_ns"])
        ctx.add("spawn", _SYSTEM, f"rate_{n // 1000}k", rates[n], "spawn/s", n=out["count"],
                spawner_host="bench:a", child_host="bench:a",
                what="spawn_monitored(noop) x n, then every EXIT received")
    ctx.add("spawn", _SYSTEM, "flat_100k_over_1k",
            rates[SPAWN_COUNTS[-1]] / rates[SPAWN_COUNTS[0]], "x",
            what="rate at 100k spawns / rate at 1k (1.0 = flat)")
    _exec(node, "bench:spawner", "bench:a", "bench:b", 1_000, timeout=120)
    out = _exec(node, "bench:spawner", "bench:a", "bench:b", 10_000, timeout=300)
    ctx.add("spawn", _SYSTEM, "rate_remote", rate_per_s(out["count"], out["elapsed_ns"]),
            "spawn/s", n=out["count"], spawner_host="bench:a", child_host="bench:b",
            what="spawn_monitored(noop) on another OS process x n, then every EXIT received")


def memory(ctx: Ctx, node: Any) -> None:
    """RSS delta of bench:mem's OS process for ``mem_procs`` idle processes."""
    p = ctx.params
    pids = _host_os_pids(node, "bench:mem")
    if len(pids) != 1:
        raise RuntimeError(f"bench:mem should have one OS process, found {pids}")
    host = psutil.Process(pids[0])
    _exec(node, "bench:fleet", "bench:a", "bench:mem", 200, timeout=60)  # warm-up: code loaded
    _exec(node, "bench:probe", "bench:mem", timeout=30)  # gc.collect() in the host
    mem0 = host.memory_full_info()
    _exec(node, "bench:fleet", "bench:a", "bench:mem", p.mem_procs, timeout=300)
    _exec(node, "bench:probe", "bench:mem", timeout=30)
    mem1 = host.memory_full_info()
    live = None
    for h in _hosts(node):
        if h.get("host") == "bench:mem":
            procs = h.get("processes")
            live = len(procs) if isinstance(procs, list) else procs
    n = p.mem_procs
    ctx.add("memory", _SYSTEM, "rss_per_proc", (mem1.rss - mem0.rss) / n, "B", n=n,
            host_os_pid=pids[0], live_processes_on_host=live,
            what="RSS delta of the host OS process per idle process (waiting on its inbox)")
    ctx.add("memory", _SYSTEM, "uss_per_proc", (mem1.uss - mem0.uss) / n, "B", n=n,
            host_os_pid=pids[0])


def cpu(ctx: Ctx, node: Any) -> None:
    """The N-queens tasks spawned at once on bench:cpun (N workers), then on bench:cpu1."""
    p = ctx.params
    workers = os.cpu_count() or 1
    expected = _work.EXPECTED[p.cpu_n]
    walls: dict[str, float] = {}
    spread: dict[str, dict[str, int]] = {}
    for host in ("bench:cpun", "bench:cpu1"):
        n_warm = workers if host == "bench:cpun" else 1
        _exec(node, "bench:cpu_batch", "bench:a", host, p.cpu_n, n_warm, timeout=120)
        out = _exec(node, "bench:cpu_batch", "bench:a", host, p.cpu_n, p.cpu_tasks, timeout=900)
        if any(c != expected for c in out["counts"]):
            raise RuntimeError(f"wrong N-queens counts from {host}: {set(out['counts'])}")
        walls[host] = out["elapsed_ns"] / 1e9
        spread[host] = out["jobs_per_os_pid"]
    extra = {"tasks": p.cpu_tasks, "n": p.cpu_n, "workers": workers,
             "jobs_per_os_pid": spread["bench:cpun"]}
    ctx.add("cpu", _SYSTEM, "wall", walls["bench:cpun"], "s", **extra)
    ctx.add("cpu", _SYSTEM, "wall_1w", walls["bench:cpu1"], "s", tasks=p.cpu_tasks, n=p.cpu_n,
            workers=1)
    ctx.add("cpu", _SYSTEM, "speedup_vs_1w", walls["bench:cpu1"] / walls["bench:cpun"], "x",
            **extra)


_CASE_FNS = {"roundtrip": roundtrip, "oneway": oneway, "inproc": inproc, "spawn": spawn,
             "cpu": cpu, "memory": memory}


def _import_wippy() -> Any:
    import wippy

    if not hasattr(wippy, "Node"):
        raise ImportError("wippy has no Node yet")
    return wippy


def run_core(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """Boot one node on the benchmark application and measure the selected core cases."""
    try:
        wippy = _import_wippy()
    except Exception as exc:  # noqa: BLE001 - wippy is being written; report, don't crash
        for case in cases:
            ctx.add_status(case, _SYSTEM, f"error: wippy not ready: {type(exc).__name__}: {exc}")
        return
    app = prepare_app()
    log = _node_log()
    done: set[str] = set()
    try:
        t0 = time.perf_counter()
        with wippy.Node(app, stderr=log) as node:
            boot_s = time.perf_counter() - t0
            _place_node(ctx, node)
            ctx.place(os.getpid(), "client (case runner)")
            for case in _CORE_CASES:  # fixed order: memory last, on a host nobody else used
                if case in cases:
                    with ctx.attempt(case, _SYSTEM):
                        _CASE_FNS[case](ctx, node)
                    done.add(case)
            for r in ctx.results:
                r.extra.setdefault("node_boot_s", round(boot_s, 3))
    except Exception as exc:  # noqa: BLE001 - boot or stop failed
        for case in cases:
            if case not in done:
                ctx.add_status(case, _SYSTEM, f"error: node: {type(exc).__name__}: {exc}",
                               node_log=_log_tail(log))
    finally:
        for r in ctx.results:
            if not r.ok and "node_log" not in r.extra:
                r.extra["node_log"] = _log_tail(log)
        log.close()
        shutil.rmtree(app, ignore_errors=True)


# --------------------------------------------------------------------------- restart


def _service_row(node: Any, sid: str) -> dict[str, Any] | None:
    ps = node.ps()
    for s in ps.get("services", []):
        if s.get("id") == sid:
            return s
    return None


def _wait_running(node: Any, sid: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = _service_row(node, sid)
        if row and str(row.get("state")) == "Running" and row.get("pid"):
            hosts = [h for h in _hosts(node) if h.get("host") == "bench:svc_host"]
            if hosts and all(h.get("state") == "ready" for h in hosts):
                return row
        time.sleep(0.02)
    raise TimeoutError(f"service {sid} not running within {timeout}s (last seen: {row})")


def restart(ctx: Ctx, node: Any) -> None:
    """SIGKILL the OS process of bench:svc_host; time until service ``bench:svc`` answers again.

    Each round: wait until the service runs (and 1.2 s more, past the node's restart-intensity
    window, so every round is a first failure), kill -9 the host, then ping the service by name
    every ~1 ms until a reply arrives from a new PID.
    """
    p = ctx.params
    rounds = max(3, p.restart_rounds // 4)
    if _service_row(node, "bench:svc") is None:
        raise NotImplementedError("node.ps() lists no service bench:svc")
    samples: list[int] = []
    for i in range(rounds):
        row = _wait_running(node, "bench:svc", 30)
        time.sleep(1.2)
        old_pid = row["pid"]
        (os_pid,) = _host_os_pids(node, "bench:svc_host")
        t0 = time.perf_counter_ns()
        os.kill(os_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        answered = False
        while time.monotonic() < deadline and not answered:
            try:
                node.send("bench:svc", "ping", {"round": i})
            except Exception:  # noqa: BLE001 - the name may point at the dead PID for a while
                pass
            msg = node.receive(timeout=0.001)
            while msg is not None:
                if msg.topic == "ping" and msg.sender != old_pid:
                    answered = True
                    break
                msg = node.receive(timeout=0)
        if not answered:
            raise TimeoutError(f"round {i}: service did not answer within 30 s of the kill")
        samples.append(time.perf_counter_ns() - t0)
        while node.receive(timeout=0.05) is not None:  # drop late duplicates
            pass
    add_latency(ctx, "restart", _SYSTEM, samples,
                what="kill -9 of the service's host OS process until the service answers by name")


def run_restart(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """Boot a node with the restart service and measure host restart latency."""
    try:
        wippy = _import_wippy()
    except Exception as exc:  # noqa: BLE001
        ctx.add_status("restart", _SYSTEM, f"error: wippy not ready: {type(exc).__name__}: {exc}")
        return
    app = prepare_app(restart=True)
    log = _node_log()
    try:
        with wippy.Node(app, stderr=log) as node:
            _place_node(ctx, node)
            try:
                restart(ctx, node)
            except NotImplementedError as exc:
                ctx.add_status("restart", _SYSTEM, f"not implemented yet: {exc}")
            except Exception as exc:  # noqa: BLE001
                ctx.add_status("restart", _SYSTEM, f"error: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - e.g. process.service not supported at boot
        ctx.add_status("restart", _SYSTEM, f"error: node: {type(exc).__name__}: {exc}")
    finally:
        for r in ctx.results:
            if not r.ok:
                r.extra.setdefault("node_log", _log_tail(log))
        log.close()
        shutil.rmtree(app, ignore_errors=True)


UNITS: list[Unit] = [
    Unit("wippy", "wippy", _CORE_CASES, (_SYSTEM,), run_core, 600, 3600),
    Unit("wippy.restart", "wippy", ("restart",), (_SYSTEM,), run_restart, 180, 900),
]
