"""Metrics user code records (wippy.observe.metrics) and the Prometheus exposition of a node's
status (wippy.observe.prom): pure logic, a fake clock, no process or socket."""
from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wippy.observe import metrics as m
from wippy.observe.prom import RUNTIME_FAMILIES, exposition


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_add_up_and_refuse_to_go_down() -> None:
    t = m.Metrics()
    t.counter_inc("jobs_total", {"queue": "a"})
    t.counter_add("jobs_total", 2.5, {"queue": "a"})
    t.counter_inc("jobs_total", {"queue": "b"})
    snap = {(s["name"], s["labels"]["queue"]): s["value"] for s in t.snapshot()}
    assert snap == {("jobs_total", "a"): 3.5, ("jobs_total", "b"): 1.0}
    with pytest.raises(ValueError, match="only goes up"):
        t.counter_add("jobs_total", -1)


def test_a_gauge_moves_both_ways_and_remembers_when_it_was_set() -> None:
    now = [100.0]
    t = m.Metrics(clock=lambda: now[0])
    t.gauge_set("depth", 5)
    t.gauge_inc("depth")
    now[0] = 101.0
    t.gauge_dec("depth")
    t.gauge_dec("depth")
    [s] = t.snapshot()
    assert (s["type"], s["value"], s["t"]) == ("gauge", 4.0, 100.0)   # ``t``: when it was set


def test_a_histogram_counts_each_observation_in_its_bucket() -> None:
    t = m.Metrics()
    for v in (0.001, 0.2, 0.2, 30):
        t.histogram("latency_seconds", v, {"route": "/x"})
    [s] = t.snapshot()
    assert s["buckets"] == list(m.BUCKETS)
    assert sum(s["counts"]) == 4 and s["counts"][0] == 1 and s["counts"][-1] == 1
    assert s["sum"] == pytest.approx(30.401)


@pytest.mark.parametrize("call", [
    lambda t: t.counter_inc("bad name"),
    lambda t: t.counter_inc("ok", {"bad-label": 1}),
    lambda t: t.counter_inc("ok", {"__reserved": 1}),
    lambda t: t.gauge_set("ok", float("nan")),
    lambda t: t.gauge_set("ok", "7"),
    lambda t: t.histogram("ok", True),
    lambda t: t.counter_inc("ok", ["not", "a", "map"]),
])
def test_bad_names_labels_and_values_are_refused(call: Any) -> None:
    with pytest.raises(ValueError):
        call(m.Metrics())


def test_one_name_keeps_one_type() -> None:
    t = m.Metrics()
    t.counter_inc("x")
    with pytest.raises(ValueError, match="is a counter, not a gauge"):
        t.gauge_set("x", 1)


def test_series_past_the_limit_are_refused() -> None:
    t = m.Metrics(max_series=3)
    for i in range(3):
        t.counter_inc("req", {"id": i})
    t.counter_inc("req", {"id": 0})             # an existing series still counts
    with pytest.raises(ValueError, match="too many metric series"):
        t.counter_inc("req", {"id": 3})


def test_label_values_are_written_as_text() -> None:
    t = m.Metrics()
    t.counter_inc("c", {"n": 2.0, "ok": True, "s": "x"})
    [s] = t.snapshot()
    assert s["labels"] == {"n": "2", "ok": "true", "s": "x"}


def test_collector_is_one_per_os_process() -> None:
    assert m.collector() is m.collector()


def test_merging_sums_counters_and_histograms_and_keeps_the_latest_gauge() -> None:
    a, b = m.Metrics(clock=lambda: 1.0), m.Metrics(clock=lambda: 2.0)
    for t in (a, b):
        t.counter_add("jobs_total", 2, {"q": "x"})
        t.histogram("lat", 0.2)
    a.gauge_set("depth", 7)
    b.gauge_set("depth", 3)          # set later: this one is the gauge's value now
    b.counter_inc("only_b")
    merged = {(s["name"]): s for s in m.merge([a.snapshot(), b.snapshot()])}
    assert merged["jobs_total"]["value"] == 4.0
    assert merged["depth"]["value"] == 3.0
    assert sum(merged["lat"]["counts"]) == 2 and merged["lat"]["sum"] == pytest.approx(0.4)
    assert merged["only_b"]["value"] == 1.0


def test_merging_skips_a_type_clash_and_malformed_series() -> None:
    a = [{"name": "x", "type": "counter", "labels": {}, "value": 1.0}]
    b = [{"name": "x", "type": "gauge", "labels": {}, "value": 9.0, "t": 5}, {"bogus": 1}]
    [only] = m.merge([a, b])
    assert (only["type"], only["value"]) == ("counter", 1.0)


