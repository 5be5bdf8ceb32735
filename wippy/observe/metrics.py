"""The metrics user code records (Wippy's ``metrics`` module: ``counter_inc``, ``counter_add``,
``gauge_set``, ``gauge_inc``, ``gauge_dec``, ``histogram``), kept in the OS process that
records them, and their way to ``/metrics``.

Every OS process has one :class:`Metrics` table, :func:`collector`. Lua's and Python's
``metrics`` modules write to it (and so may any part of the runtime: the node's own table is
exported too); a host puts ``collector().snapshot()`` (plain data) in its answer to the node's
status request, the node passes it on under ``hosts[].metrics`` beside its own under
``node.metrics``, and the observer sums the tables with :func:`merge` and writes them out in
Prometheus' format beside the runtime's own metrics. Nothing is sent while nobody looks (the status is pulled, as
for the message counters), and recording is a dictionary update under a lock (threads of
``wippy.to_thread`` may record too).

Across OS processes: counters and histograms are summed; a gauge moved only by ``gauge_inc``/``gauge_dec``
adds up (each OS process counted its own share), and once any OS process set it with
``gauge_set``, the value set last (by wall-clock time) wins, since a set says how something is now. A host that dies
takes its counts with it: the sum goes down, which Prometheus' ``rate()`` reads as a counter
reset, as it would for a restarted server.

Rejected: prometheus_client's own registry in every host (an import of a few MB into every
host OS process, and its multiprocess mode shares files on disk between processes); pushing
values to the node on a timer (a message per host per period when nobody looks).

This module is pure Python with no wippy imports: any layer may record.
"""
from __future__ import annotations

import bisect
import enum
import math
import os
import re
import threading
import time as _time
from typing import Any, Callable, Iterable, Mapping

__all__ = ["Metrics", "MetricType", "collector", "merge", "BUCKETS", "MAX_SERIES"]

#: Histogram bucket bounds in seconds (Prometheus' defaults, as the HTTP metrics use).
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Series (a name with one set of labels) one OS process may hold: more is refused, so a
#: label with unbounded values (a request id) cannot eat a host's memory.
MAX_SERIES = 10_000

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

Labels = tuple[tuple[str, str], ...]


