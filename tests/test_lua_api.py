"""Wippy's Lua API in Lua processes, on an in-process host (real Runtime and scheduler, no
sockets): process, channels, coroutines, errors, the modules, exit conventions, require."""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

import wippy

pytestmark = pytest.mark.timeout(30)

ALL = ["time", "json", "logger", "registry", "events", "funcs", "uuid", "env"]


def main(body: str, id: str = "t:main", **kw) -> dict:
    """An entry whose main(...) is ``body``."""
    kw.setdefault("modules", ALL)
    return lua_entry(id, f"local function main(...)\n{body}\nend\nreturn {{main = main}}", **kw)


def run(host_factory, body: str, *args, entries=(), **kw):
    h = host_factory(main(body, **kw), *entries)
    return h.exec("t:main", *args)


# -- exit conventions ------------------------------------------------------------------------
def test_main_returning_a_value_is_a_normal_exit(host_factory):
    assert run(host_factory, "return {ok = true, n = 3}") == {"ok": True, "n": 3}


def test_main_returning_nil_and_an_error_is_an_error_exit_with_its_kind(host_factory):
    with pytest.raises(wippy.ProcessFailed, match="nope") as exc:
        run(host_factory, 'return nil, errors.new({kind = errors.NOT_FOUND, message = "nope"})')
    assert exc.value.kind == "NOT_FOUND"


def test_main_returning_a_value_and_an_error_is_an_error_exit(host_factory):
    with pytest.raises(wippy.ProcessFailed, match="half done"):
        run(host_factory, 'return 1, "half done"')


def test_main_returning_a_value_and_true_is_a_normal_exit(host_factory):
    assert run(host_factory, "return 5, true") == 5


def test_raising_a_string_is_an_error_exit_with_the_position(host_factory):
    with pytest.raises(wippy.ProcessFailed, match=r"t:main:2: boom") as exc:
        run(host_factory, 'error("boom")')
    assert exc.value.kind == "INTERNAL"


def test_raising_an_error_object_keeps_its_kind(host_factory):
    with pytest.raises(wippy.ProcessFailed) as exc:
        run(host_factory, 'error(errors.new({kind = errors.INVALID, message = "bad input"}))')
    assert exc.value.kind == "INVALID" and "bad input" in str(exc.value)


def test_a_runtime_error_is_reported_with_its_line(host_factory):
    with pytest.raises(wippy.ProcessFailed, match=r"t:main:2: attempt to index a nil value"):
        run(host_factory, "local x = nil; return x.y")


def test_a_syntax_error_fails_the_spawn_with_the_line(host_factory):
    h = host_factory(lua_entry("t:bad", "local function main() return 1 +* 2 end"))
    with pytest.raises(wippy.ProcessFailed, match=r"t:bad:1:") as exc:
        h.exec("t:bad")
    assert exc.value.kind == "INVALID"


def test_a_missing_method_is_a_clear_error(host_factory):
    h = host_factory(lua_entry("t:m", "return {}", method="run"))
    with pytest.raises(wippy.ProcessFailed, match="no function 'run'"):
        h.exec("t:m")


def test_a_global_main_function_works_too(host_factory):
    h = host_factory(lua_entry("t:g", "function main(a) return a * 3 end"))
    assert h.exec("t:g", 7) == 21


def test_arguments_arrive_as_lua_values(host_factory):
    got = run(host_factory, "local a, b, c = ...; return {a + 1, b .. '!', c.k[2], #c.k}",
              1, "x", {"k": [5, 6]})
    assert got == [2, "x!", 6, 2]


def test_a_result_that_is_not_plain_data_is_an_error(host_factory):
    with pytest.raises(wippy.ProcessFailed, match="not plain data"):
        run(host_factory, "return {f = function() end}")


