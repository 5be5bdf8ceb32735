"""The ``registry`` case (S3, S11): version propagation, reads, and hot reload of a saved file.

The application is ``app/registry/`` (namespace ``breg``), copied alone to a private temporary
directory per node, with ``breg:subs``'s ``host.workers`` set to N and two generated files:
``items.yaml`` (100 ``registry.entry`` entries, for ``find``) and ``watched.yaml`` (the file the
hot-reload measurement saves). One node is booted per N in ``SUBSCRIBER_HOSTS``.

Measured, all for wippy (there is no floor for this case):

* **Propagation** (per N = 1, 8, 64 subscriber OS processes). A ``writer`` process on host
  ``breg:w`` spawns N ``subscriber`` processes on ``breg:subs``; placement puts each on the OS
  process with the fewest processes, and the harness checks from their PIDs
  (``{host/serial|id}``) and OS pids that they sit on N distinct OS processes. Each subscriber
  does ``events.subscribe("registry")`` and, whenever ``sub.channel().receive()`` returns an
  ``entry.update`` of ``breg:knob``, keeps that moment's ``time.time()``; it sends them all to
  the writer at the end, so that no report competes with the next version's propagation for
  the two cores (with 64 subscribers, 64 reports per version cost the writer's host ~2 ms of
  CPU). The writer applies versions one at a time, ``pace_ms(N)`` apart (5, 10, 40 ms: above
  the propagation's p99), each ``registry.snapshot().changes().update(knob with seq=k)`` built
  first, then ``t_before = time.time()``, ``await ... .apply()``, ``t_after``. A version not
  seen by every subscriber fails the case. Per version (warm-up versions dropped), with
  ``t_all = max`` and ``t_first = min`` of the N receive stamps and ``t_commit`` the time the
  node recorded for that version (``registry.history()``: ``time.time()`` inside the LMDB write
  transaction, just before it commits; the announcement to the hosts follows the commit):

  - ``commit_to_all_{p50,p99}_n{N}`` = ``t_all - t_commit`` (S11's "every process sees a
    version within 5 ms p50 of its commit");
  - ``apply_to_all_p50_n{N}`` = ``t_all - t_before`` (end to end, as the writer sees it);
  - ``apply_call_p50_n{N}`` = ``t_after - t_before`` (``apply()`` round trip: plan, validate,
    commit, broadcast, reply).

  Every stamp is ``time.time()`` (CLOCK_REALTIME) on one machine, so stamps taken in different
  OS processes are comparable (the node's commit time uses that clock).
* **Reads** (on the N = 1 node), inside a process on ``breg:w``: ``get_us`` = wall time of M
  ``registry.get("breg:knob")`` / M; ``find_us`` = wall time of L ``registry.find({".kind":
  "registry.entry", "meta.group": "even"})`` / L over the ~100-entry registry (50 matches).
* **Hot reload** (on the N = 1 node): ``watched.yaml`` is rewritten with a new ``seq`` and moved
  into place with ``os.replace`` at a random phase of the watcher's poll; ``t_save`` is
  ``time.time()`` right after the replace. ``save_to_visible_p50`` = until the external
  client's ``node.registry.version()`` (an LMDB read, polled every 1 ms) shows the new version;
  ``save_to_event_p50`` = until a subscribed process on ``breg:w`` receives the event;
  ``save_to_commit_p50`` = until the version's recorded commit time. The node polls the files
  every 0.25 s and acts once they have been quiet for 0.3 s, so this is dominated by those
  constants, not by the registry.
"""
from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._harness import Ctx, Unit, short_tmpdir
from ._stats import percentile
from .wippy_cases import APP_DIR, _hosts, _import_wippy, _log_tail, _node_log

__all__ = ["UNITS", "REG_APP_DIR", "SUBSCRIBER_HOSTS", "prepare_registry_app", "pid_serial",
           "propagation_samples", "summary_ms"]

