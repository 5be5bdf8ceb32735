"""Agents that change the system, within their permissions (S9), on a real node: a Lua agent
service under ``lifecycle.security`` tries everything a hostile agent would; the operator keeps
working; policies change live; every version names its author; workflows keep their context
across restarts; strict mode."""
from __future__ import annotations

import os
import signal

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.errors import WippyError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

STDLIB_OS = os.__file__

APP = """
version: "1.0"
namespace: app
entries:
  - name: main
    kind: process.host
    host: {workers: 2}
  - name: flows
    kind: process.host
  - name: terminal
    kind: terminal.host
  - name: settings
    kind: registry.entry
    level: 1
  - name: helper
    kind: function.py
    source: file://helper.py
    method: double
  - name: reader
    kind: function.lua
    method: f
    modules: [registry]
    source: |
      local registry = require("registry")
      return {f = function() return registry.get("app:settings").data.level end}
  - name: admin
    kind: process.lua
    method: main
    modules: [registry]
    source: |
      local registry = require("registry")
      return {main = function()
        local e, err = registry.get("app:settings")
        if err then error(err) end
        return e.data.level
      end}
  - name: probe
    kind: process.lua
    method: main
    modules: [registry, security]
    source: |
      local registry = require("registry")
      local security = require("security")
      return {main = function()
        local a = security.actor()
        local _, err = registry.get("app:settings")
        return {actor = a and a:id() or "none", settings = err and err:kind() or "read"}
      end}
  - name: spawner
    kind: process.py
    source: file://spawner.py
    method: main
"""

SECURITY = """
version: "1.0"
namespace: app.security
entries:
  - name: agent
    kind: security.policy
    policy:
      actions: [registry.get, registry.find, funcs.call, workflow.start, process.exec,
                process.spawn, security.actor.create]
      resources: ["app.agent:*", "app:probe"]
      effect: allow
  - name: agent_apply
    kind: security.policy
    policy:
      actions: registry.apply
      resources: "app.agent:*"
      effect: allow
      conditions:
        - {field: meta.kind, operator: in,
           value: [function.lua, process.lua, library.lua, workflow.lua, registry.entry,
                   process.service, function.py]}
  - name: agent_run
    kind: security.policy
    policy:
      actions: [process.host, process.send, security.actor.create]
      resources: "*"
      effect: allow
  - name: no_vault
    kind: security.policy
    policy:
      actions: process.send
      resources: vault
      effect: deny
  - name: deny_all
    kind: security.policy
    policy:
      actions: "*"
      resources: "*"
      effect: deny
"""

SUPERVISORS = """
version: "1.0"
namespace: app.supervisors
entries:
  - name: agent
    kind: process.service
    process: app.agent:agent
    host: app:main
    lifecycle:
      auto_start: true
      security:
        actor: {id: "agent:one", meta: {role: agent}}
        policies: [app.security:agent, app.security:agent_apply, app.security:agent_run,
                   app.security:no_vault]
  - name: jailed
    kind: process.service
    process: app.agent:jailed
    host: app:main
    lifecycle:
      auto_start: true
      restart: {max_attempts: 1, initial_delay: 10ms}
      security:
        actor: {id: "agent:jailed"}
        policies: [app.security:agent, app.security:agent_apply, app.security:deny_all]
  - name: pyagent
    kind: process.service
    process: app.agent:pyagent
    host: app:main
    lifecycle:
      auto_start: true
      security:
        actor: {id: "agent:py"}
        policies: [app.security:agent, app.security:agent_run]
"""

AGENT_YAML = """
version: "1.0"
namespace: app.agent
entries:
  - name: agent
    kind: process.lua
    source: file://agent.lua
    method: main
    modules: [registry, funcs, events, security, system, workflow]
  - name: jailed
    kind: process.lua
    method: main
    modules: [registry]
    source: |
      local registry = require("registry")
      return {main = function()
        local c = registry.snapshot():changes()
        c:create({id = "app.agent:jail_made", kind = "registry.entry", data = {x = 1}})
        local _, err = c:apply()
        error(err)
      end}
  - name: pyagent
    kind: process.py
    source: file://pyagent.py
    method: main
"""

