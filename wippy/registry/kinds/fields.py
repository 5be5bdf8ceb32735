"""What every entry kind's validator is made of: the findings, the context, the checkers.

A checker takes the raw value, the field's dotted path and the context (which collects problems
and references) and returns the clean value, or :data:`INVALID` after reporting a problem. The
names here are the vocabulary of the modules beside it, one per family of kinds.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core.durations import parse_duration
from ..entry import outside_reason, source_path

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


_HOST_REF = _ref(frozenset({"process.host"}))

# Any string of a resource entry may hold ``${env:NAME}`` placeholders, resolved when the
# resource is opened (the registry keeps them raw, so secrets never reach registry.get). A
# number field accepts a whole-value placeholder in place of the number.
_PLACEHOLDER_RE = re.compile(r"\$\{(?:env:)?[A-Za-z0-9_.:-]+(?:\|[^}]*)?\}")


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


def _scalar_map(what: str) -> Checker:
    """A map of names to scalar values, kept as strings (booleans as ``true``/``false``);
    ``what`` says in messages which scalars are meant."""
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return ctx.error(path, f"must be a mapping, got {describe(value)}")
        out: dict[str, str] = {}
        for key, raw in value.items():
            if isinstance(raw, (Mapping, list)) or raw is None:
                ctx.error(_join(path, key), f"must be {what}, got {describe(raw)}")
                continue
            out[str(key)] = str(raw).lower() if isinstance(raw, bool) else str(raw)
        return out
    return check


_str_map = _scalar_map("a string or a number")      # options, static values


def _nonempty(checker: Checker) -> Checker:
    def check(value: Any, path: str, ctx: _Ctx) -> Any:
        out = checker(value, path, ctx)
        if out is not INVALID and not out:
            return ctx.error(path, "must not be empty")
        return out
    return check
