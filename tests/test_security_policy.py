"""Policy evaluation as a pure decision: patterns, conditions, deny wins, caching."""
from __future__ import annotations

import pytest

from wippy.security.policy import (Actor, Decision, PolicyError, Scope, pattern_matcher,
                                   policy_from_data)

AGENT = Actor("agent:evolve", {"role": "agent", "clearance": 2, "team": {"name": "search"}})


def pol(pid: str, actions, resources, effect="allow", conditions=None, groups=None):
    body = {"actions": actions, "resources": resources, "effect": effect}
    if conditions is not None:
        body["conditions"] = conditions
    data = {"policy": body}
    if groups:
        data["groups"] = groups
    return policy_from_data(pid, data)


@pytest.mark.parametrize("pattern,text,want", [
    ("*", "anything at all", True),
    ("registry.*", "registry.apply", True),
    ("registry.*", "registry.apply.python", True),
    ("registry.*", "process.spawn", False),
    ("app.agent:*", "app.agent:fn1", True),
    ("app.agent:*", "app.agents:fn1", False),
    ("*.read", "doc.read", True),
    ("funcs.call", "funcs.call", True),
    ("funcs.call", "funcs.callx", False),
    ("a.b", "aXb", False),             # dots are literal
])
def test_patterns_use_star_as_any_run_of_characters(pattern, text, want):
    assert pattern_matcher(pattern)(text) is want


def test_a_policy_applies_only_to_its_actions_and_resources():
    p = pol("s:p", ["registry.get", "registry.find"], "app.agent:*")
    assert p.evaluate(AGENT, "registry.get", "app.agent:x") is Decision.ALLOW
    assert p.evaluate(AGENT, "registry.apply", "app.agent:x") is Decision.UNDEFINED
    assert p.evaluate(AGENT, "registry.get", "app:settings") is Decision.UNDEFINED


def test_any_deny_wins_and_names_its_policy():
    scope = Scope([pol("s:allow_all", "*", "*"),
                   pol("s:no_security", "registry.apply.security", "*", effect="deny")])
    v = scope.evaluate(AGENT, "registry.apply.security", "s:allow_all")
    assert v.decision is Decision.DENY and v.policy == "s:no_security" and not v.allowed
    ok = scope.evaluate(AGENT, "registry.apply", "app.agent:x")
    assert ok.allowed and ok.policy == "s:allow_all"


def test_nothing_matching_is_undefined():
    scope = Scope([pol("s:p", "funcs.call", "app:f")])
    assert scope.evaluate(AGENT, "process.spawn", "app:w").decision is Decision.UNDEFINED
    assert Scope().evaluate(AGENT, "x", "y").decision is Decision.UNDEFINED


@pytest.mark.parametrize("cond,meta,want", [
    ({"field": "actor.meta.role", "operator": "eq", "value": "agent"}, None, True),
    ({"field": "actor.meta.role", "operator": "ne", "value": "agent"}, None, False),
    ({"field": "actor.meta.clearance", "operator": "lt", "value": 3}, None, True),
    ({"field": "actor.meta.clearance", "operator": "gte", "value": 3}, None, False),
    ({"field": "actor.meta.clearance", "operator": "gt", "value": "x"}, None, False),   # not comparable
    ({"field": "actor.meta.team.name", "operator": "eq", "value": "search"}, None, True),
    ({"field": "action", "operator": "in", "value": ["funcs.call", "process.spawn"]}, None, True),
    ({"field": "action", "operator": "nin", "value": ["funcs.call"]}, None, False),
    ({"field": "meta.kind", "operator": "in", "value": ["function.lua"]}, {"kind": "function.lua"}, True),
    ({"field": "meta.kind", "operator": "in", "value": ["function.lua"]}, {"kind": "function.py"}, False),
    ({"field": "meta.owner", "operator": "eq", "value_from": "actor.id"}, {"owner": "agent:evolve"}, True),
    ({"field": "meta.owner", "operator": "eq", "value_from": "actor.id"}, {"owner": "someone"}, False),
    ({"field": "meta.owner", "operator": "exists", "value": True}, {"owner": 1}, True),
    ({"field": "meta.owner", "operator": "exists", "value": True}, {}, False),
    ({"field": "meta.owner", "operator": "nexists", "value": True}, {}, True),
    ({"field": "resource", "operator": "contains", "value": "agent"}, None, True),
    ({"field": "resource", "operator": "ncontains", "value": "agent"}, None, False),
    ({"field": "resource", "operator": "matches", "value": "^app\\.agent:"}, None, True),
    ({"field": "actor.id", "operator": "nmatches", "value": "^system:"}, None, True),
    ({"field": "meta.missing", "operator": "ne", "value": 1}, {}, True),
    ({"field": "meta.missing", "operator": "eq", "value": None}, {}, False),
])
def test_conditions_use_wippys_operators(cond, meta, want):
    p = pol("s:c", "*", "*", conditions=[cond])
    got = p.evaluate(AGENT, "funcs.call", "app.agent:fn", meta)
    assert (got is Decision.ALLOW) is want