# The agent: a command loop. Each command is tried and its outcome reported ("ok ..." or the
# error's message): the test decides what should have happened.
AGENT_LUA = """
local registry = require("registry")
local funcs = require("funcs")
local events = require("events")
local security = require("security")
local system = require("system")
local workflow = require("workflow")

local function outcome(v, err)
  if err then return err:message() end
  return {ok = v}
end

local handlers = {}
function handlers.apply(cmd)
  local c = registry.snapshot():changes()
  for _, op in ipairs(cmd.ops) do
    if op.op == "create" then c:create(op.entry)
    elseif op.op == "update" then c:update(op.entry)
    else c:delete(op.id) end
  end
  local v, err = c:apply()
  if err then return err:message() end
  return {ok = v:id()}
end
function handlers.get(cmd) return outcome(registry.get(cmd.id)) end
function handlers.find(cmd)
  local ids = {}
  for _, e in ipairs(registry.find({[".kind"] = cmd.kind})) do ids[#ids + 1] = e.id end
  return {ok = ids}
end
function handlers.call(cmd) return outcome(funcs.call(cmd.id, table.unpack(cmd.args or {}))) end
function handlers.exec(cmd) return outcome(process.exec(cmd.id, cmd.host)) end
function handlers.spawn(cmd) return outcome(process.spawn(cmd.id, cmd.host)) end
function handlers.send(cmd) return outcome(process.send(cmd.dest, "hello", 1)) end
function handlers.subscribe(cmd) return outcome(events.subscribe(cmd.pattern)) end
function handlers.exit(cmd) return outcome(system.exit(3)) end
function handlers.rollback(cmd) return outcome(registry.apply_version(cmd.version)) end
function handlers.can(cmd) return {ok = security.can(cmd.action, cmd.resource)} end
function handlers.workflow(cmd) return outcome(workflow.start(cmd.id, cmd.input)) end
function handlers.executor(cmd)
  local ex = funcs.new():with_actor(security.new_actor("root"))
  return outcome(ex:call(cmd.id))
end

return {main = function()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    local cmd = msg:payload():data()
    local ok, res = pcall(handlers[cmd.op], cmd)
    if not ok then res = "raised: " .. tostring(res) end
    process.send(msg:from(), "result", res)
  end
end}
"""

PYAGENT = """
from wippy import PermissionDenied, process, security

async def main():
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        try:
            process.spawn("app:probe", "app:main", actor=security.new_actor("agent:one"))
            out = "spawned"
        except PermissionDenied as exc:
            out = str(exc)
        process.send(msg.sender, "result", {
            "spawn": out, "actor": security.actor().id,
            "policies": list(security.scope().ids()),
            "can_probe": security.can("process.spawn", "app:probe"),
            "can_settings": security.can("registry.get", "app:settings")})
"""

SPAWNER = """
from wippy import process, security

async def main():
    scope = security.new_scope([security.policy("app.security:agent")])
    pid = process.spawn_monitored("app:probe", "app:main", actor=security.new_actor("agent:two"),
                                  scope=scope)
    events = process.events()
    while True:
        ev = await events.receive()
        if ev.from_ == pid:
            return ev.result.value
"""

HELPER = """
def double(x):
    return x * 2
"""


@pytest.fixture
def app(app_dir):
    write_app(app_dir, {"config/_index.yaml": APP, "config/security.yaml": SECURITY,
                        "config/helper.py": HELPER, "config/spawner.py": SPAWNER,
                        "config/agent/_index.yaml": AGENT_YAML, "config/agent/agent.lua": AGENT_LUA,
                        "config/agent/pyagent.py": PYAGENT,
                        "supervisors/_index.yaml": SUPERVISORS})
    os.symlink(STDLIB_OS, os.path.join(app_dir, "config", "link.py"))
    return app_dir


def ask(node, op: str, service: str = "app.supervisors:agent", **cmd):
    """Send the agent a command and return what it reports."""
    wait_until(lambda: node.lookup(service), 20, what=f"{service} to run")
    node.send(service, "cmd", {"op": op, **cmd})
    msg = node.receive(timeout=20)
    assert msg is not None and msg.topic == "result", msg
    return msg.payload


