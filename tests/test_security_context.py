"""Security contexts, the policy book, the rules of a registry change, callers and services'
contexts: pure logic, no process (S9)."""
from __future__ import annotations

import pytest

from wippy.errors import PermissionDenied
from wippy.registry.changes import ChangeRejected, plan
from wippy.security import context
from wippy.security.book import BOOK
from wippy.security.callers import Caller, caller_of
from wippy.security.lifecycle import declared, service_context
from wippy.security.policy import Actor
from wippy.security.rules import required, security_changed

pytestmark = pytest.mark.timeout(30)


def policy(pid: str, actions, resources, effect="allow", conditions=None, groups=None) -> dict:
    body = {"actions": actions, "resources": resources, "effect": effect}
    if conditions:
        body["conditions"] = conditions
    data = {"policy": body}
    if groups:
        data["groups"] = groups
    return {"id": pid, "kind": "security.policy", "meta": {}, "data": data}


@pytest.fixture
def registry():
    """A registry the book reads (this OS process's book, attached for the test)."""
    entries: dict[str, dict] = {}

    def put(*items: dict) -> None:
        for e in items:
            entries[e["id"]] = e
        BOOK.changed([e["id"] for e in items])

    BOOK.attach(lambda: entries, entries.get)
    put.entries = entries  # type: ignore[attr-defined]
    yield put
    BOOK.attach(dict, lambda _id: None)
    context.set_strict(False)


def agent(*policies: str, groups=(), meta=None, actor="agent:one"):
    return context.from_wire([[actor, meta or {}, list(policies), list(groups)]])


def test_an_actor_may_do_what_a_policy_allows_and_nothing_else(registry):
    registry(policy("s:read", ["registry.get"], "app.agent:*"))
    ctx = agent("s:read")
    ctx.check("registry.get", "app.agent:x")
    with pytest.raises(PermissionDenied) as info:
        ctx.check("registry.get", "app:settings")
    assert str(info.value) == ("PERMISSION_DENIED: actor agent:one may not registry.get "
                               "app:settings (no policy allows it)")
    assert info.value.kind == "PERMISSION_DENIED"


def test_a_denial_names_the_policy_that_denied(registry):
    registry(policy("s:all", "*", "*"), policy("s:no_py", "registry.apply.python", "*", "deny"))
    with pytest.raises(PermissionDenied, match=r"\(policy s:no_py\)$"):
        agent("s:all", "s:no_py").check("registry.apply.python", "app.agent:f")


def test_denials_are_counted_and_questions_are_not(registry):
    registry(policy("s:read", ["registry.get"], "app.agent:*"))
    ctx = agent("s:read")
    before = context.denials()
    assert not ctx.allows("funcs.call", "app:x")
    assert context.denials() == before
    with pytest.raises(PermissionDenied):
        ctx.check("funcs.call", "app:x")
    assert context.denials() == before + 1


def test_a_changed_policy_applies_to_the_next_check(registry):
    registry(policy("s:p", ["process.send"], "*"))
    ctx = agent("s:p")
    ctx.check("process.send", "svc")                 # allowed, and remembered
    registry(policy("s:p", ["process.send"], "*", effect="deny"))
    with pytest.raises(PermissionDenied, match="policy s:p"):
        ctx.check("process.send", "svc")
    del registry.entries["s:p"]                      # type: ignore[attr-defined]
    BOOK.changed(["s:p"])
    with pytest.raises(PermissionDenied, match="no policy allows it"):
        ctx.check("process.send", "svc")


def test_a_change_that_touches_no_policy_keeps_the_decisions(registry):
    registry(policy("s:p", ["process.send"], "*"))
    gen = BOOK.generation
    registry({"id": "app:settings", "kind": "registry.entry", "meta": {}, "data": {}})
    assert BOOK.generation == gen


def test_groups_bring_every_policy_of_the_group(registry):
    registry(policy("s:a", ["funcs.call"], "*", groups=["agents"]),
             policy("other:b", ["events.send"], "*", groups=["agents"]),
             policy("s:c", ["process.spawn"], "*", groups=["admins"]))
    ctx = agent(groups=["agents"])
    ctx.check("funcs.call", "app:f")
    ctx.check("events.send", "orders")
    assert not ctx.allows("process.spawn", "app:w")
    assert [p.id for p in BOOK.group("s:agents")] == ["s:a"]       # Wippy's ns:group form


def test_conditions_see_the_actor_and_each_actor_gets_its_own_decisions(registry):
    registry(policy("s:admin", "*", "*", conditions=[
        {"field": "actor.meta.role", "operator": "eq", "value": "admin"}]))
    admin = agent("s:admin", meta={"role": "admin"}, actor="same")
    user = agent("s:admin", meta={"role": "user"}, actor="same")
    admin.check("registry.apply", "app:x")
    assert not user.allows("registry.apply", "app:x")     # same id, other metadata


