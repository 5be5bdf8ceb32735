"""S11's table, row by row, computed from one run's results: the figure, what it is compared
with (measured in the same run), the ratio, the target and whether it was met.

Pure functions of :class:`~benchmarks._report.Result` lists (tested without running anything);
``python -m benchmarks`` prints :func:`format_s11` after the full table, and ``--from REPORT``
recomputes it from an earlier report.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._report import Result

__all__ = ["S11Row", "s11_rows", "format_s11"]


@dataclass(frozen=True)
class S11Row:
    """One line of the verdict: ``ratio`` is None (and ``verdict`` ``"not measured"``) when
    a figure it needs is missing from the run."""

    row: str
    figure: str
    reference: str
    ratio: float | None
    target: str
    verdict: str


Lookup = Callable[[str, str, str], "float | None"]


def _index(results: Sequence[Result]) -> Lookup:
    table = {(r.case, r.system, r.metric): float(r.value) for r in results
             if r.ok and r.value is not None}

    def get(case: str, system: str, metric: str) -> float | None:
        return table.get((case, system, metric))
    return get


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit in ("msg/s", "spawn/s", "steps/s", "req/s"):
        return f"{v / 1000:.1f}k {unit}" if v >= 1000 else f"{v:.0f} {unit}"
    if unit == "us" and v >= 1000:
        return f"{v / 1000:.3g} ms"
    if unit == "B":
        return f"{v / 1000:.1f} KB" if v >= 1000 else f"{v:.0f} B"
    return f"{v:.3g} {unit}"


def _ratio_row(name: str, target: str, a: float | None, b: float | None, unit: str,
               b_name: str, ok: Callable[[float], bool], *, times_faster: bool = False
               ) -> S11Row:
    """wippy's ``a`` against ``b``: ratio a / b, or b / a with ``times_faster`` (a peer's
    latency over wippy's)."""
    num, den = (b, a) if times_faster else (a, b)
    ratio = None if num is None or den is None or not den else num / den
    verdict = "not measured" if ratio is None else ("met" if ok(ratio) else "MISSED")
    return S11Row(name, _fmt(a, unit), f"{b_name} {_fmt(b, unit)}", ratio, target, verdict)


def _abs_row(name: str, target: str, a: float | None, unit: str,
             ok: Callable[[float], bool]) -> S11Row:
    verdict = "not measured" if a is None else ("met" if ok(a) else "MISSED")
    return S11Row(name, _fmt(a, unit), "-", None, target, verdict)


