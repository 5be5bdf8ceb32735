"""Hostile Lua (S6): no way out of the sandbox, and limits that end only the offender.

Runs on the in-process host of ``test_lua_harness``: the real scheduler, count hook and
drivers, without sockets. Limits are small so the tests are quick.
"""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

import wippy

pytestmark = pytest.mark.timeout(60)


def entry(id: str, body: str, **kw) -> dict:
    return lua_entry(id, f"local function main(...)\n{body}\nend\nreturn {{main = main}}", **kw)


def run(host_factory, body: str, **kw):
    return host_factory(entry("t:x", body, **kw)).exec("t:x", timeout=20)


# -- escapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["load", "loadstring", "dofile", "loadfile", "debug", "io",
                                  "package", "python", "collectgarbage", "rawlen", "module",
                                  "setfenv", "getfenv", "newproxy"])
def test_dangerous_globals_are_absent(host_factory, name):
    assert run(host_factory, f"return {name} == nil") is True


@pytest.mark.parametrize("name", ["execute", "exit", "getenv", "remove", "rename", "tmpname"])
def test_dangerous_os_functions_are_absent(host_factory, name):
    assert run(host_factory, f"return os.{name} == nil and os.time ~= nil") is True


def test_load_is_not_reachable_through_pcall_or_the_environment(host_factory):
    got = run(host_factory, """
        local ok, err = pcall(load, "return 1")
        local ok2 = pcall(function() return _G.load("return 1") end)
        local ok3 = pcall(function() return _ENV.load end)
        return {ok, tostring(err), ok2, _ENV.load == nil}""")
    assert got[0] is False and got[2] is False and got[3] is True


def test_string_dump_is_gone_from_the_table_and_the_string_metatable(host_factory):
    got = run(host_factory, """
        local f = function() return 1 end
        return {string.dump == nil, ("x").dump == nil, rawget(string, "dump") == nil,
                (pcall(function() return ("").dump(f) end))}""")
    assert got == [True, True, True, False]


def test_the_string_metatable_is_not_reachable(host_factory):
    got = run(host_factory, """
        local mt = getmetatable("")
        local ok = pcall(setmetatable, "", {})
        return {mt, ok}""")
    assert got == [False, False]


def test_globals_and_library_tables_are_per_process_and_protected(host_factory):
    got = run(host_factory, """
        string.upper = function() return "patched" end
        local patched = ("a"):upper()
        return {getmetatable(_G), getmetatable(process), getmetatable(string), patched}""")
    assert got == [False, False, False, "patched"]


def test_a_patched_library_does_not_leak_into_the_next_process_on_the_same_state(host_factory):
    h = host_factory(entry("t:patch", 'string.upper = function() return "evil" end '
                                      'rawset(_G, "leak", 1) leak2 = 2 return 1'),
                     entry("t:check", 'return {("a"):upper(), leak, leak2}'))
    assert h.exec("t:patch") == 1
    for _ in range(3):                   # the pooled state is reused: nothing carried over
        assert h.exec("t:check") == ["A"]


def test_wippy_handles_are_opaque(host_factory):
    got = run(host_factory, """
        local ch = process.inbox()
        local ud = ch[1]
        local ok1 = pcall(function() return ud.__class__ end)
        local ok2 = pcall(function() return ud.close end)
        local ok3 = pcall(ud)
        return {type(ud), getmetatable(ud) == nil, ok1, ok2, ok3, getmetatable(ch)}""")
    assert got == ["userdata", True, False, False, False, False]


def test_finalizers_are_refused(host_factory):
    got = run(host_factory, """
        local ok, err = pcall(setmetatable, {}, {__gc = function() end})
        return {ok, tostring(err)}""")
    assert got[0] is False and "__gc" in got[1]


def test_require_resolves_only_the_allowlist(host_factory):
    got = run(host_factory, """
        local out = {}
        for _, name in ipairs({"debug", "io", "os.execute", "lupa", "python", "json"}) do
          local ok, err = pcall(require, name)
          out[#out + 1] = ok
        end
        return out""", modules=[])
    assert got == [False, False, False, False, False, False]


# -- limits ----------------------------------------------------------------------------------
def _limit(host_factory, body: str, limits: dict, match: str):
    with pytest.raises(wippy.ProcessFailed, match=match) as exc:
        run(host_factory, body, limits=limits)
    assert exc.value.kind == "LIMIT_EXCEEDED"


def test_a_runaway_loop_is_killed_at_its_cpu_limit(host_factory):
    _limit(host_factory, "while true do end", {"max_cpu": 0.2}, "CPU time limit")


def test_pcall_in_a_loop_does_not_survive_the_cpu_limit(host_factory):
    _limit(host_factory, "while true do pcall(function() while true do end end) end",
           {"max_cpu": 0.2}, "CPU time limit")


def test_xpcall_with_a_looping_handler_does_not_survive(host_factory):
    _limit(host_factory, "while true do xpcall(error, function() while true do end end) end",
           {"max_cpu": 0.2}, "CPU time limit")


