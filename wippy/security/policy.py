"""Policies, actors and scopes as pure decisions (S9, Wippy's attribute-based model).

A ``security.policy`` entry says which ``actions`` on which ``resources`` it ``allow``s or
``deny``s, optionally under ``conditions`` on the actor, the action, the resource and the
resource's metadata. A scope is a set of policies: any deny wins, else at least one allow is
needed, else the answer is undefined (and the caller treats undefined as a denial when an
actor is set). Nothing here touches the registry, a process or a clock; the runtime builds a
:class:`Scope` from the registry and asks it.

Patterns: an action or resource pattern is a string where ``*`` stands for any run of
characters (``*`` alone matches everything, ``registry.*`` every registry action,
``app.agent:*`` every entry of one namespace). Patterns compile once per policy.

Decisions are cached per scope for checks without metadata (the hot paths: send, spawn,
``registry.get``, ``funcs.call``), since those depend only on the actor, action and resource;
a scope is rebuilt when its policies change, which drops its cache. The cache key is the
actor's :attr:`Actor.key` (its id *and* its metadata): two actors with one id and different
metadata (``role: admin`` and ``role: user``) must not share decisions.
"""
from __future__ import annotations

import enum
import json
import operator
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from ..errors import PolicyError

__all__ = ["Decision", "Effect", "Op", "Actor", "Condition", "Policy", "Scope", "Verdict",
           "policy_from_data", "PolicyError", "pattern_matcher"]

CACHE_SIZE = 4096        # decisions kept per scope (checks without metadata)