class MetricType(str, enum.Enum):
    """The kinds of metric user code records."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


def _labels(labels: Mapping[str, Any] | None) -> Labels:
    if not labels:
        return ()
    if not isinstance(labels, Mapping):
        raise ValueError(f"metric labels must be a map of names to values, not "
                         f"{type(labels).__name__}")
    out = []
    for k, v in labels.items():
        if not isinstance(k, str) or not _LABEL.match(k) or k.startswith("__"):
            raise ValueError(f"invalid metric label name {k!r}")
        out.append((k, v if isinstance(v, str) else _plain(v)))
    return tuple(sorted(out))


def _plain(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return float(value)


class Metrics:
    """One OS process's metrics (see the module docstring). Every method raises ValueError
    for a bad name, label or value, for a name already used by another type, and past
    ``max_series``; none blocks beyond a short lock."""

    def __init__(self, clock: Callable[[], float] = _time.time, max_series: int = MAX_SERIES) -> None:
        self._clock = clock
        self._max = max_series
        self._lock = threading.Lock()
        self._types: dict[str, MetricType] = {}
        self._values: dict[tuple[str, Labels], float] = {}          # counters
        self._gauges: dict[tuple[str, Labels], tuple[float, float]] = {}   # value, set at
        self._hists: dict[tuple[str, Labels], list[float]] = {}     # counts per bucket, sum

    def _key(self, name: str, labels: Mapping[str, Any] | None, kind: MetricType) -> tuple[str, Labels]:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r} (letters, digits, _ and :)")
        known = self._types.get(name)
        if known is None:
            self._types[name] = kind
        elif known is not kind:
            raise ValueError(f"metric {name} is a {known.value}, not a {kind.value}")
        return name, _labels(labels)

    def _room(self, key: tuple[str, Labels], table: Mapping[Any, Any]) -> None:
        if key not in table and len(self._values) + len(self._gauges) + len(self._hists) >= self._max:
            raise ValueError(f"too many metric series in this OS process ({self._max}): "
                             f"a label with unbounded values?")

    # -- Wippy's names -------------------------------------------------------------------
    def counter_inc(self, name: str, labels: Mapping[str, Any] | None = None) -> None:
        """Add one to counter ``name``."""
        self.counter_add(name, 1, labels)

    def counter_add(self, name: str, value: float, labels: Mapping[str, Any] | None = None) -> None:
        """Add ``value`` (>= 0) to counter ``name``."""
        v = _number(value, "a counter's increment")
        if v < 0:
            raise ValueError(f"a counter only goes up: cannot add {value!r} to {name}")
        with self._lock:
            key = self._key(name, labels, MetricType.COUNTER)
            self._room(key, self._values)
            self._values[key] = self._values.get(key, 0.0) + v

    def gauge_set(self, name: str, value: float, labels: Mapping[str, Any] | None = None) -> None:
        """Set gauge ``name`` to ``value``."""
        v = _number(value, "a gauge's value")
        with self._lock:
            key = self._key(name, labels, MetricType.GAUGE)
            self._room(key, self._gauges)
            self._gauges[key] = (v, self._clock())

    def gauge_add(self, name: str, delta: float, labels: Mapping[str, Any] | None = None) -> None:
        """Add ``delta`` (any sign) to gauge ``name`` (0 when never set)."""
        d = _number(delta, "a gauge's change")
        with self._lock:
            key = self._key(name, labels, MetricType.GAUGE)
            self._room(key, self._gauges)
            v, t = self._gauges.get(key, (0.0, 0.0))
            self._gauges[key] = (v + d, t)      # ``t``: when it was last *set* (0: never)

    def gauge_inc(self, name: str, labels: Mapping[str, Any] | None = None) -> None:
        """Add one to gauge ``name``."""
        self.gauge_add(name, 1, labels)

    def gauge_dec(self, name: str, labels: Mapping[str, Any] | None = None) -> None:
        """Take one from gauge ``name``."""
        self.gauge_add(name, -1, labels)

    def histogram(self, name: str, value: float, labels: Mapping[str, Any] | None = None) -> None:
        """Observe ``value`` in histogram ``name`` (buckets: :data:`BUCKETS`)."""
        v = _number(value, "an observation")
        with self._lock:
            key = self._key(name, labels, MetricType.HISTOGRAM)
            self._room(key, self._hists)
            counts = self._hists.get(key)
            if counts is None:
                counts = self._hists[key] = [0.0] * (len(BUCKETS) + 2)   # buckets, +Inf, sum
            counts[bisect.bisect_left(BUCKETS, v)] += 1
            counts[-1] += v

    # -- reading -------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        """Every series as plain data (what travels in a host's status answer): ``{"name",
        "type", "labels", "value"}``, a gauge with ``"t"`` (when it was set), a histogram
        with ``"buckets"`` (upper bounds), ``"counts"`` (per bucket, the last for +Inf),
        ``"sum"`` instead of ``"value"``."""
        with self._lock:
            out: list[dict[str, Any]] = [
                {"name": n, "type": MetricType.COUNTER.value, "labels": dict(lb), "value": v}
                for (n, lb), v in self._values.items()]
            out += [{"name": n, "type": MetricType.GAUGE.value, "labels": dict(lb), "value": v,
                     "t": t} for (n, lb), (v, t) in self._gauges.items()]
            out += [{"name": n, "type": MetricType.HISTOGRAM.value, "labels": dict(lb),
                     "buckets": list(BUCKETS), "counts": c[:-1], "sum": c[-1]}
                    for (n, lb), c in self._hists.items()]
        return out

    def __len__(self) -> int:
        return len(self._values) + len(self._gauges) + len(self._hists)

    def clear(self) -> None:
        """Forget every series (tests; a forked child starts empty anyway)."""
        with self._lock:
            self._types.clear()
            self._values.clear()
            self._gauges.clear()
            self._hists.clear()


_collector: Metrics | None = None
_owner = 0


def collector() -> Metrics:
    """This OS process's metrics table (a forked child gets an empty one of its own)."""
    global _collector, _owner
    if _collector is None or _owner != os.getpid():
        _collector, _owner = Metrics(), os.getpid()
    return _collector


def merge(snapshots: Iterable[Iterable[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The snapshots of several OS processes as one (see the module docstring): counters and
    histograms summed, the gauge set last kept. A name recorded as two types keeps the type
    seen first; a malformed series is skipped (it came from another OS process)."""
    types: dict[str, str] = {}
    out: dict[tuple[str, Labels], dict[str, Any]] = {}
    for snap in snapshots:
        for s in snap or ():
            try:
                name, kind = str(s["name"]), str(s["type"])
                key = (name, tuple(sorted((str(k), str(v)) for k, v in s["labels"].items())))
            except (KeyError, TypeError, AttributeError):
                continue
            if types.setdefault(name, kind) != kind:
                continue
            have = out.get(key)
            if have is None:
                out[key] = {**s, "labels": dict(key[1]),
                            **({"counts": list(s["counts"])} if "counts" in s else {})}
            elif kind == MetricType.COUNTER.value:
                have["value"] += s["value"]
            elif kind == MetricType.GAUGE.value:
                t_new, t_have = s.get("t", 0), have.get("t", 0)
                if not t_new and not t_have:            # moved by inc/dec only: they add up
                    have["value"] += s["value"]
                elif t_new >= t_have:                    # else the most recent set wins
                    have["value"], have["t"] = s["value"], t_new
            elif kind == MetricType.HISTOGRAM.value and have["buckets"] == s["buckets"]:
                have["counts"] = [a + b for a, b in zip(have["counts"], s["counts"])]
                have["sum"] += s["sum"]
    return [out[k] for k in sorted(out)]
