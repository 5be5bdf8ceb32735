"""Pure statistics helpers: percentiles, latency summaries, rates.

Everything here is deterministic and free of I/O so that it can be unit-tested
(``tests/test_benchmarks_harness.py``). Times are integers in nanoseconds, taken
with :func:`time.perf_counter_ns` (CLOCK_MONOTONIC on Linux, so stamps taken in
different OS processes on the same machine can be compared).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "latency_summary", "rate_per_s", "ns_to_us"]


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of ``values``, linear interpolation.

    Uses the same definition as ``numpy.percentile(..., method="linear")``: the
    value at fractional rank ``(n - 1) * q / 100`` of the sorted data.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    data = sorted(values)
    rank = (len(data) - 1) * q / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return float(data[lo])
    frac = rank - lo
    return float(data[lo]) + (float(data[hi]) - float(data[lo])) * frac


def ns_to_us(ns: float) -> float:
    """Nanoseconds to microseconds."""
    return ns / 1_000.0


def latency_summary(samples_ns: Sequence[int]) -> dict[str, float]:
    """Summarise latency samples (ns) as microseconds: p50, p99, mean, min, max, n."""
    if not samples_ns:
        raise ValueError("no latency samples")
    return {
        "p50": ns_to_us(percentile(samples_ns, 50)),
        "p99": ns_to_us(percentile(samples_ns, 99)),
        "mean": ns_to_us(sum(samples_ns) / len(samples_ns)),
        "min": ns_to_us(min(samples_ns)),
        "max": ns_to_us(max(samples_ns)),
        "n": float(len(samples_ns)),
    }


def rate_per_s(count: int, elapsed_ns: int) -> float:
    """Events per second for ``count`` events in ``elapsed_ns`` nanoseconds."""
    if elapsed_ns <= 0:
        raise ValueError(f"elapsed time must be positive, got {elapsed_ns} ns")
    return count * 1e9 / elapsed_ns
