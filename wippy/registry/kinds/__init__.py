"""One validator per registry entry kind, as a table of field specs.

Each kind is a spec: ``field -> (checker, default)``. A checker takes the raw value, the field's
dotted path (``"lifecycle.restart.max_delay"``) and a context that collects problems and
references; it returns the clean value. The default is REQUIRED, OPTIONAL (left out), or a raw
value that goes through the same checker, so nested defaults (``lifecycle: {}`` ->
``restart: {...}``) fill themselves and live in one place.

Design decisions:
- Validators are pure and know nothing of YAML or positions: they name a field by its path and
  the loader turns the path into ``file:line:col``. The same code checks entries written at run
  time (``registry.apply``), which have no file.
- The output is normalized and filled in: durations as float seconds, sizes as int bytes,
  references as full ids, supervisor children as ``{"id", "restart"}`` maps, ``input`` as the
  argument list, ``file://`` sources as absolute ``file:///...`` URLs (so an entry read back from
  the registry, without its YAML file, still finds its code). Validating clean data again gives
  the same data; :func:`references` relies on that.
- Type checks are strict, because YAML 1.1 reads ``yes/no/on/off`` as booleans: ``strategy:
  yes`` is an error naming the field and saying what YAML made of it.
- Unknown fields (also inside ``host``, ``lifecycle``, ``restart``...) are warnings and dropped,
  so a typo such as ``lifecycle.autostart`` is seen. ``registry.entry`` data and
  ``security.policy.policy`` are open: extra fields are kept.
- References are checked for existence and kind later, across all files
  (:mod:`wippy.registry.refs`); here they are only resolved and collected.
- Wippy's newer ``lifecycle.requires`` is accepted as an alias of ``depends_on`` (merged into it).
- ``limits.max_memory`` takes bytes or ``"64MB"``; K/M/G/T are powers of 1024 with or without
  ``i``, as for memory limits in container runtimes.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..core.durations import parse_duration
from ..errors import PolicyError
from ..security.policy import policy_from_data
from .entry import (
    CODE_KINDS,
    FUNCTION_KINDS,
    HOST_KINDS,
    KINDS,
    LUA_KINDS,
    PROCESS_KINDS,
    PYTHON_KINDS,
    WORKFLOW_KINDS,
    outside_reason,
    source_path,
)

__all__ = [
    "KINDS", "HOST_KINDS", "CODE_KINDS", "LUA_KINDS", "PYTHON_KINDS", "PROCESS_KINDS",
    "WORKFLOW_KINDS", "Strategy", "RestartType", "STRATEGIES", "RESTART_TYPES",
    "Problem", "Ref", "Checked", "SCHEMAS", "validate", "references", "describe", "suggest",
    "ID_RE", "HTTP_METHODS", "SQL_REF", "UNHONOURED",
    "NAMESPACE_RE", "NAME_RE",
]


Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
RESTART_TYPES: tuple[str, ...] = get_args(RestartType)

_DEPENDENCY_KINDS = frozenset({"process.service"}) | HOST_KINDS
_CHILD_KINDS = frozenset({"process.service", "process.host", "supervisor"})

NAMESPACE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
ID_RE = re.compile(rf"(?:{NAMESPACE_RE.pattern}):(?:{NAME_RE.pattern})")
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])i?)?B?\s*", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about an entry: ``field`` is a dotted path ("" for the entry itself)."""

    field: str
    message: str
    warning: bool = False


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference from a field to another entry, which must exist and have one of ``kinds``."""

    field: str
    target: str
    kinds: frozenset[str]


@dataclass(frozen=True, slots=True)
class Checked:
    """What :func:`validate` found: the clean data, the problems and the references."""

    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that reject the entry."""
        return [p for p in self.problems if not p.warning]


class _Invalid:
    __slots__ = ()


INVALID: Any = _Invalid()  # a checker's "no value": the field is left out
REQUIRED: Any = object()
OPTIONAL: Any = object()


class _Ctx:
    __slots__ = ("namespace", "base_dir", "check_files", "root", "relative_only", "problems",
                 "refs")

    def __init__(self, namespace: str, base_dir: str, check_files: bool, root: str | None,
                 relative_only: bool) -> None:
        self.namespace = namespace
        self.base_dir = base_dir      # made absolute only where a source needs it (hot path)
        self.check_files = check_files
        self.root = root
        self.relative_only = relative_only
        self.problems: list[Problem] = []
        self.refs: list[Ref] = []

    def error(self, path: str, message: str) -> Any:
        self.problems.append(Problem(path, message))
        return INVALID

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, warning=True))


