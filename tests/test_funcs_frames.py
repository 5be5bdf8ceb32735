"""A function call has its own context (Wippy's docs, ``en/lua/core/funcs.md``,
``context.md``): its own PID, events and inbox, context values inherited from the caller plus an
executor's, ``process.lua`` entries called as functions, futures with payloads. In-process host
(real Runtime and scheduler, no sockets)."""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(30)

MODS = ["funcs", "time", "ctx"]


def caller(body: str, id: str = "t:main") -> dict:
    return lua_entry(id, f"local funcs, time = require('funcs'), require('time')\n"
                         f"local function main(...)\n{body}\nend\nreturn {{main = main}}",
                     modules=MODS)


def fn(id: str, body: str, kind: str = "function.lua") -> dict:
    return lua_entry(id, f"local ctx, time = require('ctx'), require('time')\n"
                         f"local function main(...)\n{body}\nend\nreturn {{main = main}}",
                     kind=kind, modules=MODS)


def test_a_function_runs_with_its_own_pid(host_factory):
    h = host_factory(caller("return {process.pid(), funcs.call('t:pid')}"),
                     fn("t:pid", "return process.pid()"))
    me, inner = h.exec("t:main")
    assert me != inner and inner.startswith("{")


def test_exits_of_what_a_function_monitored_never_reach_the_caller(host_factory):
    # the function spawns a monitored child and returns at once: its EXIT must not land in
    # the caller's events, nor in the next call's
    h = host_factory(
        caller("""
            funcs.call('t:starter')
            local n = funcs.call('t:starter_and_wait')
            local r = channel.select{process.events():case_receive(),
                                     time.after('100ms'):case_receive()}
            return {n, r.channel == process.events()}"""),
        fn("t:starter", "process.spawn_monitored('t:child', 'app:h') return true"),
        fn("t:starter_and_wait", """
            process.spawn_monitored('t:child', 'app:h')
            local ev = process.events():receive()
            local r = channel.select{process.events():case_receive(),
                                     time.after('100ms'):case_receive()}
            return r.channel == process.events() and 'leak' or ev.kind"""),
        lua_entry("t:child", "local function main() return 1 end return {main = main}"))
    assert h.exec("t:main") == ["EXIT", False]


def test_messages_and_options_of_one_call_do_not_reach_the_next(host_factory):
    h = host_factory(
        caller("""
            local a = funcs.call('t:opts', true)
            local b = funcs.call('t:opts', nil)
            return {a, b, process.get_options().trap_links}"""),
        fn("t:opts", """
            local set = ...
            local before = process.get_options().trap_links
            if set then process.set_options({trap_links = true}) end
            return before"""))
    assert h.exec("t:main") == [False, False, False]


def test_what_a_function_started_stops_when_it_returns(host_factory):
    h = host_factory(
        caller("""
            local pid = funcs.call('t:spawner')
            time.sleep('50ms')
            return funcs.call('t:alive', pid)"""),
        fn("t:spawner", """
            coroutine.spawn(function() time.sleep('1s') end)
            return process.pid()"""),
        fn("t:alive", "local ok, err = process.send(..., 'x', 1) return err ~= nil"))
    assert h.exec("t:main") is True          # the frame ended: sending to it fails


def test_a_process_entry_is_called_as_a_function_and_its_error_passes_intact(host_factory):
    h = host_factory(
        caller("""
            local r = funcs.call('t:echo', 'in')
            local _, err = funcs.call('t:boom')
            return {r.echo, tostring(err):find('intentional process error') ~= nil}"""),
        lua_entry("t:echo", "local function main(x) return {echo = x} end return {main = main}"),
        lua_entry("t:boom", "local function main() error('intentional process error') end "
                            "return {main = main}"))
    assert h.exec("t:main") == ["in", True]


def test_a_future_result_is_a_payload_and_its_channel_carries_one(host_factory):
    h = host_factory(
        caller("""
            local f = funcs.async('t:echo', 'a')
            local p, ok = f:response():receive()
            local v = f:result()
            local g = funcs.async('t:boom')
            local e = g:response():receive()
            local gerr, has = g:error()
            return {p:data().echo, ok, v:data().echo, e:kind(), has, gerr:kind()}"""),
        lua_entry("t:echo", "local function main(x) return {echo = x} end return {main = main}"),
        fn("t:boom", "return nil, errors.new({kind = errors.CONFLICT, message = 'no'})"))
    assert h.exec("t:main") == ["a", True, "a", "Conflict", True, "Conflict"]


def test_context_values_reach_a_call_and_are_inherited_by_nested_calls(host_factory):
    h = host_factory(
        caller("""
            local exec = funcs.new():with_context({request_id = 'req-1', n = 2})
                                    :with_context({user = {id = 7}})
            local a = exec:call('t:read', 'request_id')
            local b = exec:call('t:nested')
            local none, err = funcs.call('t:read', 'request_id')
            return {a, b, none, err:kind()}"""),
        fn("t:read", "local v, err = ctx.get(...) if err then return nil, err end return v"),
        fn("t:nested", "local funcs = require('funcs') return funcs.call('t:all')"),
        fn("t:all", "local all = ctx.all() return {all.request_id, all.n, all.user.id}"))
    assert h.exec("t:main") == ["req-1", ["req-1", 2, 7], None, "NotFound"]


def test_a_process_spawned_with_context_passes_it_to_the_functions_it_calls(host_factory):
    h = host_factory(
        caller("""
            local pid = process.with_context({trace = 'abc'}):spawn_monitored('t:worker', 'app:h', 5)
            local ev = process.events():receive()
            return ev.result.value"""),
        lua_entry("t:worker", """local funcs, ctx = require('funcs'), require('ctx')
            local function main(n)
              return {n, ctx.get('trace'), funcs.call('t:read', 'trace')}
            end return {main = main}""", modules=MODS),
        fn("t:read", "return (ctx.get(...))"))
    assert h.exec("t:main") == [5, "abc", "abc"]


def test_ctx_errors_follow_the_docs(host_factory):
    h = host_factory(fn("t:main", """
        local all, aerr = ctx.all()
        local _, e1 = ctx.get("")
        local _, e2 = ctx.get("missing")
        return {type(all), aerr == nil, e1:kind(), e2:kind(), e2:retryable()}""",
                        kind="process.lua"))
    assert h.exec("t:main") == ["table", True, "Invalid", "NotFound", False]
