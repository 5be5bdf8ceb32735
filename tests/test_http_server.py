"""HTTP services end to end: Python and Lua handlers, faults (a raising handler, a slow one,
malformed JSON, a port in use, a flood), streaming, CORS and metrics, hot reload of handlers
and routes. Real nodes, a real HTTP client on 127.0.0.1, real OS processes."""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import threading
from typing import Any, Iterator

import pytest

from conftest import run_wippy, wait_until, write_app
from httpkit import Reply, Served, fetch, free_port, serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

INDEX = """
version: "1.0"
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 1}}
  - name: gw
    kind: http.service
    addr: ":8080"
    lifecycle: {auto_start: true}
  - name: api
    kind: http.router
    meta: {server: gw}
    prefix: /
    middleware: [cors, metrics]
    options: {cors.allow.origins: "https://ok.example"}
  - {name: hello, kind: function.py, source: file://handlers.py, method: hello}
  - {name: item, kind: function.py, source: file://handlers.py, method: item}
  - {name: pyjson, kind: function.py, source: file://handlers.py, method: json_echo}
  - {name: pyboom, kind: function.py, source: file://handlers.py, method: boom}
  - {name: pysse, kind: function.py, source: file://handlers.py, method: sse}
  - {name: nohttp, kind: function.py, source: file://handlers.py, method: no_context}
  - {name: luajson, kind: function.lua, source: file://handlers.lua, method: json_echo, modules: [http]}
  - {name: luaboom, kind: function.lua, source: file://handlers.lua, method: boom, modules: [http]}
  - {name: luaslow, kind: function.lua, source: file://handlers.lua, method: slow, modules: [http, time]}
  - {name: luasse, kind: function.lua, source: file://handlers.lua, method: sse, modules: [http, time]}
  - {name: pybody, kind: function.py, source: file://handlers.py, method: body_echo}
  - {name: luaprobe, kind: function.lua, source: file://handlers.lua, method: probe, modules: [http]}
  - {name: hello.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py/hello, func: hello}
  - {name: item.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: "/py/items/{id}", func: item}
  - {name: pyjson.ep, kind: http.endpoint, meta: {router: api}, method: POST, path: /py/json, func: pyjson}
  - {name: pyboom.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py/boom, func: pyboom}
  - {name: pysse.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py/sse, func: pysse}
  - {name: nohttp.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py/nohttp, func: nohttp}
  - {name: luajson.ep, kind: http.endpoint, meta: {router: api}, method: POST, path: /lua/json, func: luajson}
  - {name: luaboom.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /lua/boom, func: luaboom}
  - {name: luaslow.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /lua/slow, func: luaslow, timeout: 300ms}
  - {name: luasse.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /lua/sse, func: luasse}
  - {name: getbody.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py/body, func: pybody}
  - {name: postbody.ep, kind: http.endpoint, meta: {router: api}, method: POST, path: /py/body, func: pybody}
  - {name: luaprobe.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /lua/probe, func: luaprobe}
"""

HANDLERS_PY = """
import wippy
from wippy import http, time


def hello():
    req, res = http.request(), http.response()
    res.set_header("X-Echo", req.header("X-Test") or "")
    res.write_json({"q": req.query("q"), "method": req.method(), "path": req.path()})


def item():
    req = http.request()
    http.response().write_json({"id": req.param("id"), "all": req.query_params(),
                                "remote": req.remote_addr()})


def json_echo():
    req, res = http.request(), http.response()
    try:
        data = req.body_json()
    except wippy.HttpError as exc:
        res.set_status(http.STATUS.BAD_REQUEST)
        res.write_json({"error": str(exc), "kind": exc.kind})
        return
    res.set_status(http.STATUS.CREATED)
    res.write_json({"got": data})


def boom():
    raise RuntimeError("kaboom")


async def sse():
    res = http.response()
    for i in range(3):
        res.write_event({"name": "tick", "data": {"i": i}})
        await time.sleep("10ms")


def no_context():
    return "never"


def body_echo():
    req = http.request()
    http.response().write_json({"body": req.body(), "has": req.has_body()})
"""