# -- process ---------------------------------------------------------------------------------
def test_process_messages_have_topic_from_and_payload(host_factory):
    h = host_factory(main("""
        local msg = process.inbox():receive()
        process.send(msg:from(), "re:" .. msg:topic(), msg:payload():data())
        return process.pid()"""))
    pid = h.spawn("t:main")
    h.send(pid, "hello", {"x": [1, 2]})
    assert h.receive() == ("re:hello", pid, {"x": [1, 2]})
    assert h.wait_exit(pid) == pid


def test_inbox_and_events_return_the_same_channel_every_time(host_factory):
    assert run(host_factory, "return {process.inbox() == process.inbox(), "
                             "process.events() == process.events()}") == [True, True]


def test_listen_gets_raw_payloads_of_one_topic(host_factory):
    h = host_factory(main("""
        local ch = process.listen("cfg")
        local m = process.listen("data", {message = true})
        local v = ch:receive()
        local msg = m:receive()
        return {v, msg:topic(), msg:payload():data()}"""))
    pid = h.spawn("t:main")
    h.send(pid, "data", 2)
    h.send(pid, "cfg", {"a": 1})
    assert h.wait_exit(pid) == [{"a": 1}, "data", 2]


def test_send_to_a_reserved_topic_is_refused(host_factory):
    got = run(host_factory, 'local ok, err = process.send(process.pid(), "@x", 1)'
                            '; return {ok == nil, err:kind()}')
    assert got == [True, "Invalid"]


def test_send_of_a_function_is_refused_with_an_error(host_factory):
    got = run(host_factory, 'local ok, err = process.send(process.pid(), "t", print)'
                            '; return err:message()')
    assert "not plain data" in got


def test_spawn_monitored_delivers_exit_with_value_and_error(host_factory):
    child_ok = lua_entry("t:ok", "local function main(x) return {x = x} end return {main = main}")
    child_bad = lua_entry("t:bad", "local function main() error('child boom') end "
                                   "return {main = main}")
    got = run(host_factory, """
        local host = ...
        local events = process.events()
        local a = process.spawn_monitored("t:ok", host, 7)
        local e1 = events:receive()
        local b = process.spawn_monitored("t:bad", host)
        local e2 = events:receive()
        return {e1.kind == process.event.EXIT, e1.from == a, e1.result.value,
                e2.from == b, e2.result.error:message()}""", "app:h",
              entries=(child_ok, child_bad))
    assert got[:3] == [True, True, {"x": 7}]
    assert got[3] is True and "child boom" in got[4]


def test_exec_returns_the_result_or_the_error(host_factory):
    child = lua_entry("t:c", "local function main(x) if x < 0 then return nil, 'negative' end "
                             "return x * 10 end return {main = main}")
    got = run(host_factory, """
        local v = process.exec("t:c", "app:h", 4)
        local v2, err = process.exec("t:c", "app:h", -1)
        return {v, v2 == nil, err:message()}""", entries=(child,))
    assert got == [40, True, "negative"]


def test_untrapped_link_kills_the_linked_process(host_factory):
    child = lua_entry("t:c", "local function main() error('linked boom') end "
                             "return {main = main}")
    with pytest.raises(wippy.ProcessFailed, match=r"linked process .* failed: .*linked boom"):
        run(host_factory, """
            process.spawn_linked("t:c", "app:h")
            process.inbox():receive()""", entries=(child,))


def test_trap_links_turns_a_failed_link_into_link_down(host_factory):
    child = lua_entry("t:c", "local function main() error('trapped boom') end "
                             "return {main = main}")
    got = run(host_factory, """
        process.set_options({trap_links = true})
        local pid = process.spawn_linked("t:c", "app:h")
        local ev = process.events():receive()
        return {ev.kind, ev.from == pid, ev.result.error:message(), process.get_options().trap_links}""",
              entries=(child,))
    assert got[0] == "LINK_DOWN" and got[1] is True and "trapped boom" in got[2] and got[3] is True


def test_cancel_is_delivered_as_an_event_with_its_reason(host_factory):
    h = host_factory(main("""
        local ev = process.events():receive()
        return {ev.kind, ev.reason}"""))
    pid = h.spawn("t:main")
    h.step()
    h.rt.cancel(None, pid, "time to go")
    assert h.wait_exit(pid) == ["CANCEL", "time to go"]


