"""Result records, floor ratios, the printed table and the JSON report.

A :class:`Result` is one number (or one status) for one ``(case, system, metric)``.
Each case names a *floor* system (the physical lower bound measured in the same
run); every other system's value is reported as a ratio ``value / floor value``
for the same metric. For latencies and wall times a ratio of 2.0 means "twice as
slow as the floor"; for rates a ratio of 0.5 means "half the floor's rate".
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CASES",
    "FLOOR_SYSTEM",
    "SCHEMA",
    "Result",
    "attach_floor_ratios",
    "derive_speedups",
    "build_report",
    "format_table",
    "format_placement",
    "write_report",
    "timestamp_name",
]

SCHEMA = "wippy-bench/1"

#: Case names in display order, with a one-line description (S11's table).
CASES: dict[str, str] = {
    "roundtrip": "request/reply between processes on two OS processes",
    "oneway": "one-way small-dict messages, one sender -> one receiver, across OS processes",
    "inproc": "messages between processes inside one OS process",
    "spawn": "spawn a process that returns at once, spawn to exit",
    "memory": "memory per idle process",
    "restart": "kill -9 / fork of a host OS process until it answers",
    "cpu": "CPU-bound work (N-queens) spread over cores",
    "registry": "registry version commit -> every subscribed process (1/8/64 OS processes), "
                "get/find, file save -> new version",
    "workflow": "durable workflow steps (fsync'd journal, group commit) vs one fsync per step; "
                "step latency; recovery after kill -9 of the node",
    "http": "hello handler (Lua, Python) behind wippy's HTTP server vs the same server library "
            "answering directly; wrk at 1 and 64 connections",
    "flood": "a sender outrunning a slow receiver on another host: receiver RSS, when the "
             "sender is told, lateness of a neighbour's timers",
    "bigmsg": "one-way 10 KiB and 1 MiB messages across OS processes",
    "lua": "Lua processes: spawn to exit (a fresh state each), memory per idle Lua process",
    "queue": "queue publish -> consume throughput (memory and SQL drivers) vs an asyncio.Queue "
             "broker over the same hops",
    "store": "store.memory set/get per second vs a dict behind one pipe hop",
    "sql": "SELECT round trip through a db.sql.postgres entry vs psycopg directly",
}

#: The system each case is compared against.
FLOOR_SYSTEM: dict[str, str] = {
    "workflow": "floor:lmdb-fsync",
    "roundtrip": "floor:zmq",
    "oneway": "floor:zmq",
    "inproc": "floor:asyncio",
    "spawn": "floor:asyncio",
    "memory": "floor:asyncio",
    "restart": "floor:fork",
    "cpu": "floor:1-proc",
    "http": "floor:granian",
    "bigmsg": "floor:zmq",
    "queue": "floor:asyncio-queue",
    "store": "floor:dict-pipe",
    "sql": "floor:psycopg",
}

#: Order of systems inside one case in the table.
SYSTEM_ORDER: tuple[str, ...] = (
    "floor:zmq",
    "floor:pipe",
    "floor:fork",
    "floor:asyncio",
    "floor:1-proc",
    "multiprocessing",
    "pykka",
    "ray",
    "wippy",
)


@dataclass
class Result:
    """One measured value (or a status explaining why there is none).

    Attributes:
        case: a key of :data:`CASES`.
        system: who was measured (``floor:zmq``, ``multiprocessing``, ``ray``, ``wippy`` ...).
        metric: ``p50``, ``p99``, ``rate``, ``wall``, ``speedup``, ``rss_per_proc`` ...
        value: the number, or None when ``status`` is not ``"ok"``.
        unit: ``us``, ``ms``, ``msg/s``, ``spawn/s``, ``s``, ``x``, ``B``.
        status: ``"ok"``, ``"skipped: ..."``, ``"error: ..."`` or ``"not implemented yet: ..."``.
        extra: parameters and raw figures (sample count, sizes, ...).
        floor_ratio: ``value / floor value`` for the same case and metric, filled by
            :func:`attach_floor_ratios`.
    """

    case: str
    system: str
    metric: str
    value: float | None
    unit: str
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)
    floor_ratio: float | None = None

    @property
    def ok(self) -> bool:
        """True when the result carries a number."""
        return self.status == "ok" and self.value is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON and for pickling across the case-runner pipe."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def status_result(case: str, system: str, status: str, **extra: Any) -> Result:
    """A result row that carries only a status (skipped, error, not implemented)."""
    return Result(case=case, system=system, metric="-", value=None, unit="", status=status,
                  extra=dict(extra))


def attach_floor_ratios(results: Sequence[Result]) -> None:
    """Fill ``floor_ratio`` on every ok result whose case's floor measured the same metric."""
    floors: dict[tuple[str, str], float] = {}
    for r in results:
        if r.ok and FLOOR_SYSTEM.get(r.case) == r.system:
            floors[(r.case, r.metric)] = float(r.value)  # type: ignore[arg-type]
    for r in results:
        base = floors.get((r.case, r.metric))
        if r.ok and base:
            r.floor_ratio = float(r.value) / base  # type: ignore[arg-type]
        else:
            r.floor_ratio = None