HANDLERS_LUA = """
local http = require("http")

local function json_echo()
  local req, res = http.request(), http.response()
  local data, err = req:body_json()
  if err then
    res:set_status(http.STATUS.BAD_REQUEST)
    return res:write_json({error = err:message(), kind = err:kind()})
  end
  res:write_json({got = data})
end

local function boom()
  error("lua kaboom")
end

local function slow()
  local time = require("time")
  time.sleep("20s")
  http.response():write("too late")
end

local function sse()
  local time = require("time")
  local res = http.response()
  for i = 1, 3 do
    res:write_event({name = "tick", data = {i = i}})
    time.sleep("10ms")
  end
end

local function probe()
  local res = http.response()
  -- an object's fields past its own and a module's non-string keys are nil
  res:write_json({field = res[2] == nil, module = http[1] == nil and http[true] == nil,
                  ok = http.STATUS.OK})
end

return {json_echo = json_echo, boom = boom, slow = slow, sse = sse, probe = probe}
"""


@pytest.fixture
def served(app_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    write_app(app_dir, {"_index.yaml": INDEX, "handlers.py": HANDLERS_PY,
                        "handlers.lua": HANDLERS_LUA})
    yield from serve(app_dir, monkeypatch)


def test_python_handlers_read_the_request_and_write_the_response(served: Served) -> None:
    r = served.get("/py/hello?q=wippy", headers={"X-Test": "yes"})
    assert (r.status, r.headers["x-echo"]) == (200, "yes")
    assert r.json() == {"q": "wippy", "method": "GET", "path": "/py/hello"}
    item = served.get("/py/items/42?tag=a&tag=b").json()
    assert item["id"] == "42" and item["all"] == {"tag": "a,b"}
    assert item["remote"].startswith("127.0.0.1:")
    created = served.post("/py/json", {"n": 1})
    assert (created.status, created.json()) == (201, {"got": {"n": 1}})


@pytest.mark.parametrize("path", ["/py/json", "/lua/json"])
def test_malformed_json_is_the_handlers_error_value_not_a_crash(served: Served,
                                                                 path: str) -> None:
    r = served.post(path, "{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    kind = "Invalid" if path.startswith("/lua") else "INVALID"     # each language's own name
    assert r.json()["kind"] == kind and "invalid JSON" in r.json()["error"]
    ok = served.post(path, {"fine": True})
    assert ok.json() == {"got": {"fine": True}}


def test_a_request_body_reaches_the_handler_however_it_is_framed(served: Served) -> None:
    # no Content-Length and no Transfer-Encoding: HTTP/1 says there is no body
    assert served.get("/py/body").json() == {"body": "", "has": False}
    # a GET may carry one all the same
    assert served.get("/py/body", body="on a GET").json() == {"body": "on a GET", "has": True}
    assert served.post("/py/body", "posted").json() == {"body": "posted", "has": True}
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request("POST", "/py/body", body=iter([b"chunk", b"ed"]), encode_chunked=True)
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())) == (200, {"body": "chunked", "has": True})
    finally:
        conn.close()


def test_lua_objects_and_modules_answer_nil_for_keys_they_lack(served: Served) -> None:
    assert served.get("/lua/probe").json() == {"field": True, "module": True, "ok": 200}


@pytest.mark.parametrize("path", ["/py/boom", "/lua/boom"])
def test_a_raising_handler_gives_500_with_an_error_id_in_the_log(served: Served,
                                                                 path: str) -> None:
    r = served.get(path)
    assert r.status == 500
    eid = r.headers["x-error-id"]
    assert eid in r.body.decode()
    wait_until(lambda: re.search(rf"failed \[error {eid}\].*kaboom", served.log()), 10,
               what="the error id and the error in the log")
    assert served.get("/py/hello").status == 200            # the node and the rest go on