def s11_rows(results: Sequence[Result]) -> list[S11Row]:
    """Every row of S11's table that this run measured (rows whose figures are missing say
    ``not measured``)."""
    g = _index(results)
    rows: list[S11Row] = []
    for sfx, how in (("", "unpinned"), ("_pinned", "pinned")):
        rows.append(_ratio_row(f"round trip p50, two hosts ({how})", "<= 1.5x raw pyzmq",
                               g("roundtrip", "wippy", "p50" + sfx),
                               g("roundtrip", "floor:zmq", "p50" + sfx),
                               "us", "raw pyzmq", lambda r: r <= 1.5))
    rows.append(_ratio_row("round trip p50 vs Ray", ">= 10x faster than Ray",
                           g("roundtrip", "wippy", "p50"), g("roundtrip", "ray", "p50"), "us",
                           "Ray", lambda r: r >= 10, times_faster=True))
    for sfx, how in (("", "unpinned"), ("_pinned", "pinned")):
        rows.append(_ratio_row(f"one-way small dict ({how})", ">= 0.6x raw pyzmq",
                               g("oneway", "wippy", "rate" + sfx),
                               g("oneway", "floor:zmq", "rate" + sfx),
                               "msg/s", "raw pyzmq", lambda r: r >= 0.6))
    rows.append(_ratio_row("one-way small dict vs Ray", ">= 30x Ray's async calls",
                           g("oneway", "wippy", "rate"), g("oneway", "ray", "rate"), "msg/s",
                           "Ray", lambda r: r >= 30))
    for size in ("10k", "1m"):
        for sfx, how in (("", "unpinned"), ("_pinned", "pinned")):
            m = f"rate_{size}{sfx}"
            rows.append(_ratio_row(f"one-way {size.upper()}B ({how})", ">= 0.8x raw pyzmq",
                                   g("bigmsg", "wippy", m), g("bigmsg", "floor:zmq", m), "msg/s",
                                   "raw pyzmq", lambda r: r >= 0.8))
    for sfx, how in (("", "unpinned"), ("_pinned", "pinned")):
        rows.append(_ratio_row(f"same OS process ({how})", ">= 0.5x asyncio.Queue",
                               g("inproc", "wippy", "rate" + sfx),
                               g("inproc", "floor:asyncio", "rate" + sfx),
                               "msg/s", "asyncio.Queue", lambda r: r >= 0.5))
    rows.append(_abs_row("same OS process, max/min of runs", "<= 1.3",
                         g("inproc", "wippy", "max_over_min"), "x", lambda v: v <= 1.3))
    rows.append(_ratio_row("same OS process vs Pykka", ">= 2x Pykka", g("inproc", "wippy", "rate"),
                           g("inproc", "pykka", "rate"), "msg/s", "Pykka", lambda r: r >= 2))
    for n in ("1k", "10k", "100k"):
        rows.append(_ratio_row(f"spawn to exit, {n} spawns", ">= 0.8x asyncio tasks",
                               g("spawn", "wippy", f"rate_{n}"),
                               g("spawn", "floor:asyncio", f"rate_{n}"),
                               "spawn/s", "asyncio", lambda r: r >= 0.8))
    rows.append(_abs_row("spawn to exit flat: rate at 100k / at 1k", ">= 0.8 (asyncio: "
                         f"{_fmt(g('spawn', 'floor:asyncio', 'flat_100k_over_1k'), 'x')})",
                         g("spawn", "wippy", "flat_100k_over_1k"), "x", lambda v: v >= 0.8))
    rows.append(_abs_row("Lua spawn to exit", ">= 20k/s", g("lua", "wippy-lua", "spawn_rate"),
                         "spawn/s", lambda v: v >= 20_000))
    rows.append(_abs_row("idle Lua process", "<= 40 KB", g("lua", "wippy-lua", "idle_rss_per_proc"),
                         "B", lambda v: v <= 40_960))
    rows.append(_ratio_row("idle Python process", "<= 2x an idle asyncio task",
                           g("memory", "wippy", "rss_per_proc"),
                           g("memory", "floor:asyncio", "traced_per_proc"), "B",
                           "asyncio task (tracemalloc; its RSS delta is page-grained)",
                           lambda r: r <= 2))
    rows.append(_abs_row("idle Python process, bytes", "<= ~2.5 KB",
                         g("memory", "wippy", "rss_per_proc"), "B", lambda v: v <= 2_500))
    rows.append(_ratio_row("restart of a kill -9'd host, p50", "<= 5x fork-and-ready",
                           g("restart", "wippy", "p50"), g("restart", "floor:fork", "p50"), "us",
                           "fork-and-ready", lambda r: r <= 5))
    rows.append(_ratio_row("restart vs Ray kill+recreate", ">= 20x faster than Ray",
                           g("restart", "wippy", "p50"), g("restart", "ray", "p50"), "us", "Ray",
                           lambda r: r >= 20, times_faster=True))
    rows.append(_ratio_row("CPU-bound work, speedup", ">= 0.95x multiprocessing.Pool",
                           g("cpu", "wippy", "speedup"), g("cpu", "multiprocessing", "speedup"),
                           "x", "Pool", lambda r: r >= 0.95))
    rows.append(_ratio_row("durable step, one workflow", "<= 1.5x one fsync'd LMDB commit",
                           g("workflow", "wippy", "step_latency_us"),
                           g("workflow", "floor:lmdb-fsync", "step_latency_us"), "us",
                           "LMDB commit", lambda r: r <= 1.5))
    rows.append(_ratio_row("durable steps/s, many in flight", ">= 10x one commit per step",
                           g("workflow", "wippy", "steps_per_s"),
                           g("workflow", "floor:lmdb-fsync", "steps_per_s"), "steps/s",
                           "one commit per step", lambda r: r >= 10))
    rows.append(_abs_row("recovery of in-flight workflows after kill -9", "<= 2 s",
                         g("workflow", "wippy", "recovery_s"), "s", lambda v: v <= 2))
    rows.append(_abs_row("registry apply, 10k entries, p50", "<= 10 ms",
                         g("registry", "wippy", "apply_call_p50_n1_10k"), "ms", lambda v: v <= 10))
    rows.append(_ratio_row("registry snapshot, 10k vs 100 entries", "O(1): <= 2x",
                           g("registry", "wippy", "snapshot_us_10k"),
                           g("registry", "wippy", "snapshot_us"), "us", "100 entries",
                           lambda r: r <= 2))
    rows.append(_ratio_row("snapshot after a new version, 10k vs 100", "O(1): <= 2x",
                           g("registry", "wippy", "snapshot_after_version_us_n1_10k"),
                           g("registry", "wippy", "snapshot_after_version_us_n1"), "us",
                           "100 entries", lambda r: r <= 2))
    rows.append(_abs_row("registry version visible, 64 hosts, p50", "<= 5 ms",
                         g("registry", "wippy", "commit_to_all_p50_n64"), "ms", lambda v: v <= 5))
    rows.append(_abs_row("flood: neighbour's timers late (max)", "<= 50 ms",
                         g("flood", "wippy", "send_timer_late_max"), "ms", lambda v: v <= 50))
    rows.append(_ratio_row("HTTP hello, 64 connections (Python)", ">= 0.5x Granian alone",
                           g("http", "wippy-py", "rps_c64"), g("http", "floor:granian", "rps_c64"),
                           "req/s", "Granian", lambda r: r >= 0.5))
    return rows


def format_s11(rows: Sequence[S11Row]) -> str:
    """The rows as a plain-text table."""
    head = ("S11 row", "wippy", "compared with (same run)", "ratio", "target", "verdict")
    body = [(r.row, r.figure, r.reference, "-" if r.ratio is None else f"{r.ratio:.2f}x",
             r.target, r.verdict) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)
