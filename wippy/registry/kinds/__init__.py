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

Where things are: the findings, the context and the checkers every kind is made of
(:mod:`.fields`); the ``lifecycle`` field (:mod:`.lifecycle`); one module per family of kinds,
each with its ``SCHEMAS``: hosts, code, services and supervisors (:mod:`.processes`),
``security.policy`` (:mod:`.security`), HTTP (:mod:`.http`), resources (:mod:`.resources`),
filesystems, executors and templates (:mod:`.files`). This module joins them and validates.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..entry import (
    CODE_KINDS,
    HOST_KINDS,
    KINDS,
    LUA_KINDS,
    PROCESS_KINDS,
    PYTHON_KINDS,
    WORKFLOW_KINDS,
)
from . import files, http, processes, resources, security
from .fields import (
    ID_RE,
    NAME_RE,
    NAMESPACE_RE,
    Checked,
    Problem,
    Ref,
    Spec,
    _check_fields,
    _Ctx,
    describe,
    suggest,
)
from .http import HTTP_METHODS
from .processes import RESTART_TYPES, STRATEGIES, RestartType, Strategy
from .resources import SQL_REF

__all__ = [
    "KINDS", "HOST_KINDS", "CODE_KINDS", "LUA_KINDS", "PYTHON_KINDS", "PROCESS_KINDS",
    "WORKFLOW_KINDS", "Strategy", "RestartType", "STRATEGIES", "RESTART_TYPES",
    "Problem", "Ref", "Checked", "SCHEMAS", "validate", "references", "describe", "suggest",
    "ID_RE", "HTTP_METHODS", "SQL_REF", "UNHONOURED",
    "NAMESPACE_RE", "NAME_RE",
]

SCHEMAS: dict[str, Spec] = {**processes.SCHEMAS, **security.SCHEMAS, **http.SCHEMAS,
                            **resources.SCHEMAS, **files.SCHEMAS}
_OPEN_KINDS = frozenset({"registry.entry"})
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
