"""Hosts, code (Lua and Python processes, functions, libraries, workflows), services,
supervisors and plain registry entries."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from ..entry import PROCESS_KINDS
from .fields import (
    INVALID,
    OPTIONAL,
    REQUIRED,
    _HOST_REF,
    Spec,
    _Ctx,
    _duration,
    _enum,
    _int,
    _join,
    _list,
    _mapping,
    _nullable,
    _ref,
    _size,
    _source,
    _str,
    describe,
)
from .lifecycle import (
    _HOST_LIFECYCLE,
    _PLAIN_LIFECYCLE,
    _SERVICE_LIFECYCLE,
)

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
RESTART_TYPES: tuple[str, ...] = get_args(RestartType)

_CHILD_KINDS = frozenset({"process.service", "process.host", "supervisor"})


def _input(value: Any, path: str, ctx: _Ctx) -> Any:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


_CHILD_MAP = _mapping({"id": (_ref(_CHILD_KINDS), REQUIRED),
                       "restart": (_enum(RESTART_TYPES), "permanent")})


def _children(value: Any, path: str, ctx: _Ctx) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        return ctx.error(path, f"must be a list, got {describe(value)}")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        sub = f"{path}[{i}]"
        if isinstance(item, Mapping):
            child = _CHILD_MAP(item, sub, ctx)
        else:
            target = _ref(_CHILD_KINDS)(item, sub, ctx)
            child = INVALID if target is INVALID else {"id": target, "restart": "permanent"}
        if child is INVALID or "id" not in child:
            continue
        if child["id"] in seen:
            ctx.error(sub, f"child {child['id']!r} is listed twice")
            continue
        seen.add(child["id"])
        out.append(child)
    return out


def _imports(value: Any, path: str, ctx: _Ctx) -> Any:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return ctx.error(path, f"must be a mapping of alias -> library id, got {describe(value)}")
    out: dict[str, str] = {}
    for alias, target in value.items():
        sub = _join(path, alias)
        if not isinstance(alias, str) or not alias:
            ctx.error(sub, f"alias must be a string, got {describe(alias)}")
            continue
        got = _ref(frozenset({"library.lua"}))(target, sub, ctx)
        if got is not INVALID:
            out[alias] = got
    return out


# limits.mailbox: unread messages a process's mailbox holds (core/flow.py); on a host entry,
# the default of the processes it runs
_MAILBOX = (_int(1), OPTIONAL)
_LIMITS = (_mapping({"max_memory": (_size, OPTIONAL), "max_cpu": (_duration(True), OPTIONAL),
                     "mailbox": _MAILBOX}), OPTIONAL)
_PY_LIMITS = (_mapping({"mailbox": _MAILBOX}), OPTIONAL)


def _code_spec(method: Any, lua: bool, workflow: bool, mailbox: bool = False) -> Spec:
    spec: Spec = {"source": (_source, REQUIRED), "lifecycle": _PLAIN_LIFECYCLE}
    if method is not None:
        spec["method"] = (_str, method)
    if lua:
        spec.update(modules=(_list(_str), []), imports=(_imports, {}), limits=_LIMITS)
    elif mailbox:               # Python processes: only the mailbox is limited
        spec["limits"] = _PY_LIMITS
    if workflow:
        spec["host"] = (_HOST_REF, REQUIRED)
    return spec


SCHEMAS: dict[str, Spec] = {
    "process.host": {
        "host": (_mapping({
            "workers": (_int(1), 1),
            "max_processes": (_nullable(_int(1)), None),
            "queue_size": (_int(1), OPTIONAL),  # Wippy's scheduler knobs: accepted, unused
            "local_queue_size": (_int(1), OPTIONAL),
        }), {}),
        "limits": _LIMITS,
        "lifecycle": _HOST_LIFECYCLE,
    },
    "terminal.host": {"limits": _LIMITS, "lifecycle": _HOST_LIFECYCLE},
    "process.lua": _code_spec(REQUIRED, lua=True, workflow=False),
    "function.lua": _code_spec(REQUIRED, lua=True, workflow=False),
    "library.lua": _code_spec(None, lua=True, workflow=False),
    "workflow.lua": _code_spec(REQUIRED, lua=True, workflow=True),
    "process.py": _code_spec("main", lua=False, workflow=False, mailbox=True),
    "function.py": _code_spec(REQUIRED, lua=False, workflow=False),
    "workflow.py": _code_spec("main", lua=False, workflow=True, mailbox=True),
    "process.service": {
        "process": (_ref(PROCESS_KINDS), REQUIRED),
        "host": (_HOST_REF, REQUIRED),
        "input": (_input, None),
        "lifecycle": _SERVICE_LIFECYCLE,
        "restart_type": (_enum(RESTART_TYPES), OPTIONAL),  # accepted, not used yet
    },
    "supervisor": {
        "strategy": (_enum(STRATEGIES), "one_for_one"),
        "intensity": (_int(0), 1),
        "period": (_duration(True), "5s"),
        "children": (_children, []),
        "lifecycle": _HOST_LIFECYCLE,
    },
    "registry.entry": {"lifecycle": _PLAIN_LIFECYCLE},
}