def test_a_busy_loop_inside_user_coroutines_is_killed(host_factory):
    _limit(host_factory, """
        local co = coroutine.wrap(function()
          local inner = coroutine.create(function() while true do end end)
          coroutine.resume(inner)
        end)
        co()""", {"max_cpu": 0.2}, "CPU time limit")


def test_a_busy_loop_in_a_spawned_coroutine_is_killed(host_factory):
    _limit(host_factory, """
        coroutine.spawn(function() while true do end end)
        process.inbox():receive()""", {"max_cpu": 0.2}, "CPU time limit")


def test_a_loop_in_a_sort_comparator_cannot_be_preempted_but_is_killed(host_factory):
    _limit(host_factory, "table.sort({3, 1, 2, 5, 4}, function(a, b) while true do end end)",
           {"max_cpu": 0.2}, "CPU time limit")


def test_a_loop_in_a_gsub_callback_is_killed(host_factory):
    _limit(host_factory, "string.gsub('aaa', 'a', function() while true do end end)",
           {"max_cpu": 0.2}, "CPU time limit")


def test_a_loop_in_tostring_is_killed(host_factory):
    _limit(host_factory, "return tostring(setmetatable({}, {__tostring = function() "
                         "while true do end end}))", {"max_cpu": 0.2}, "CPU time limit")


def test_a_memory_bomb_is_killed_at_its_memory_limit(host_factory):
    _limit(host_factory, "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end",
           {"max_memory": 4 << 20}, "memory limit exceeded .max_memory 4 MB")


def test_a_memory_bomb_caught_by_pcall_is_still_killed(host_factory):
    _limit(host_factory, """
        while true do
          pcall(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)
        end""", {"max_memory": 4 << 20, "max_cpu": 5}, "memory limit")


def test_one_huge_string_is_killed_at_the_memory_limit(host_factory):
    _limit(host_factory, "local s = ('x'):rep(100 * 1024 * 1024)", {"max_memory": 4 << 20},
           "memory limit")


def test_deep_recursion_is_killed(host_factory):
    _limit(host_factory, "local function f(n) return 1 + f(n + 1) end return f(1)",
           {"max_memory": 64 << 20}, "stack overflow")


def test_deep_recursion_under_pcall_is_killed(host_factory):
    _limit(host_factory, "local function f(n) pcall(f, n + 1) end f(1) return 'survived'",
           {}, "stack overflow")


def test_a_killed_process_leaves_its_neighbours_running(host_factory):
    h = host_factory(entry("t:hog", "while true do end", limits={"max_cpu": 1.0}),
                     entry("t:tick", """
                        local time = require("time")
                        for i = 1, 20 do time.sleep("2ms") end
                        return "ticked" """, modules=["time"]))
    hog = h.spawn("t:hog")
    tick = h.spawn("t:tick")
    # the neighbour's timers keep firing while the hog spins (preemption), so it finishes first
    assert h.wait_exit(tick, 10) == "ticked"
    assert hog not in h.exits
    with pytest.raises(wippy.ProcessFailed, match="CPU time limit"):
        h.wait_exit(hog, 10)
    assert h.exec("t:tick") == "ticked"          # the host is fine afterwards


def test_a_process_without_a_cpu_limit_is_preempted_not_killed(host_factory):
    h = host_factory(entry("t:spin", "local n = 0 while true do n = n + 1 end"),
                     entry("t:tick", """
                        local time = require("time")
                        for i = 1, 10 do time.sleep("1ms") end
                        return "ok" """, modules=["time"]))
    spin = h.spawn("t:spin")
    assert h.exec("t:tick", timeout=10) == "ok"
    assert spin not in h.exits
    h.rt.terminate(None, spin)
    with pytest.raises(wippy.ProcessFailed, match="terminated"):
        h.wait_exit(spin)


def test_limits_come_from_the_host_entry_when_the_entry_has_none(host_factory):
    hosts = {"app:small": {"id": "app:small", "kind": "process.host", "meta": {},
                           "data": {"limits": {"max_cpu": 0.2}}}}
    h = host_factory(entry("t:hog", "while true do end"), hosts=hosts)
    h.rt.host_id = "app:small"
    with pytest.raises(wippy.ProcessFailed, match=r"max_cpu 0.2s") as exc:
        h.exec("t:hog", timeout=10, host="app:small")
    assert exc.value.kind == "LIMIT_EXCEEDED"


def test_object_constants_are_not_shared_between_processes_of_a_state(host_factory):
    h = host_factory(entry("t:mut", 'local time = require("time") time.utc[1] = "evil" '
                                    'return time.utc:string()', modules=["time"]),
                     entry("t:read", 'local time = require("time") return time.utc:string()',
                           modules=["time"]))
    assert h.exec("t:mut") == "evil"
    assert h.exec("t:read") == "UTC"


def test_type_values_are_not_shared_between_processes(host_factory):
    h = host_factory(entry("t:mut", 'rawset(Number, "planted", 1) return 1'),
                     entry("t:read", 'return rawget(Number, "planted") == nil'))
    assert h.exec("t:mut") == 1
    assert h.exec("t:read") is True