def test_all_conditions_must_hold():
    p = pol("s:c", "*", "*", conditions=[
        {"field": "actor.meta.role", "operator": "eq", "value": "agent"},
        {"field": "meta.kind", "operator": "eq", "value": "function.lua"}])
    assert p.evaluate(AGENT, "a", "r", {"kind": "function.lua"}) is Decision.ALLOW
    assert p.evaluate(AGENT, "a", "r", {"kind": "process.lua"}) is Decision.UNDEFINED


def test_decisions_without_metadata_are_cached_and_a_new_scope_starts_fresh():
    scope = Scope([pol("s:p", "process.send", "*")])
    first = scope.evaluate(AGENT, "process.send", "svc")
    assert scope.evaluate(AGENT, "process.send", "svc") is first        # from the cache
    narrower = scope.without("s:p")
    assert narrower.evaluate(AGENT, "process.send", "svc").decision is Decision.UNDEFINED


def test_metadata_dependent_decisions_are_not_served_from_the_cache():
    scope = Scope([pol("s:p", "*", "*", conditions=[{"field": "meta.kind", "operator": "eq", "value": "a"}])])
    assert scope.evaluate(AGENT, "x", "r", {"kind": "a"}).allowed
    assert not scope.evaluate(AGENT, "x", "r", {"kind": "b"}).allowed


def test_scopes_are_immutable_sets_of_policies():
    a, b = pol("s:a", "*", "*"), pol("s:b", "*", "*", effect="deny")
    s = Scope([a])
    t = s.with_(b)
    assert s.ids() == ("s:a",) and t.ids() == ("s:a", "s:b")
    assert t.contains("s:b") and not s.contains("s:b")
    assert t.without("s:a").ids() == ("s:b",)


@pytest.mark.parametrize("data,field", [
    ({}, "policy"),
    ({"policy": {"actions": "*", "resources": "*", "effect": "maybe"}}, "policy.effect"),
    ({"policy": {"actions": [], "resources": "*", "effect": "allow"}}, "policy.actions"),
    ({"policy": {"actions": "*", "resources": 3, "effect": "allow"}}, "policy.resources"),
    ({"policy": {"actions": "*", "resources": "*", "effect": "allow",
                 "conditions": [{"field": "x", "operator": "like"}]}}, "policy.conditions[0].operator"),
    ({"policy": {"actions": "*", "resources": "*", "effect": "allow",
                 "conditions": [{"field": "x", "operator": "matches", "value": "("}]}}, "policy.conditions[0].value"),
])
def test_a_bad_policy_names_its_field(data, field):
    with pytest.raises(PolicyError, match=f"field '{field.replace('[', '.').replace(']', '.')}"):
        policy_from_data("s:bad", data)
