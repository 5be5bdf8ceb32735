"""Application metrics (Wippy's ``metrics`` module, S13): counters, gauges and histograms with
labels, counted in each OS process and merged when read.

Each host OS process keeps its own values (an update is a dict lookup and an addition: no
message, no lock, since one thread runs every process of a host) and reports them in its part
of the node's status (``snapshot()``, under ``metrics`` in each host's row of
``node.status()``). Whoever serves them (the web observer's ``/metrics``) merges the hosts'
snapshots with :func:`merge` and renders them with :func:`prometheus_text` (or through
:mod:`wippy.resources.prom`'s collector for prometheus-client):

* counters and histograms add up over OS processes;
* a gauge moved only by ``gauge_inc``/``gauge_dec`` adds up too (each OS process holds its
  share); once any OS process used ``gauge_set``, the most recent set wins, with the
  increments made after it on that OS process (prometheus-client's ``mostrecent`` mode; the
  increments of other OS processes since that set are not seen).

Rejected: sending every update to the node (a message per ``counter_inc``: the HTTP handlers
of example 16 make five per request), and prometheus-client's own multiprocess mode (files in
a shared directory, written on every update).
"""
from __future__ import annotations

import math
import re
import time as _time
from typing import Any, Iterable, Mapping

from ..errors import ResourceError

__all__ = ["counter_add", "gauge_set", "gauge_add", "histogram", "snapshot", "merge",
           "prometheus_text", "reset", "BUCKETS", "MAX_SERIES"]

#: Histogram buckets (prometheus-client's defaults, in seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
MAX_SERIES = 10_000        # label combinations per OS process: past it, updates are refused
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

Labels = tuple[tuple[str, str], ...]
# (type, name) -> labels -> value; a gauge's value is [value, set_at or None];
# a histogram's [counts per bucket (+Inf last), sum, count]
_series: dict[tuple[str, str], dict[Labels, Any]] = {}
_count = [0]


def _labels(labels: Mapping[str, Any] | None) -> Labels:
    if not labels:
        return ()
    out = []
    for k, v in labels.items():
        k = str(k)
        if not _LABEL.fullmatch(k) or k.startswith("__"):
            raise ResourceError("INVALID", f"invalid label name {k!r}")
        out.append((k, v if isinstance(v, str) else _text(v)))
    out.sort()
    return tuple(out)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _slot(kind: str, name: str, labels: Mapping[str, Any] | None) -> tuple[dict[Labels, Any], Labels]:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ResourceError("INVALID", f"invalid metric name {name!r}")
    key = (kind, name)
    family = _series.get(key)
    if family is None:
        for other in ("counter", "gauge", "histogram"):
            if other != kind and (other, name) in _series:
                raise ResourceError("INVALID", f"metric {name} is a {other}, not a {kind}")
        family = _series[key] = {}
    lab = _labels(labels)
    if lab not in family and _count[0] >= MAX_SERIES:
        raise ResourceError("LIMIT_EXCEEDED", f"more than {MAX_SERIES} metric series in this "
                                              "OS process: labels with unbounded values?")
    return family, lab


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ResourceError("INVALID", f"metric value must be a number, got {value!r}")
    return float(value)


def counter_add(name: str, value: float = 1.0, labels: Mapping[str, Any] | None = None) -> bool:
    """Add ``value`` (>= 0) to a counter."""
    v = _number(value)
    if v < 0:
        raise ResourceError("INVALID", "a counter only goes up: value must be >= 0")
    family, lab = _slot("counter", name, labels)
    if lab not in family:
        _count[0] += 1
        family[lab] = 0.0
    family[lab] += v
    return True


def gauge_add(name: str, delta: float, labels: Mapping[str, Any] | None = None) -> bool:
    """Move a gauge by ``delta`` (``gauge_inc``: +1, ``gauge_dec``: -1)."""
    d = _number(delta)
    family, lab = _slot("gauge", name, labels)
    cell = family.get(lab)
    if cell is None:
        _count[0] += 1
        cell = family[lab] = [0.0, None]
    cell[0] += d
    return True


def gauge_set(name: str, value: float, labels: Mapping[str, Any] | None = None) -> bool:
    """Set a gauge (the most recent set across OS processes wins, see the module docstring)."""
    v = _number(value)
    family, lab = _slot("gauge", name, labels)
    if lab not in family:
        _count[0] += 1
    family[lab] = [v, _time.time()]
    return True


