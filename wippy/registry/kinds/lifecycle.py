"""The ``lifecycle`` field every kind has: start and stop, dependencies, restart backoff, and
the security a service runs with. Each kind fills in the defaults it needs."""
from __future__ import annotations

from typing import Any

from ..entry import HOST_KINDS
from .fields import (
    OPTIONAL,
    REQUIRED,
    Checker,
    Spec,
    _Ctx,
    _bool,
    _duration,
    _int,
    _join,
    _list,
    _mapping,
    _number,
    _ref,
    _str,
)

_DEPENDENCY_KINDS = frozenset({"process.service"}) | HOST_KINDS


def _restart_post(out: dict[str, Any], path: str, ctx: _Ctx) -> dict[str, Any]:
    if out.get("max_delay", 0.0) < out.get("initial_delay", 0.0):
        ctx.error(_join(path, "max_delay"), "must not be smaller than initial_delay")
    return out


def _lifecycle_post(out: dict[str, Any], path: str, ctx: _Ctx) -> dict[str, Any]:
    extra = out.pop("requires", None)  # Wippy's newer name for depends_on
    if extra:
        deps = out.setdefault("depends_on", [])
        deps.extend(d for d in extra if d not in deps)
    return out


_RESTART = _mapping({
    "initial_delay": (_duration(False), "1s"),
    "max_delay": (_duration(False), "90s"),
    "backoff_factor": (_number(1.0), 2.0),
    "jitter": (_number(0.0, 1.0), 0.1),
    "max_attempts": (_int(0), 0),
}, post=_restart_post)

_SECURITY = _mapping({
    "actor": (_mapping({"id": (_str, REQUIRED), "meta": (_mapping(None), OPTIONAL)}), OPTIONAL),
    "policies": (_list(_ref(frozenset({"security.policy"}))), OPTIONAL),
    "groups": (_list(_str), OPTIONAL),
})

_LIFECYCLE_FIELDS: dict[str, tuple[Checker, Any]] = {
    "auto_start": (_bool, False),
    "start_timeout": (_duration(True), "10s"),
    "stop_timeout": (_duration(True), "10s"),
    "stable_threshold": (_duration(False), "5s"),
    "depends_on": (_list(_ref(_DEPENDENCY_KINDS), single_ok=True), []),
    "requires": (_list(_ref(_DEPENDENCY_KINDS), single_ok=True), OPTIONAL),
    "restart": (_RESTART, {}),
    "security": (_SECURITY, OPTIONAL),
}


def _lifecycle(fill: tuple[str, ...], auto_start: bool = False,
               extra: Spec | None = None) -> tuple[Checker, Any]:
    """The ``lifecycle`` field, filling in the defaults named in ``fill``; ``extra``: fields
    of this kind only."""
    spec: Spec = {}
    for key, (checker, default) in _LIFECYCLE_FIELDS.items():
        if key == "auto_start":
            default = auto_start
        spec[key] = (checker, default if key in fill else OPTIONAL)
    spec.update(extra or {})
    return _mapping(spec, post=_lifecycle_post), ({} if fill else OPTIONAL)


_HOST_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout", "depends_on"),
                             auto_start=True)
# ``singleton``: in a cluster, one instance in the whole cluster (S12; wippy/cluster/singletons.py);
# outside one it changes nothing. Absent unless given, so stored entries keep their shape.
_SERVICE_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout",
                                 "stable_threshold", "depends_on", "restart"),
                                extra={"singleton": (_bool, OPTIONAL)})
_PLAIN_LIFECYCLE = _lifecycle(())
