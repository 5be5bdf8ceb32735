"""Unit tests of the benchmark harness's pure helpers (S11). No benchmark runs here."""
from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # benchmarks/ is not an installed package: it runs from the checkout
    sys.path.insert(0, str(REPO))

from benchmarks import _work  # noqa: E402
from benchmarks._harness import Unit, select_units  # noqa: E402
from benchmarks._report import (  # noqa: E402
    FLOOR_SYSTEM,
    Result,
    attach_floor_ratios,
    build_report,
    derive_speedups,
    format_table,
    status_result,
    timestamp_name,
)
from benchmarks._stats import latency_summary, percentile, rate_per_s  # noqa: E402

# --------------------------------------------------------------------------- statistics

def test_percentile_interpolates_linearly_like_numpy() -> None:
    data = [4, 1, 3, 2]                       # unsorted on purpose
    assert percentile(data, 0) == 1
    assert percentile(data, 100) == 4
    assert percentile(data, 50) == 2.5
    assert percentile(data, 25) == pytest.approx(1.75)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7], 99) == 7


def test_percentile_rejects_empty_data_and_bad_q() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_latency_summary_is_in_microseconds_and_rates_per_second() -> None:
    s = latency_summary([10_000, 20_000, 30_000])
    assert s["p50"] == 20.0 and s["min"] == 10.0 and s["max"] == 30.0 and s["n"] == 3
    assert rate_per_s(500, 1_000_000_000) == 500.0
    with pytest.raises(ValueError):
        rate_per_s(1, 0)


# --------------------------------------------------------------------------- report

def _results() -> list[Result]:
    return [
        Result("roundtrip", "floor:zmq", "p50", 20.0, "us"),
        Result("roundtrip", "wippy", "p50", 40.0, "us"),
        Result("oneway", "floor:zmq", "rate", 1_000_000.0, "msg/s"),
        Result("oneway", "wippy", "rate", 250_000.0, "msg/s"),
        Result("cpu", "floor:1-proc", "wall", 4.0, "s"),
        Result("cpu", "multiprocessing", "wall", 2.0, "s"),
        status_result("roundtrip", "ray", "skipped: ray not installed"),
    ]


def test_floor_ratios_and_derived_speedups() -> None:
    results = _results()
    derive_speedups(results)
    attach_floor_ratios(results)
    by = {(r.case, r.system, r.metric): r for r in results}
    assert by[("roundtrip", "wippy", "p50")].floor_ratio == pytest.approx(2.0)
    assert by[("oneway", "wippy", "rate")].floor_ratio == pytest.approx(0.25)
    assert by[("roundtrip", "floor:zmq", "p50")].floor_ratio == pytest.approx(1.0)
    assert by[("cpu", "multiprocessing", "speedup")].value == pytest.approx(2.0)
    assert by[("roundtrip", "ray", "-")].floor_ratio is None


def test_table_groups_by_case_and_shows_ratio_floor_and_status() -> None:
    results = _results()
    attach_floor_ratios(results)
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["case", "system", "metric", "value", "unit", "vs", "floor"]
    wippy_rt = next(line for line in lines if line.startswith("roundtrip") and "wippy" in line)
    assert "40.00" in wippy_rt and "2.00x" in wippy_rt
    floor_rt = next(line for line in lines if "floor:zmq" in line and "p50" in line)
    assert floor_rt.rstrip().endswith("floor")
    assert any("skipped: ray not installed" in line for line in lines)
    assert "" in lines                         # a blank line between cases
    # rows follow the case order of S11: roundtrip before oneway before cpu
    cases = [line.split()[0] for line in lines[2:] if line.strip()]
    assert cases.index("roundtrip") < cases.index("oneway") < cases.index("cpu")


