"""Checks where actions start, in one host: Lua and Python processes under a context, what they
spawn, code authored at run time, the ``security`` module (S9). In-process: the real runtime
and scheduler with the Lua harness's fake mesh and registry."""
from __future__ import annotations

import os
import pickle

import pytest
from test_lua_harness import HOST, lua_entry, make_host

from wippy.core import wire
from wippy.errors import ProcessFailed
from wippy.security import context
from wippy.security.book import BOOK

pytestmark = pytest.mark.timeout(60)

GOLDEN_SPAWN = os.path.join(os.path.dirname(__file__), "data", "golden", "wire_spawn_v1.bin")


def policy(pid: str, actions, resources, effect="allow", conditions=None) -> dict:
    body = {"actions": actions, "resources": resources, "effect": effect}
    if conditions:
        body["conditions"] = conditions
    return {"id": pid, "kind": "security.policy", "meta": {}, "data": {"policy": body}}


POLICIES = [
    policy("s:agent", ["registry.get", "funcs.call", "process.spawn", "process.exec",
                       "process.spawn.monitored", "events.send", "events.subscribe"],
           ["t:*", "agent.*"]),
    policy("s:host", ["process.host"], HOST),
    policy("s:send", ["process.send"], "*"),
    policy("s:no_vault", ["process.send"], "vault", effect="deny"),
    policy("s:values", ["security.actor.create", "security.scope.create", "security.policy.get",
                        "security.policy_group.get"], "*"),
]
AGENT = [["agent:one", {"role": "agent"}, ["s:agent", "s:host", "s:send", "s:no_vault",
                                           "s:values"], []]]


def try_(expr: str) -> str:
    """Lua: run ``expr`` (a call returning value, err) and say how it went."""
    return (f"(function() local ok, v, err = pcall(function() return {expr} end) "
            f"if not ok then return 'raised: ' .. tostring(v) end "
            f"if err then return err:kind() .. ' ' .. err:message() end return 'ok' end)()")


@pytest.fixture
def host():
    made = []

    def make(*entries):
        h = make_host(*POLICIES, *entries)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()
    BOOK.attach(dict, lambda _id: None)


def run_as(h, entry_id, wire_ctx=AGENT, *args):
    pid = h.rt.spawn("{client/2|0}", entry_id, HOST, list(args), 1,
                     security=context.from_wire(wire_ctx))
    return h.wait_exit(pid)


def test_a_lua_process_under_an_actor_is_checked_at_every_action(host):
    agent = lua_entry("t:agent", f"""
        local registry = require("registry")
        local funcs = require("funcs")
        local events = require("events")
        local function main()
          return {{
            get_own = {try_('registry.get("t:agent")')},
            get_other = {try_('registry.get("x:secret")')},
            call_own = {try_('funcs.call("t:fn", 2)')},
            call_other = {try_('funcs.call("x:fn", 2)')},
            send_ok = {try_('process.send("{client/2|0}", "hi", 1)')},
            send_vault = {try_('process.send("vault", "hi", 1)')},
            spawn_other = {try_('process.spawn("x:fn", "app:h")')},
            events_ok = {try_('events.send("agent.x", "k", "p", 1)')},
            events_other = {try_('events.subscribe("registry")')},
            terminate = {try_('process.terminate("{client/2|0}")')},
          }}
        end
        return {{main = main}}""", modules=["registry", "funcs", "events"])
    fn = lua_entry("t:fn", "return {f = function(x) return x * 2 end}", kind="function.lua",
                   method="f")
    h = host(agent, fn, {"id": "x:secret", "kind": "registry.entry", "meta": {}, "data": {}},
             lua_entry("x:fn", "return {f = function() end}", kind="function.lua", method="f"))
    out = run_as(h, "t:agent")
    assert out["get_own"] == out["call_own"] == out["send_ok"] == out["events_ok"] == "ok"
    assert out["get_other"] == ("PermissionDenied PERMISSION_DENIED: actor agent:one may not "
                                "registry.get x:secret (no policy allows it)")
    assert out["call_other"].endswith("may not funcs.call x:fn (no policy allows it)")
    assert out["send_vault"].endswith("may not process.send vault (policy s:no_vault)")
    assert out["spawn_other"].endswith("may not process.spawn x:fn (no policy allows it)")
    assert out["events_other"].endswith("may not events.subscribe registry (no policy allows it)")
    assert out["terminate"].startswith("PermissionDenied")
    # the operator, in the same host, is not checked
    assert h.exec("t:agent")["get_other"] == "ok"