_SYSTEM = "wippy"
_CASE = "registry"
#: The registry case's application in the checkout.
REG_APP_DIR = APP_DIR / "registry"
#: Subscriber OS processes (``breg:subs`` workers) per propagation run, one node each.
SUBSCRIBER_HOSTS = (1, 8, 64)
#: Entries of the large registry (S11: apply and snapshot independent of the registry's size).
LARGE = 10_000
#: Registry entries generated for ``find``.
ITEMS = 100
FIND_FILTER = {".kind": "registry.entry", "meta.group": "even"}
WATCHED_ID = "breg.file:knob"
S11_TARGET = "every process sees a version within ~5 ms p50 of its commit (S11)"


def pace_ms(n: int) -> int:
    """Milliseconds between two versions with ``n`` subscriber OS processes: well above the
    p99 of a version's propagation, so versions do not overlap."""
    return 5 if n <= 1 else 10 if n <= 8 else 40


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"versions": 20, "warmup": 3, "get_loops": 20_000, "find_loops": 300,
                "saves": 3}
    return {"versions": 300, "warmup": 20, "get_loops": 200_000, "find_loops": 3_000,
            "saves": 10}


# --------------------------------------------------------------------------- pure helpers


def pid_serial(pid: str) -> int:
    """The OS-process serial of a wippy PID ``{host/serial|local}``; ValueError otherwise."""
    if not (isinstance(pid, str) and pid.startswith("{") and pid.endswith("}") and "|" in pid):
        raise ValueError(f"not a PID: {pid!r}")
    head = pid[1:-1].rpartition("|")[0]
    host, slash, serial = head.rpartition("/")
    if not slash or not host or not serial.isdigit():
        raise ValueError(f"not a PID: {pid!r}")
    return int(serial)