def create(entry: dict) -> dict:
    return {"ops": [{"op": "create", "entry": entry}]}


def lua_fn(eid: str, source: str, modules=None) -> dict:
    data = {"source": source, "method": "f"}
    if modules:                  # an empty list would reach Lua as an empty map
        data["modules"] = modules
    return {"id": eid, "kind": "function.lua", "data": data}


def test_a_service_under_a_deny_all_policy_commits_nothing(app):
    with wippy.Node(app) as node:
        v0 = int(node.registry.current_version())

        def jailed():
            return {s["id"]: s for s in node.ps()["services"]}["app.supervisors:jailed"]
        svc = wait_until(lambda: jailed()["last_error"] and jailed(), 20, what="the jailed agent")
        assert "PERMISSION_DENIED: actor agent:jailed may not registry.apply app.agent:jail_made " \
               "(policy app.security:deny_all)" in svc["last_error"]
        assert int(node.registry.current_version()) == v0
        with pytest.raises(WippyError):
            node.registry.get("app.agent:jail_made")


def test_an_agent_writes_lua_in_its_namespace_and_is_refused_everything_else(app):
    os_rel = os.path.relpath(STDLIB_OS, app)
    with wippy.Node(app) as node:
        v0 = int(node.registry.current_version())
        # allowed: its own namespace, Lua, and what it spawns acts as it
        made = ask(node, "apply", **create(lua_fn("app.agent:triple",
                                                  "return {f = function(x) return x * 3 end}")))
        assert made == {"ok": v0 + 1}
        assert ask(node, "call", id="app.agent:triple", args=[7]) == {"ok": 21}
        assert ask(node, "exec", id="app:probe", host="app:main") == {
            "ok": {"actor": "agent:one", "settings": "PermissionDenied"}}
        assert ask(node, "find", kind="function.lua") == {"ok": ["app.agent:triple"]}
        # Python code by any path: refused (its policy lets it apply function.py entries, so
        # what refuses them is the confinement of sources and registry.apply.python)
        for source in ("file://" + STDLIB_OS, "file://" + os_rel, "file://config/link.py"):
            out = ask(node, "apply", **create({"id": "app.agent:py", "kind": "function.py",
                                               "data": {"source": source, "method": "system"}}))
            assert "outside the application directory" in out, out
        out = ask(node, "apply", **create({"id": "app.agent:py", "kind": "function.py",
                                           "data": {"source": "file://config/helper.py",
                                                    "method": "double"}}))
        assert out == ("PERMISSION_DENIED: actor agent:one may not registry.apply.python "
                       "app.agent:py (no policy allows it)")
        # its own policy, a host entry, another namespace, a rollback: refused
        out = ask(node, "apply", ops=[{"op": "update", "entry": {
            "id": "app.security:agent", "kind": "security.policy",
            "data": {"policy": {"actions": "*", "resources": "*", "effect": "allow"}}}}])
        assert out == ("PERMISSION_DENIED: actor agent:one may not registry.apply "
                       "app.security:agent (no policy allows it)")
        out = ask(node, "apply", ops=[{"op": "update", "entry": {
            "id": "app:main", "kind": "process.host", "data": {"host": {"workers": 8}}}}])
        assert "may not registry.apply app:main" in out
        out = ask(node, "apply", **create({"id": "app:mine", "kind": "registry.entry",
                                           "data": {"x": 1}}))
        assert "may not registry.apply app:mine" in out
        out = ask(node, "apply", **create({"id": "app.agent:guard", "kind": "process.service",
                                           "data": {"process": "app:admin", "host": "app:main",
                                                    "lifecycle": {"security": {
                                                        "actor": {"id": "root"}}}}}))
        assert out == ("PERMISSION_DENIED: actor agent:one may not registry.apply.security "
                       "app.agent:guard (no policy allows it)")
        assert ask(node, "rollback", version=v0).startswith(
            "PERMISSION_DENIED: actor agent:one may not registry.apply_version registry")
        # reads, calls, sends, events, exits outside its policy
        assert "may not registry.get app:settings" in ask(node, "get", id="app:settings")
        assert "may not funcs.call app:helper" in ask(node, "call", id="app:helper", args=[1])
        assert "may not process.send vault (policy app.security:no_vault)" in ask(
            node, "send", dest="vault")
        assert "may not events.subscribe registry" in ask(node, "subscribe", pattern="registry")
        assert "may not system.exit system" in ask(node, "exit")
        assert "may not process.spawn app:admin" in ask(node, "spawn", id="app:admin",
                                                        host="app:main")
        assert "may not funcs.security security" in ask(node, "executor", id="app.agent:triple")
        assert ask(node, "can", action="registry.get", resource="app:settings") == {"ok": False}
        assert int(node.registry.current_version()) == v0 + 1     # only its own function
        # ps counts the denials
        assert sum(h.get("denied") or 0 for h in node.ps()["hosts"]) + (
            node.ps()["node"].get("denied") or 0) >= 15
        r = run_wippy(["ps", app], timeout=30)
        assert r.returncode == 0 and "denied " in r.stdout


