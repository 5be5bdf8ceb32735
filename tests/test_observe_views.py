"""The observer's pure parts: who may write (wippy.observe.auth), what the page shows
(wippy.observe.views), the address it listens on (wippy.node.observe.parse_observe), and its
ASGI application's routes driven in memory with a fake link to the node (no socket)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from wippy.errors import EntryNotFound
from wippy.node.observe import parse_observe
from wippy.observe import auth, views
from wippy.observe.app import ObserverApp

TOKEN = "s3cret-token"


# -- auth --------------------------------------------------------------------------------------
def test_without_a_configured_token_nobody_writes() -> None:
    assert auth.check(None, {auth.TOKEN_HEADER: "anything"}) is auth.Access.READ_ONLY
    assert auth.check("", {}) is auth.Access.READ_ONLY


def test_the_token_is_taken_from_the_header_a_bearer_or_the_cookie() -> None:
    assert auth.check(TOKEN, {auth.TOKEN_HEADER: TOKEN}) is auth.Access.ALLOWED
    assert auth.check(TOKEN, {"authorization": f"Bearer {TOKEN}"}) is auth.Access.ALLOWED
    cookie = f"theme=dark; {auth.COOKIE}=s3cret%2Dtoken"       # as encodeURIComponent writes it
    assert auth.check(TOKEN, {"cookie": cookie}) is auth.Access.ALLOWED


def test_a_missing_or_wrong_token_is_refused() -> None:
    assert auth.check(TOKEN, {}) is auth.Access.NO_TOKEN
    assert auth.check(TOKEN, {auth.TOKEN_HEADER: "guess"}) is auth.Access.NO_TOKEN
    assert auth.check(TOKEN, {"cookie": f"{auth.COOKIE}="}) is auth.Access.NO_TOKEN


def test_a_write_from_another_sites_page_is_refused_even_with_the_token() -> None:
    headers = {auth.TOKEN_HEADER: TOKEN, "host": "127.0.0.1:8700"}
    assert auth.check(TOKEN, {**headers, "origin": "http://127.0.0.1:8700"}) is auth.Access.ALLOWED
    assert auth.check(TOKEN, {**headers, "origin": "https://evil.example"}) is auth.Access.CROSS_SITE
    assert auth.check(TOKEN, {**headers, "origin": "null"}) is auth.Access.CROSS_SITE


# -- the address -------------------------------------------------------------------------------
def test_an_address_without_a_host_listens_on_the_loopback_only() -> None:
    assert parse_observe("8700") == ("127.0.0.1", 8700)
    assert parse_observe(":8700") == ("127.0.0.1", 8700)
    assert parse_observe("0.0.0.0:0") == ("0.0.0.0", 0)
    assert parse_observe("[::1]:9") == ("::1", 9)
    for bad in ("host:port", "127.0.0.1:70000", ""):
        with pytest.raises(ValueError):
            parse_observe(bad)


# -- views -------------------------------------------------------------------------------------
def _e(eid: str, kind: str = "registry.entry", data: dict[str, Any] | None = None,
       meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": eid, "kind": kind, "meta": meta or {}, "data": data or {}}


def test_a_diff_names_each_entry_and_each_changed_field() -> None:
    old = [_e("app:a", data={"rate": 5, "gone": 1}), _e("app:b"), _e("app:c", meta={"m": 1})]
    new = [_e("app:a", data={"rate": 9, "new": True}), _e("app:c", meta={"m": 1}), _e("app:d")]
    rows = views.diff_rows(old, new)
    assert [(r["op"], r["id"]) for r in rows] == [("update", "app:a"), ("delete", "app:b"),
                                                   ("create", "app:d")]
    fields = {f["field"]: f for f in rows[0]["fields"]}
    assert (fields["data.rate"]["before"], fields["data.rate"]["after"]) == (5, 9)
    assert fields["data.gone"]["removed"] and fields["data.new"]["added"]


def test_a_changed_kind_is_a_field_of_the_diff() -> None:
    [row] = views.diff_rows([_e("app:x", "process.lua")], [_e("app:x", "process.py")])
    assert row["fields"][0] == {"field": "kind", "before": "process.lua", "after": "process.py"}


def test_a_host_lists_its_busiest_processes_first_and_at_most_the_cap() -> None:
    procs = [{"pid": f"{{h/1|{i}}}", "mailbox": i % 7} for i in range(50)]
    status = {"hosts": [{"serial": 1, "count": 50, "processes": procs}, {"serial": 2}]}
    out = views.trim_processes(status, cap=10)
    shown = out["hosts"][0]["processes"]
    assert len(shown) == 10 and out["hosts"][0]["processes_shown"] == 10
    assert shown[0]["mailbox"] == 6
    assert len(status["hosts"][0]["processes"]) == 50          # the input is not changed


def test_a_journal_view_numbers_steps_and_reads_timers_due_times() -> None:
    w = {"id": "ab12", "status": "running"}
    steps = [{"op": "call", "key": "app:f", "result": 42},
             {"op": "timer", "key": 1, "result": 1_700_000_000_000_000_000}]
    view = views.journal_view(w, steps, [{"topic": "go", "payload": 1, "from": None}])
    assert [s["n"] for s in view["steps"]] == [0, 1]
    assert view["steps"][1]["due"] == pytest.approx(1_700_000_000)
    assert view["signals"][0]["n"] == 0 and view["signals"][0]["topic"] == "go"


def test_versions_are_read_with_or_without_their_v() -> None:
    assert [views.parse_version(v) for v in (3, "3", "v3", " V12 ")] == [3, 3, 3, 12]
    for bad in (True, "x", -1, None):
        with pytest.raises((ValueError, TypeError)):
            views.parse_version(bad)


# -- the application, in memory ----------------------------------------------------------------
class FakeLink:
    """Stands in for the link to the node: records calls, answers with canned data."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def run(self, fn: Any, *args: Any) -> Any:
        self.calls.append((fn.__name__, args))
        return fn(*args)

    def status(self, processes: bool) -> dict[str, Any]:
        return {"node": {"registry_version": 3}, "hosts": [], "processes": processes}

    def history(self, limit: int) -> dict[str, Any]:
        return {"version": 3, "total": 4, "history": [{"version": v} for v in (3, 2, 1, 0)][:limit]}

    def diff(self, v1: int, v2: int) -> dict[str, Any]:
        if v2 > 3:
            raise EntryNotFound(f"version v{v2} not found")
        return {"from": v1, "to": v2, "changes": []}

    def workflows(self, limit: int) -> dict[str, Any]:
        return {"workflows": [{"id": "ab12"}][:limit], "total": 1, "running": 0}

    def workflow(self, wf: str) -> dict[str, Any] | None:
        return {"id": wf, "steps": [], "signals": []} if wf == "ab12" else None

    def cancel(self, wf: str) -> str | None:
        return "{wf/0|ab12}" if wf == "ab12" else None

    def rollback(self, version: int) -> int:
        return 4

    def terminate(self, pid: str) -> None:
        pass


