"""Wippy's Lua ``security`` module (``modules: [security]``), over :mod:`wippy.security`.

``security.actor()`` (an Actor with ``:id()``, ``:meta()``, or nil for the operator),
``security.scope()`` (a Scope with ``:policies()``, ``:contains(id)``, ``:evaluate(actor,
action, resource, meta)``, ``:with(policy)``, ``:without(id)``), ``security.can(action,
resource, meta?)``, ``new_actor(id, meta)``, ``new_scope(policies?)``, ``policy(id)`` (a Policy
with ``:id()``, ``:evaluate(...)``), ``named_scope(group)``. Evaluations answer Wippy's
strings ``"allow"``, ``"deny"``, ``"undefined"``.

Nothing here changes what the process acts as: a Lua process has no handle on its context.
The values it builds matter in one place, Wippy's ``funcs.new():with_actor(a):with_scope(s)``
executor, whose calls act as them and need ``funcs.security``. See ``api.py`` for the
conventions at the boundary.
"""
from __future__ import annotations

from typing import Any

from .. import security as _security
from ..security.policy import Actor, Policy, Scope
from .api import ApiError, New, current_ctx, function, lua_value, method, text
from .engine import from_lua, is_lua_table

__all__: list[str] = []


def _meta(meta: Any) -> dict[str, Any] | None:
    if meta is None:
        return None
    data = from_lua(meta)
    if not isinstance(data, dict):
        raise ApiError("INVALID", "metadata must be a table")
    return data


def _field(obj: Any, cls: type, what: str) -> Any:
    value = obj[1] if is_lua_table(obj) else None
    if not isinstance(value, cls):
        raise ApiError("INVALID", f"{what} expected")
    return value


def _scope_obj(scope: Scope) -> New:
    return New((b"Scope", scope))


# -- the module ------------------------------------------------------------------------------
@function("security")
def actor() -> Any:
    a = _security.actor()
    return None if a is None else New((b"Actor", a))


@function("security")
def scope() -> Any:
    s = _security.scope()
    return None if s is None else _scope_obj(s)


@function("security")
def can(action: Any, resource: Any, meta: Any = None) -> bool:
    return _security.can(text(action, "action"), text(resource, "resource"), _meta(meta))


@function("security")
def new_actor(id: Any, meta: Any = None) -> Any:
    return New((b"Actor", _security.new_actor(text(id, "actor id"), _meta(meta))))


@function("security")
def new_scope(policies: Any = None) -> Any:
    items: list[Policy] = []
    if policies is not None:
        if not is_lua_table(policies):
            raise ApiError("INVALID", "new_scope expects a list of policies")
        items = [_field(policies[i], Policy, "a policy")
                 for i in range(1, len(policies) + 1)]
    return _scope_obj(_security.new_scope(items))


@function("security")
def policy(id: Any) -> Any:
    return New((b"Policy", _security.policy(text(id, "policy id"))))


@function("security")
def named_scope(group: Any) -> Any:
    return _scope_obj(_security.named_scope(text(group, "group")))


# -- Actor ----------------------------------------------------------------------------------
@method("Actor", "id")
def actor_id(a: Actor, _b: Any, _c: Any) -> bytes:
    return a.id.encode()


@method("Actor", "meta")
def actor_meta(a: Actor, _b: Any, _c: Any) -> Any:
    return lua_value(dict(a.meta))


# -- Scope ----------------------------------------------------------------------------------
@method("Scope", "policies")
def scope_policies(s: Scope, _b: Any, _c: Any) -> Any:
    ctx = current_ctx()
    t = ctx.state.lua.table()
    for i, p in enumerate(s.policies, 1):
        t[i] = ctx.new_obj(b"Policy", p)
    return t


@method("Scope", "contains")
def scope_contains(s: Scope, _b: Any, _c: Any, id: Any = None) -> bool:
    return s.contains(text(id, "policy id"))


@method("Scope", "with")
def scope_with(s: Scope, _b: Any, _c: Any, p: Any = None) -> Any:
    return _scope_obj(s.with_(_field(p, Policy, "a policy")))


@method("Scope", "without")
def scope_without(s: Scope, _b: Any, _c: Any, id: Any = None) -> Any:
    return _scope_obj(s.without(text(id, "policy id")))


def _evaluate(target: Scope | Policy, who: Any, action: Any, resource: Any, meta: Any) -> bytes:
    a = _field(who, Actor, "an actor")
    got = target.evaluate(a, text(action, "action"), text(resource, "resource"), _meta(meta))
    decision = got.decision if hasattr(got, "decision") else got
    return str(decision.value).encode()


@method("Scope", "evaluate")
def scope_evaluate(s: Scope, _b: Any, _c: Any, who: Any = None, action: Any = None,
                   resource: Any = None, meta: Any = None) -> bytes:
    return _evaluate(s, who, action, resource, meta)


# -- Policy ---------------------------------------------------------------------------------
@method("Policy", "id")
def policy_id(p: Policy, _b: Any, _c: Any) -> bytes:
    return p.id.encode()


@method("Policy", "evaluate")
def policy_evaluate(p: Policy, _b: Any, _c: Any, who: Any = None, action: Any = None,
                    resource: Any = None, meta: Any = None) -> bytes:
    return _evaluate(p, who, action, resource, meta)


# -- funcs executors: with_actor / with_scope (the call is blocking.py's) ----------------------
# Executors and spawners hold (context values, actor, scope): funcmod builds them.
def _builders(cls: bytes) -> None:
    def with_actor(values: Any, _actor: Any, scope: Any, who: Any = None) -> Any:
        return New((cls, values, _field(who, Actor, "an actor"), scope))

    def with_scope(values: Any, actor: Any, _scope: Any, s: Any = None) -> Any:
        return New((cls, values, actor, _field(s, Scope, "a scope")))
    method(cls.decode(), "with_actor")(with_actor)
    method(cls.decode(), "with_scope")(with_scope)


_builders(b"Executor")
_builders(b"Spawner")
