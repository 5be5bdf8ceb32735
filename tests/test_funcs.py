"""``funcs.call`` is one path for every caller (wippy.funcs.call), resolving function entries
through the host's table of runners. On an in-process host (real Runtime and scheduler, no
sockets)."""
from __future__ import annotations

import os

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy.host.runners import RUNNERS
from wippy.registry.entry import RUNNABLE_KINDS

pytestmark = pytest.mark.timeout(30)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "apps", "wfreplay",
                   "config")


def caller(body: str) -> dict:
    return lua_entry("t:main", f"local funcs = require('funcs')\nlocal function main()\n{body}\n"
                               "end\nreturn {main = main}", modules=["funcs"])


def test_every_kind_a_host_can_run_has_a_runner():
    assert set(RUNNERS) == RUNNABLE_KINDS


def test_lua_calls_python_and_lua_functions_through_the_same_path(host_factory):
    double = {"id": "t:double", "kind": "function.py", "meta": {}, "base_dir": APP,
              "data": {"source": "file://flows.py", "method": "double"}}
    inc = lua_entry("t:inc", "local function inc(x) return x + 1 end return {inc = inc}",
                    kind="function.lua", method="inc")
    h = host_factory(caller("return {funcs.call('t:double', 4), funcs.call('t:inc', 4)}"),
                     double, inc)
    assert h.exec("t:main") == [8, 5]


def test_a_process_entry_is_called_as_a_function(host_factory):
    proc = lua_entry("t:proc", "local function main(a, b) return a * b end return {main = main}")
    h = host_factory(caller("return funcs.call('t:proc', 6, 7)"), proc)
    assert h.exec("t:main") == 42


def test_a_workflow_entry_cannot_be_called(host_factory):
    flow = lua_entry("t:flow", "local function main() return 1 end return {main = main}",
                     kind="workflow.lua")
    h = host_factory(caller("local v, err = funcs.call('t:flow') return {err:kind(), "
                            "err:message()}"), flow)
    kind, message = h.exec("t:main")
    assert kind == "Invalid" and "t:flow is a workflow.lua" in message


def test_an_unknown_function_is_not_found(host_factory):
    h = host_factory(caller("local v, err = funcs.call('t:none') return err:kind()"))
    assert h.exec("t:main") == "NotFound"


@pytest.mark.parametrize("fid", ["", "nonamespace", ":x", "ns:"])
def test_a_malformed_function_id_is_an_invalid_error_not_a_crash(host_factory, fid):
    h = host_factory(caller(f"""local v, err = funcs.call({fid!r})
        local f, ferr = funcs.async({fid!r})
        local e, eerr = funcs.new():call({fid!r})
        return {{v == nil, err:kind(), f == nil, ferr:kind(), e == nil, eerr:kind()}}"""))
    assert h.exec("t:main") == [True, "Invalid", True, "Invalid", True, "Invalid"]