def test_terminate_ends_a_process_with_an_error_for_its_monitors(host_factory):
    h = host_factory(main("process.inbox():receive()"))
    pid = h.spawn("t:main")
    h.step()
    h.rt.terminate(None, pid)
    with pytest.raises(wippy.ProcessFailed, match="terminated"):
        h.wait_exit(pid)


def test_a_process_terminating_itself_stops_at_once(host_factory):
    got_after = []
    h = host_factory(main("""
        process.terminate(process.pid())
        process.send("{client/2|0}", "after", 1)
        return "not reached" """))
    pid = h.spawn("t:main")
    with pytest.raises(wippy.ProcessFailed, match="terminated"):
        h.wait_exit(pid)
    assert not h.mailbox, got_after


def test_names_register_lookup_and_unregister(host_factory):
    got = run(host_factory, """
        local ok = process.registry.register("svc")
        local pid = process.registry.lookup("svc")
        local ok2 = process.registry.unregister("svc")
        local none, err = process.registry.lookup("svc")
        return {ok, pid == process.pid(), ok2, none == nil, err:kind()}""")
    assert got == [True, True, True, True, "NotFound"]


def test_messages_to_a_name_reach_the_process(host_factory):
    server = lua_entry("t:srv", """
        local function main()
          process.registry.register("kv")
          local store = {}
          local inbox = process.inbox()
          while true do
            local msg = inbox:receive()
            local p = msg:payload():data()
            if msg:topic() == "set" then store[p.k] = p.v
            elseif msg:topic() == "get" then process.send(msg:from(), "value", store[p.k])
            elseif msg:topic() == "stop" then return "bye" end
          end
        end
        return {main = main}""")
    got = run(host_factory, """
        process.spawn("t:srv", "app:h")
        while not process.registry.lookup("kv") do coroutine.yield() end
        process.send("kv", "set", {k = "a", v = 41})
        process.send("kv", "get", {k = "a"})
        local reply = process.inbox():receive()
        process.send("kv", "stop")
        return reply:payload():data() + 1""", entries=(server,))
    assert got == 42


def test_unknown_entry_and_host_are_errors_not_crashes(host_factory):
    got = run(host_factory, """
        local _, e1 = process.exec("t:nope", "app:h")
        local _, e2 = process.spawn("t:main", "app:nowhere")
        return {e1:message(), e2:kind()}""")
    assert "t:nope not found" in got[0] and got[1] == "NotFound"


# -- channels and coroutines -----------------------------------------------------------------
def test_buffered_channel_send_receive_and_close(host_factory):
    got = run(host_factory, """
        local ch = channel.new(2)
        ch:send(1); ch:send({t = "table stays a table"})
        ch:close()
        local a = ch:receive()
        local b = ch:receive()
        local c, ok = ch:receive()
        return {a, b.t, c, ok}""")
    assert got == [1, "table stays a table", None, False]


def test_tables_sent_over_a_channel_are_the_same_table(host_factory):
    got = run(host_factory, """
        local ch = channel.new(1)
        local t = {n = 1}
        ch:send(t)
        local u = ch:receive()
        u.n = 2
        return {rawequal(t, u), t.n}""")
    assert got == [True, 2]


def test_unbuffered_channel_hands_over_between_coroutines(host_factory):
    got = run(host_factory, """
        local ch, done = channel.new(), channel.new()
        coroutine.spawn(function()
          local sum = 0
          while true do
            local v, ok = ch:receive()
            if not ok then break end
            sum = sum + v
          end
          done:send(sum)
        end)
        for i = 1, 10 do ch:send(i) end
        ch:close()
        return done:receive()""")
    assert got == 55


def test_send_on_a_closed_channel_raises(host_factory):
    got = run(host_factory, """
        local ch = channel.new(1); ch:close()
        local ok, err = pcall(ch.send, ch, 1)
        return {ok, err:message()}""")
    assert got == [False, "send on a closed channel"]


