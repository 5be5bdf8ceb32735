"""Security contexts: who a process acts as, and the check every guarded action makes (S9).

A process runs under a context: ``None`` is the operator (code the operator wrote or started:
trusted, every check passes), otherwise a :class:`Context`, one or more :class:`Principal`
(an actor under a scope) that must *all* allow an action. One principal is the usual case: a
``process.service`` with ``lifecycle.security``. More appear when code authored at run time
runs: a process running an entry an agent wrote acts as itself *and* as that agent
(:meth:`Context.narrowed`), so code never has more authority than its author.

A check without metadata is the hot path (send, spawn, ``registry.get``, ``funcs.call``):
with no context it is one attribute test in the caller; with one, a dict and a set lookup of
the (action, resource) pairs already allowed (:attr:`Context.allowed`, emptied whenever a
policy changes). Contexts are interned by their plain-data form, so every process under the
same context shares one object and one set of decisions.

Denials raise :class:`~wippy.errors.PermissionDenied` with Wippy's wording and are counted per
OS process (``wippy ps``) and logged (once a minute per actor, action and resource).

Strict mode (``wippy run --strict``, ``WIPPY_STRICT=1``) denies every action of a principal
without an actor (a scope no one answers for); the operator (no context at all) is not
affected.
"""
from __future__ import annotations

import json
import logging
import time as _time
import weakref
from typing import Any, Iterable, Mapping

from ..errors import PermissionDenied
from .book import BOOK
from .policy import Actor, Decision, Scope, Verdict

__all__ = ["Principal", "Context", "ANONYMOUS", "from_wire", "to_wire", "narrowed",
           "denials", "set_strict", "strict", "denied_error", "DENY_LOG_EVERY_S"]

log = logging.getLogger("wippy.security")

DENY_LOG_EVERY_S = 60.0      # a repeated denial (same actor, action, resource) is logged once per this
_MAX_ALLOWED = 4096          # allowed (action, resource) pairs remembered per context
ANONYMOUS = Actor("")        # who a principal without an actor is, to its policies

_state = {"strict": False, "denials": 0}
_logged: dict[tuple[str, str, str], float] = {}


def set_strict(on: bool) -> None:
    """Strict mode for this OS process (the node hands its setting to every host)."""
    if bool(on) != _state["strict"]:
        _state["strict"] = bool(on)
        BOOK.new_generation()


def strict() -> bool:
    return bool(_state["strict"])


def denials() -> int:
    """How many actions were denied in this OS process."""
    return int(_state["denials"])


class Principal:
    """An actor (or None) under a scope: policy ids plus policy groups, resolved live."""

    __slots__ = ("actor", "policies", "groups", "_gen", "_scope")

    def __init__(self, actor: Actor | None, policies: Iterable[str] = (),
                 groups: Iterable[str] = ()) -> None:
        self.actor = actor
        self.policies: tuple[str, ...] = tuple(policies)
        self.groups: tuple[str, ...] = tuple(groups)
        self._gen = -1
        self._scope: Scope | None = None

    @property
    def name(self) -> str:
        """How denials name it."""
        return f"actor {self.actor.id}" if self.actor is not None else "a scope without an actor"

    def scope(self) -> Scope:
        """The scope as the registry's policies are now."""
        if self._gen != BOOK.generation or self._scope is None:
            self._scope = BOOK.scope(self.policies, self.groups)
            self._gen = BOOK.generation
        return self._scope

    def verdict(self, action: str, resource: str, meta: Mapping[str, Any] | None = None) -> Verdict:
        """This principal's decision (undefined counts as a denial: deny by default)."""
        if self.actor is None and _state["strict"]:
            return Verdict(Decision.DENY, "strict mode")
        return self.scope().evaluate(self.actor or ANONYMOUS, action, resource, meta)

    def wire(self) -> list[Any]:
        a = self.actor
        return [None if a is None else a.id, {} if a is None else dict(a.meta),
                list(self.policies), list(self.groups)]


