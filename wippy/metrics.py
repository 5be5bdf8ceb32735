"""``wippy.metrics``: counters, gauges and histograms with labels, Wippy's names (S13). Lua's
``metrics`` module is a view of this one. None of these calls blocks: values are counted in
this OS process and reach readers through the node's status (see
:mod:`wippy.resources.metrics` for how the hosts' values are merged).

::

    metrics.counter_inc("orders_total", {"status": "ok"})
    metrics.counter_add("revenue_total", 19.99, {"item": "book"})
    metrics.gauge_inc("orders_pending"); metrics.gauge_dec("orders_pending")
    metrics.gauge_set("queue_depth", 42, {"queue": "emails"})
    metrics.histogram("request_duration_seconds", 0.123, {"method": "GET"})

Each returns True; a bad name, label or value raises :class:`wippy.ResourceError` (INVALID).
"""
from __future__ import annotations

from typing import Any, Mapping

from .resources import metrics as _m

__all__ = ["counter_inc", "counter_add", "gauge_set", "gauge_inc", "gauge_dec", "histogram"]

Labels = Mapping[str, Any] | None


def counter_inc(name: str, labels: Labels = None) -> bool:
    return _m.counter_add(name, 1.0, labels)


def counter_add(name: str, value: float, labels: Labels = None) -> bool:
    return _m.counter_add(name, value, labels)


def gauge_set(name: str, value: float, labels: Labels = None) -> bool:
    return _m.gauge_set(name, value, labels)


def gauge_inc(name: str, labels: Labels = None) -> bool:
    return _m.gauge_add(name, 1.0, labels)


def gauge_dec(name: str, labels: Labels = None) -> bool:
    return _m.gauge_add(name, -1.0, labels)


def histogram(name: str, value: float, labels: Labels = None) -> bool:
    return _m.histogram(name, value, labels)