def test_report_is_json_with_placement_and_results() -> None:
    results = _results()
    attach_floor_ratios(results)
    units = [{"name": "floor.zmq_roundtrip", "family": "floor", "cases": ["roundtrip"],
              "pin": "spread", "wall_s": 0.3, "status": "ok",
              "placement": [{"role": "ping", "pid": 123, "cpus": [0], "pinned": True}]}]
    report = build_report(argv=["--quick"], quick=True, pin="spread", units=units,
                          results=results, started=0.0,
                          machine={"cpu_count": 2, "affinity": [0, 1]})
    again = json.loads(json.dumps(report))
    assert again["schema"] == "wippy-bench/1"
    assert again["timestamp"] == "1970-01-01T00:00:00Z"
    assert again["pin"] == "spread" and again["quick"] is True
    assert again["floors"] == FLOOR_SYSTEM
    assert again["units"][0]["placement"][0] == {"role": "ping", "pid": 123, "cpus": [0],
                                                 "pinned": True}
    row = again["results"][1]
    assert set(row) == {"case", "system", "metric", "value", "unit", "status", "extra",
                        "floor_ratio"}
    assert row["floor_ratio"] == pytest.approx(2.0)
    assert again["leftover_processes"] == []
    assert timestamp_name(0.0) == "19700101T000000Z.json"


# --------------------------------------------------------------------------- selection

def _noop(ctx, cases):  # pragma: no cover - never run
    raise AssertionError


UNITS = [
    Unit("floor.zmq", "floor", ("roundtrip", "oneway"), ("floor:zmq",), _noop),
    Unit("floor.cpu", "floor", ("cpu",), ("floor:1-proc",), _noop),
    Unit("mp", "mp", ("roundtrip", "cpu"), ("multiprocessing",), _noop),
    Unit("wippy", "wippy", ("roundtrip", "oneway", "cpu"), ("wippy",), _noop),
]


def test_only_selects_families_cases_and_case_slash_family_adding_floors() -> None:
    def names(plan):
        return {u.name: cases for u, cases in plan}

    assert names(select_units(UNITS, ["floor"])) == {"floor.zmq": ("roundtrip", "oneway"),
                                                     "floor.cpu": ("cpu",)}
    assert names(select_units(UNITS, ["roundtrip/wippy"])) == {"floor.zmq": ("roundtrip",),
                                                               "wippy": ("roundtrip",)}
    assert names(select_units(UNITS, ["cpu"], with_floors=False)) == {
        "floor.cpu": ("cpu",), "mp": ("cpu",), "wippy": ("cpu",)}
    assert len(select_units(UNITS, None)) == len(UNITS)
    with pytest.raises(ValueError):
        select_units(UNITS, ["nonsense"])


# --------------------------------------------------------------------------- workload and app

def test_the_app_copy_of_nqueens_matches_the_harness_workload() -> None:
    src = (REPO / "benchmarks" / "app" / "cpu_job.py").read_text()
    fn = next(n for n in ast.parse(src).body
              if isinstance(n, ast.FunctionDef) and n.name == "nqueens")
    ns: dict = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "cpu_job.py", "exec"), ns)
    for n in (6, 8, 9):
        assert ns["nqueens"](n) == _work.nqueens(n) == _work.EXPECTED[n]


def test_prepare_app_copies_the_application_and_sizes_the_cpu_host() -> None:
    from benchmarks.wippy_cases import prepare_app

    dest = prepare_app(restart=True, cpu_workers=3)
    try:
        doc = yaml.safe_load(Path(dest, "_index.yaml").read_text())
        entries = {e["name"]: e for e in doc["entries"]}
        assert doc["namespace"] == "bench"
        assert entries["cpun"]["host"] == {"workers": 3}
        for e in entries.values():
            if "source" in e:
                assert Path(dest, e["source"].removeprefix("file://")).is_file()
        assert Path(dest, "restart", "_index.yaml").is_file()
        assert len(os.path.basename(dest)) < 20
    finally:
        shutil.rmtree(dest)


# --------------------------------------------------------------------------- registry case

def test_pid_serial_reads_the_os_process_of_a_pid() -> None:
    from benchmarks.registry_cases import pid_serial

    assert pid_serial("{breg:subs/17|2.5}") == 17
    assert pid_serial("{app.w:pool/3|12}") == 3
    for bad in ("breg:subs/1|2", "{breg:subs|2}", "{/1|2}", "{breg:subs/x|2}", None):
        with pytest.raises(ValueError):
            pid_serial(bad)  # type: ignore[arg-type]


