"""``security.policy``: a policy's conditions checked as the evaluator will read them."""
from __future__ import annotations

import re
from typing import Any

from ...errors import PolicyError
from ...security.policy import policy_from_data
from .fields import (
    OPTIONAL,
    REQUIRED,
    Spec,
    _Ctx,
    _enum,
    _list,
    _mapping,
    _str,
)
from .lifecycle import _PLAIN_LIFECYCLE

_POLICY_FIELD = re.compile(r"field '([^']*)': (.*)", re.S)


def _policy_post(out: dict[str, Any], path: str, ctx: _Ctx) -> dict[str, Any]:
    """A policy's conditions, checked as the evaluator will read them (operators, regular
    expressions, field paths), each problem located to its field."""
    if ctx.problems and any(not p.warning and p.field.startswith(path) for p in ctx.problems):
        return out                    # actions / resources / effect already refused
    try:
        policy_from_data("check:policy", {"policy": out})
    except PolicyError as exc:
        text = exc.issues[0].message if exc.issues else str(exc)
        m = _POLICY_FIELD.match(text)
        field_path, message = (m.group(1), m.group(2)) if m else (path, text)
        ctx.error(field_path, message)
    return out


SCHEMAS: dict[str, Spec] = {
    "security.policy": {
        "policy": (_mapping({
            "actions": (_list(_str, single_ok=True), REQUIRED),
            "resources": (_list(_str, single_ok=True), REQUIRED),
            "effect": (_enum(("allow", "deny")), REQUIRED),
        }, open_=True, post=_policy_post), REQUIRED),
        "groups": (_list(_str, single_ok=True), OPTIONAL),
        "lifecycle": _PLAIN_LIFECYCLE,
    },
}