def propagation_samples(rows: Sequence[Mapping[str, Any]],
                        commit_time: Mapping[int, float]) -> dict[str, list[float]]:
    """Per-version latencies in milliseconds from the writer's rows (warm-up rows skipped).

    Each row has ``version``, ``t_before``, ``t_after``, ``t_seen`` (one receive stamp per
    subscriber) and ``warmup``; ``commit_time`` maps a version to its recorded commit time.
    Returns ``commit_to_all``, ``commit_to_first``, ``apply_to_all`` and ``apply_call`` lists.

    Raises:
        ValueError: a row has no receive stamps or its version has no commit time.
    """
    out: dict[str, list[float]] = {"commit_to_all": [], "commit_to_first": [],
                                   "apply_to_all": [], "apply_call": []}
    for row in rows:
        if row.get("warmup"):
            continue
        seen = list(row["t_seen"])
        if not seen:
            raise ValueError(f"version {row['version']}: no subscriber saw it")
        version = int(row["version"])
        if version not in commit_time:
            raise ValueError(f"version {version}: no commit time in the history")
        t_commit = float(commit_time[version])
        out["commit_to_all"].append((max(seen) - t_commit) * 1e3)
        out["commit_to_first"].append((min(seen) - t_commit) * 1e3)
        out["apply_to_all"].append((max(seen) - float(row["t_before"])) * 1e3)
        out["apply_call"].append((float(row["t_after"]) - float(row["t_before"])) * 1e3)
    return out


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p99, min, max and n of millisecond samples (ValueError when empty)."""
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99),
            "min": float(min(samples)), "max": float(max(samples)), "n": float(len(samples))}


# --------------------------------------------------------------------------- application


def _watched_yaml(seq: int) -> str:
    return ("# rewritten by the registry benchmark (hot reload)\n"
            'version: "1.0"\nnamespace: breg.file\nentries:\n'
            f"  - name: knob\n    kind: registry.entry\n    seq: {seq}\n")


def prepare_registry_app(sub_workers: int, items: int = ITEMS) -> str:
    """Copy ``app/registry/`` to a fresh temporary directory and return its path.

    ``breg:subs`` gets ``sub_workers`` OS processes; ``items.yaml`` holds ``items`` entries
    ``breg.items:item00000``... (``meta.group`` even/odd); ``watched.yaml`` holds
    ``breg.file:knob`` with ``seq: 0``.
    """
    import yaml

    dest = short_tmpdir("reg-")
    for item in REG_APP_DIR.iterdir():
        if item.is_file() and item.suffix in (".py", ".yaml"):
            shutil.copy2(item, dest)
    index = Path(dest) / "_index.yaml"
    doc = yaml.safe_load(index.read_text())
    for entry in doc["entries"]:
        if entry.get("name") == "subs":
            entry["host"] = {"workers": int(sub_workers)}
    index.write_text(yaml.safe_dump(doc, sort_keys=False))
    generated = {"version": "1.0", "namespace": "breg.items", "entries": [
        {"name": f"item{i:05d}", "kind": "registry.entry",
         "meta": {"group": "even" if i % 2 == 0 else "odd", "n": i},
         "value": i, "label": f"item number {i}"} for i in range(items)]}
    (Path(dest) / "items.yaml").write_text(yaml.safe_dump(generated, sort_keys=False))
    (Path(dest) / "watched.yaml").write_text(_watched_yaml(0))
    return dest


# --------------------------------------------------------------------------- measurements


def _place(ctx: Ctx, node: Any, n: int) -> None:
    """Record (and with --pin, pin) the node and its hosts: breg:w -> slot 0, subs i -> i + 1."""
    proc = getattr(node, "process", None)
    if proc is not None and getattr(proc, "pid", None):
        ctx.place(proc.pid, f"node (n={n})")
    for h in _hosts(node):
        host_id, os_pid = str(h.get("host")), h.get("os_pid")
        if not os_pid:
            continue
        slot = 0 if host_id == "breg:w" else int(h.get("slot") or 0) + 1
        ctx.place(int(os_pid), f"host {host_id}/{h.get('slot', 0)} (n={n})", slot)


def propagation(ctx: Ctx, node: Any, n: int, label: str = "") -> None:
    """N subscribers on N OS processes; the writer applies versions one at a time."""
    sz = _sizes(ctx.quick)
    pace = pace_ms(n)
    out = node.exec("breg:writer", "breg:w", "breg:subs", n, sz["versions"], sz["warmup"], pace,
                    timeout=60 + 0.5 * n + (0.2 + pace / 1e3) * (sz["versions"] + sz["warmup"])
                    * max(1, n / 8))
    short = [r["seq"] for r in out["rows"] if len(r["t_seen"]) != n]
    if short:
        raise RuntimeError(f"versions {short[:5]} were not seen by all {n} subscribers")
    subs = out["subs"]
    serials = {pid_serial(s["pid"]) for s in subs}
    os_pids = {int(s["os_pid"]) for s in subs}
    if len(subs) != n or len(serials) != n or len(os_pids) != n:
        raise RuntimeError(f"{n} subscribers expected on {n} OS processes; got {len(subs)} "
                           f"on serials {sorted(serials)} (OS pids {sorted(os_pids)})")
    commit_time = {int(h["version"]): float(h["time"]) for h in node.registry.history()
                   if h.get("time") is not None}
    samples = propagation_samples(out["rows"], commit_time)
    label = label or f"n{n}"
    snaps = [r["snap_ns"] / 1e3 for r in out["rows"] if not r.get("warmup") and "snap_ns" in r]
    common = {"subscribers": n, "subscriber_os_processes": len(os_pids),
              "versions": len(samples["commit_to_all"]), "warmup_versions": sz["warmup"],
              "writer_host": "breg:w", "writer_os_pid": out["writer_os_pid"],
              "writer": "process (await registry.snapshot().changes().update(...).apply())",
              "pace_ms": pace, "reports": "every subscriber's stamps sent once, at the end",
              "target": S11_TARGET}
    ca = summary_ms(samples["commit_to_all"])
    cf = summary_ms(samples["commit_to_first"])
    aa = summary_ms(samples["apply_to_all"])
    ac = summary_ms(samples["apply_call"])
    ctx.add(_CASE, _SYSTEM, f"commit_to_all_p50_{label}", ca["p50"], "ms", **common,
            min_ms=ca["min"], max_ms=ca["max"], commit_to_first_p50_ms=cf["p50"],
            what="max over subscribers of (event received) - (commit time in the history)")
    ctx.add(_CASE, _SYSTEM, f"commit_to_all_p99_{label}", ca["p99"], "ms", **common)
    ctx.add(_CASE, _SYSTEM, f"apply_to_all_p50_{label}", aa["p50"], "ms", **common,
            p99_ms=aa["p99"],
            what="max over subscribers of (event received) - (writer: just before apply())")
    ctx.add(_CASE, _SYSTEM, f"apply_call_p50_{label}", ac["p50"], "ms", **common, p99_ms=ac["p99"],
            what="writer: apply() returned - just before apply()")
    if snaps:
        ctx.add(_CASE, _SYSTEM, f"snapshot_after_version_us_{label}", percentile(snaps, 50),
                "us", **common, what="p50 of registry.snapshot() in the writer, the first read "
                "after each new version")


def reads(ctx: Ctx, node: Any, label: str = "") -> None:
    """registry.get, registry.find and registry.snapshot loops inside a process on breg:w."""
    sz = _sizes(ctx.quick)
    find_loops = sz["find_loops"] if not label else max(3, sz["find_loops"] // 100)
    out = node.exec("breg:reader", "breg:w", sz["get_loops"], find_loops, FIND_FILTER,
                    timeout=300)
    suffix = f"_{label}" if label else ""
    ctx.add(_CASE, _SYSTEM, f"snapshot_us{suffix}", out["snap_ns"] / out["snap_loops"] / 1e3,
            "us", n=out["snap_loops"], entries=out["entries"], host="breg:w",
            what="registry.snapshot().get(id) inside a process, mean of a loop")
    if label:
        return
    ctx.add(_CASE, _SYSTEM, "get_us", out["get_ns"] / out["get_loops"] / 1e3, "us",
            n=out["get_loops"], entries=out["entries"], host="breg:w",
            what="registry.get(id) inside a process, mean of a loop")
    ctx.add(_CASE, _SYSTEM, "find_us", out["find_ns"] / out["find_loops"] / 1e3, "us",
            n=out["find_loops"], entries=out["entries"], matched=out["found"],
            filter=FIND_FILTER, host="breg:w",
            what="registry.find(filter) inside a process, mean of a loop")


def _await_msg(node: Any, topic: str, timeout: float, want: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {topic!r} message within {timeout} s")
        msg = node.receive(timeout=min(left, 0.5))
        if msg is None or msg.topic != topic:
            continue
        if want is None or (isinstance(msg.payload, list) and msg.payload[0] == want):
            return msg.payload


def hot_reload(ctx: Ctx, node: Any, app: str) -> None:
    """Rewrite watched.yaml (atomic replace) and time until the new version is visible."""
    sz = _sizes(ctx.quick)
    node.spawn("breg:save_watcher", "breg:w", node.pid, WATCHED_ID)
    _await_msg(node, "ready", 30)
    path = Path(app) / "watched.yaml"
    rng = random.Random(11)
    visible: list[float] = []
    event: list[float] = []
    commit: list[float] = []
    warm = 1
    for i in range(1, warm + sz["saves"] + 1):
        time.sleep(rng.uniform(0.05, 0.30))  # a random phase of the 0.25 s poll
        v0 = node.registry.version()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_watched_yaml(i))
        os.replace(tmp, path)
        t_save = time.time()
        deadline = time.monotonic() + 10
        while node.registry.version() == v0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"save {i}: no new version within 10 s")
            time.sleep(0.001)
        t_visible = time.time()
        version = node.registry.version()
        if node.registry.get(WATCHED_ID)["data"].get("seq") != i:
            raise RuntimeError(f"save {i}: version {version} does not carry seq {i}")
        _, t_event = _await_msg(node, "saw", 10, want=i)
        rec = next(h for h in node.registry.history() if int(h["version"]) == int(version))
        if i > warm:
            visible.append((t_visible - t_save) * 1e3)
            event.append((t_event - t_save) * 1e3)
            commit.append((float(rec["time"]) - t_save) * 1e3)
    common = {"saves": len(visible), "warmup_saves": warm, "watcher_poll_s": 0.25,
              "watcher_debounce_s": 0.3}
    for metric, samples, what in (
            ("save_to_visible_p50", visible,
             "os.replace of a YAML file -> node.registry.version() (client, 1 ms poll) is new"),
            ("save_to_event_p50", event,
             "os.replace of a YAML file -> entry.update received by a subscribed process"),
            ("save_to_commit_p50", commit,
             "os.replace of a YAML file -> the version's recorded commit time")):
        s = summary_ms(samples)
        ctx.add(_CASE, _SYSTEM, metric, s["p50"], "ms", **common, min_ms=s["min"],
                max_ms=s["max"], samples_ms=[round(x, 2) for x in samples], what=what)


def _run_node(ctx: Ctx, wippy: Any, n: int, *, first: bool, items: int = ITEMS) -> None:
    """Boot a node with ``n`` subscriber OS processes and measure; failures become rows.
    With ``items`` = LARGE, only propagation and reads run, labelled ``n1_10k``."""
    app = prepare_registry_app(n, items)
    label = f"n{n}" if items == ITEMS else f"n{n}_{items // 1000}k"
    log = _node_log()
    before = len(ctx.results)
    try:
        t0 = time.perf_counter()
        with wippy.Node(app, stderr=log, boot_timeout=60 + 2 * n) as node:
            boot_s = time.perf_counter() - t0
            _place(ctx, node, n)
            with ctx.attempt(_CASE, _SYSTEM):
                propagation(ctx, node, n, label)
            if items != ITEMS:
                with ctx.attempt(_CASE, _SYSTEM):
                    reads(ctx, node, label=f"{items // 1000}k")
            if first:
                with ctx.attempt(_CASE, _SYSTEM):
                    reads(ctx, node)
                with ctx.attempt(_CASE, _SYSTEM):
                    hot_reload(ctx, node, app)
            for r in ctx.results[before:]:
                r.extra.setdefault("registry_entries", items)
                r.extra.setdefault("node_boot_s", round(boot_s, 3))
                r.extra.setdefault("subscriber_workers", n)
    except Exception as exc:  # noqa: BLE001 - boot or stop failed
        ctx.add_status(_CASE, _SYSTEM, f"error: node (n={n}): {type(exc).__name__}: {exc}")
    finally:
        for r in ctx.results[before:]:
            if not r.ok:
                r.extra.setdefault("node_log", _log_tail(log))
        log.close()
        shutil.rmtree(app, ignore_errors=True)


def run_registry(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """One node per N in SUBSCRIBER_HOSTS; reads and hot reload on the first (N = 1)."""
    try:
        wippy = _import_wippy()
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        ctx.add_status(_CASE, _SYSTEM, f"error: wippy not ready: {type(exc).__name__}: {exc}")
        return
    ctx.place(os.getpid(), "client (case runner)")
    for i, n in enumerate(SUBSCRIBER_HOSTS):
        _run_node(ctx, wippy, n, first=i == 0)
    _run_node(ctx, wippy, 1, first=False, items=LARGE)


UNITS: list[Unit] = [
    Unit("wippy.registry", "wippy", (_CASE,), (_SYSTEM,), run_registry, 300, 1200),
]