def test_a_function_called_outside_a_request_has_no_http_context(served: Served) -> None:
    assert served.node.call("app:nohttp") == "never"
    with pytest.raises(Exception, match="no HTTP request context"):
        served.node.call("app:hello")


def test_a_slow_handler_gets_504_and_its_process_is_ended(served: Served) -> None:
    results: list[Reply] = []
    slow = threading.Thread(target=lambda: results.append(served.get("/lua/slow")))
    slow.start()
    try:
        assert served.get("/py/hello").status == 200       # others are served meanwhile
    finally:
        slow.join(30)
    assert results and results[0].status == 504

    def handler_gone() -> bool:
        procs = [p for h in served.node.ps()["hosts"] for p in h.get("processes", [])]
        return not any(p["entry"] == "app:luaslow.ep" for p in procs)
    wait_until(handler_gone, 10, what="the slow handler's process to be terminated")


@pytest.mark.parametrize("path", ["/py/sse", "/lua/sse"])
def test_server_sent_events_stream_from_python_and_lua(served: Served, path: str) -> None:
    r = served.get(path)
    assert r.status == 200
    assert r.headers["content-type"] == "text/event-stream"
    events = [block for block in r.body.decode().split("\n\n") if block]
    assert len(events) == 3 and all(e.startswith("event: tick\ndata: {") for e in events)


