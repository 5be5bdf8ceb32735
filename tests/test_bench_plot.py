"""`wippy bench --plot FILE`: the comparison against the floor as one SVG."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from benchmarks._plot import cost, plot_svg
from benchmarks._report import Result, attach_floor_ratios

pytestmark = [pytest.mark.timeout(30)]

SVG = "{http://www.w3.org/2000/svg}"


def results() -> list[Result]:
    rs = [Result("roundtrip", "floor:zmq", "p50", 20.0, "us"),
          Result("roundtrip", "wippy", "p50", 50.0, "us"),
          Result("roundtrip", "ray", "p50", 800.0, "us"),
          Result("oneway", "floor:zmq", "rate", 400_000.0, "msg/s"),
          Result("oneway", "wippy", "rate", 200_000.0, "msg/s"),
          Result("oneway", "ray", "-", None, "", status="skipped: ray is not installed"),
          Result("registry", "wippy", "p50", 0.9, "ms")]              # no floor: not drawn
    attach_floor_ratios(rs)
    return rs


def test_every_bar_is_a_cost_against_the_floor_whatever_the_metric():
    by = {(r.case, r.system): r for r in results()}
    assert cost(by[("roundtrip", "wippy")]) == 2.5          # a latency: its ratio
    assert cost(by[("oneway", "wippy")]) == 2.0             # a rate: the inverse
    assert cost(by[("registry", "wippy")]) is None


def test_the_plot_is_an_svg_with_one_bar_per_result_that_has_a_floor():
    root = ET.fromstring(plot_svg(results(), "t"))
    bars = [e for e in root.iter(f"{SVG}rect") if e.find(f"{SVG}title") is not None]
    assert len(bars) == 5
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "roundtrip · p50" in texts and "oneway · rate" in texts and "(2.50x)" in texts
    assert "floor" in texts and "registry" not in texts


def test_bench_draws_a_plot_of_an_earlier_report(tmp_path):
    from benchmarks.__main__ import main
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"timestamp": "x", "results": [r.to_dict() for r in results()]}))
    out = tmp_path / "plot.svg"
    assert main(["--from", str(report), "--plot", str(out)]) == 0
    assert ET.parse(out).getroot().tag == f"{SVG}svg"
