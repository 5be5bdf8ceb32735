"""The registry's entry model: the kinds and their families, and where an entry's code lives.

Kinds: the closed set of entry kinds (:class:`Kind`) and the families the rest of wippy asks
about (``LUA``, ``PYTHON``, ``WORKFLOW``...), defined once here.

Sources: the one owner of ``file://`` resolution. A relative path resolves against the directory of
the YAML file that declared the entry (``base_dir``); the validator stores the result as an
absolute ``file:///...`` URL so that an entry read back from the registry still finds its code.

Confinement: a source must lie inside the application directory once every symlink is
resolved. Code is what an agent would reach for to leave its sandbox (a ``function.py`` whose
source is the standard library's ``os.py`` is a shell), so the rule holds at boot, at every
registry change, and again where code is loaded, in case an older registry holds an entry from
before the rule.
"""
from __future__ import annotations

import enum
import os
from typing import Any

from ..errors import PermissionDenied

__all__ = ["Kind", "KINDS", "HOST_KINDS", "LUA_KINDS", "PYTHON_KINDS", "CODE_KINDS",
           "WORKFLOW_KINDS", "PROCESS_KINDS", "FUNCTION_KINDS", "RUNNABLE_KINDS",
           "FILE_SCHEME", "source_path", "outside_reason", "is_inside", "set_app_root", "code_file"]


class Kind(str, enum.Enum):
    """Every kind of registry entry (S3). An unknown kind is an error, never ignored."""

    PROCESS_HOST = "process.host"
    TERMINAL_HOST = "terminal.host"
    PROCESS_LUA = "process.lua"
    FUNCTION_LUA = "function.lua"
    LIBRARY_LUA = "library.lua"
    WORKFLOW_LUA = "workflow.lua"
    PROCESS_PY = "process.py"
    FUNCTION_PY = "function.py"
    WORKFLOW_PY = "workflow.py"
    PROCESS_SERVICE = "process.service"
    SUPERVISOR = "supervisor"
    REGISTRY_ENTRY = "registry.entry"
    SECURITY_POLICY = "security.policy"


def _family(*kinds: Kind) -> frozenset[str]:
    # plain strings: stored entries carry their kind as a str, and an Enum member hashes by name
    return frozenset(k.value for k in kinds)


KINDS = _family(*Kind)
HOST_KINDS = _family(Kind.PROCESS_HOST, Kind.TERMINAL_HOST)
LUA_KINDS = _family(Kind.PROCESS_LUA, Kind.FUNCTION_LUA, Kind.LIBRARY_LUA, Kind.WORKFLOW_LUA)
PYTHON_KINDS = _family(Kind.PROCESS_PY, Kind.FUNCTION_PY, Kind.WORKFLOW_PY)
CODE_KINDS = LUA_KINDS | PYTHON_KINDS
WORKFLOW_KINDS = _family(Kind.WORKFLOW_LUA, Kind.WORKFLOW_PY)
#: What a ``process.service`` may run, and what ``spawn`` may start.
PROCESS_KINDS = _family(Kind.PROCESS_LUA, Kind.PROCESS_PY) | WORKFLOW_KINDS
#: What ``funcs.call`` may call.
FUNCTION_KINDS = _family(Kind.FUNCTION_LUA, Kind.FUNCTION_PY)
#: Code a host can run (a library is only ever imported).
RUNNABLE_KINDS = CODE_KINDS - {Kind.LIBRARY_LUA.value}

FILE_SCHEME = "file://"


def source_path(source: Any, base_dir: str) -> str | None:
    """Absolute, normalized path of a ``file://`` source; None for inline code (or no source)."""
    if not isinstance(source, str) or not source.startswith(FILE_SCHEME):
        return None
    return os.path.normpath(os.path.join(base_dir or ".", source[len(FILE_SCHEME):]))


def is_inside(path: str, root: str) -> bool:
    """Whether ``path``, every symlink resolved, lies inside directory ``root``."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def outside_reason(path: str, root: str) -> str | None:
    """Why ``path`` may not be used as code under application ``root``, or None when it may."""
    if is_inside(path, root):
        return None
    real = os.path.realpath(path)
    via = f" (a symlink to {real})" if real != os.path.normpath(path) else ""
    return (f"source {path}{via} is outside the application directory {os.path.realpath(root)}; "
            "code must live inside the application")


_root: list[str | None] = [None]


def set_app_root(app_dir: str) -> None:
    """The application directory this OS process loads code from (set once by its host)."""
    _root[0] = app_dir


def code_file(entry: dict[str, Any]) -> str | None:
    """The file holding a stored entry's code (None for inline code), refused with
    :class:`PermissionDenied` when it lies outside the application."""
    path = source_path((entry.get("data") or {}).get("source"), entry.get("base_dir") or ".")
    if path is not None and _root[0] is not None:
        outside = outside_reason(path, _root[0])
        if outside is not None:
            raise PermissionDenied(f"entry {entry.get('id')}: {outside}")
    return path
