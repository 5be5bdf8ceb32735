"""Where an entry's code lives: ``source: file://...`` resolved and confined (S9).

The one owner of ``file://`` resolution. A relative path resolves against the directory of
the YAML file that declared the entry (``base_dir``); the validator stores the result as an
absolute ``file:///...`` URL so that an entry read back from the registry still finds its code.

Confinement: a source must lie inside the application directory once every symlink is
resolved. Code is what an agent would reach for to leave its sandbox (a ``function.py`` whose
source is the standard library's ``os.py`` is a shell), so the rule holds at boot, at every
registry change, and again where code is loaded, in case an older registry holds an entry from
before the rule.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import PermissionDenied

__all__ = ["FILE_SCHEME", "source_path", "outside_reason", "is_inside", "set_app_root",
           "code_file"]

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
