"""Command line of the benchmark harness: ``python -m benchmarks`` / ``wippy bench``.

Usage::

    python -m benchmarks [--quick] [--only TOKEN[,TOKEN]] [--pin [spread|same]]
                         [--out DIR] [--no-floor] [--list] [--plot FILE] [--from REPORT]

A TOKEN is a family (``floor``, ``mp``, ``inproc``, ``ray``, ``wippy``), a case
(``roundtrip``, ``oneway``, ``inproc``, ``spawn``, ``memory``, ``restart``, ``cpu``,
``registry``, ``workflow``, ``flood``, ``bigmsg``, ``queue``, ``store``, ``sql``), a unit name (see ``--list``) or ``case/family`` (``roundtrip/wippy``). The floor
of every selected case runs too unless ``--no-floor``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import (
    flood_cases,
    floor,
    http_cases,
    lua_cases,
    peers_inproc,
    peers_mp,
    peers_ray,
    registry_cases,
    resource_cases,
    wippy_cases,
    workflow_cases,
)
from ._harness import (
    MESSAGING_CASES,
    PIN_MODES,
    Ctx,
    NoiseMeter,
    Params,
    Unit,
    reap_orphans,
    run_isolated,
    run_root,
    select_units,
    set_subreaper,
)
from ._s11 import format_s11, s11_rows
from ._report import (
    CASES,
    Result,
    attach_floor_ratios,
    build_report,
    derive_speedups,
    format_placement,
    format_table,
    write_report,
)

__all__ = ["main", "all_units", "DEFAULT_OUT"]

#: Share of the machine's CPU used by other programs above which a unit is flagged as noisy.
NOISY_SHARE = 0.10

#: Where reports go unless ``--out`` says otherwise.
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def all_units() -> list[Unit]:
    """Every unit, in run order: floors first, then peers, then wippy."""
    return [*floor.UNITS, *peers_mp.UNITS, *peers_inproc.UNITS, *peers_ray.UNITS,
            *wippy_cases.UNITS, *registry_cases.UNITS, *workflow_cases.UNITS, *http_cases.UNITS,
            *flood_cases.UNITS, *lua_cases.UNITS, *resource_cases.UNITS]


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks",
                                 description="wippy benchmarks against the floor and peers (S11)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a short smoke run)")
    ap.add_argument("--only", action="append", default=[], metavar="TOKEN[,TOKEN]",
                    help="families, cases, units or case/family to run (repeatable)")
    ap.add_argument("--pin", nargs="?", const="spread", default="none", choices=PIN_MODES,
                    help="pin OS processes with sched_setaffinity: 'spread' (default when "
                         "given: communicating processes on different cores) or 'same' "
                         "(all on one core) or 'both' (every case unpinned, then the "
                         "messaging cases pinned again as '<metric>_pinned'); default: not "
                         "pinned")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report directory "
                    f"(default {DEFAULT_OUT})")
    ap.add_argument("--no-floor", action="store_true",
                    help="do not add the floor of the selected cases automatically")
    ap.add_argument("--list", action="store_true", help="list units and cases, run nothing")
    ap.add_argument("--plot", type=Path, default=None, metavar="FILE",
                    help="also draw the comparison against the floor and the peers as an SVG")
    ap.add_argument("--from", dest="from_report", type=Path, default=None, metavar="REPORT",
                    help="run nothing: print (and --plot) the results of an earlier JSON report")
    return ap.parse_args(list(argv))


def _write_plot(path: Path, results: list[Result], title: str) -> None:
    from ._plot import plot_svg
    path.write_text(plot_svg(results, title))
    print(f"plot: {path}")


def _list(units: Sequence[Unit]) -> str:
    lines = ["cases:"]
    lines += [f"  {name:<10} {desc}" for name, desc in CASES.items()]
    lines.append("units (family, cases, systems):")
    lines += [f"  {u.name:<24} {u.family:<7} {','.join(u.cases):<24} {','.join(u.systems)}"
              for u in units]
    return "\n".join(lines)


@dataclass
class _Progress:
    """What the run loop has gathered so far."""

    unit_reports: list[dict[str, Any]] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    leftovers: list[dict[str, Any]] = field(default_factory=list)


def _run_plan(plan: Sequence[tuple[Unit, tuple[str, ...]]], args: argparse.Namespace,
              params: Params, cpus: list[int],
              ) -> tuple[list[dict[str, Any]], list[Result], list[dict[str, Any]], bool]:
    """Run every planned unit in its own case runner; stop early (True) on Ctrl-C."""
    got = _Progress()
    runs: list[tuple[Unit, tuple[str, ...], str]] = []
    for unit, cases in plan:
        if args.pin != "both":
            runs.append((unit, cases, args.pin))
            continue
        runs.append((unit, cases, "none"))
        pinned = tuple(c for c in cases if c in MESSAGING_CASES)
        if pinned:
            runs.append((unit, pinned, "spread"))
    for unit, cases, pin in runs:
        label = unit.name + (" (pinned)" if args.pin == "both" and pin == "spread" else "")
        print(f"  {label:<24} {','.join(cases):<24} ", end="", flush=True)
        ctx = Ctx(quick=args.quick, pin=pin, params=params, cpus=cpus)
        noise = NoiseMeter()
        try:
            rep = run_isolated(unit, cases, ctx)
        except KeyboardInterrupt:  # the case runner was killed and reaped on the way out
            print("interrupted", flush=True)
            reap_orphans()
            return got.unit_reports, got.results, got.leftovers, True
        found = reap_orphans()
        rep["noise"] = noise.finish()
        got.leftovers.extend({"unit": unit.name, **f} for f in found)
        unit_results: list[Result] = rep.pop("results")
        if args.pin == "both" and pin == "spread":
            for r in unit_results:
                r.metric = f"{r.metric}_pinned"
            rep["name"] = label
        got.results.extend(unit_results)
        got.unit_reports.append(rep)
        bad = sum(1 for r in unit_results if not r.ok)
        note = "" if not bad else f" ({bad} without a number)"
        share = rep["noise"]["foreign_share"]
        if share > NOISY_SHARE:
            note += f" [other programs used {share:.0%} of the CPUs]"
        print(f"{rep['wall_s']:6.1f}s{note}", flush=True)
    return got.unit_reports, got.results, got.leftovers, False


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print the table, write the JSON report.

    Returns the process exit code: 0 after a run (individual cases may still report
    errors in the table), 2 for a bad command line, 130 after Ctrl-C (the units finished
    so far are still reported).
    """
    args = _parse(sys.argv[1:] if argv is None else argv)
    units = all_units()
    if args.list:
        print(_list(units))
        return 0
    if args.from_report is not None:
        import json
        old = json.loads(args.from_report.read_text())
        earlier = [Result.from_dict(r) for r in old["results"]]
        print(format_table(earlier))
        print()
        print(format_s11(s11_rows(earlier)))
        if args.plot is not None:
            _write_plot(args.plot, earlier, f"wippy bench {old.get('timestamp', '')}")
        return 0
    tokens = [t.strip() for arg in args.only for t in arg.split(",") if t.strip()]
    try:
        plan = select_units(units, tokens or None, with_floors=not args.no_floor)
    except ValueError as exc:
        print(f"error: {exc}\n{_list(units)}", file=sys.stderr)
        return 2

    set_subreaper()
    started = time.time()
    params = Params.quick() if args.quick else Params.full()
    cpus = sorted(os.sched_getaffinity(0))
    print(f"wippy bench: {len(plan)} units, {'quick' if args.quick else 'full'} sizes, "
          f"pin={args.pin}, cpus={cpus}", flush=True)

    with run_root():
        unit_reports, results, leftovers, interrupted = _run_plan(plan, args, params, cpus)

    derive_speedups(results)
    attach_floor_ratios(results)
    report = build_report(argv=sys.argv[1:] if argv is None else argv, quick=args.quick,
                          pin=args.pin, units=unit_reports, results=results,
                          leftovers=leftovers, started=started)
    path = write_report(report, args.out, started)
    print()
    print(format_table(results))
    print()
    print(format_s11(s11_rows(results)))
    print()
    print("placement (role[pid]@{cpus}):")
    print(format_placement(unit_reports))
    noisy = [str(u["name"]) for u in unit_reports if u["noise"]["foreign_share"] > NOISY_SHARE]
    if noisy:
        print(f"\nNOTE: other programs used more than {NOISY_SHARE:.0%} of the CPUs during "
              f"{', '.join(noisy)}: those figures are not clean (see 'noise' in the report).")
    if leftovers:
        print(f"\nWARNING: {len(leftovers)} leftover processes were killed: {leftovers}")
    print(f"\nreport: {path}")
    if args.plot is not None:
        _write_plot(args.plot, results, f"wippy bench {path.stem}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