def test_a_scope_without_an_actor_is_denied_everything_in_strict_mode(registry):
    registry(policy("s:all", "*", "*"))
    ctx = context.from_wire([[None, {}, ["s:all"], []]])
    ctx.check("funcs.call", "app:f")                       # permissive: its policies decide
    context.set_strict(True)
    with pytest.raises(PermissionDenied, match=r"a scope without an actor may not funcs.call "
                                                r"app:f \(strict mode: no actor\)"):
        ctx.check("funcs.call", "app:f")
    agent("s:all").check("funcs.call", "app:f")            # an actor is not affected


def test_narrowing_needs_both_and_the_operator_adds_nothing(registry):
    registry(policy("s:wide", "*", "*"), policy("s:narrow", ["funcs.call"], "app.agent:*"))
    wide, narrow = agent("s:wide", actor="svc"), agent("s:narrow")
    both = context.narrowed(wide, narrow)
    both.check("funcs.call", "app.agent:f")
    with pytest.raises(PermissionDenied, match="actor agent:one may not registry.get"):
        both.check("registry.get", "app:settings")
    assert context.narrowed(None, narrow) is narrow
    assert context.narrowed(wide, None) is wide
    assert context.narrowed(both, narrow) is both           # already in it
    assert both.actor.id == "svc"                            # who it acts as first


def test_contexts_are_interned_by_their_plain_form():
    a = context.from_wire([["x", {"k": 1}, ["s:p"], []]])
    b = context.from_wire([["x", {"k": 1}, ["s:p"], []]])
    assert a is b and context.to_wire(a) == [["x", {"k": 1}, ["s:p"], []]]
    assert context.from_wire(None) is None and context.to_wire(None) is None
    with pytest.raises(ValueError):
        context.from_wire([["only", "three", []]])


# -- what a registry change needs ------------------------------------------------------------
def entry(eid: str, kind: str, **data) -> dict:
    return {"id": eid, "kind": kind, "meta": {}, "data": data}


def test_python_code_and_security_entries_need_their_own_actions():
    fn_lua = entry("a:f", "function.lua", source="return {}", method="f")
    fn_py = entry("a:g", "function.py", source="file:///app/g.py", method="g")
    assert required("create", "a:f", None, fn_lua) == []
    assert [a for a, _ in required("create", "a:g", None, fn_py)] == ["registry.apply.python"]
    relabelled = {**fn_py, "meta": {"owner": "x"}}
    assert required("update", "a:g", fn_py, relabelled) == []      # meta is not code
    pol = policy("a:p", "*", "*")
    assert [a for a, _ in required("update", "a:p", pol, pol)] == ["registry.apply.security"]
    host = entry("a:h", "process.host", host={"workers": 2})
    assert [a for a, m in required("delete", "a:h", host, None)] == ["registry.apply.security"]
    svc = entry("a:s", "process.service", process="a:w", host="a:h")
    guarded = entry("a:s", "process.service", process="a:w", host="a:h",
                    lifecycle={"security": {"actor": {"id": "root"}}})
    assert security_changed(svc, guarded) and security_changed(guarded, svc)
    assert not security_changed(svc, {**svc, "meta": {"x": 1}})


def test_the_planner_asks_before_anything_is_committed(tmp_path):
    asked: list[tuple[str, str, dict]] = []

    def authorize(action: str, resource: str, meta: dict) -> None:
        asked.append((action, resource, dict(meta)))
        if resource.startswith("app.security:"):
            raise context.denied_error("actor a", action, resource, "no policy allows it")

    current = {"app.security:p": {**policy("app.security:p", "*", "*"), "path": "",
                                  "base_dir": ""}}
    ops = [{"op": "create", "entry": entry("app.agent:f", "function.lua",
                                           source="return {f = function() end}", method="f")},
           {"op": "update", "entry": policy("app.security:p", "*", "*", effect="deny")}]
    with pytest.raises(PermissionDenied, match="registry.apply app.security:p"):
        plan(current, ops, str(tmp_path), authorize=authorize)
    assert asked[0] == ("registry.apply", "app.agent:f",
                        {"kind": "function.lua", "ns": "app.agent", "op": "create"})


def test_entries_a_caller_writes_carry_its_stamp_and_the_operators_carry_none(tmp_path):
    op = [{"op": "create", "entry": entry("app.agent:f", "function.lua",
                                          source="return {f = function() end}", method="f")}]
    stamp = {"actor": "agent:one", "context": [["agent:one", {}, [], []]]}
    [made] = plan({}, op, str(tmp_path), author=stamp)["created"]
    assert made["author"] == stamp
    # the same content again changes nothing (and keeps the author); new content by the
    # operator removes the stamp
    assert plan({"app.agent:f": made}, [{"op": "update", "entry": op[0]["entry"]}],
                str(tmp_path))["updated"] == []
    edited = {**op[0]["entry"], "data": {"source": "return {f = function() return 1 end}",
                                         "method": "f"}}
    [after] = plan({"app.agent:f": made}, [{"op": "update", "entry": edited}],
                   str(tmp_path))["updated"]
    assert "author" not in after
    with pytest.raises(ChangeRejected):       # a caller cannot set the stamp itself: it is
        plan({}, [{"op": "create", "entry": {**op[0]["entry"], "author": stamp,  # dropped
                                             "kind": "nonsense"}}], str(tmp_path))


