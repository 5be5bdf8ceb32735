"""``funcs.call`` of a function on another node (S12), two nodes on 127.0.0.1 and a real
PostgreSQL: ``funcs.call("n2@app:fn", ...)`` from Python and Lua returns the result computed
on n2, raises the remote error naming n2, refuses arguments that are not plain data, and
fails (no hang) when n2 dies during the call. The caller's context values travel with the
call, and with a process spawned with them on n2."""
from __future__ import annotations

import json
import os
from typing import Iterator

import pytest

import wippy
from clusterkit import kill_tree, running, under
from conftest import wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL = 1.0

APP = {"config/_index.yaml": """
    version: "1.0"
    namespace: app
    entries:
      - {name: procs, kind: process.host}
      - {name: add, kind: function.py, source: file://f.py, method: add}
      - {name: fail, kind: function.py, source: file://f.py, method: fail}
      - {name: hang, kind: function.py, source: file://f.py, method: hang}
      - {name: ladd, kind: function.lua, source: file://l.lua, method: add}
      - {name: caller, kind: process.py, source: file://m.py, method: caller}
      - {name: watch_call, kind: process.py, source: file://m.py, method: watch_call}
      - {name: lcaller, kind: process.lua, source: file://l.lua, method: caller,
         modules: [funcs]}
      - {name: ctxread, kind: function.py, source: file://f.py, method: ctxread}
      - {name: lctxread, kind: function.lua, source: file://l.lua, method: ctxread,
         modules: [ctx]}
      - {name: pctx, kind: process.py, source: file://f.py, method: pctx}
      - {name: ctx_caller, kind: process.py, source: file://m.py, method: ctx_caller}
      - {name: lctx_caller, kind: process.lua, source: file://l.lua, method: ctx_caller,
         modules: [funcs]}
      - {name: lctx_spawner, kind: process.lua, source: file://l.lua, method: ctx_spawner}
""", "config/f.py": """
    import os

    from wippy import time


    def add(a, b):
        return {"sum": a + b, "ospid": os.getpid()}


    def fail(what, *_):
        raise ValueError("boom: " + what)


    async def hang(out):
        with open(out, "w") as fh:
            fh.write(str(os.getpid()))
        await time.sleep("1h")


    def ctxread(*args):
        from wippy import funcs
        return {"ctx": funcs.context(), "args": list(args), "ospid": os.getpid()}


    def pctx(*args):
        return ctxread(*args)
""", "config/l.lua": """
    local function add(a, b)
      return {sum = a + b}
    end

    local function caller(fid, a, b)
      local funcs = require("funcs")
      local res, err = funcs.call(fid, a, b)
      if err then return {"error", tostring(err)} end
      return {"ok", res}
    end

    local function ctxread(...)
      local ctx = require("ctx")
      return {ctx = ctx.all(), args = {...}}
    end

    local function ctx_caller(fid)
      local funcs = require("funcs")
      local res, err = funcs.new():with_context({trace = "t-2"}):call(fid, "x")
      if err then return {"error", tostring(err)} end
      return {"ok", res}
    end

    local function ctx_spawner(host)
      local pid = process.with_context({trace = "t-3"}):spawn_monitored("app:pctx", host, "y")
      local ev = process.events():receive()
      if ev.result.error then return {error = tostring(ev.result.error)} end
      return ev.result.value
    end
    return {add = add, caller = caller, ctxread = ctxread, ctx_caller = ctx_caller,
            ctx_spawner = ctx_spawner}
""", "config/m.py": """
    import json

    from wippy import funcs


    async def caller(fid, *args):
        args = [{1, 2} if a == "<a set>" else a for a in args]   # not plain data
        try:
            return ["ok", await funcs.call(fid, *args)]
        except Exception as exc:
            return ["error", type(exc).__name__, getattr(exc, "kind", None), str(exc)]


    async def ctx_caller(fid, values):
        values = {k: ({1, 2} if v == "<a set>" else v) for k, v in values.items()}
        try:
            return ["ok", await funcs.call(fid, "x", context=values)]
        except Exception as exc:
            return ["error", type(exc).__name__, getattr(exc, "kind", None), str(exc)]


    async def watch_call(fid, out, marker):
        try:
            res = ["ok", await funcs.call(fid, marker)]
        except Exception as exc:
            res = ["error", type(exc).__name__, getattr(exc, "kind", None), str(exc)]
        with open(out, "w") as fh:
            json.dump(res, fh)
"""}


@pytest.fixture
def two(app_dir: str, dsn: str) -> Iterator[tuple[wippy.Node, wippy.Node]]:
    with running(write_app(app_dir, APP), dsn, ttl=TTL) as (n1, n2):
        yield n1, n2