class Decision(str, enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    UNDEFINED = "undefined"


class Effect(str, enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


class Op(str, enum.Enum):
    """Wippy's condition operators."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    GT = "gt"
    LTE = "lte"
    GTE = "gte"
    IN = "in"
    NIN = "nin"
    EXISTS = "exists"
    NEXISTS = "nexists"
    CONTAINS = "contains"
    NCONTAINS = "ncontains"
    MATCHES = "matches"
    NMATCHES = "nmatches"


@lru_cache(maxsize=1024)
def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for one action or resource pattern (``*`` = any run of characters)."""
    if pattern == "*":
        return lambda _s: True
    if "*" not in pattern:
        return pattern.__eq__
    regex = re.compile("".join(".*" if part == "*" else re.escape(part)
                               for part in re.split(r"(\*)", pattern) if part) + r"\Z", re.S)
    return lambda s: regex.match(s) is not None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an id and metadata (Wippy's ``security.new_actor(id, meta)``).

    ``key`` is a hashable identity of both (computed once): what decisions are cached by."""

    id: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    key: tuple[str, str] = field(default=("", ""), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        meta = json.dumps(self.meta, sort_keys=True, default=repr) if self.meta else ""
        object.__setattr__(self, "key", (self.id, meta))


_MISSING = object()


def _lookup(path: str, actor: Actor, action: str, resource: str,
            meta: Mapping[str, Any] | None) -> Any:
    """The value a condition's field path names, or ``_MISSING``."""
    head, _, rest = path.partition(".")
    if head == "action" and not rest:
        return action
    if head == "resource" and not rest:
        return resource
    if head == "actor":
        if rest == "id":
            return actor.id
        sub, _, rest = rest.partition(".")
        if sub != "meta" or not rest:
            return _MISSING
        value: Any = actor.meta
    elif head == "meta" and rest:
        value = meta or {}
    else:
        return _MISSING
    for key in rest.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _ordered(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            return bool(fn(a, b))
        except TypeError:          # "5" lt 3: not comparable, so the condition does not hold
            return False
    return compare


def _matches(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and re.search(b, a) is not None


def _contains(a: Any, b: Any) -> bool:
    try:
        return b in a
    except TypeError:
        return False


_TESTS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne,
    Op.LT: _ordered(operator.lt), Op.GT: _ordered(operator.gt),
    Op.LTE: _ordered(operator.le), Op.GTE: _ordered(operator.ge),
    Op.IN: lambda a, b: isinstance(b, (list, tuple)) and a in b,
    Op.NIN: lambda a, b: isinstance(b, (list, tuple)) and a not in b,
    Op.CONTAINS: _contains, Op.NCONTAINS: lambda a, b: not _contains(a, b),
    Op.MATCHES: _matches, Op.NMATCHES: lambda a, b: not _matches(a, b),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """``field operator value`` (or ``value_from``: another field path)."""

    field: str
    op: Op
    value: Any = None
    value_from: str | None = None

    def holds(self, actor: Actor, action: str, resource: str, meta: Mapping[str, Any] | None) -> bool:
        have = _lookup(self.field, actor, action, resource, meta)
        if self.op is Op.EXISTS:
            return (have is not _MISSING) == bool(self.value if self.value is not None else True)
        if self.op is Op.NEXISTS:
            return (have is _MISSING) == bool(self.value if self.value is not None else True)
        if have is _MISSING:
            return self.op in (Op.NE, Op.NIN, Op.NCONTAINS, Op.NMATCHES)
        want = self.value
        if self.value_from is not None:
            want = _lookup(self.value_from, actor, action, resource, meta)
            if want is _MISSING:
                return False
        return _TESTS[self.op](have, want)

    @property
    def reads_meta(self) -> bool:
        return self.field.startswith("meta.") or (self.value_from or "").startswith("meta.")


@dataclass(frozen=True, slots=True)
class Policy:
    """One ``security.policy`` entry, compiled."""

    id: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: Effect
    conditions: tuple[Condition, ...] = ()
    groups: tuple[str, ...] = ()
    _action_tests: tuple[Callable[[str], bool], ...] = field(default=(), compare=False, repr=False)
    _resource_tests: tuple[Callable[[str], bool], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_action_tests", tuple(pattern_matcher(p) for p in self.actions))
        object.__setattr__(self, "_resource_tests", tuple(pattern_matcher(p) for p in self.resources))

    def evaluate(self, actor: Actor, action: str, resource: str,
                 meta: Mapping[str, Any] | None = None) -> Decision:
        """Wippy's ``policy:evaluate``: this policy's effect when it applies, else undefined."""
        if not any(t(action) for t in self._action_tests):
            return Decision.UNDEFINED
        if not any(t(resource) for t in self._resource_tests):
            return Decision.UNDEFINED
        for cond in self.conditions:
            if not cond.holds(actor, action, resource, meta):
                return Decision.UNDEFINED
        return Decision.ALLOW if self.effect is Effect.ALLOW else Decision.DENY

    @property
    def reads_meta(self) -> bool:
        return any(c.reads_meta for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A scope's answer: the decision and the policy that made it (None when undefined)."""

    decision: Decision
    policy: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


class Scope:
    """A set of policies (Wippy's scope). Immutable: ``with_``/``without`` return new scopes."""

    __slots__ = ("policies", "_by_id", "_cache", "_cacheable")

    def __init__(self, policies: Iterable[Policy] = ()) -> None:
        by_id: dict[str, Policy] = {}
        for p in policies:
            by_id[p.id] = p
        self._by_id = by_id
        self.policies: tuple[Policy, ...] = tuple(by_id.values())
        self._cache: OrderedDict[tuple[tuple[str, str], str, str], Verdict] = OrderedDict()
        self._cacheable = not any(p.reads_meta for p in self.policies)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def contains(self, policy_id: str) -> bool:
        return policy_id in self._by_id

    def with_(self, policy: Policy) -> Scope:
        return Scope((*self.policies, policy))

    def without(self, policy_id: str) -> Scope:
        return Scope(p for p in self.policies if p.id != policy_id)

    def evaluate(self, actor: Actor, action: str, resource: str,
                 meta: Mapping[str, Any] | None = None) -> Verdict:
        """Any deny wins; else an allow allows; else undefined."""
        key = None
        if not meta or self._cacheable:
            key = (actor.key, action, resource)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        allow: str | None = None
        verdict: Verdict | None = None
        for p in self.policies:
            d = p.evaluate(actor, action, resource, meta)
            if d is Decision.DENY:
                verdict = Verdict(Decision.DENY, p.id)
                break
            if d is Decision.ALLOW and allow is None:
                allow = p.id
        if verdict is None:
            verdict = Verdict(Decision.ALLOW, allow) if allow else Verdict(Decision.UNDEFINED)
        if key is not None and (not meta or self._cacheable):
            cache = self._cache
            cache[key] = verdict
            if len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        return verdict

    def __repr__(self) -> str:
        return f"Scope({list(self._by_id)})"


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items or not all(
            isinstance(i, str) and i for i in items):
        raise PolicyError(f"field '{where}': must be a string or a list of strings")
    return tuple(items)


def policy_from_data(policy_id: str, data: Mapping[str, Any]) -> Policy:
    """Compile a ``security.policy`` entry's data (``policy: {actions, resources, effect,
    conditions}``, ``groups``). Raises :class:`PolicyError` naming the field."""
    body = data.get("policy")
    if not isinstance(body, Mapping):
        raise PolicyError("field 'policy': must be a mapping with actions, resources and effect")
    try:
        effect = Effect(body.get("effect"))
    except ValueError:
        raise PolicyError("field 'policy.effect': must be allow or deny") from None
    conditions = []
    raw = body.get("conditions") or []
    if not isinstance(raw, list):
        raise PolicyError("field 'policy.conditions': must be a list")
    for i, c in enumerate(raw):
        where = f"policy.conditions[{i}]"
        if not isinstance(c, Mapping) or not isinstance(c.get("field"), str):
            raise PolicyError(f"field '{where}': must be a mapping with field, operator and value")
        try:
            op = Op(c.get("operator"))
        except ValueError:
            raise PolicyError(f"field '{where}.operator': unknown operator {c.get('operator')!r} "
                              f"({', '.join(o.value for o in Op)})") from None
        value_from = c.get("value_from")
        if value_from is not None and not isinstance(value_from, str):
            raise PolicyError(f"field '{where}.value_from': must be a field path")
        if op in (Op.MATCHES, Op.NMATCHES) and value_from is None:
            try:
                re.compile(str(c.get("value")))
            except re.error as exc:
                raise PolicyError(f"field '{where}.value': invalid regular expression: {exc}") from None
        conditions.append(Condition(c["field"], op, c.get("value"), value_from))
    groups = data.get("groups") or ()
    return Policy(policy_id, _strings(body.get("actions"), "policy.actions"),
                  _strings(body.get("resources"), "policy.resources"), effect, tuple(conditions),
                  _strings(groups, "groups") if groups else ())
