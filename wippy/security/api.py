"""``wippy.security``: Wippy's ``security`` module for Python processes (S9).

``actor()`` and ``scope()`` describe the context the calling process acts under (None for the
operator), ``can(action, resource, meta)`` asks whether it may do something, and
``new_actor``, ``new_scope``, ``policy``, ``named_scope`` build the values a spawn under
another actor takes (``process.spawn(..., actor=a, scope=s)``, which needs
``process.security``). Reading policies is checked as in Wippy: ``security.policy.get`` on a
policy id, ``security.policy_group.get`` on a group, ``security.scope.create`` on ``custom``,
``security.actor.create`` on the actor id.

Python processes are not sandboxed: the checks keep operator code and the agents it runs
honest, they do not contain hostile Python (only Lua is contained). Code an agent writes is
Lua, or Python that a policy explicitly let it register (``registry.apply.python``).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import EntryNotFound
from ..runtime import table as _rt
from . import context as _context
from .book import BOOK
from .policy import Actor, Decision, Policy, Scope, Verdict

__all__ = ["actor", "scope", "can", "new_actor", "new_scope", "policy", "named_scope",
           "spawn_context", "Actor", "Scope", "Policy", "Verdict", "Decision"]


def _current() -> _context.Context | None:
    try:
        rt = _rt.get()
    except RuntimeError:        # outside any runtime (a program): the operator
        return None
    return rt.security()


def actor() -> Actor | None:
    """The actor the calling process acts as; None for the operator."""
    ctx = _current()
    return None if ctx is None else ctx.actor


def scope() -> Scope | None:
    """The scope the calling process acts under (its policies as the registry holds them
    now); None for the operator."""
    ctx = _current()
    return None if ctx is None else ctx.principals[0].scope()


def can(action: str, resource: str, meta: Mapping[str, Any] | None = None) -> bool:
    """Whether the calling process may ``action`` ``resource`` now (the operator may do
    anything). Asking is not an attempt: a no is neither logged nor counted."""
    ctx = _current()
    return True if ctx is None else ctx.allows(action, resource, meta)


def _check(action: str, resource: str) -> None:
    ctx = _current()
    if ctx is not None:
        ctx.check(action, resource)


def new_actor(id: str, meta: Mapping[str, Any] | None = None) -> Actor:
    """An actor value (``security.actor.create`` on its id)."""
    _check("security.actor.create", id)
    return Actor(str(id), dict(meta or {}))


def new_scope(policies: list[Policy] | None = None) -> Scope:
    """A scope of the given policies (``security.scope.create`` on ``custom``)."""
    _check("security.scope.create", "custom")
    return Scope(policies or ())


def policy(id: str) -> Policy:
    """The policy ``id`` as the registry holds it now (``security.policy.get``); raises
    :class:`wippy.EntryNotFound`."""
    _check("security.policy.get", id)
    found = BOOK.policy(id)
    if found is None:
        raise EntryNotFound(f"policy {id} not found")
    return found


def named_scope(group: str) -> Scope:
    """The scope of every policy in ``group`` (``ns:group``: those of one namespace)
    (``security.policy_group.get``)."""
    _check("security.policy_group.get", group)
    return Scope(BOOK.group(group))


def spawn_context(actor: Actor | None, scope: Scope | None) -> _context.Context | None:
    """The context of a process spawned under ``actor`` and ``scope``. A missing half is the
    caller's own (its actor, or its first principal's policies and groups)."""
    me = _current()
    mine = me.principals[0] if me is not None else None
    if actor is None:
        actor = mine.actor if mine is not None else None
    policies: tuple[str, ...]
    groups: tuple[str, ...]
    if scope is not None:
        policies, groups = scope.ids(), ()
    elif mine is not None:
        policies, groups = mine.policies, mine.groups
    else:
        policies, groups = (), ()
    return _context.from_wire([[None if actor is None else actor.id,
                                {} if actor is None else dict(actor.meta),
                                list(policies), list(groups)]])