def test_select_picks_the_ready_case_and_reports_its_channel(host_factory):
    got = run(host_factory, """
        local a, b = channel.new(1), channel.new(1)
        b:send("from b")
        local r = channel.select{a:case_receive(), b:case_receive()}
        local d = channel.select{a:case_receive(), default = true}
        local s = channel.select{a:case_send("x")}
        return {r.channel == b, r.value, r.ok, d.default, s.channel == a, (a:receive())}""")
    assert got == [True, "from b", True, True, True, "x"]


def test_select_on_a_closed_channel_reports_not_ok(host_factory):
    got = run(host_factory, """
        local a = channel.new(); a:close()
        local r = channel.select{a:case_receive()}
        return {r.ok, r.value == nil}""")
    assert got == [False, True]


def test_select_rejects_something_that_is_not_a_case(host_factory):
    with pytest.raises(wippy.ProcessFailed, match="not a channel case"):
        run(host_factory, "channel.select{42}")


def test_worker_pool_of_coroutines_and_channels(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local jobs, results = channel.new(100), channel.new(100)
        for w = 1, 4 do
          coroutine.spawn(function()
            while true do
              local j, ok = jobs:receive()
              if not ok then return end
              time.sleep("1ms")
              results:send({w = w, sq = j * j})
            end
          end)
        end
        for i = 1, 20 do jobs:send(i) end
        jobs:close()
        local sum, workers = 0, {}
        for i = 1, 20 do
          local r = results:receive()
          sum = sum + r.sq
          workers[r.w] = true
        end
        local n = 0
        for _ in pairs(workers) do n = n + 1 end
        return {sum, n}""")
    assert got == [2870, 4]


def test_blocking_calls_work_inside_user_coroutines(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local ch = channel.new(1)
        local gen = coroutine.wrap(function()
          for i = 1, 3 do
            time.sleep("1ms")               -- a blocking call two coroutines deep
            ch:send(i)
            coroutine.yield(ch:receive() * 10)
          end
        end)
        return {gen(), gen(), gen()}""")
    assert got == [10, 20, 30]


def test_coroutine_resume_and_status_behave_as_in_lua(host_factory):
    got = run(host_factory, """
        local co = coroutine.create(function(a, b)
          local c = coroutine.yield(a + b)
          return c * 2
        end)
        local ok1, v1 = coroutine.resume(co, 1, 2)
        local ok2, v2 = coroutine.resume(co, 10)
        local ok3, e3 = coroutine.resume(co)
        return {ok1, v1, ok2, v2, coroutine.status(co), ok3, e3}""")
    assert got == [True, 3, True, 20, "dead", False, "cannot resume dead coroutine"]


def test_an_error_in_a_spawned_coroutine_ends_the_process(host_factory):
    with pytest.raises(wippy.ProcessFailed, match="in the background"):
        run(host_factory, """
            coroutine.spawn(function() error("in the background") end)
            process.inbox():receive()""")


def test_when_main_returns_its_coroutines_stop(host_factory):
    h = host_factory(main("""
        local time = require("time")
        coroutine.spawn(function()
          time.sleep("30ms")
          process.send("{client/2|0}", "late", 1)
        end)
        return "done" """))
    assert h.exec("t:main") == "done"
    import time
    deadline = time.monotonic() + 0.1
    h.run_until(lambda: time.monotonic() > deadline, 1)
    assert not h.mailbox


# -- errors ----------------------------------------------------------------------------------
def test_error_objects_have_kind_message_retryable_details(host_factory):
    got = run(host_factory, """
        local e = errors.new({kind = errors.TIMEOUT, message = "slow", retryable = true,
                              details = {ms = 5}})
        local w = errors.wrap(e, "fetch")
        local s = errors.new("plain")
        return {e:kind(), e:message(), e:retryable(), e:details().ms, tostring(e),
                w:kind(), w:message(), tostring(w), errors.is(w, errors.TIMEOUT), s:kind()}""")
    assert got == ["Timeout", "slow", True, 5, "slow", "Timeout", "slow", "fetch: slow", True, ""]


