"""The route table (wippy.http.routing), CORS and metrics (wippy.http.middleware), and the
frames between server and handler (wippy.http.frames): pure logic, no sockets."""
from __future__ import annotations

from typing import Any

import pytest

from wippy.errors import BadFrame
from wippy.http import frames
from wippy.http.middleware import Cors, Metrics, unsupported
from wippy.http.routing import compile_routes, join_path


def _entries(*endpoints: tuple[str, str, str], prefix: str = "/api",
             middleware: list[str] | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"id": "app:gw", "kind": "http.service", "meta": {}, "data": {"addr": ":8080"}},
        {"id": "app:api", "kind": "http.router", "meta": {"server": "gw"},
         "data": {"prefix": prefix, "middleware": middleware or []}},
    ]
    for i, (method, path, func) in enumerate(endpoints):
        out.append({"id": f"app:e{i}", "kind": "http.endpoint", "meta": {"router": "app:api"},
                    "data": {"method": method, "path": path, "func": func}})
    return out


def _match(table: Any, method: str, path: str) -> tuple[str | None, dict[str, str]]:
    m = table.match(method, path)
    return (m.route.func if m.route else None), m.params


def test_prefix_and_path_join_into_one_pattern() -> None:
    assert join_path("/", "/hello") == "/hello"
    assert join_path("/api/", "/tasks") == "/api/tasks"
    assert join_path("/api", "/") == "/api"


def test_a_literal_segment_beats_a_parameter_which_beats_a_wildcard() -> None:
    t = compile_routes("app:gw", _entries(("GET", "/users/me", "me"),
                                          ("GET", "/users/{id}", "user"),
                                          ("GET", "/users/{id}/posts/{post}", "post"),
                                          ("GET", "/users/{rest...}", "rest")))
    assert _match(t, "GET", "/api/users/me") == ("me", {})
    assert _match(t, "GET", "/api/users/42") == ("user", {"id": "42"})
    assert _match(t, "GET", "/api/users/42/posts/7") == ("post", {"id": "42", "post": "7"})
    assert _match(t, "GET", "/api/users/42/likes") == ("rest", {"rest": "42/likes"})


def test_the_search_backtracks_from_a_literal_that_leads_nowhere() -> None:
    t = compile_routes("app:gw", _entries(("GET", "/a/b/c", "abc"), ("GET", "/a/{x}/d", "xd")))
    assert _match(t, "GET", "/api/a/b/d") == ("xd", {"x": "b"})


def test_a_trailing_slash_does_not_matter_and_head_falls_back_to_get() -> None:
    t = compile_routes("app:gw", _entries(("GET", "/tasks", "list")))
    assert _match(t, "GET", "/api/tasks/")[0] == "list"
    assert _match(t, "HEAD", "/api/tasks")[0] == "list"


def test_another_method_on_a_known_path_gives_the_allowed_methods() -> None:
    t = compile_routes("app:gw", _entries(("GET", "/tasks", "list"), ("POST", "/tasks", "add")))
    m = t.match("DELETE", "/api/tasks")
    assert m.route is None and m.allowed == ("GET", "HEAD", "POST")
    unknown = t.match("GET", "/api/nothing")
    assert unknown.route is None and unknown.allowed == () and unknown.router is not None
    assert t.match("GET", "/elsewhere").router is None


def test_entries_of_other_services_are_not_served_and_duplicates_are_reported() -> None:
    entries = _entries(("GET", "/x", "one"), ("GET", "/x", "two"))
    entries.append({"id": "app:other", "kind": "http.router", "meta": {"server": "app:gw2"},
                    "data": {"prefix": "/"}})
    entries.append({"id": "app:z", "kind": "http.endpoint", "meta": {"router": "other"},
                    "data": {"method": "GET", "path": "/y", "func": "y"}})
    entries.append({"id": "app:lost", "kind": "http.endpoint", "meta": {"router": "nowhere"},
                    "data": {"method": "GET", "path": "/z", "func": "z"}})
    t = compile_routes("app:gw", entries)
    assert _match(t, "GET", "/api/x")[0] == "one"
    assert _match(t, "GET", "/y")[0] is None
    assert any("already served by app:e0" in p for p in t.problems)
    assert any("app:lost" in p for p in t.problems)
    assert not any("app:z" in p for p in t.problems)


