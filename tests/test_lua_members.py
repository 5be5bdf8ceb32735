"""Core members Wippy's docs define and code commonly uses: the ``payload`` global
(``en/lua/data/payload.md``), ``system`` (``en/lua/system/system.md``), ``os.platform``, Time,
Duration and Location objects (``en/lua/core/time.md``). In-process host (no sockets)."""
from __future__ import annotations

import os
import socket

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(30)


def run(host_factory, body: str, modules: list[str] | None = None):
    src = f"local function main(...)\n{body}\nend\nreturn {{main = main}}"
    h = host_factory(lua_entry("t:main", src, modules=modules or ["time", "system", "json"]))
    return h.exec("t:main")


def test_payload_is_a_global_with_wippys_formats(host_factory):
    got = run(host_factory, """
        local f = payload.format
        return {f.JSON, f.YAML, f.STRING, f.BYTES, f.MSGPACK, f.LUA, f.GOLANG, f.ERROR}""")
    assert got == ["json/plain", "yaml/plain", "text/plain", "application/octet-stream",
                   "application/msgpack", "lua/any", "golang/any", "golang/error"]


def test_a_new_payload_keeps_its_lua_value_and_an_error_payload_has_the_error_format(host_factory):
    got = run(host_factory, """
        local p = payload.new({user_id = 123, roles = {"admin", "user"}})
        local data, err = p:data()
        local e = payload.new(errors.new("failed"))
        return {p:get_format(), data.user_id, data.roles[2], err == nil,
                p:unmarshal().user_id, payload.new("hi"):data(), payload.new(nil):data() == nil,
                e:get_format(), e:data():message(), tostring(p)}""")
    assert got == ["lua/any", 123, "user", True, 123, "hi", True, "golang/error", "failed",
                   "payload{format=lua/any}"]


@pytest.mark.parametrize("fmt", ["JSON", "YAML", "MSGPACK"])
def test_a_payload_transcodes_to_a_format_and_back(host_factory, fmt):
    got = run(host_factory, f"""
        local p = payload.new({{name = "test", value = 123, items = {{1, 2.5, true}}}})
        local t, err = p:transcode(payload.format.{fmt})
        local back = t:transcode(payload.format.LUA):data()
        return {{t:get_format() == payload.format.{fmt}, err == nil, t:data().name,
                 back.value, back.items[2], back.items[3]}}""")
    assert got == [True, True, "test", 123, 2.5, True]


def test_json_transcoding_gives_the_json_text_and_errors_are_internal(host_factory):
    got = run(host_factory, """
        local j = payload.new({a = 1}):transcode(payload.format.JSON)
        local s = j:transcode(payload.format.STRING):data()
        local _, err = payload.new({a = 1}):transcode(payload.format.STRING)
        local _, bad = payload.new(errors.new("x")):transcode(payload.format.JSON)
        return {s, err:kind(), err:retryable(), bad:kind()}""")
    assert got == ['{"a":1}', "Internal", False, "Internal"]


def test_a_message_payload_is_a_payload(host_factory):
    got = run(host_factory, """
        process.send(process.pid(), "t", {n = 1})
        local m = process.inbox():receive()
        return {m:payload():get_format(), m:payload():data().n, type(m:payload())}""")
    assert got == ["lua/any", 1, "userdata"]


def test_os_platform_is_wippy(host_factory):
    assert run(host_factory, "return os.platform") == "wippy"


def test_system_reports_memory_gc_runtime_and_process_facts(host_factory):
    got = run(host_factory, """
        local system = require("system")
        local stats = system.memory.stats()
        local old = system.gc.set_percent(200)
        local procs = system.runtime.max_procs()
        local prev = system.runtime.max_procs(procs + 1)
        return {stats.alloc > 0, stats.heap_objects > 0, stats.num_gc ~= nil,
                system.memory.allocated() > 0, system.gc.collect(), type(old),
                system.gc.get_percent(), prev == procs, system.runtime.max_procs() == procs + 1,
                system.runtime.cpu_count() > 0, system.runtime.goroutines() > 0,
                system.process.pid(), system.process.hostname(), #system.modules() > 0}""")
    assert got[:11] == [True, True, True, True, True, "number", 200, True, True, True, True]
    assert got[11] == os.getpid() and got[12] == socket.gethostname() and got[13] is True


def test_system_refuses_bad_arguments_and_raising_the_memory_limit(host_factory):
    got = run(host_factory, """
        local system = require("system")
        local r1, e1 = system.memory.set_limit(-5)
        local r2, e2 = system.runtime.max_procs(0)
        local limit = system.memory.get_limit()
        local _, e3 = system.memory.set_limit(limit * 2)
        local prev = system.memory.set_limit(limit - 1024)
        return {r1 == nil, e1:kind(), r2 == nil, e2:kind(), e2:retryable(), e3:kind(),
                prev == limit, system.memory.get_limit() == limit - 1024}""")
    assert got == [True, "Invalid", True, "Invalid", False, "PermissionDenied", True, True]


def test_time_values_are_objects_with_methods_locations_and_tostring(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local t = time.date(2024, 12, 29, 15, 4, 5, 0, time.utc)
        local same = time.unix(t:unix(), 0)
        local d = time.parse_duration("1h30m")
        return {type(t), tostring(t:location()), tostring(t:utc():location()),
                tostring(d), t == same, t < t:add("1s"), d > time.parse_duration("1h"),
                tostring(time.fixed_zone("X", 3600)), t:format_rfc3339()}""")
    assert got == ["userdata", "UTC", "UTC", "1h30m0s", True, True, True, "X",
                   "2024-12-29T15:04:05Z"]