STATUS: dict[str, Any] = {
    "node": {"pid": 1, "uptime": 12.5, "registry_version": 7, "denied": 2,
             "http": [{"service": "app:gw", "addr": "127.0.0.1:8080", "state": "ready",
                       "restarts": 1, "in_flight": 3, "metrics": {
                           "wippy_http_requests_in_flight": 3,
                           "wippy_http_requests_total": [
                               {"router": "app:api", "method": "GET", "status": 200, "count": 41}],
                           "wippy_http_request_duration_seconds": {"app:api": {
                               "buckets": {"0.005": 10, "0.01": 40, "+Inf": 41}, "sum": 0.3}}}}]},
    "hosts": [
        {"serial": 4, "host": "app:processes", "slot": 0, "state": "ready", "cpu": 12.5,
         "rss": 1000, "restarts": 2, "count": 10, "msgs_in": 500, "msgs_out": 400, "spawns": 30,
         "exits": 20, "mailbox_total": 6, "denied": 1,
         "metrics": [{"name": "jobs_total", "type": "counter", "labels": {"q": "a"}, "value": 3.0},
                     {"name": "wippy_processes", "type": "gauge", "labels": {}, "value": 99.0,
                      "t": 1}]},
        {"serial": 5, "host": "app:processes", "slot": 1, "state": "ready", "cpu": None,
         "rss": None, "restarts": 0, "count": 1, "msgs_in": 5, "msgs_out": 4, "spawns": 1,
         "exits": 0, "mailbox_total": 0, "denied": 0,
         "metrics": [{"name": "jobs_total", "type": "counter", "labels": {"q": "a"}, "value": 2.0},
                     {"name": "jobs_total", "type": "counter", "labels": {}, "value": 1.0},
                     {"name": "wait_seconds", "type": "histogram", "labels": {},
                      "buckets": [0.1, 1.0], "counts": [1, 2, 3], "sum": 9.0}]}],
    "services": [{"id": "app:svc", "state": "Running", "restarts": 4},
                 {"id": "app:down", "state": "Failed", "restarts": 9}],
    "supervisors": [{"id": "app:sup", "restarts": 5}],
    "workflows": {"running": 3, "steps": 120, "commits": 60},
}


def test_the_exposition_holds_the_runtime_metrics_a_scraper_expects() -> None:
    s = _samples(exposition(STATUS))
    host0 = (("host", "app:processes"), ("slot", "0"))
    assert s[("wippy_messages_in_total", host0)] == 500
    assert s[("wippy_messages_out_total", host0)] == 400
    assert s[("wippy_processes", host0)] == 10
    assert s[("wippy_host_restarts_total", host0)] == 2
    assert s[("wippy_service_restarts_total", (("service", "app:svc"),))] == 4
    assert s[("wippy_service_up", (("service", "app:svc"),))] == 1
    assert s[("wippy_service_up", (("service", "app:down"),))] == 0
    assert s[("wippy_supervisor_restarts_total", (("supervisor", "app:sup"),))] == 5
    assert s[("wippy_workflow_steps_total", ())] == 120
    assert s[("wippy_workflows_running", ())] == 3
    assert s[("wippy_registry_version", ())] == 7
    assert s[("wippy_policy_denials_total", (("host", "node"), ("slot", "0")))] == 2
    assert s[("wippy_policy_denials_total", host0)] == 1
    route = (("method", "GET"), ("router", "app:api"), ("service", "app:gw"), ("status", "200"))
    assert s[("wippy_http_requests_total", route)] == 41
    gw = (("router", "app:api"), ("service", "app:gw"))
    assert s[("wippy_http_request_duration_seconds_bucket", (("le", "0.01"),) + gw)] == 40
    assert s[("wippy_http_request_duration_seconds_count", gw)] == 41
    assert s[("wippy_http_requests_in_flight", (("service", "app:gw"),))] == 3
    assert s[("wippy_http_server_restarts_total", (("service", "app:gw"),))] == 1


def test_user_metrics_are_summed_over_hosts_beside_the_runtime_ones() -> None:
    s = _samples(exposition(STATUS))
    assert s[("jobs_total", (("q", "a"),))] == 5.0
    assert s[("jobs_total", (("q", ""),))] == 1.0     # an empty label is an absent one
    assert s[("wait_seconds_bucket", (("le", "0.1"),))] == 1
    assert s[("wait_seconds_bucket", (("le", "+Inf"),))] == 6
    assert s[("wait_seconds_sum", ())] == 9.0


def test_a_user_metric_named_like_a_runtime_one_is_left_out() -> None:
    s = _samples(exposition(STATUS))
    assert "wippy_processes" in RUNTIME_FAMILIES
    assert s[("wippy_processes", (("host", "app:processes"), ("slot", "0")))] == 10
    assert not any(name == "wippy_processes" and not labels for name, labels in s)


def test_an_empty_status_is_a_valid_exposition() -> None:
    s = _samples(exposition({"node": {}, "hosts": []}))
    assert s[("wippy_registry_version", ())] == 0


def test_what_the_node_itself_recorded_is_summed_with_the_hosts() -> None:
    status = {**STATUS, "node": {**STATUS["node"], "metrics": [
        {"name": "jobs_total", "type": "counter", "labels": {"q": "a"}, "value": 10.0},
        {"name": "journal_retries_total", "type": "counter", "labels": {}, "value": 2.0}]}}
    s = _samples(exposition(status))
    assert s[("jobs_total", (("q", "a"),))] == 15.0
    assert s[("journal_retries_total", ())] == 2.0