def test_cors_answers_preflight_and_marks_answers_for_allowed_origins(served: Served) -> None:
    pre = fetch(served.port, "OPTIONS", "/py/hello",
                headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "GET"})
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == "https://ok.example"
    r = served.get("/py/hello", headers={"Origin": "https://ok.example"})
    assert r.headers["access-control-allow-origin"] == "https://ok.example"
    other = served.get("/py/hello", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_request_metrics_reach_ps(served: Served) -> None:
    for _ in range(3):
        served.get("/py/hello")
    served.get("/py/boom")

    def counted() -> Any:
        rows = served.node.ps()["node"]["http"]
        totals = {(t["status"]): t["count"]
                  for t in rows[0].get("metrics", {}).get("wippy_http_requests_total", [])}
        return totals if totals.get(200, 0) >= 3 and totals.get(500) == 1 else None
    wait_until(counted, 10, what="the request counters in ps")
    row = served.node.ps()["node"]["http"][0]
    assert row["service"] == "app:gw" and row["state"] == "ready" and row["os_pid"] > 0


def test_a_port_in_use_is_a_boot_error_naming_the_entry(app_dir: str) -> None:
    write_app(app_dir, {"_index.yaml": INDEX, "handlers.py": HANDLERS_PY,
                        "handlers.lua": HANDLERS_LUA})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "WIPPY_HTTP_ADDR": f"127.0.0.1:{port}"}
        import subprocess
        import sys
        proc = subprocess.run([sys.executable, "-m", "wippy", "run", app_dir], env=env,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert (f"http.service app:gw: field 'addr': cannot listen on 127.0.0.1:{port}: "
            "address already in use") in proc.stderr


def test_an_invalid_route_is_a_config_error(app_dir: str) -> None:
    write_app(app_dir, {"_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: gw, kind: http.service, addr: "localhost:99999"}
          - {name: f, kind: function.lua, source: "return {h = function() end}", method: h}
          - {name: e, kind: http.endpoint, meta: {router: r}, method: FETCH, path: "/{a...}/b", func: f}
        """})
    out = run_wippy(["run", app_dir])
    assert out.returncode == 1
    assert "entry app:gw: field 'addr'" in out.stderr
    assert "entry app:e: field 'method'" in out.stderr
    assert "entry app:e: field 'path': wildcard '{a...}' must be the last segment" in out.stderr


FLOOD_INDEX = """
version: "1.0"
namespace: app
entries:
  - {name: processes, kind: process.host}
  - name: gw
    kind: http.service
    addr: ":8080"
    handlers: {max_in_flight: 4}
    lifecycle: {auto_start: true}
  - {name: api, kind: http.router, meta: {server: gw}}
  - name: wait
    kind: function.lua
    method: h
    modules: [http, time]
    source: |
      local function h()
        require("time").sleep("3s")
        require("http").response():write("done")
      end
      return {h = h}
  - {name: wait.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /wait, func: wait}
"""


def test_past_max_in_flight_requests_get_503_at_once(app_dir: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(app_dir, {"_index.yaml": FLOOD_INDEX})
    for served in serve(app_dir, monkeypatch):
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(served.get("/wait").status))
                   for _ in range(4)]
        for t in threads:
            t.start()

        def four_waiting() -> bool:
            procs = [p for h in served.node.ps()["hosts"] for p in h.get("processes", [])]
            return sum(p["entry"] == "app:wait.ep" for p in procs) == 4
        wait_until(four_waiting, 10, what="four requests in flight")
        over = [served.get("/wait") for _ in range(10)]
        assert [r.status for r in over] == [503] * 10
        assert over[0].headers["retry-after"] == "1"
        for t in threads:
            t.join(30)
        assert results == [200] * 4


RELOAD_INDEX = """
version: "1.0"
namespace: app
entries:
  - {name: processes, kind: process.host}
  - name: gw
    kind: http.service
    addr: ":8080"
    lifecycle: {auto_start: true}
  - {name: api, kind: http.router, meta: {server: gw}, prefix: /api}
  - name: v
    kind: function.lua
    method: h
    modules: [http, time]
    source: |
      local function h()
        local req = require("http").request()
        if req:query("wait") then require("time").sleep("1s") end
        require("http").response():write("v1")
      end
      return {h = h}
  - {name: v.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /v, func: v}
"""

V2 = """
local function h()
  require("http").response():write("v2")
end
return {h = h}
"""


def test_hot_reload_new_requests_use_new_code_requests_in_flight_finish_on_old(
        app_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(app_dir, {"_index.yaml": RELOAD_INDEX})
    for served in serve(app_dir, monkeypatch):
        assert served.get("/api/v").body == b"v1"
        old: list[Reply] = []
        t = threading.Thread(target=lambda: old.append(served.get("/api/v?wait=1")))
        t.start()

        def in_flight() -> bool:
            procs = [p for h in served.node.ps()["hosts"] for p in h.get("processes", [])]
            return any(p["entry"] == "app:v.ep" for p in procs)
        wait_until(in_flight, 10, what="the slow request to be in flight")
        reg = served.node.registry
        entry = reg.get("app:v")
        reg.snapshot().changes().update({**entry, "data": {**entry["data"], "source": V2}}).apply()
        assert served.get("/api/v").body == b"v2"
        t.join(30)
        assert old[0].body == b"v1"

        # routes: a new endpoint is served once its version reaches the server; a deleted one
        # stops being served
        ep = reg.get("app:v.ep")
        reg.snapshot().changes().create(
            {**ep, "id": "app:w.ep", "data": {**ep["data"], "path": "/w"}}).apply()
        wait_until(lambda: served.get("/api/w").status == 200, 10, what="the new route")
        reg.snapshot().changes().delete("app:v.ep").apply()
        wait_until(lambda: served.get("/api/v").status == 404, 10, what="the route to go")
        assert served.get("/api/w").body == b"v2"


def test_no_http_service_without_auto_start_and_a_free_port(app_dir: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(app_dir, {"_index.yaml": RELOAD_INDEX.replace("lifecycle: {auto_start: true}",
                                                           "lifecycle: {auto_start: false}")})
    for served in serve(app_dir, monkeypatch):
        assert served.node.ps()["node"]["http"] == []
        with pytest.raises(OSError):
            fetch(served.port, "GET", "/api/v", timeout=2)


def test_free_port_helper_gives_a_bindable_port() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