def test_cors_answers_a_preflight_from_an_allowed_origin_only() -> None:
    cors = Cors.from_options({"cors.allow.origins": "https://a.example.com,*.b.org"})
    pre = cors.preflight("OPTIONS", {"origin": "https://a.example.com",
                                     "access-control-request-method": "POST"})
    assert pre is not None and dict(pre)["Access-Control-Allow-Origin"] == "https://a.example.com"
    assert cors.preflight("OPTIONS", {"origin": "https://x.b.org",
                                      "access-control-request-method": "GET"}) is not None
    assert cors.preflight("OPTIONS", {"origin": "https://evil.com",
                                      "access-control-request-method": "GET"}) is None
    assert cors.preflight("GET", {"origin": "https://a.example.com"}) is None
    assert cors.response_headers({"origin": "https://evil.com"}) == []


def test_cors_defaults_are_wippys_and_credentials_echo_the_origin() -> None:
    star = Cors.from_options({})
    assert dict(star.response_headers({"origin": "http://x"}))["Access-Control-Allow-Origin"] == "*"
    pre = dict(star.preflight("OPTIONS", {"origin": "http://x",
                                          "access-control-request-method": "GET"}) or [])
    assert pre["Access-Control-Allow-Methods"] == "GET,POST,PUT,DELETE,OPTIONS,PATCH"
    assert pre["Access-Control-Max-Age"] == "86400"
    cred = Cors.from_options({"allow_credentials": "true"})      # Wippy's legacy name
    h = dict(cred.response_headers({"origin": "http://x"}))
    assert h["Access-Control-Allow-Origin"] == "http://x"
    assert h["Access-Control-Allow-Credentials"] == "true"


def test_metrics_count_by_router_method_status_with_a_histogram() -> None:
    m = Metrics()
    m.started()
    assert m.in_flight == 1
    m.finished("app:api", "GET", 200, 0.003)
    m.started()
    m.finished("app:api", "GET", 200, 0.2)
    snap = m.snapshot()
    assert snap["wippy_http_requests_in_flight"] == 0
    assert snap["wippy_http_requests_total"] == [
        {"router": "app:api", "method": "GET", "status": 200, "count": 2}]
    text = m.prometheus()
    assert 'wippy_http_requests_total{router="app:api",method="GET",status="200"} 2' in text
    assert 'wippy_http_request_duration_seconds_bucket{router="app:api",le="0.005"} 1' in text
    assert 'wippy_http_request_duration_seconds_count{router="app:api"} 2' in text
    assert unsupported(["cors", "metrics", "compress"]) == ["compress"]


def test_frames_round_trip_and_a_stranger_is_refused() -> None:
    req = frames.request("GET", "/x", "a=1", {"host": "h"}, b"", {"id": "1"}, "1.2.3.4:5",
                         "{app:gw/3|7}", "app:e", "app:f")
    assert frames.parse_request(req).params == {"id": "1"}
    assert frames.parse_reply(frames.start(201, [["X", "y"]], b"hi", True)) == \
        frames.Start(201, [["X", "y"]], b"hi", True)
    assert frames.parse_reply(frames.more(b"z", False)) == frames.More(b"z", False)
    assert frames.parse_reply(frames.failed("ab", "boom")) == frames.Failed("ab", "boom")
    with pytest.raises(BadFrame):
        frames.parse_request(["not", "a", "request"])
    with pytest.raises(BadFrame):
        frames.parse_reply(["?"])