class Context:
    """The principals a process acts as; every one must allow an action. Immutable and
    interned: build one with :func:`from_wire` or :func:`narrowed`."""

    __slots__ = ("principals", "wire", "allowed", "_count", "__weakref__")

    def __init__(self, principals: tuple[Principal, ...]) -> None:
        self.principals = principals
        self.wire: list[list[Any]] = [p.wire() for p in principals]
        # action -> resources allowed in this policy generation (the hot path reads it)
        self.allowed: dict[str, set[str]] = {}
        self._count = 0

    @property
    def actor(self) -> Actor | None:
        """The actor the process acts as (the first principal's): Wippy's ``security.actor()``."""
        return self.principals[0].actor

    def check(self, action: str, resource: str, meta: Mapping[str, Any] | None = None) -> None:
        """Raise :class:`PermissionDenied` unless every principal allows ``action`` on
        ``resource``."""
        if meta is None:
            done = self.allowed.get(action)
            if done is not None and resource in done:
                return
        self._decide(action, resource, meta, True)

    def allows(self, action: str, resource: str, meta: Mapping[str, Any] | None = None) -> bool:
        """Whether :meth:`check` would pass (no log, no count: a question, not an attempt)."""
        if meta is None:
            done = self.allowed.get(action)
            if done is not None and resource in done:
                return True
        return self._decide(action, resource, meta, False)

    def forget(self) -> None:
        """Drop the remembered decisions (a policy changed)."""
        self.allowed = {}
        self._count = 0

    def _decide(self, action: str, resource: str, meta: Mapping[str, Any] | None,
                raise_: bool) -> bool:
        for p in self.principals:
            verdict = p.verdict(action, resource, meta)
            if verdict.decision is not Decision.ALLOW:
                if raise_:
                    raise _denied(p, action, resource, verdict)
                return False
        if meta is None and self._count < _MAX_ALLOWED:
            self._count += 1
            self.allowed.setdefault(action, set()).add(resource)
        return True

    def __repr__(self) -> str:
        return f"Context({self.wire!r})"


def denied_error(who: str, action: str, resource: str, why: str) -> PermissionDenied:
    """The error of a denial, in Wippy's words, counted and logged."""
    _state["denials"] += 1
    now = _time.monotonic()
    key = (who, action, resource)
    if now - _logged.get(key, -DENY_LOG_EVERY_S) >= DENY_LOG_EVERY_S:
        if len(_logged) > 10_000:
            _logged.clear()
        _logged[key] = now
        log.warning("denied: %s may not %s %s (%s)", who, action, resource, why)
    return PermissionDenied(f"PERMISSION_DENIED: {who} may not {action} {resource} ({why})")


def _denied(p: Principal, action: str, resource: str, verdict: Verdict) -> PermissionDenied:
    if verdict.policy == "strict mode":
        why = "strict mode: no actor"
    elif verdict.policy is not None:
        why = f"policy {verdict.policy}"
    else:
        why = "no policy allows it"
    return denied_error(p.name, action, resource, why)


# -- plain-data form and interning ------------------------------------------------------------
# every live context, by its plain form: one object per context, and the ones a policy change
# must reach (weak: a context nobody holds any more is gone)
_interned: weakref.WeakValueDictionary[str, Context] = weakref.WeakValueDictionary()


def _key(wire: Any) -> str:
    return json.dumps(wire, sort_keys=True, separators=(",", ":"), default=repr)


def _principal(item: Any) -> Principal:
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise ValueError(f"not a security principal: {item!r}")
    actor_id, meta, policies, groups = item
    actor = None if actor_id is None else Actor(str(actor_id), dict(meta or {}))
    return Principal(actor, [str(p) for p in policies or ()], [str(g) for g in groups or ()])


def from_wire(wire: Any) -> Context | None:
    """The context of a plain-data form (None: the operator). Raises ValueError for a form
    that is not one."""
    if not wire:
        return None
    key = _key(wire)
    ctx = _interned.get(key)
    if ctx is None:
        ctx = Context(tuple(_principal(item) for item in wire))
        _interned[key] = ctx
    return ctx


def _forget_all() -> None:
    for ctx in list(_interned.values()):
        ctx.forget()


BOOK.listeners.append(_forget_all)


def to_wire(ctx: Context | None) -> list[list[Any]] | None:
    """The plain-data form of a context (None for the operator): it crosses OS processes in
    SPAWN frames and requests, and is stored in workflow records and authored entries."""
    return None if ctx is None else ctx.wire


def narrowed(ctx: Context | None, other: Context | None) -> Context | None:
    """``ctx`` and ``other`` both: a context whose principals are both's (the operator adds
    nothing). Used when a process runs code authored under ``other``."""
    if other is None:
        return ctx
    if ctx is None or ctx is other:
        return other
    have = {_key(w) for w in ctx.wire}
    extra = [w for w in other.wire if _key(w) not in have]
    if not extra:
        return ctx
    return from_wire(ctx.wire + extra)