def test_propagation_samples_are_ms_from_commit_and_from_before_apply() -> None:
    from benchmarks.registry_cases import propagation_samples, summary_ms

    rows = [
        {"version": 1, "t_before": 9.0, "t_after": 10.0, "t_seen": [99.0], "warmup": True},
        {"version": 2, "t_before": 100.000, "t_after": 100.004,
         "t_seen": [100.003, 100.005, 100.002], "warmup": False},
        {"version": 3, "t_before": 200.000, "t_after": 200.002, "t_seen": [200.004],
         "warmup": False},
    ]
    commit = {1: 9.5, 2: 100.001, 3: 200.001}
    s = propagation_samples(rows, commit)
    assert s["commit_to_all"] == pytest.approx([4.0, 3.0])
    assert s["commit_to_first"] == pytest.approx([1.0, 3.0])
    assert s["apply_to_all"] == pytest.approx([5.0, 4.0])
    assert s["apply_call"] == pytest.approx([4.0, 2.0])
    summ = summary_ms(s["commit_to_all"])
    assert summ["p50"] == pytest.approx(3.5) and summ["n"] == 2
    assert summ["max"] == pytest.approx(4.0) and summ["min"] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        propagation_samples(rows, {1: 9.5, 2: 100.001})          # v3 has no commit time
    with pytest.raises(ValueError):
        propagation_samples([{**rows[1], "t_seen": []}], commit)  # nobody saw it


def test_prepare_registry_app_sizes_the_subscriber_host_and_writes_the_generated_files() -> None:
    from benchmarks.registry_cases import WATCHED_ID, prepare_registry_app

    dest = prepare_registry_app(8, items=10)
    try:
        doc = yaml.safe_load(Path(dest, "_index.yaml").read_text())
        entries = {e["name"]: e for e in doc["entries"]}
        assert doc["namespace"] == "breg"
        assert entries["subs"]["host"] == {"workers": 8}
        assert entries["w"]["host"] == {"workers": 1}
        for e in entries.values():
            if "source" in e:
                assert Path(dest, e["source"].removeprefix("file://")).is_file()
        items = yaml.safe_load(Path(dest, "items.yaml").read_text())
        assert len(items["entries"]) == 10
        assert {e["meta"]["group"] for e in items["entries"]} == {"even", "odd"}
        watched = yaml.safe_load(Path(dest, "watched.yaml").read_text())
        assert f"{watched['namespace']}:{watched['entries'][0]['name']}" == WATCHED_ID
        assert not Path(dest, "restart").exists()
    finally:
        shutil.rmtree(dest)


def test_s11_rows_compare_within_one_run_and_say_met_missed_or_not_measured() -> None:
    from benchmarks._s11 import format_s11, s11_rows

    def r(case: str, system: str, metric: str, value: float) -> Result:
        return Result(case=case, system=system, metric=metric, value=value, unit="-")

    rows = {row.row: row for row in s11_rows([
        r("roundtrip", "floor:zmq", "p50", 50.0), r("roundtrip", "wippy", "p50", 70.0),
        r("roundtrip", "ray", "p50", 1400.0),
        r("oneway", "floor:zmq", "rate", 100.0), r("oneway", "wippy", "rate", 50.0),
        r("registry", "wippy", "commit_to_all_p50_n64", 4.0),
    ])}
    rt = rows["round trip p50, two hosts (unpinned)"]
    assert rt.ratio == pytest.approx(1.4) and rt.verdict == "met"
    ray = rows["round trip p50 vs Ray"]
    assert ray.ratio == pytest.approx(20.0) and ray.verdict == "met"      # Ray's over wippy's
    ow = rows["one-way small dict (unpinned)"]
    assert ow.ratio == pytest.approx(0.5) and ow.verdict == "MISSED"
    assert rows["registry version visible, 64 hosts, p50"].verdict == "met"
    assert rows["round trip p50, two hosts (pinned)"].verdict == "not measured"
    assert "MISSED" in format_s11(list(rows.values()))


def test_pin_both_runs_messaging_cases_twice_and_the_rest_once() -> None:
    from benchmarks._harness import MESSAGING_CASES, PIN_MODES

    assert "both" in PIN_MODES
    assert {"roundtrip", "oneway", "inproc", "bigmsg"} <= set(MESSAGING_CASES)
    assert "spawn" not in MESSAGING_CASES