def histogram(name: str, value: float, labels: Mapping[str, Any] | None = None) -> bool:
    """Record one observation."""
    v = _number(value)
    family, lab = _slot("histogram", name, labels)
    cell = family.get(lab)
    if cell is None:
        _count[0] += 1
        cell = family[lab] = [[0] * (len(BUCKETS) + 1), 0.0, 0]
    counts = cell[0]
    for i, bound in enumerate(BUCKETS):
        if v <= bound:
            counts[i] += 1
            break
    else:
        counts[-1] += 1
    cell[1] += v
    cell[2] += 1
    return True


def snapshot() -> list[list[Any]]:
    """This OS process's values as plain data: ``[type, name, [[label, value]...], value]``
    rows (what a host reports in its status)."""
    out: list[list[Any]] = []
    for (kind, name), family in _series.items():
        for lab, cell in family.items():
            value = [list(cell[0]), cell[1], cell[2]] if kind == "histogram" else \
                list(cell) if kind == "gauge" else cell
            out.append([kind, name, [list(p) for p in lab], value])
    return out


def reset() -> None:
    """Forget every value (tests)."""
    _series.clear()
    _count[0] = 0


def merge(snapshots: Iterable[list[list[Any]]]) -> dict[tuple[str, str], dict[Labels, Any]]:
    """Many OS processes' snapshots as one: ``(type, name) -> labels -> value`` (a gauge's
    value a number, a histogram's ``[cumulative bucket counts, sum, count]``)."""
    out: dict[tuple[str, str], dict[Labels, Any]] = {}
    gauges: dict[tuple[str, Labels], list[Any]] = {}
    for snap in snapshots:
        for kind, name, lab_list, value in snap or ():
            lab = tuple((str(k), str(v)) for k, v in lab_list)
            family = out.setdefault((kind, name), {})
            if kind == "counter":
                family[lab] = family.get(lab, 0.0) + float(value)
            elif kind == "histogram":
                cur = family.get(lab)
                if cur is None:
                    family[lab] = [list(value[0]), float(value[1]), int(value[2])]
                else:
                    cur[0] = [a + b for a, b in zip(cur[0], value[0])]
                    cur[1] += float(value[1])
                    cur[2] += int(value[2])
            else:
                gauges.setdefault((name, lab), []).append(value)
                family[lab] = 0.0
    for (name, lab), cells in gauges.items():
        sets = [c for c in cells if c[1] is not None]
        value = max(sets, key=lambda c: c[1])[0] if sets else sum(float(c[0]) for c in cells)
        out[("gauge", name)][lab] = float(value)
    for (kind, _), family in out.items():
        if kind == "histogram":
            for cell in family.values():
                running, cum = 0, []
                for c in cell[0]:
                    running += c
                    cum.append(running)
                cell[0] = cum
    return out


def _fmt_labels(lab: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = list(lab) + ([extra] if extra else [])
    if not pairs:
        return ""
    esc = [(k, v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')) for k, v in pairs]
    return "{" + ",".join(f'{k}="{v}"' for k, v in esc) + "}"


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else f"{float(v):.1f}"


def prometheus_text(merged: Mapping[tuple[str, str], Mapping[Labels, Any]]) -> str:
    """The Prometheus text exposition format (0.0.4) of :func:`merge`'s result."""
    lines: list[str] = []
    for (kind, name) in sorted(merged, key=lambda k: k[1]):
        family = merged[(kind, name)]
        lines.append(f"# TYPE {name} {kind}")
        for lab in sorted(family):
            value = family[lab]
            if kind == "histogram":
                for bound, c in zip(BUCKETS + (math.inf,), value[0]):
                    le = "+Inf" if math.isinf(bound) else _num(bound)
                    lines.append(f"{name}_bucket{_fmt_labels(lab, ('le', le))} {_num(c)}")
                lines.append(f"{name}_sum{_fmt_labels(lab)} {_num(value[1])}")
                lines.append(f"{name}_count{_fmt_labels(lab)} {_num(value[2])}")
            else:
                suffix = "_total" if kind == "counter" and not name.endswith("_total") else ""
                lines.append(f"{name}{suffix}{_fmt_labels(lab)} {_num(value)}")
    return "\n".join(lines) + ("\n" if lines else "")
