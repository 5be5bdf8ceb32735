"""``wippy.metrics``: counters, gauges and histograms with labels, Wippy's names (S13). Lua's
``metrics`` module is a view of this one. None of these calls blocks: values are counted in
this OS process's table (:func:`wippy.observe.metrics.collector`) and reach readers through the
node's status, where the observer merges every OS process's table for ``/metrics``.

::

    metrics.counter_inc("orders_total", {"status": "ok"})
    metrics.counter_add("revenue_total", 19.99, {"item": "book"})
    metrics.gauge_inc("orders_pending"); metrics.gauge_dec("orders_pending")
    metrics.gauge_set("queue_depth", 42, {"queue": "emails"})
    metrics.histogram("request_duration_seconds", 0.123, {"method": "GET"})

Each returns True; a bad name, label or value raises :class:`wippy.ResourceError` (INVALID).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .errors import ResourceError
from .observe.metrics import collector

__all__ = ["counter_inc", "counter_add", "gauge_set", "gauge_inc", "gauge_dec", "histogram"]

Labels = Mapping[str, Any] | None


def _record(fn: Callable[..., None], *args: Any) -> bool:
    try:
        fn(*args)
    except ValueError as exc:
        raise ResourceError("INVALID", f"metrics: {exc}") from None
    return True


def counter_inc(name: str, labels: Labels = None) -> bool:
    return _record(collector().counter_inc, name, labels)


def counter_add(name: str, value: float, labels: Labels = None) -> bool:
    return _record(collector().counter_add, name, value, labels)


def gauge_set(name: str, value: float, labels: Labels = None) -> bool:
    return _record(collector().gauge_set, name, value, labels)


def gauge_inc(name: str, labels: Labels = None) -> bool:
    return _record(collector().gauge_inc, name, labels)


def gauge_dec(name: str, labels: Labels = None) -> bool:
    return _record(collector().gauge_dec, name, labels)


def histogram(name: str, value: float, labels: Labels = None) -> bool:
    return _record(collector().histogram, name, value, labels)