def test_an_agent_cannot_borrow_the_operators_authority(app):
    with wippy.Node(app) as node:
        # a service it creates runs as the agent, whatever code it names
        out = ask(node, "apply", **create({"id": "app.agent:borrow", "kind": "process.service",
                                           "data": {"process": "app:admin", "host": "app:main",
                                                    "lifecycle": {"auto_start": True,
                                                                  "restart": {"max_attempts": 1}}}}))
        assert "ok" in out, out

        def borrowed():
            rows = {s["id"]: s for s in node.ps()["services"]}
            row = rows.get("app.agent:borrow")
            return row if row and row.get("last_error") else None
        row = wait_until(borrowed, 20, what="the borrowed service to fail")
        assert "actor agent:one may not registry.get app:settings" in row["last_error"]
        # a function it writes, called by the operator, still acts as the agent
        trap = lua_fn("app.agent:trap", """
            local registry = require("registry")
            return {f = function()
              local e, err = registry.get("app:settings")
              if err then error(err) end
              return e.data.level
            end}""", modules=["registry"])
        assert "ok" in ask(node, "apply", **create(trap))
        with pytest.raises(WippyError, match="actor agent:one may not registry.get app:settings"):
            node.call("app.agent:trap", timeout=20)
        # the operator's own code keeps working
        assert node.call("app:reader", timeout=20) == 1
        assert node.call("app:helper", 21, timeout=20) == 42


def test_only_process_security_spawns_under_another_actor(app):
    with wippy.Node(app) as node:
        out = ask(node, "x", service="app.supervisors:pyagent")
        assert out == {"spawn": "PERMISSION_DENIED: actor agent:py may not process.security "
                                "security (no policy allows it)",
                       "actor": "agent:py",
                       "policies": ["app.security:agent", "app.security:agent_run"],
                       "can_probe": True, "can_settings": False}
        # the operator may: the child acts as the actor and scope it was given
        assert node.exec("app:spawner", "app:main", timeout=20) == {
            "actor": "agent:two", "settings": "PermissionDenied"}