Checker = Callable[[Any, str, _Ctx], Any]
Spec = dict[str, tuple[Checker, Any]]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def describe(value: object) -> str:
    """How YAML read ``value``, for messages (names YAML 1.1's yes/no/on/off booleans)."""
    if isinstance(value, bool):
        return (f"boolean {str(value).lower()} (YAML 1.1 reads yes/no/on/off as booleans; "
                f"quote the value)")
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def suggest(word: str, choices: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


# -- checkers ------------------------------------------------------------------------------

def _int(minimum: int) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            return ctx.error(path, f"must be an integer >= {minimum}, got {describe(value)}")
        return value
    return check


def _number(minimum: float, maximum: float | None = None) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not minimum <= value <= (maximum if maximum is not None else float("inf")):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            return ctx.error(path, f"must be a number {bound}, got {describe(value)}")
        return float(value)
    return check


def _bool(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, bool):
        return ctx.error(path, f"must be true or false, got {describe(value)}")
    return value


def _str(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.strip():
        return ctx.error(path, f"must be a non-empty string, got {describe(value)}")
    return value


def _enum(choices: tuple[str, ...]) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, str) or value not in choices:
            return ctx.error(path, f"must be one of {', '.join(choices)}, got {describe(value)}")
        return value
    return check


def _duration(positive: bool) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            return ctx.error(path, str(exc))
        if seconds < 0 or (positive and seconds == 0):
            return ctx.error(path, f"must be {'> 0' if positive else '>= 0'}, got {value!r}")
        return seconds
    return check


def _size(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _SIZE_RE.fullmatch(value) if isinstance(value, str) else None
    size = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").upper() or None]) if m else 0
    if size <= 0:
        return ctx.error(path, f"must be a size in bytes or like '64MB', got {describe(value)}")
    return size


def _nullable(checker: Checker) -> Checker:
    return lambda value, path, ctx: None if value is None else checker(value, path, ctx)


def _list(item: Checker, single_ok: bool = False) -> Checker:
    """A list checked item by item (``None`` is empty; a lone string if ``single_ok``)."""
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if value is None:
            return []
        if single_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return ctx.error(path, f"must be a list, got {describe(value)}")
        out = [item(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]
        return [v for v in out if v is not INVALID]
    return check


def _ref(kinds: frozenset[str]) -> Checker:
    """A reference: ``name`` resolves in the entry's namespace, ``ns:name`` is kept."""
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, str) or not value.strip():
            return ctx.error(path, f"must be an entry id, got {describe(value)}")
        target = value if ":" in value else f"{ctx.namespace}:{value}"
        if not ID_RE.fullmatch(target):
            return ctx.error(path, f"invalid entry id {value!r} (expected 'namespace:name')")
        ctx.refs.append(Ref(path, target, kinds))
        return target
    return check


def _mapping(spec: Spec | None, open_: bool = False,
             post: Callable[[dict[str, Any], str, _Ctx], dict[str, Any]] | None = None) -> Checker:
    """A mapping checked against ``spec`` (``None``: any mapping, kept as is)."""
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            return ctx.error(path, f"must be a mapping, got {describe(value)}")
        if spec is None:
            return dict(value)
        out = _check_fields(value, spec, path, ctx, open_)
        return post(out, path, ctx) if post else out
    return check


def _check_fields(value: Mapping[Any, Any], spec: Spec, path: str, ctx: _Ctx,
                  open_: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key in spec:
            continue
        if open_:
            out[key] = raw
        elif isinstance(key, bool):
            ctx.warn(_join(path, key), f"unknown field, ignored (YAML 1.1 read this key as "
                                       f"boolean {str(key).lower()}; quote it)")
        else:
            ctx.warn(_join(path, key), "unknown field, ignored")
    for key, (checker, default) in spec.items():
        sub = _join(path, key)
        if key in value:
            got = checker(value[key], sub, ctx)
        elif default is REQUIRED:
            got = ctx.error(sub, "required field missing")
        elif default is OPTIONAL:
            continue
        else:
            got = checker(copy.deepcopy(default), sub, ctx)
        if got is not INVALID:
            out[key] = got
    return out


def _source(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.strip():
        return ctx.error(path, f"must be 'file://<path>' or inline code, got {describe(value)}")
    if not value.startswith("file://"):
        return value
    rel = value[len("file://"):]
    if not rel:
        return ctx.error(path, "empty file path in 'file://'")
    if ctx.relative_only and os.path.isabs(rel):
        return ctx.error(path, f"{value}: an absolute path; write the path relative to this file "
                               "(code must live inside the application)")
    full = source_path(value, os.path.abspath(ctx.base_dir or ".")) or ""
    if ctx.root is not None:
        outside = outside_reason(full, ctx.root)
        if outside is not None:
            return ctx.error(path, outside)
    if ctx.check_files and not os.path.isfile(full):
        return ctx.error(path, f"file not found: {full} (from {value})")
    return "file://" + full


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


# -- specs ---------------------------------------------------------------------------------

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


def _lifecycle(fill: tuple[str, ...], auto_start: bool = False) -> tuple[Checker, Any]:
    """The ``lifecycle`` field, filling in the defaults named in ``fill``."""
    spec: Spec = {}
    for key, (checker, default) in _LIFECYCLE_FIELDS.items():
        if key == "auto_start":
            default = auto_start
        spec[key] = (checker, default if key in fill else OPTIONAL)
    return _mapping(spec, post=_lifecycle_post), ({} if fill else OPTIONAL)


_HOST_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout", "depends_on"),
                             auto_start=True)
_SERVICE_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout",
                                 "stable_threshold", "depends_on", "restart"))
_PLAIN_LIFECYCLE = _lifecycle(())
# limits.mailbox: unread messages a process's mailbox holds (core/flow.py); on a host entry,
# the default of the processes it runs
_MAILBOX = (_int(1), OPTIONAL)
_LIMITS = (_mapping({"max_memory": (_size, OPTIONAL), "max_cpu": (_duration(True), OPTIONAL),
                     "mailbox": _MAILBOX}), OPTIONAL)
_PY_LIMITS = (_mapping({"mailbox": _MAILBOX}), OPTIONAL)
_HOST_REF = _ref(frozenset({"process.host"}))


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
_OPEN_KINDS = frozenset({"registry.entry"})

# -- HTTP (S13) ----------------------------------------------------------------------------
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")
_ADDR_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})")
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}")