def test_a_call_on_another_node_returns_its_result(two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, n2 = two
    status, result = n1.exec("app:caller", "app:procs", "n2@app:add", 2 ** 70, 1, timeout=30)
    assert status == "ok" and result["sum"] == 2 ** 70 + 1
    assert under(n2, result["ospid"]) and not under(n1, result["ospid"])
    # the same id without a node, or naming this node, runs here
    for fid in ("app:add", "n1@app:add"):
        status, result = n1.exec("app:caller", "app:procs", fid, 1, 1, timeout=30)
        assert status == "ok" and under(n1, result["ospid"])


def test_a_lua_call_on_another_node_returns_its_result(two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    assert n1.exec("app:lcaller", "app:procs", "n2@app:ladd", 3, 4, timeout=30) == \
        ["ok", {"sum": 7}]
    status, err = n1.exec("app:lcaller", "app:procs", "n2@app:fail", "x", None, timeout=30)
    assert status == "error" and "boom: x" in err and "node n2" in err, err


def test_the_remote_error_is_raised_naming_the_node(two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    status, cls, kind, text = n1.exec("app:caller", "app:procs", "n2@app:fail", "x", timeout=30)
    assert status == "error" and "boom: x" in text and "on node n2" in text, text


@pytest.mark.parametrize("fid, args, cls, words", [
    ("n2@app:add", ["<a set>", 1], "InvalidMessage", "call of app:add on node n2: arguments"),
    ("n2@app:nothing", [], "EntryNotFound", "app:nothing not found"),
    ("n2@app:procs", [], "InvalidMessage", "is a process.host, not one of"),
    ("nx@app:add", [1, 2], "ProcessFailed", "node nx is down"),
], ids=["not plain", "unknown entry", "not a function", "unknown node"])
def test_a_call_that_cannot_be_made_fails_clearly(two: tuple[wippy.Node, wippy.Node], fid: str,
                                                  args: list, cls: str, words: str) -> None:
    n1, _ = two
    status, got_cls, kind, text = n1.exec("app:caller", "app:procs", fid, *args, timeout=30)
    assert (status, got_cls) == ("error", cls) and words in text, (got_cls, text)


def test_a_call_fails_when_the_remote_node_dies_during_it(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, n2 = two
    out, marker = os.path.join(app_dir, "call.json"), os.path.join(app_dir, "started")
    n1.spawn("app:watch_call", "app:procs", "n2@app:hang", out, marker)
    wait_until(lambda: os.path.exists(marker) and os.path.getsize(marker) > 0, 30,
               what="the call running on n2")
    with open(marker) as fh:
        assert under(n2, int(fh.read()))
    assert n2.process is not None
    kill_tree(n2.process.pid)
    n2.process.wait(10)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the call's error")
    with open(out) as fh:
        status, cls, kind, text = json.load(fh)
    assert status == "error" and kind == "NODE_DOWN" and "node n2 is down" in text, text


def test_a_call_on_another_node_ends_there_when_its_caller_is_terminated(
        two: tuple[wippy.Node, wippy.Node], app_dir: str) -> None:
    n1, n2 = two
    out, marker = os.path.join(app_dir, "call.json"), os.path.join(app_dir, "started")
    caller = n1.spawn("app:watch_call", "app:procs", "n2@app:hang", out, marker)
    wait_until(lambda: os.path.exists(marker) and os.path.getsize(marker) > 0, 30,
               what="the call running on n2")

    def children() -> int:
        return int(n2.ps()["node"]["cluster"]["peers"]["spawned_here"]["children"])
    assert children() == 1
    n1.terminate(caller)
    wait_until(lambda: children() == 0, 30, what="the call's process on n2 to end")
    assert not os.path.exists(out)          # the caller never got a result: it was ended


@pytest.mark.parametrize("fid", ["n2@app:ctxread", "n2@app:lctxread"], ids=["python", "lua"])
def test_context_values_travel_with_a_call_to_another_node(
        two: tuple[wippy.Node, wippy.Node], fid: str) -> None:
    n1, _ = two
    status, got = n1.exec("app:ctx_caller", "app:procs", fid, {"trace": "t-1", "n": 2},
                          timeout=30)
    assert status == "ok" and got["ctx"] == {"trace": "t-1", "n": 2} and got["args"] == ["x"]
    status, got = n1.exec("app:lctx_caller", "app:procs", fid, timeout=30)
    assert status == "ok" and got["ctx"] == {"trace": "t-2"} and got["args"] == ["x"]


def test_context_values_that_are_not_plain_data_are_refused_at_the_call(
        two: tuple[wippy.Node, wippy.Node]) -> None:
    n1, _ = two
    status, cls, _, text = n1.exec("app:ctx_caller", "app:procs", "n2@app:ctxread",
                                   {"s": "<a set>"}, timeout=30)
    assert (status, cls) == ("error", "InvalidMessage")
    assert "call of app:ctxread on node n2: context values" in text, text


@pytest.mark.parametrize("host", ["app:procs", "n2@app:procs"], ids=["here", "on n2"])
def test_a_python_process_spawned_with_context_values_reads_them(
        two: tuple[wippy.Node, wippy.Node], host: str) -> None:
    n1, n2 = two
    got = n1.exec("app:lctx_spawner", "app:procs", host, timeout=30)
    assert "error" not in got, got
    assert got["ctx"] == {"trace": "t-3"} and got["args"] == ["y"]
    assert under(n2 if host.startswith("n2@") else n1, got["ospid"])