def _call(app: ObserverApp, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()]}
    sent: list[dict[str, Any]] = []
    data = b"" if body is None else json.dumps(body).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    asyncio.run(app(scope, receive, send))
    head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, sent[1]["body"]


def _app(token: str | None = TOKEN) -> tuple[ObserverApp, FakeLink]:
    link = FakeLink()
    return ObserverApp(link, token), link     # type: ignore[arg-type]


def test_the_page_is_one_file_that_may_reach_nothing_but_this_server() -> None:
    app, _ = _app()
    status, head, body = _call(app, "GET", "/")
    assert status == 200 and head["content-type"].startswith("text/html")
    assert "default-src 'none'" in head["content-security-policy"]
    assert "connect-src 'self'" in head["content-security-policy"]
    text = body.decode()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and "<script src" not in text and "<link" not in text


def test_reads_need_no_token() -> None:
    app, link = _app()
    status, _, body = _call(app, "GET", "/api/status?processes=1")
    assert status == 200 and json.loads(body)["processes"] is True
    assert _call(app, "GET", "/api/registry/diff?from=v1&to=2")[0] == 200
    assert link.calls[-1] == ("diff", (1, 2))
    assert _call(app, "GET", "/api/workflows/ab12")[0] == 200
    status, _, body = _call(app, "GET", "/api/registry?limit=2")
    assert status == 200 and [h["version"] for h in json.loads(body)["history"]] == [3, 2]
    assert _call(app, "GET", "/api/registry/diff")[0] == 200
    assert link.calls[-1] == ("diff", (2, 3))              # the newest version and the one before
    assert _call(app, "GET", "/api/workflows?limit=x")[0] == 400
    status, head, body = _call(app, "GET", "/metrics")
    assert status == 200 and head["content-type"].startswith("text/plain")
    assert b"wippy_registry_version 3.0" in body


def test_every_write_without_the_token_is_403_and_never_reaches_the_node() -> None:
    for token in (TOKEN, None):
        app, link = _app(token)
        for path, body in (("/api/workflows/ab12/cancel", None),
                           ("/api/registry/rollback", {"version": 1}),
                           ("/api/processes/terminate", {"pid": "{app:p/1|2}"})):
            status, _, answer = _call(app, "POST", path, body)
            assert status == 403, path
            assert json.loads(answer)["access"] == ("no-token" if token else "read-only")
        assert link.calls == []


def test_writes_with_the_token_reach_the_node() -> None:
    app, link = _app()
    hdr = {"x-wippy-token": TOKEN}
    assert _call(app, "POST", "/api/workflows/ab12/cancel", headers=hdr)[0] == 200
    status, _, body = _call(app, "POST", "/api/registry/rollback", {"version": "v1"}, hdr)
    assert status == 200 and json.loads(body)["version"] == 4
    assert _call(app, "POST", "/api/processes/terminate", {"pid": "{app:p/1|2}"}, hdr)[0] == 200
    assert [c[0] for c in link.calls] == ["cancel", "rollback", "terminate"]
    assert link.calls[1] == ("rollback", (1,))


def test_errors_have_their_http_status() -> None:
    app, _ = _app()
    hdr = {"x-wippy-token": TOKEN}
    assert _call(app, "GET", "/api/registry/diff?from=1&to=9")[0] == 404     # EntryNotFound
    assert _call(app, "GET", "/api/workflows/nope")[0] == 404
    assert _call(app, "POST", "/api/workflows/nope/cancel", headers=hdr)[0] == 404
    assert _call(app, "POST", "/api/processes/terminate", {"pid": "junk"}, hdr)[0] == 400
    assert _call(app, "POST", "/api/registry/rollback", {"version": "x"}, hdr)[0] == 400
    assert _call(app, "GET", "/api/registry/rollback")[0] == 405
    assert _call(app, "GET", "/nothing/here")[0] == 404


def test_concurrent_readers_share_one_status_request() -> None:
    app, link = _app()

    async def two() -> None:
        await asyncio.gather(app.status(False), app.status(False), app.status(True))

    asyncio.run(two())
    assert [c for c in link.calls if c[0] == "status"] == [("status", (False,)), ("status", (True,))]