def test_what_a_process_spawns_acts_as_it_so_it_cannot_shed_its_actor(host):
    probe = lua_entry("t:probe", f"""
        local security = require("security")
        local registry = require("registry")
        local function main()
          local a = security.actor()
          return {{actor = a and a:id() or "none", meta = a and a:meta().role or "none",
                   secret = {try_('registry.get("x:secret")')},
                   can = security.can("registry.get", "x:secret")}}
        end
        return {{main = main}}""", modules=["security", "registry"])
    parent = lua_entry("t:parent", """
        local function main() return process.exec("t:probe", "app:h") end
        return {main = main}""")
    h = host(probe, parent, {"id": "x:secret", "kind": "registry.entry", "meta": {}, "data": {}})
    out = run_as(h, "t:parent")
    assert out["actor"] == "agent:one" and out["meta"] == "agent"
    assert out["secret"].startswith("PermissionDenied") and out["can"] is False
    assert h.exec("t:parent") == {"actor": "none", "meta": "none", "secret": "ok", "can": True}


def test_a_registry_event_reaches_only_subscribers_who_may_get_the_entry(host):
    watcher = lua_entry("t:watch", """
        local events = require("events")
        local function main()
          local sub = events.subscribe("agent.*")
          local ch = sub:channel()
          process.send("{client/2|0}", "ready", 1)
          return ch:receive().path
        end
        return {main = main}""", modules=["events"])
    h = host(watcher)
    pid = h.rt.spawn("{client/2|0}", "t:watch", HOST, [], 1,
                     security=context.from_wire(AGENT))
    h.receive()
    h.rt.publish("agent.x", "entry.update", "first", None)
    assert h.wait_exit(pid) == "first"
    # a registry event carries the entry: filtered by registry.get
    sub_all = lua_entry("t:reg", """
        local events = require("events")
        local function main()
          local sub, err = events.subscribe("registry")
          if err then return err:kind() end
          return "subscribed"
        end
        return {main = main}""", modules=["events"])
    h2 = host(sub_all)
    wide = [["agent:two", {}, ["s:wide"], []]]
    h2.store._entries["s:wide"] = policy("s:wide", ["events.subscribe", "registry.get"],
                                         ["registry", "t:*"])
    BOOK.changed(["s:wide"])
    assert run_as(h2, "t:reg", wide) == "subscribed"


def test_a_function_an_agent_wrote_runs_with_no_more_than_its_authority(host):
    """The confused deputy: an agent's function.lua reads what only the operator may; the
    operator calls it; the read is refused because the author may not."""
    trap = lua_entry("t:trap", """
        local registry = require("registry")
        return {f = function()
          local e, err = registry.get("x:secret")
          if err then return err:message() end
          return "read it"
        end}""", kind="function.lua", method="f", modules=["registry"])
    trap["author"] = {"actor": "agent:one", "context": AGENT, "pid": "{a/1|1}", "entry": "t:agent",
                      "version": 3}
    caller = lua_entry("t:caller", """
        local funcs = require("funcs")
        local registry = require("registry")
        local function main()
          local r = funcs.call("t:trap")
          local _, err = registry.get("x:secret")     -- the caller's own authority is back
          return {r, err == nil}
        end
        return {main = main}""", modules=["funcs", "registry"])
    h = host(trap, caller, {"id": "x:secret", "kind": "registry.entry", "meta": {}, "data": {}})
    r, own = h.exec("t:caller")
    assert r == ("PERMISSION_DENIED: actor agent:one may not registry.get x:secret "
                 "(no policy allows it)")
    assert own is True


def test_a_process_of_an_entry_an_agent_wrote_acts_as_its_author_too(host):
    made = lua_entry("t:made", f"""
        local registry = require("registry")
        return {{main = function() return {try_('registry.get("x:secret")')} end}}""",
                     modules=["registry"])
    made["author"] = {"actor": "agent:one", "context": AGENT}
    h = host(made, {"id": "x:secret", "kind": "registry.entry", "meta": {}, "data": {}})
    assert h.exec("t:made").startswith("PermissionDenied")


def test_importing_a_library_an_agent_wrote_narrows_the_importer(host):
    lib = lua_entry("t:lib", "return {x = 1}", kind="library.lua")
    lib["author"] = {"actor": "agent:one", "context": AGENT}
    user = lua_entry("t:user", f"""
        local registry = require("registry")
        local function main()
          local before = {try_('registry.get("x:secret")')}
          local l = require("lib")
          return {{before, {try_('registry.get("x:secret")')}}}
        end
        return {{main = main}}""", modules=["registry"], imports={"lib": "t:lib"})
    h = host(lib, user, {"id": "x:secret", "kind": "registry.entry", "meta": {}, "data": {}})
    before, after = h.exec("t:user")
    assert before == "ok" and after.startswith("PermissionDenied")