def _addr(value: Any, path: str, ctx: _Ctx) -> Any:
    """Wippy's listen address: ``:8080``, ``0.0.0.0:443``, ``127.0.0.1:9090``, ``[::1]:80``."""
    m = _ADDR_RE.fullmatch(value) if isinstance(value, str) else None
    if isinstance(value, str) and _PLACEHOLDER_RE.search(value):
        return value            # ${env:...}: resolved by the node when it starts the server
    if m is None or int(m.group(1)) > 65535:
        return ctx.error(path, f"must be a listen address like ':8080' or '127.0.0.1:8080', "
                               f"got {describe(value)}")
    return value


def _http_method(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or value.upper() not in HTTP_METHODS:
        return ctx.error(path, f"must be one of {', '.join(HTTP_METHODS)}, got {describe(value)}")
    return value.upper()


def _url_path(value: Any, path: str, ctx: _Ctx) -> Any:
    """A route pattern: starts with '/', ``{name}`` segments, a last ``{name...}`` wildcard."""
    if not isinstance(value, str) or not value.startswith("/"):
        return ctx.error(path, f"must be a path starting with '/', got {describe(value)}")
    segments = [s for s in value.split("/") if s]
    for i, seg in enumerate(segments):
        if "{" not in seg and "}" not in seg:
            continue
        m = _PARAM_RE.fullmatch(seg)
        if m is None:
            return ctx.error(path, f"segment {seg!r}: a parameter is a whole segment, "
                                   "'{name}' or '{name...}'")
        if m.group(2) and i != len(segments) - 1:
            return ctx.error(path, f"wildcard {seg!r} must be the last segment")
    return value


def _prefix(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.startswith("/") or "{" in value:
        return ctx.error(path, f"must be a path starting with '/' (no parameters), "
                               f"got {describe(value)}")
    return value


def _options(value: Any, path: str, ctx: _Ctx) -> Any:
    """Middleware options: dotted keys to scalar values, kept as strings (Wippy's form)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return ctx.error(path, f"must be a mapping, got {describe(value)}")
    out: dict[str, str] = {}
    for key, raw in value.items():
        if isinstance(raw, (Mapping, list)) or raw is None:
            ctx.error(_join(path, key), f"must be a string, number or boolean, got {describe(raw)}")
            continue
        out[str(key)] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    return out


_HTTP_SERVICE_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout",
                                      "depends_on", "restart"))
SCHEMAS["http.service"] = {
    "addr": (_addr, REQUIRED),
    "timeouts": (_mapping({"read": (_duration(False), OPTIONAL),
                           "write": (_duration(False), OPTIONAL),
                           "idle": (_duration(False), OPTIONAL)}), {}),
    "host": (_mapping({"buffer_size": (_int(1), OPTIONAL),      # Wippy's relay knobs: accepted,
                       "worker_count": (_int(1), OPTIONAL)}), OPTIONAL),   # not used
    # wippy's own: where handlers run, and the bounds that keep a flood from growing memory
    "handlers": (_mapping({"host": (_HOST_REF, OPTIONAL),
                           "max_in_flight": (_int(1), OPTIONAL),
                           "max_body": (_size, OPTIONAL)}), {}),
    "lifecycle": _HTTP_SERVICE_LIFECYCLE,
}
SCHEMAS["http.router"] = {
    "prefix": (_prefix, "/"),
    "middleware": (_list(_str), []),
    "options": (_options, {}),
    "post_middleware": (_list(_str), []),
    "post_options": (_options, {}),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["http.endpoint"] = {
    "method": (_http_method, REQUIRED),
    "path": (_url_path, REQUIRED),
    "func": (_ref(FUNCTION_KINDS), REQUIRED),
    "timeout": (_duration(True), OPTIONAL),          # wippy's own: the service's timeouts.write
    "lifecycle": _PLAIN_LIFECYCLE,
}

# -- resources (S13): SQL, key-value stores, queues, environment --------------------------
# Any string of a resource entry may hold ``${env:NAME}`` placeholders, resolved when the
# resource is opened (the registry keeps them raw, so secrets never reach registry.get). A
# number field accepts a whole-value placeholder in place of the number.
_PLACEHOLDER_RE = re.compile(r"\$\{(?:env:)?[A-Za-z0-9_.:-]+(?:\|[^}]*)?\}")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_DSN_KEYS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "connect_timeout",
    "client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslmode",
    "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "sslcompression", "requiressl",
    "gssencmode", "krbsrvname", "target_session_attrs", "service", "channel_binding",
    "load_balance_hosts", "sslnegotiation", "sslsni", "replication", "require_auth"})
SQL_REF = frozenset({"db.sql.sqlite", "db.sql.postgres"})


def _with_env(checker: Checker) -> Checker:
    """``checker``, or a whole-value ``${env:NAME}`` placeholder kept as written."""
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, str) and _PLACEHOLDER_RE.fullmatch(value.strip()):
            return value.strip()
        return checker(value, path, ctx)
    return check


def _scalar_str(value: Any, path: str, ctx: _Ctx) -> Any:
    """A string; a number is taken as its text (YAML reads ``port: 5432`` as a number)."""
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        return ctx.error(path, f"must be a string, got {describe(value)}")
    return value if isinstance(value, str) else str(value)


def _identifier(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not _IDENT_RE.fullmatch(value):
        return ctx.error(path, f"must be an SQL identifier (letters, digits, '_'), "
                               f"got {describe(value)}")
    return value


def _dsn(value: Any, path: str, ctx: _Ctx) -> Any:
    """A libpq connection string: a ``postgresql://`` URI or ``key=value`` pairs."""
    if not isinstance(value, str) or not value.strip():
        return ctx.error(path, f"must be a connection string, got {describe(value)}")
    text_ = value.strip()
    if _PLACEHOLDER_RE.fullmatch(text_):
        return text_
    if "://" in text_:
        from urllib.parse import urlsplit
        try:
            parts = urlsplit(text_)
            port = parts.port
        except ValueError as exc:
            return ctx.error(path, f"invalid connection URI: {exc}")
        if parts.scheme not in ("postgres", "postgresql"):
            return ctx.error(path, f"invalid connection URI: scheme {parts.scheme!r} is not "
                                   "postgresql://")
        if port is not None and not 0 < port < 65536:
            return ctx.error(path, f"invalid connection URI: port {port}")
        return text_
    for token in re.findall(r"(?:[^\s'=]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']*))|\S+", text_):
        key, eq, _ = token.partition("=")
        key = key.strip()
        if not eq:
            return ctx.error(path, f"invalid connection string: {token!r} is not key=value")
        if key not in _DSN_KEYS:
            return ctx.error(path, f"invalid connection string: unknown keyword {key!r}"
                             f"{suggest(key, _DSN_KEYS)}")
    return text_


def _str_map(value: Any, path: str, ctx: _Ctx) -> Any:
    """A map of names to scalar values, kept as strings (options, static values)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return ctx.error(path, f"must be a mapping, got {describe(value)}")
    out: dict[str, str] = {}
    for key, raw in value.items():
        if isinstance(raw, (Mapping, list)) or raw is None:
            ctx.error(_join(path, key), f"must be a string or a number, got {describe(raw)}")
            continue
        out[str(key)] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    return out


def _var_name(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not _VAR_NAME_RE.fullmatch(value):
        return ctx.error(path, f"must be a variable name (a-z, A-Z, 0-9, _), got {describe(value)}")
    return value


def _nonempty(checker: Checker) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        out = checker(value, path, ctx)
        if out is not INVALID and not out:
            return ctx.error(path, "must not be empty")
        return out
    return check


_POOL = _mapping({"max_open": (_with_env(_int(0)), 0), "max_idle": (_with_env(_int(0)), 0),
                  "max_lifetime": (_duration(False), "1h")})
SCHEMAS["db.sql.postgres"] = {
    "host": (_scalar_str, OPTIONAL), "port": (_with_env(_int(1)), OPTIONAL),
    "database": (_scalar_str, OPTIONAL), "username": (_scalar_str, OPTIONAL),
    "password": (_scalar_str, OPTIONAL),
    "dsn": (_dsn, OPTIONAL),                    # wippy's own: a whole libpq connection string
    "pool": (_POOL, {}), "options": (_str_map, {}),
    "timeout": (_duration(True), OPTIONAL),     # wippy's own: wait for a pooled connection
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["db.sql.sqlite"] = {
    "file": (_str, REQUIRED), "pool": (_POOL, {}), "options": (_str_map, {}),
    "timeout": (_duration(True), OPTIONAL), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["store.memory"] = {
    "max_size": (_int(0), 10000), "cleanup_interval": (_duration(False), "5m"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["store.sql"] = {
    "database": (_ref(SQL_REF), REQUIRED), "table_name": (_identifier, REQUIRED),
    "id_column_name": (_identifier, "key"), "payload_column_name": (_identifier, "value"),
    "expire_column_name": (_identifier, "expires_at"),
    "cleanup_interval": (_duration(False), "0s"), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.driver.memory"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["queue.driver.sql"] = {                 # wippy's own: a durable queue in a table
    "database": (_ref(SQL_REF), REQUIRED), "table_name": (_identifier, "wippy_queue"),
    "visibility_timeout": (_duration(True), "30s"), "poll_interval": (_duration(True), "1s"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.queue"] = {
    "driver": (_ref(frozenset({"queue.driver.memory", "queue.driver.sql"})), REQUIRED),
    "codec": (_enum(("json/plain", "application/msgpack")), "json/plain"),
    "queue_name": (_str, OPTIONAL), "driver_options": (_mapping(None), {}),
    "dead_letter": (_mapping({"queue": (_ref(frozenset({"queue.queue"})), OPTIONAL),
                              "max_attempts": (_int(1), OPTIONAL)}), OPTIONAL),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.consumer"] = {
    "queue": (_ref(frozenset({"queue.queue"})), REQUIRED),
    "func": (_ref(FUNCTION_KINDS), REQUIRED),
    "concurrency": (_int(1), 1), "prefetch": (_int(1), 10), "auto_ack": (_bool, False),
    "driver_options": (_mapping(None), {}),
    "host": (_HOST_REF, OPTIONAL),              # wippy's own: where the handlers run
    "lifecycle": _lifecycle(("auto_start",), auto_start=True),
}
_ENV_STORAGE_REF = _ref(frozenset({"env.storage.os", "env.storage.memory", "env.storage.file",
                                   "env.storage.static", "env.storage.router"}))
SCHEMAS["env.storage.os"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.memory"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.static"] = {"values": (_str_map, {}), "lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.file"] = {
    "file_path": (_str, REQUIRED), "auto_create": (_bool, False),
    "file_mode": (_int(0), 0o644), "dir_mode": (_int(0), 0o755), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["env.storage.router"] = {"storages": (_nonempty(_list(_ENV_STORAGE_REF)), REQUIRED),
                                 "lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.variable"] = {
    "variable": (_var_name, OPTIONAL), "storage": (_ENV_STORAGE_REF, REQUIRED),
    "default": (_scalar_str, OPTIONAL), "readonly": (_bool, False),
    "lifecycle": _PLAIN_LIFECYCLE,
}
# -- filesystems, command executors, templates (docs/lua.md) ----------------------------------
def _octal_mode(value: Any, path: str, ctx: _Ctx) -> Any:
    """A Unix permission mode: ``"0755"`` (Wippy's form, a string of octal digits)."""
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value.strip()):
        return value.strip().rjust(4, "0")
    return ctx.error(path, f"must be an octal mode such as \"0755\", got {describe(value)}")


SCHEMAS["fs.directory"] = {
    "directory": (_nonempty(_str), REQUIRED), "auto_init": (_bool, False),
    "mode": (_octal_mode, "0755"), "base": (_enum(("project", "module")), "project"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["exec.native"] = {
    "default_work_dir": (_str, OPTIONAL), "default_env": (_str_map, {}),
    "command_whitelist": (_list(_str), OPTIONAL), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["template.set"] = {
    "engine": (_mapping({
        "development_mode": (_bool, False),
        "delimiters": (_mapping({"left": (_nonempty(_str), OPTIONAL),
                                 "right": (_nonempty(_str), OPTIONAL),
                                 "comment_left": (_nonempty(_str), OPTIONAL),
                                 "comment_right": (_nonempty(_str), OPTIONAL)}), {}),
        "extensions": (_list(_str), OPTIONAL),
        "globals": (_mapping(None), {}),
    }), {}),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["template.jet"] = {
    "set": (_ref(frozenset({"template.set"})), REQUIRED), "source": (_source, REQUIRED),
    "data_func": (_ref(FUNCTION_KINDS), OPTIONAL),     # Wippy's view pages: kept, not used here
    "lifecycle": _PLAIN_LIFECYCLE,
}
#: Fields Wippy's runtime ignores that a reader may expect to work: the warning says so.
UNHONOURED = {("env.variable", "read_only"): "Wippy's runtime reads 'readonly'; "
                                             "'read_only' is ignored, as it is there"}
assert set(SCHEMAS) == KINDS


def validate(kind: str, fields: Mapping[Any, Any], namespace: str, base_dir: str = ".",
             *, check_files: bool = True, root: str | None = None,
             relative_only: bool = False) -> Checked:
    """Check one entry's data fields (everything but ``name``, ``kind``, ``meta``).

    ``namespace`` resolves relative references; ``base_dir`` resolves ``file://`` sources,
    which must exist when ``check_files`` and lie inside ``root`` (the application directory)
    when it is given; ``relative_only`` refuses absolute source paths (files written by hand).
    Never raises for bad input: the problems are in the result (an unknown kind is a problem
    on field ``kind``).
    """
    ctx = _Ctx(namespace, base_dir, check_files, root, relative_only)
    spec = SCHEMAS.get(kind)
    if spec is None:
        ctx.error("kind", f"unknown kind {kind!r}")
        return Checked({}, ctx.problems, [])
    data = _check_fields(fields, spec, "", ctx, kind in _OPEN_KINDS)
    for i, p in enumerate(ctx.problems):
        hint = UNHONOURED.get((kind, p.field)) if p.warning else None
        if hint:
            ctx.problems[i] = Problem(p.field, f"unknown field, ignored ({hint})", warning=True)
    return Checked(data, ctx.problems, ctx.refs)


def references(kind: str, data: Mapping[str, Any], namespace: str) -> list[Ref]:
    """The references held by an entry's (clean) data, with the kinds each must point to."""
    return validate(kind, data, namespace, check_files=False).refs
