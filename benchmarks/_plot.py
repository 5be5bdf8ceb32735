"""``--plot FILE``: the comparison against the floor and the peers as one SVG picture.

Every result with a floor ratio becomes a bar of its *cost against the floor*, on a log scale
where the floor is the line at 1x: a latency, a wall time or memory is its ratio; a rate or a
speedup (higher is better) is the inverse, so that every bar reads the same way, shorter is
better and left of the line beats the floor. Each bar is labelled with the measured value.

Written by hand rather than with matplotlib: a bar chart is a page of SVG, matplotlib would add
a 40 MB dependency (and a second of import) to draw it, and an SVG opens in any browser and
diffs as text. Rejected too: a PNG (needs a raster library).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape

from ._report import FLOOR_SYSTEM, Result, _fmt_value, _sort_key

__all__ = ["plot_svg", "cost", "higher_is_better"]

WIDTH = 960
LABEL_W = 300            # left column: case, metric, system
BAR_H = 16
GAP = 4
COLOURS = {"wippy": "#d9480f", "ray": "#5f3dc4", "multiprocessing": "#1971c2",
           "pykka": "#2b8a3e"}
FLOOR_COLOUR = "#868e96"


def higher_is_better(r: Result) -> bool:
    """Rates and speedups: more is better (latencies, wall times, bytes: less)."""
    return r.unit.endswith("/s") or r.metric in ("rate", "speedup")


def cost(r: Result) -> float | None:
    """How many times the floor this result costs (1: the floor; < 1: better than it)."""
    if r.floor_ratio is None or r.floor_ratio <= 0:
        return None
    return 1.0 / r.floor_ratio if higher_is_better(r) else r.floor_ratio


def plot_svg(results: Iterable[Result], title: str = "wippy bench") -> str:
    """The SVG document for ``results`` (after ``attach_floor_ratios``)."""
    rows = [r for r in sorted(results, key=_sort_key) if r.ok and cost(r) is not None]
    if not rows:
        return _svg(200, [_text(20, 40, "no result with a floor to compare against", 14)])
    costs = [cost(r) or 1.0 for r in rows]
    lo = min(0.5, min(costs) / 1.5)
    hi = max(2.0, max(costs) * 1.5)
    span = math.log10(hi) - math.log10(lo)
    plot_w = WIDTH - LABEL_W - 40

    def x_of(v: float) -> float:
        return LABEL_W + (math.log10(v) - math.log10(lo)) / span * plot_w

    parts = [_text(20, 28, title, 18, bold=True),
             _text(20, 48, "cost against the floor of the same run, log scale: a rate or a "
                           "speedup counts as its inverse, so shorter is better everywhere", 12)]
    y = 70
    group = None
    bars_top = y
    for r, c in zip(rows, costs):
        if (r.case, r.metric) != group:
            group = (r.case, r.metric)
            y += 8
            parts.append(_text(20, y + 12, f"{r.case} · {r.metric}", 13, bold=True))
            y += 18
        floor = FLOOR_SYSTEM.get(r.case) == r.system
        colour = FLOOR_COLOUR if floor else COLOURS.get(r.system, "#495057")
        x0, x1 = sorted((x_of(1.0), x_of(c)))
        parts.append(_text(36, y + BAR_H - 4, r.system, 12))
        parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(1.5, x1 - x0):.1f}" height="{BAR_H}" '
                     f'fill="{colour}"><title>{escape(r.system)} {escape(r.metric)}: '
                     f'{_fmt_value(float(r.value))} {escape(r.unit)}</title></rect>')  # type: ignore[arg-type]
        label = f"{_fmt_value(float(r.value))} {r.unit}" + ("" if floor else f"  ({c:.2f}x)")  # type: ignore[arg-type]
        parts.append(_text(x1 + 4, y + BAR_H - 4, label, 11))
        y += BAR_H + GAP
    # the axis: the floor line and decades
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        v = 10.0 ** k
        if lo <= v <= hi:
            x = x_of(v)
            parts.append(f'<line x1="{x:.1f}" y1="{bars_top}" x2="{x:.1f}" y2="{y}" '
                         f'stroke="#dee2e6" stroke-width="1"/>')
            parts.append(_text(x - 10, y + 14, f"{v:g}x", 11))
    xf = x_of(1.0)
    parts.append(f'<line x1="{xf:.1f}" y1="{bars_top}" x2="{xf:.1f}" y2="{y}" stroke="#212529" '
                 f'stroke-width="1.5" stroke-dasharray="4 3"/>')
    parts.append(_text(xf + 4, bars_top - 4, "floor", 11))
    return _svg(y + 30, parts)


def _text(x: float, y: float, s: str, size: int, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{weight}>{escape(s)}</text>'


def _svg(height: int, parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")