def test_the_security_module_speaks_wippys_names(host):
    probe = lua_entry("t:sec", """
        local security = require("security")
        local function main()
          local scope = security.scope()
          local p = security.policy("s:agent")
          local a = security.new_actor("user:1", {role = "x"})
          local s = security.new_scope({p})
          local ids = {}
          for _, q in ipairs(scope:policies()) do ids[#ids + 1] = q:id() end
          return {
            actor = security.actor():id(), ids = ids, contains = scope:contains("s:send"),
            eval = s:evaluate(a, "funcs.call", "t:x"), undef = s:evaluate(a, "x", "y"),
            without = s:without("s:agent"):contains("s:agent"),
            with = security.new_scope():with(p):contains("s:agent"),
            policy_eval = p:evaluate(a, "registry.get", "t:y"), named = #security.named_scope("none"):policies(),
            can = security.can("funcs.call", "t:x"), cannot = security.can("funcs.call", "x:y"),
          }
        end
        return {main = main}""", modules=["security"])
    h = host(probe)
    out = run_as(h, "t:sec")
    assert out == {"actor": "agent:one",
                   "ids": ["s:agent", "s:host", "s:send", "s:no_vault", "s:values"],
                   "contains": True, "eval": "allow", "undef": "undefined", "without": False,
                   "with": True, "policy_eval": "allow", "named": 0, "can": True,
                   "cannot": False}
    # values are Wippy-checked: without security.actor.create an agent cannot even build one
    plain = [["agent:two", {}, ["s:agent", "s:host"], []]]
    made = lua_entry("t:mk", f"""
        local security = require("security")
        return {{main = function() return {try_('security.new_actor("x")')} end}}""",
                     modules=["security"])
    h2 = host(made)
    assert run_as(h2, "t:mk", plain).endswith(
        "may not security.actor.create x (no policy allows it)")


def test_an_executor_under_another_actor_needs_funcs_security(host):
    fn = lua_entry("t:fn", "return {f = function() return 'ran' end}", kind="function.lua",
                   method="f")
    caller = lua_entry("t:exec", f"""
        local funcs = require("funcs")
        local security = require("security")
        local function main()
          local ex = funcs.new():with_actor(security.new_actor("root"))
          return {try_('ex:call("t:fn")')}
        end
        return {{main = main}}""", modules=["funcs", "security"])
    h = host(fn, caller)
    assert run_as(h, "t:exec").endswith("may not funcs.security security (no policy allows it)")
    # the operator may; the call then acts as root, whose empty scope allows nothing
    assert h.exec("t:exec").endswith("actor root may not funcs.call t:fn (no policy allows it)")


def test_an_old_spawn_frame_without_a_context_still_starts_its_process(host):
    """Golden bytes of a SPAWN frame as hosts wrote it before contexts travelled with it."""
    with open(GOLDEN_SPAWN, "rb") as fh:
        golden = fh.read()
    frame = wire.loads(golden)
    assert frame == (wire.Op.SPAWN, "2.1", "{client/2|0}", "t:one", [20, 22], 1, None)
    h = host(lua_entry("t:one", "return {main = function(a, b) return a + b end}"))
    h.rt.dispatch(frame)
    pid = "{app:h/1|2.1}"
    assert h.wait_exit(pid) == 42
    assert pickle.dumps(frame, 5) == golden


def test_a_spawn_frame_with_an_unreadable_context_never_runs_unchecked(host):
    h = host(lua_entry("t:one", "return {main = function() return 'ran' end}"))
    h.rt.dispatch((wire.Op.SPAWN, "2.2", "{client/2|0}", "t:one", [], 1, None, [["bad"]]))
    with pytest.raises(ProcessFailed, match="refused"):
        h.wait_exit("{app:h/1|2.2}")


def test_a_lua_spawner_under_another_actor_needs_process_security(host):
    """``process.with_context({}):with_actor(a)`` spawns a child acting as ``a``: only with
    ``process.security``; the child then acts as that actor, not as its spawner."""
    child = lua_entry("t:whoami", """
        local security = require("security")
        return {main = function() local a = security.actor(); return a and a:id() or "operator" end}
        """, modules=["security"])
    parent = lua_entry("t:spawner", f"""
        local security = require("security")
        local function main()
          local sp = process.with_context({{}}):with_actor(security.new_actor("root"))
          local pid, err = sp:spawn_monitored("t:whoami", "{HOST}")
          if err then return err:kind() .. " " .. err:message() end
          local ev = process.events():receive()
          return ev.result and ev.result.value or "no result"
        end
        return {{main = main}}""", modules=["security"])
    h = host(child, parent)
    denied = run_as(h, "t:spawner")
    assert "may not process.security security" in denied
    assert h.exec("t:spawner") == "root"       # the operator may: the child acts as root