def test_errors_new_records_the_stack_where_it_was_called(host_factory):
    got = run(host_factory, """
        local function inner() local e = errors.new("deep") return e end
        local e = inner()
        local cs = errors.call_stack(e)
        return {type(e:stack()), cs.frames[1].name, cs.frames[1].line}""")
    assert got[0] == "string" and "inner" in got[1] and got[2] == 3


# -- modules ---------------------------------------------------------------------------------
def test_require_needs_the_module_in_the_entry_list(host_factory):
    got = run(host_factory, """
        local ok, err = pcall(require, "time")
        return {ok, tostring(err)}""", modules=["json"])
    assert got[0] is False and "module 'time' is not allowed" in got[1]


def test_require_of_an_unknown_module_says_it_is_not_available(host_factory):
    got = run(host_factory, 'local ok, err = pcall(require, "cloudstorage"); return tostring(err)',
              modules=["cloudstorage"])
    assert "module 'cloudstorage' is not available in wippy" in got


def test_io_is_refused_outside_a_terminal_host(host_factory):
    got = run(host_factory, 'local ok, err = pcall(require, "io"); return tostring(err)',
              modules=["io"])
    assert "terminal host" in got


def test_json_encode_and_decode(host_factory):
    got = run(host_factory, """
        local json = require("json")
        local s = json.encode({1, 2, {a = "x"}, {}})
        local v = json.decode('{"n": 1, "f": 1.5, "l": [true, null, "s"]}')
        local _, err = json.decode("{not json")
        return {s, v.n, math.type(v.n), v.f, v.l[1], v.l[3], err:kind()}""")
    assert got == ['[1,2,{"a":"x"},[]]', 1, "integer", 1.5, True, "s", "Internal"]


def test_time_durations_and_sleep(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local t0 = time.now()
        time.sleep("20ms")
        time.sleep(5 * time.MILLISECOND)
        local d = time.now():sub(t0)
        local p = time.parse_duration("1h30m")
        return {d:milliseconds() >= 25, p:minutes(), time.SECOND, p:seconds()}""")
    assert got == [True, 90.0, 10**9, 5400.0]


def test_time_after_timer_and_ticker(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local t = time.after("5ms")
        local v = t:receive()
        local timer = time.timer("1h")
        local stopped = timer:stop()
        timer:reset("5ms")
        local fired = timer:response():receive()
        local tk = time.ticker("2ms")
        local n = 0
        for i = 1, 3 do tk:channel():receive(); n = n + 1 end
        tk:stop()
        return {v:unix() > 0, stopped, fired:unix_nano() > 0, n,
                timer:response() == timer:channel()}""")
    assert got == [True, True, True, 3, True]


