"""Which files an application loads (SPEC S3 "What APP loads"), in load order.

Design decisions:
- Discovery decides "is this a registry file?" by parsing it: a top-level mapping with
  ``namespace`` and ``entries``, or a file named ``_index.yaml``/``_index.yml`` (Wippy's name;
  such a file is always checked, so a missing namespace is reported, not skipped). A file that
  does not parse counts when it is an ``_index`` file or has a top-level ``namespace:`` or
  ``entries:`` line: a broken registry file must fail loudly (dropping it on hot reload would
  delete its entries), while someone else's broken YAML elsewhere under APP is not ours.
- ``wippy.lock`` without ``directories.src`` means ``src``, Wippy's default.
"""
from __future__ import annotations

import os
import re
from typing import Any

from ..errors import ConfigError, ConfigIssue
from .yamlio import issue_at, parse_yaml, read_bytes

__all__ = ["SKIP_DIRS", "APP_DIRS", "find_config_files", "discover"]

#: Directory names never searched for registry files (besides dot-directories and virtualenvs).
SKIP_DIRS = frozenset({"tests", "benchmarks", "__pycache__", "node_modules"})
#: The folders of rule (2) of S3's discovery order, loaded in this order.
APP_DIRS = ("config", "workers", "supervisors")

_YAML_EXT = (".yaml", ".yml")
_INDEX_NAMES = frozenset({"_index.yaml", "_index.yml"})
_LOOKS_LIKE_REGISTRY = re.compile(rb"^(?:namespace|entries)\s*:", re.MULTILINE)


def _skip_dir(path: str, name: str) -> bool:
    return (name.startswith(".") or name in SKIP_DIRS
            or os.path.isfile(os.path.join(path, "pyvenv.cfg")))


def _walk(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(os.path.join(dirpath, d), d))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(_YAML_EXT))
    return out


def _lock_roots(app_dir: str, lock: str) -> tuple[list[str], list[ConfigIssue]]:
    """Rule (1): the ``directories.src`` folders of a Wippy ``wippy.lock``."""
    data, issue = read_bytes(lock)
    doc, issue = (None, issue) if issue else parse_yaml(data or b"", lock)
    if issue:
        return [], [issue]
    if not isinstance(doc, dict):
        return [], [ConfigIssue(lock, 1, 1, "top level must be a mapping")]
    issues: list[ConfigIssue] = []
    pos = getattr(doc, "_pos", {})
    modules = doc.get("modules")
    if modules:
        names = [str(m.get("name", "?")) if isinstance(m, dict) else str(m)
                 for m in (modules if isinstance(modules, list) else [modules])]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        issues.append(issue_at(lock, pos["modules"], f"unsupported: hub modules ({shown}) are "
                               "not supported; copy their entries into a directories.src folder "
                               "or remove them from wippy.lock"))
    dirs = doc.get("directories")
    dirs_pos = getattr(dirs, "_pos", {})
    src: Any = dirs.get("src", "src") if isinstance(dirs, dict) else "src"
    where = dirs_pos.get("src", pos.get("directories", (1, 1)))
    srcs = [src] if isinstance(src, str) else src
    if not isinstance(srcs, list) or not all(isinstance(s, str) and s for s in srcs):
        return [], issues + [issue_at(lock, where, "must be a folder or a list of folders",
                                      field="directories.src")]
    roots = []
    for s in srcs:
        root = os.path.normpath(os.path.join(app_dir, s))
        if os.path.isdir(root):
            roots.append(root)
        else:
            issues.append(issue_at(lock, where, f"folder {s!r} does not exist",
                                   field="directories.src"))
    return roots, issues


def _roots(app_dir: str) -> tuple[list[str], list[ConfigIssue]]:
    lock = os.path.join(app_dir, "wippy.lock")
    if os.path.isfile(lock):
        return _lock_roots(app_dir, lock)
    present = [os.path.join(app_dir, d) for d in APP_DIRS]
    present = [d for d in present if os.path.isdir(d)]
    return (present or [app_dir]), []


def discover(app_dir: str) -> tuple[list[tuple[str, Any, ConfigIssue | None]], list[ConfigIssue]]:
    """Registry files in load order as ``(path, parsed, parse_issue)``, and discovery issues."""
    roots, issues = _roots(app_dir)
    files: list[tuple[str, Any, ConfigIssue | None]] = []
    seen: set[str] = set()
    for root in roots:
        for path in _walk(root):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            data, problem = read_bytes(path)
            doc = None
            if problem is None:
                doc, problem = parse_yaml(data or b"", path)
            index = os.path.basename(path) in _INDEX_NAMES
            if problem is not None:
                if index or _LOOKS_LIKE_REGISTRY.search(data or b""):
                    files.append((path, None, problem))
            elif index or (isinstance(doc, dict) and "namespace" in doc and "entries" in doc):
                files.append((path, doc, None))
    return files, issues


def find_config_files(app_dir: str) -> list[str]:
    """The registry files APP loads, in load order (S3 "What APP loads").

    (1) with a ``wippy.lock``: the folders its ``directories.src`` names; (2) else those of
    ``config/``, ``workers/``, ``supervisors/`` that exist; (3) else all of APP. Dot-directories,
    ``tests/``, ``benchmarks/``, ``__pycache__``, ``node_modules`` and virtualenvs are skipped.
    Raises ``ConfigError`` for a bad ``wippy.lock`` (hub modules, missing folders).
    """
    files, issues = discover(os.path.realpath(app_dir))
    if issues:
        raise ConfigError(issues)
    return [path for path, _, _ in files]