def test_a_changed_policy_applies_to_the_next_check_and_the_history_names_authors(app):
    with wippy.Node(app) as node:
        assert "may not registry.get app:settings" in ask(node, "get", id="app:settings")
        path = os.path.join(app, "config", "security.yaml")
        with open(path) as fh:
            text = fh.read()
        with open(path, "w") as fh:
            fh.write(text.replace('resources: ["app.agent:*", "app:probe"]',
                                  'resources: ["app.agent:*", "app:probe", "app:settings"]'))
        wait_until(lambda: ask(node, "get", id="app:settings") != (
            "PERMISSION_DENIED: actor agent:one may not registry.get app:settings "
            "(no policy allows it)"), 20, what="the reloaded policy")
        assert ask(node, "get", id="app:settings")["ok"]["data"] == {"level": 1}
        made = ask(node, "apply", **create(lua_fn("app.agent:f", "return {f = function() end}")))
        history = node.registry.history()
        by_version = {h["version"]: h for h in history}
        assert by_version[made["ok"]]["author"]["actor"] == "agent:one"
        assert by_version[made["ok"]]["author"]["entry"] == "app.agent:agent"
        assert by_version[made["ok"]]["author"]["pid"].startswith("{app:main/")
        assert {"files": ["config/security.yaml"]} in [h["author"] for h in history]
        node.registry.snapshot().changes().update(
            {"id": "app:settings", "kind": "registry.entry", "data": {"level": 2}}).apply()
        assert node.registry.history()[-1]["author"] == {"via": "api"}
        r = run_wippy(["registry", "--app", app, "history"], timeout=30)
        assert r.returncode == 0
        assert "by actor agent:one pid {app:main/" in r.stdout
        assert "by file:config/security.yaml" in r.stdout and "by api" in r.stdout
        r = run_wippy(["registry", "--app", app, "show", "app.agent:f"], timeout=30)
        assert "written at run time by actor agent:one" in r.stdout and f"in v{made['ok']}" in r.stdout
        r = run_wippy(["registry", "--app", app, "rollback", str(made["ok"] - 1)], timeout=30)
        assert r.returncode == 0, r.stderr
        assert node.registry.history()[-1]["author"] == {"via": "cli"}


WORKFLOW = """
version: "1.0"
namespace: app.agent
entries:
  - name: flow
    kind: workflow.lua
    host: app:flows
    method: main
    modules: [security, time, registry]
    source: |
      local security = require("security")
      local time = require("time")
      local registry = require("registry")
      return {main = function(input)
        time.sleep(input.pause)
        local _, err = registry.get("app:settings")
        return {actor = security.actor():id(), settings = err and err:kind() or "read"}
      end}
"""


def test_a_workflow_runs_under_its_starters_context_across_a_crash_of_its_host(app):
    write_app(app, {"config/agent/flow.yaml": WORKFLOW})
    with wippy.Node(app) as node:
        out = ask(node, "workflow", id="app.agent:flow", input={"pause": "1500ms"})
        pid = out["ok"]
        flows = [h for h in node.ps()["hosts"] if h["host"] == "app:flows"]
        wait_until(lambda: any(p["entry"] == "app.agent:flow"
                               for h in node.ps()["hosts"] if h["host"] == "app:flows"
                               for p in h.get("processes", [])), 20, what="the workflow to run")
        os.kill(flows[0]["os_pid"], signal.SIGKILL)
        assert node.workflow_result(pid, timeout=30) == {"actor": "agent:one",
                                                         "settings": "PermissionDenied"}
        # a workflow entry outside its policy: refused
        assert "may not workflow.start app:admin" in ask(node, "workflow", id="app:admin")


STRICT = """
version: "1.0"
namespace: app
entries:
  - name: main
    kind: process.host
  - name: terminal
    kind: terminal.host
  - name: all
    kind: security.policy
    policy: {actions: "*", resources: "*", effect: allow}
  - name: settings
    kind: registry.entry
    level: 1
  - name: reader
    kind: process.lua
    method: main
    modules: [registry]
    source: |
      local registry = require("registry")
      return {main = function()
        local e, err = registry.get("app:settings")
        if err then error(err) end
        return e.data.level
      end}
  - name: anonymous
    kind: process.service
    process: app:reader
    host: app:main
    lifecycle:
      auto_start: true
      restart: {max_attempts: 1, initial_delay: 10ms}
      security: {policies: [app:all]}
"""


def test_strict_mode_denies_a_scope_without_an_actor_and_not_the_operator(app_dir):
    write_app(app_dir, {"config/_index.yaml": STRICT})
    with wippy.Node(app_dir, strict=True) as node:
        def row():
            r = {s["id"]: s for s in node.ps()["services"]}["app:anonymous"]
            return r if r.get("last_error") else None
        r = wait_until(row, 20, what="the anonymous service to fail")
        assert "a scope without an actor may not registry.get app:settings (strict mode: no " \
               "actor)" in r["last_error"]
        assert node.exec("app:reader", "app:main", timeout=20) == 1      # the operator
        assert node.ps()["node"]["strict"] is True