def test_time_formatting_and_parsing(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local t = time.unix(1703862245, 0):utc()
        local p, err = time.parse(time.RFC3339, "2024-12-29T15:04:05Z")
        local _, bad = time.parse(time.RFC3339, "nope")
        local y, m, d = t:date()
        return {t:format_rfc3339(), t:format(time.DATE_ONLY), p:unix(), bad:kind(), y, m, d,
                t:weekday(), t:add("24h"):day(), t:before(p), time.utc:string()}""")
    assert got == ["2023-12-29T15:04:05Z", "2023-12-29", 1735484645, "Invalid", 2023, 12, 29,
                   5, 30, True, "UTC"]


def test_time_fixed_zones(host_factory):
    got = run(host_factory, """
        local time = require("time")
        local ist = time.fixed_zone("IST", 5 * 3600 + 1800)
        local t = time.date(2024, time.JANUARY, 15, 12, 0, 0, 0, ist)
        return {t:format("15:04 MST -07:00"), t:utc():format("15:04")}""")
    assert got == ["12:00 IST +05:30", "06:30"]


def test_logger_levels_with_fields_and_names(host_factory, caplog):
    import logging
    caplog.set_level(logging.DEBUG, logger="wippy.lua")
    assert run(host_factory, """
        local logger = require("logger")
        logger:info("hello", {a = 1})
        logger.warn("dot call")
        local child = logger:named("sub"):with({req = "r1"})
        child:error("failed", {code = 7})
        return true""") is True
    text = caplog.text
    assert "hello a=1" in text and "dot call" in text
    assert "failed req=\"r1\" code=7" in text
    assert any(r.name == "wippy.lua.sub" for r in caplog.records)


def test_uuid_functions(host_factory):
    got = run(host_factory, """
        local uuid = require("uuid")
        local a, b, c = uuid.v4(), uuid.v7(), uuid.v5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x")
        return {#a, uuid.version(a), uuid.version(b), uuid.validate(a), uuid.validate("zz"),
                c == uuid.v5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x"),
                uuid.format(a, "simple") == a:gsub("-", ""), uuid.parse(b).version}""")
    assert got == [36, 4, 7, True, False, True, True, 7]


def test_env_get_set_and_missing(host_factory, monkeypatch):
    monkeypatch.setenv("WIPPY_LUA_TEST_VAR", "from-os")
    got = run(host_factory, """
        local env = require("env")
        local a = env.get("WIPPY_LUA_TEST_VAR")
        env.set("WIPPY_LUA_OTHER", "set")
        local none, err = env.get("WIPPY_LUA_SURELY_UNSET")
        return {a, env.get("WIPPY_LUA_OTHER"), none == nil, err:kind(),
                env.get_all().WIPPY_LUA_TEST_VAR}""")
    assert got == ["from-os", "set", True, "NotFound", "from-os"]


def test_registry_get_find_and_parse_id(host_factory):
    cfg = {"id": "cfg:db", "kind": "registry.entry", "meta": {"type": "config"},
           "data": {"url": "x"}}
    got = run(host_factory, """
        local registry = require("registry")
        local e = registry.get("cfg:db")
        local found = registry.find({["meta.type"] = "config"})
        local _, err = registry.get("cfg:none")
        local id = registry.parse_id("app.lib:assert")
        return {e.kind, e.data.url, #found, found[1].id, err:kind(), id.ns, id.name}""",
              entries=(cfg,))
    assert got == ["registry.entry", "x", 1, "cfg:db", "NotFound", "app.lib", "assert"]


def test_registry_snapshot_reads_and_versions(host_factory):
    cfg = {"id": "cfg:db", "kind": "registry.entry", "meta": {"type": "config"}, "data": {}}
    got = run(host_factory, """
        local registry = require("registry")
        local snap = registry.snapshot()
        local v = registry.current_version()
        return {snap:get("cfg:db").kind, #snap:find({[".kind"] = "registry.entry"}),
                #snap:namespace("cfg"), snap:version():id(), v:string(), v:previous() == nil}""",
              entries=(cfg,))
    assert got == ["registry.entry", 1, 1, 0, "v0", True]


def test_funcs_call_and_async_of_lua_and_python_functions(host_factory):
    fn = lua_entry("t:add", "local function add(a, b) return a + b end return {add = add}",
                   kind="function.lua", method="add")
    bad = lua_entry("t:fail", "local function f() return nil, errors.new("
                              "{kind = errors.CONFLICT, message = 'taken'}) end return {f = f}",
                    kind="function.lua", method="f")
    got = run(host_factory, """
        local funcs = require("funcs")
        local v = funcs.call("t:add", 2, 3)
        local _, err = funcs.call("t:fail")
        local f = funcs.async("t:add", 10, 20)
        local payload = f:response():receive()
        local r = f:result()
        local g = funcs.async("t:fail")
        g:channel():receive()
        local _, gerr = g:result()
        local _, nf = funcs.call("t:none")
        return {v, err:kind(), payload:data(), r:data(), f:is_complete(), gerr:kind(),
                nf:kind(), funcs.new():with_context({a = 1}):call("t:add", 1, 1)}""",
              entries=(fn, bad))
    assert got == [5, "Conflict", 30, 30, True, "Conflict", "NotFound", 2]


def test_a_function_runs_in_its_own_lua_state(host_factory):
    fn = lua_entry("t:f", "counter = (counter or 0) + 1 "
                          "local function f() return counter end return {f = f}",
                   kind="function.lua", method="f")
    got = run(host_factory, """
        local funcs = require("funcs")
        counter = 100
        return {funcs.call("t:f"), funcs.call("t:f"), counter}""", entries=(fn,))
    assert got == [1, 1, 100]


def test_events_send_and_subscribe_with_patterns(host_factory):
    got = run(host_factory, """
        local events = require("events")
        local sub = events.subscribe("orders.*")
        local kinds = events.subscribe("users", "user.created")
        events.send("orders.eu", "order.created", "/orders/1", {id = 1})
        events.send("other", "x", "/x")
        events.send("users", "user.deleted", "/u/1")
        events.send("users", "user.created", "/u/2", {name = "bo"})
        local e = sub:channel():receive()
        local u = kinds:channel():receive()
        sub:close()
        return {e.system, e.kind, e.path, e.data.id, u.kind, u.data.name}""")
    assert got == ["orders.eu", "order.created", "/orders/1", 1, "user.created", "bo"]


# -- libraries -------------------------------------------------------------------------------
def test_library_imports_are_shared_code_with_their_own_modules(host_factory):
    lib = lua_entry("t:util", """
        local json = require("json")
        local M = {}
        function M.wrap(v) return json.encode({v = v}) end
        return M""", kind="library.lua", modules=["json"])
    h = host_factory(lua_entry("t:use", """
        local util = require("util")
        local function main()
          local ok, err = pcall(require, "json")
          return {util.wrap(5), ok, require("util") == util}
        end
        return {main = main}""", imports={"util": "t:util"}), lib)
    assert h.exec("t:use") == ['{"v":5}', False, True]


def test_an_import_that_is_not_a_library_is_refused(host_factory):
    h = host_factory(lua_entry("t:use", "local ok, e = pcall(require, 'x') "
                                        "function main() return tostring(e) end",
                               imports={"x": "t:use"}))
    assert "not a library.lua" in h.exec("t:use")


def test_library_globals_do_not_leak_into_the_importer(host_factory):
    lib = lua_entry("t:lib", "leaked = 1 return {}", kind="library.lua")
    h = host_factory(lua_entry("t:use", "require('lib') function main() return leaked == nil end",
                               imports={"lib": "t:lib"}), lib)
    assert h.exec("t:use") is True


def test_print_goes_to_the_log(host_factory, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="wippy.lua")
    run(host_factory, 'print("printed", 1, nil, true); return 1')
    assert "printed\t1\tnil\ttrue" in caplog.text


# -- typed Lua (S6) --------------------------------------------------------------------------
def test_typed_lua_runs_with_annotations_erased_and_type_values_at_run_time(host_factory):
    got = run(host_factory, """
        type Point = {x: number, y: number}
        local function dist(p: Point): number
          return math.sqrt(p.x * p.x + p.y * p.y)
        end
        local p: Point = {x = 3, y = 4}
        local ok, err = pcall(Point, {x = "no"})
        return {dist(p), Point:is(p) ~= nil, ok, err:kind(), typeof(1):kind()}""")
    assert got == [5.0, True, False, "Invalid", "integer"]


def test_a_typed_lua_syntax_error_names_line_and_column(host_factory):
    h = host_factory(lua_entry("t:bad", "local x: number = 1\nlocal y: = 2\n"
                                        "return {main = function() end}"))
    with pytest.raises(wippy.ProcessFailed, match=r"t:bad:2:\d+: .*type expected") as exc:
        h.exec("t:bad")
    assert exc.value.kind == "INVALID"