def derive_speedups(results: list[Result]) -> None:
    """Add a ``cpu``/``speedup`` row (floor wall / wall) for every system that reported a wall.

    Systems that already reported their own ``speedup`` keep it.
    """
    floor_sys = FLOOR_SYSTEM["cpu"]
    base = next((r.value for r in results if r.ok and r.case == "cpu"
                 and r.system == floor_sys and r.metric == "wall"), None)
    if not base:
        return
    have = {r.system for r in results if r.case == "cpu" and r.metric == "speedup"}
    for r in list(results):
        if r.ok and r.case == "cpu" and r.metric == "wall" and r.system not in have and r.value:
            results.append(Result(case="cpu", system=r.system, metric="speedup",
                                  value=float(base) / float(r.value), unit="x",
                                  extra={"vs": f"{floor_sys} wall"}))
            have.add(r.system)


def _sort_key(r: Result) -> tuple[int, int, str]:
    case_idx = list(CASES).index(r.case) if r.case in CASES else len(CASES)
    sys_idx = SYSTEM_ORDER.index(r.system) if r.system in SYSTEM_ORDER else len(SYSTEM_ORDER)
    return (case_idx, sys_idx, r.system)


def _fmt_value(value: float) -> str:
    if value == 0:
        return "0"
    mag = abs(value)
    if mag >= 1e6:
        return f"{value:,.0f}"
    if mag >= 100:
        return f"{value:,.1f}"
    if mag >= 1:
        return f"{value:.2f}"
    return f"{value:.4g}"


def format_table(results: Iterable[Result], *, max_status: int = 70) -> str:
    """Render results as a fixed-width text table, grouped by case.

    Columns: case, system, metric, value, unit, ratio vs the case's floor. A result
    that is not ok shows its status in place of the value.
    """
    rows: list[tuple[str, str, str, str, str, str]] = []
    for r in sorted(results, key=_sort_key):
        if r.ok:
            value = _fmt_value(float(r.value))  # type: ignore[arg-type]
            if FLOOR_SYSTEM.get(r.case) == r.system:
                ratio = "floor"
            elif r.floor_ratio is not None:
                ratio = f"{r.floor_ratio:.2f}x"
            else:
                ratio = "-"
            rows.append((r.case, r.system, r.metric, value, r.unit, ratio))
        else:
            status = r.status if len(r.status) <= max_status else r.status[: max_status - 3] + "..."
            rows.append((r.case, r.system, r.metric, status, "", ""))
    header = ("case", "system", "metric", "value", "unit", "vs floor")
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = {3, 5}

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            # Status text goes left-aligned even in the value column.
            right = i in numeric and (cell[:1].isdigit() or cell[:1] == "-" or cell == "floor")
            out.append(cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    lines = [line(header), sep]
    prev_case = None
    for row in rows:
        if prev_case is not None and row[0] != prev_case:
            lines.append("")
        lines.append(line(row))
        prev_case = row[0]
    return "\n".join(lines)


def format_placement(units: Iterable[dict[str, Any]]) -> str:
    """One line per unit: how its OS processes were placed on cores."""
    out = []
    for u in units:
        parts = []
        for p in u.get("placement", []):
            cpus = p.get("cpus")
            cpus_s = ",".join(str(c) for c in cpus) if cpus else "?"
            parts.append(f"{p.get('role')}[{p.get('pid')}]@{{{cpus_s}}}")
        out.append(f"  {u['name']} ({u.get('pin', 'none')}): " + ("; ".join(parts) or "-"))
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for dist in ("pyzmq", "psutil", "cloudpickle", "ray", "pykka", "wippy"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "loadavg": list(os.getloadavg()),
        "versions": versions,
    }


def build_report(
    *,
    argv: Sequence[str],
    quick: bool,
    pin: str,
    units: Sequence[dict[str, Any]],
    results: Sequence[Result],
    leftovers: Sequence[dict[str, Any]] = (),
    started: float | None = None,
    machine: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the JSON-serialisable report.

    Top-level keys: ``schema``, ``timestamp`` (UTC ISO-8601), ``argv``, ``quick``,
    ``pin``, ``machine``, ``floors`` (case -> floor system), ``units`` (each with its
    ``placement``: role, OS pid, cpu affinity list), ``results`` and ``leftover_processes``.
    """
    ts = time.gmtime(started if started is not None else time.time())
    return {
        "schema": SCHEMA,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", ts),
        "argv": list(argv),
        "quick": quick,
        "pin": pin,
        "machine": machine if machine is not None else machine_info(),
        "floors": dict(FLOOR_SYSTEM),
        "units": list(units),
        "results": [r.to_dict() for r in results],
        "leftover_processes": list(leftovers),
    }


def timestamp_name(started: float) -> str:
    """File name for a report started at ``started`` (epoch seconds): ``20260101T120000Z.json``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + ".json"


def write_report(report: dict[str, Any], out_dir: Path, started: float) -> Path:
    """Write ``report`` as ``out_dir/<timestamp>.json`` (never overwriting) and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / timestamp_name(started)
    n = 1
    while path.exists():
        path = out_dir / timestamp_name(started).replace(".json", f"-{n}.json")
        n += 1
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    return path
