"""``/metrics``: the node's status in Prometheus' text format, written by prometheus-client
(the one importer of it), with the metrics user code recorded
(:mod:`wippy.observe.metrics`) beside the runtime's own.

The runtime's own (label ``host`` is a ``process.host`` entry, ``slot`` its worker number,
so a restarted worker keeps its series and Prometheus sees a counter reset):

=========================================== ======== ============================================
``wippy_messages_in_total{host,slot}``      counter  messages received by a host OS process
``wippy_messages_out_total{host,slot}``     counter  messages sent
``wippy_spawns_total``, ``wippy_exits_total`` counter processes started and ended, per host slot
``wippy_processes{host,slot}``              gauge    processes alive
``wippy_mailbox_depth{host,slot}``          gauge    messages waiting in its processes' mailboxes
``wippy_host_cpu_percent``, ``wippy_host_rss_bytes`` gauge  per host slot (psutil)
``wippy_host_restarts_total{host,slot}``    counter  restarts of that worker
``wippy_service_restarts_total{service}``   counter  restarts of a ``process.service``
``wippy_service_up{service}``               gauge    1 while the service runs
``wippy_supervisor_restarts_total{supervisor}`` counter restarts under a ``supervisor`` entry
``wippy_workflows_running``                 gauge    durable workflows not finished
``wippy_workflow_steps_total``              counter  journaled workflow steps
``wippy_workflow_commits_total``            counter  journal commits (group commit)
``wippy_registry_version``                  gauge    the registry's current version
``wippy_policy_denials_total{host,slot}``   counter  actions a policy denied (the node: host="node")
``wippy_http_requests_total{service,router,method,status}`` counter (routers with ``metrics``)
``wippy_http_request_duration_seconds{service,router}`` histogram (routers with ``metrics``)
``wippy_http_requests_in_flight{service}``  gauge    requests an ``http.service`` holds now
``wippy_http_server_restarts_total{service}`` counter
``wippy_node_uptime_seconds``               gauge
=========================================== ======== ============================================

A user metric whose name is one of these is left out (the runtime's wins), so a scraper never
sees one name twice.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .metrics import MetricType, merge

__all__ = ["exposition", "CONTENT_TYPE", "RUNTIME_FAMILIES"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_HOST = ["host", "slot"]
#: (status key of a host row, family, help) for the host counters.
_HOST_COUNTERS = (("msgs_in", "wippy_messages_in", "messages received by a host OS process"),
                  ("msgs_out", "wippy_messages_out", "messages sent by a host OS process"),
                  ("spawns", "wippy_spawns", "processes started on a host OS process"),
                  ("exits", "wippy_exits", "processes ended on a host OS process"),
                  ("restarts", "wippy_host_restarts", "restarts of a host worker"))
_HOST_GAUGES = (("count", "wippy_processes", "processes alive on a host OS process"),
                ("mailbox_total", "wippy_mailbox_depth", "messages waiting in mailboxes"),
                ("cpu", "wippy_host_cpu_percent", "CPU of a host OS process, percent"),
                ("rss", "wippy_host_rss_bytes", "resident memory of a host OS process"))
#: Every family the runtime writes (user metrics with these names are left out).
RUNTIME_FAMILIES = frozenset(
    [f for _, f, _ in _HOST_COUNTERS] + [f for _, f, _ in _HOST_GAUGES] +
    ["wippy_service_restarts", "wippy_service_up", "wippy_supervisor_restarts",
     "wippy_workflows_running", "wippy_workflow_steps", "wippy_workflow_commits",
     "wippy_registry_version", "wippy_policy_denials", "wippy_http_requests",
     "wippy_http_request_duration_seconds", "wippy_http_requests_in_flight",
     "wippy_http_server_restarts", "wippy_node_uptime_seconds"])


def _host_labels(h: Mapping[str, Any]) -> list[str]:
    return [str(h.get("host")), str(h.get("slot", h.get("serial")))]


def _runtime(status: Mapping[str, Any]) -> Iterator[Metric]:
    node = status.get("node") or {}
    hosts = status.get("hosts") or []
    for key, name, doc in _HOST_COUNTERS:
        c = CounterMetricFamily(name, doc, labels=_HOST)
        for h in hosts:
            c.add_metric(_host_labels(h), float(h.get(key) or 0))
        yield c
    for key, name, doc in _HOST_GAUGES:
        g = GaugeMetricFamily(name, doc, labels=_HOST)
        for h in hosts:
            if h.get(key) is not None:
                g.add_metric(_host_labels(h), float(h[key]))
        yield g
    restarts = CounterMetricFamily("wippy_service_restarts", "restarts of a process.service",
                                   labels=["service"])
    up = GaugeMetricFamily("wippy_service_up", "1 while a process.service runs", labels=["service"])
    for s in status.get("services") or []:
        restarts.add_metric([s["id"]], float(s.get("restarts") or 0))
        up.add_metric([s["id"]], 1.0 if s.get("state") == "Running" else 0.0)
    yield restarts
    yield up
    sups = CounterMetricFamily("wippy_supervisor_restarts", "restarts under a supervisor entry",
                               labels=["supervisor"])
    for s in status.get("supervisors") or []:
        sups.add_metric([s["id"]], float(s.get("restarts") or 0))
    yield sups
    wf = status.get("workflows") or {}
    yield GaugeMetricFamily("wippy_workflows_running", "durable workflows not finished",
                            value=float(wf.get("running") or 0))
    yield CounterMetricFamily("wippy_workflow_steps", "journaled workflow steps",
                              value=float(wf.get("steps") or 0))
    yield CounterMetricFamily("wippy_workflow_commits", "workflow journal commits",
                              value=float(wf.get("commits") or 0))
    yield GaugeMetricFamily("wippy_registry_version", "the registry's current version",
                            value=float(node.get("registry_version") or 0))
    denied = CounterMetricFamily("wippy_policy_denials", "actions denied by a security policy",
                                 labels=_HOST)
    denied.add_metric(["node", "0"], float(node.get("denied") or 0))
    for h in hosts:
        denied.add_metric(_host_labels(h), float(h.get("denied") or 0))
    yield denied
    yield from _http(node.get("http") or [])
    yield GaugeMetricFamily("wippy_node_uptime_seconds", "seconds since the node started",
                            value=float(node.get("uptime") or 0))


def _http(servers: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    requests = CounterMetricFamily("wippy_http_requests", "HTTP requests answered",
                                   labels=["service", "router", "method", "status"])
    duration = HistogramMetricFamily("wippy_http_request_duration_seconds",
                                     "time to answer an HTTP request",
                                     labels=["service", "router"])
    in_flight = GaugeMetricFamily("wippy_http_requests_in_flight", "HTTP requests being answered",
                                  labels=["service"])
    restarts = CounterMetricFamily("wippy_http_server_restarts", "restarts of an HTTP server",
                                   labels=["service"])
    for srv in servers:
        sid = str(srv.get("service"))
        in_flight.add_metric([sid], float(srv.get("in_flight") or 0))
        restarts.add_metric([sid], float(srv.get("restarts") or 0))
        m = srv.get("metrics") or {}
        for r in m.get("wippy_http_requests_total") or []:
            requests.add_metric([sid, str(r["router"]), str(r["method"]), str(r["status"])],
                                float(r["count"]))
        for router, h in sorted((m.get("wippy_http_request_duration_seconds") or {}).items()):
            buckets = [(str(le), float(n)) for le, n in (h.get("buckets") or {}).items()]
            duration.add_metric([sid, str(router)], buckets, float(h.get("sum") or 0))
    yield requests
    yield duration
    yield in_flight
    yield restarts


def _user(series: list[dict[str, Any]]) -> Iterator[Metric]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in series:
        name = s["name"]
        if s["type"] == MetricType.COUNTER.value and name.endswith("_total"):
            name = name[:-6]        # prometheus-client writes the suffix itself
        if name not in RUNTIME_FAMILIES:
            groups.setdefault(name, []).append(s)
    for name, members in groups.items():
        kind = members[0]["type"]
        # one family, one set of label names: a series without one of them has it empty,
        # which Prometheus reads as absent
        labels = sorted({k for s in members for k in s["labels"]})
        doc = f"{name} (recorded by the application)"
        fam: Any = (CounterMetricFamily(name, doc, labels=labels) if kind == MetricType.COUNTER.value
                    else GaugeMetricFamily(name, doc, labels=labels) if kind == MetricType.GAUGE.value
                    else HistogramMetricFamily(name, doc, labels=labels))
        for s in members:
            values = [str(s["labels"].get(k, "")) for k in labels]
            if kind == MetricType.HISTOGRAM.value:
                total, buckets = 0.0, []
                for bound, n in zip([*s["buckets"], None], s["counts"]):
                    total += n
                    buckets.append(("+Inf" if bound is None else _le(bound), total))
                fam.add_metric(values, buckets, float(s["sum"]))
            else:
                fam.add_metric(values, float(s["value"]))
        yield fam


def _le(bound: float) -> str:
    return repr(float(bound))


class _Snapshot:
    """A collector over one status (prometheus-client asks it on each ``generate_latest``)."""

    def __init__(self, status: Mapping[str, Any], user: list[dict[str, Any]]) -> None:
        self.status = status
        self.user = user

    def collect(self) -> Iterator[Metric]:
        yield from _runtime(self.status)
        yield from _user(self.user)


def exposition(status: Mapping[str, Any]) -> bytes:
    """The text a Prometheus scrape gets for ``status`` (``Connection.status(processes=False)``,
    whose node and hosts carry the metrics recorded in them under ``metrics``)."""
    tables = [(status.get("node") or {}).get("metrics") or []]
    user = merge(tables + [h.get("metrics") or [] for h in status.get("hosts") or []])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(status, user))       # type: ignore[arg-type]
    return generate_latest(registry)