# -- callers ---------------------------------------------------------------------------------
def test_a_process_without_an_actor_needs_a_policy_for_python_code_and_the_operator_not(registry):
    proc = caller_of({"pid": "{a/1|1}", "entry": "app:x", "security": None})
    proc.authorize("registry.apply", "app:f", {})
    proc.authorize("registry.apply.security", "app:p", {})
    with pytest.raises(PermissionDenied, match=r"process \{a/1\|1\} \(app:x\) without an actor "
                                                r"may not registry.apply.python app:f"):
        proc.authorize("registry.apply.python", "app:f", {})
    caller_of(None, "cli").authorize("registry.apply.python", "app:f", {})
    assert caller_of(None, "cli").history_author() == {"via": "cli"}
    assert caller_of(None, "anything else").via == "api"


def test_a_caller_signs_its_versions_and_its_entries(registry):
    registry(policy("s:p", "*", "*"))
    c = caller_of({"pid": "{a/1|1}", "entry": "app:agent",
                   "security": [["agent:one", {}, ["s:p"], []]]})
    assert c.history_author() == {"actor": "agent:one", "pid": "{a/1|1}", "entry": "app:agent"}
    assert c.stamp(7) == {"actor": "agent:one", "context": [["agent:one", {}, ["s:p"], []]],
                          "pid": "{a/1|1}", "entry": "app:agent", "version": 7}
    assert Caller(None).stamp(3) is None


def test_an_unreadable_context_is_refused_never_taken_for_the_operator():
    with pytest.raises(PermissionDenied):
        caller_of({"pid": "{a/1|1}", "entry": "x", "security": [["bad"]]})


# -- services --------------------------------------------------------------------------------
def test_a_service_runs_under_its_lifecycle_security_and_its_authors():
    svc = entry("app:s", "process.service", process="app:w", host="app:h",
                lifecycle={"security": {"actor": {"id": "svc", "meta": {"r": 1}},
                                        "policies": ["s:p"], "groups": ["g"]}})
    assert declared(svc) == [["svc", {"r": 1}, ["s:p"], ["g"]]]
    assert service_context(svc) == [["svc", {"r": 1}, ["s:p"], ["g"]]]
    plain = entry("app:t", "process.service", process="app:w", host="app:h")
    assert service_context(plain) is None
    authored = {**plain, "author": {"actor": "agent:one",
                                    "context": [["agent:one", {}, ["s:a"], []]]}}
    assert service_context(authored) == [["agent:one", {}, ["s:a"], []]]
    both = {**svc, "author": authored["author"]}
    assert service_context(both) == [["svc", {"r": 1}, ["s:p"], ["g"]],
                                     ["agent:one", {}, ["s:a"], []]]
    scope_only = entry("app:u", "process.service", process="app:w", host="app:h",
                       lifecycle={"security": {"policies": ["s:p"]}})
    assert service_context(scope_only) == [[None, {}, ["s:p"], []]]


def test_actor_values_compare_by_id_and_meta():
    assert Actor("a", {"x": 1}) == Actor("a", {"x": 1})
    assert Actor("a", {"x": 1}).key != Actor("a", {"x": 2}).key


# -- validation ------------------------------------------------------------------------------
def test_a_policy_condition_is_checked_at_boot_and_located_to_its_field(app_dir):
    from conftest import write_app

    from wippy.errors import ConfigError
    from wippy.registry.loader import load_app
    write_app(app_dir, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: p
            kind: security.policy
            policy:
              actions: "*"
              resources: "*"
              effect: allow
              conditions:
                - {field: actor.id, operator: eq, value: x}
                - {field: resource, operator: like, value: y}
          - name: svc
            kind: process.service
            process: app:w
            host: app:h
            lifecycle:
              security:
                actor: {meta: {role: x}}
                policies: [app:missing]
        """})
    with pytest.raises(ConfigError) as info:
        load_app(app_dir)
    text = str(info.value)
    assert "_index.yaml:12:29: entry app:p: field 'policy.conditions[1].operator': " \
        "unknown operator 'like'" in text
    assert "entry app:svc: field 'lifecycle.security.actor.id': required field missing" in text
    assert "app:missing" in text


def test_a_repeated_denial_is_logged_once_a_minute(registry, caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(context._time, "monotonic", lambda: clock[0])
    context._logged.clear()
    ctx = agent()
    with caplog.at_level("WARNING", logger="wippy.security"):
        for _ in range(3):
            assert not ctx.allows("x", "y")
            with pytest.raises(PermissionDenied):
                ctx.check("funcs.call", "app:f")
        clock[0] += context.DENY_LOG_EVERY_S
        with pytest.raises(PermissionDenied):
            ctx.check("funcs.call", "app:f")
    lines = [r.getMessage() for r in caplog.records if r.name == "wippy.security"]
    assert lines == ["denied: actor agent:one may not funcs.call app:f (no policy allows it)"] * 2
