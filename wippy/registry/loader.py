"""Read an application's YAML files into validated registry entries (SPEC S3).

Pipeline: find the files (:func:`find_config_files`),
parse each with a loader that remembers where every key is and refuses duplicate keys, check
each entry with its kind's validator (:mod:`wippy.registry.kinds`), then check the references
between entries (:func:`validate_references`, the rules of :mod:`wippy.registry.refs`) and, with
the code check the caller hands in, each entry's code. Every problem is collected and raised at
once as one :class:`~wippy.errors.ConfigError` whose lines read ``path:line:col: entry ns:name:
field 'f': message``. The entries are :class:`~wippy.registry.entry.Entry` values.

Where things are: YAML with positions (:mod:`.yamlio`, the one importer of ``yaml``), which
files load (:mod:`.discovery`); here, the entries built from each file and the application put
together.

Design decisions:
- Positions are kept out of the data: the loader flattens the YAML's position tables into
  ``Entry.field_pos`` (dotted paths) and hands the validators plain data. A problem's field path
  is located by its longest known prefix, so a missing nested field points at its parent, and a
  missing top-level field at the entry.
- References are only checked when every file was read: a file that failed would otherwise
  make every reference into it look unresolved.
- An application with no registry file at all is an error: running nothing is never intended.
- The code check is passed in (``check_code``) by whoever boots the application, rather than
  imported: the Lua tools sit above the loader (``wippy lint`` reads applications with it).
  Whether an entry's code defines its ``method`` is checked here (:mod:`.methods`: reading,
  never running, the code): a Python entry's always, a Lua entry's once its code passed that
  code check (a syntax error is the one problem worth naming then).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, ConfigIssue
from . import kinds, refs
from .discovery import APP_DIRS, SKIP_DIRS, discover, find_config_files
from .methods import method_problem
from .yamlio import (
    field_positions,
    issue_at,
    load_yaml,
    locate,
    parse_yaml,
    yaml_dump,
    yaml_parse,
)
from .entry import (
    LUA_KINDS,
    MAX_DEPTH,
    MAX_NODES,
    PYTHON_KINDS,
    CodeCheck,
    Entry,
    TooLarge,
    plain_copy,
    source_file,
    too_deep,
)

__all__ = ["Entry", "LoadedApp", "load_yaml", "find_config_files", "load_app",
           "load_entries_from_text", "validate_references", "source_file", "CodeCheck",
           "MAX_NODES", "yaml_parse", "yaml_dump", "SKIP_DIRS", "APP_DIRS"]

log = logging.getLogger(__name__)

_FILE_KEYS = frozenset({"version", "namespace", "entries"})
_ENTRY_KEYS = frozenset({"name", "kind", "meta"})


# -- entries ------------------------------------------------------------------------------

def _entries_from_doc(doc: Any, path: str, base_dir: str, issues: list[ConfigIssue],
                      warnings: list[ConfigIssue], root: str | None) -> list[Entry] | None:
    """Validate one parsed file; append problems to ``issues``/``warnings``.

    Returns None when the file as a whole is unusable (no namespace, no entry list).
    """
    if not isinstance(doc, dict):
        issues.append(ConfigIssue(path, 1, 1, "top level must be a mapping with 'namespace' "
                                  "and 'entries'"))
        return None
    pos = getattr(doc, "_pos", {})
    for key in doc:
        if key not in _FILE_KEYS:
            warnings.append(issue_at(path, pos.get(key, (1, 1)), "unknown field, ignored",
                                     field=str(key)))
    ns, raw = doc.get("namespace"), doc.get("entries")
    bad = False
    if not isinstance(ns, str) or not kinds.NAMESPACE_RE.fullmatch(ns):
        message = "required field missing" if "namespace" not in doc else (
            f"invalid namespace {ns!r} (expected dotted names such as 'app.workers')")
        issues.append(issue_at(path, pos.get("namespace", (1, 1)), message, field="namespace"))
        bad = True
    if "entries" not in doc or (raw is not None and not isinstance(raw, list)):
        message = "required field missing" if "entries" not in doc else (
            "must be a list of entries")
        issues.append(issue_at(path, pos.get("entries", (1, 1)), message, field="entries"))
        bad = True
    if bad or not isinstance(ns, str):
        return None
    out = []
    item_pos = getattr(raw, "_pos", [])
    for i, item in enumerate(raw or []):
        at = item_pos[i] if i < len(item_pos) else pos.get("entries", (1, 1))
        entry = _entry(item, i, at, ns, path, base_dir, issues, warnings, root)
        if entry is not None:
            out.append(entry)
    return out


def _entry(item: Any, index: int, at: tuple[int, int], ns: str, path: str, base_dir: str,
           issues: list[ConfigIssue], warnings: list[ConfigIssue], root: str | None) -> Entry | None:
    """One entry. An entry with a name and a known kind is returned even when it has errors,
    so that references to it do not add "unknown entry" noise."""
    if not isinstance(item, dict):
        issues.append(issue_at(path, at, f"entry #{index + 1} must be a mapping with 'name' "
                               "and 'kind'"))
        return None
    budget = [MAX_NODES]
    field_pos = field_positions(item, "", {}, budget)
    name, kind = item.get("name"), item.get("kind")
    if not isinstance(name, str) or not kinds.NAME_RE.fullmatch(name):
        message = "required field missing" if "name" not in item else (
            f"must be a name of letters, digits, '_', '.', '-', got {kinds.describe(name)}")
        issues.append(issue_at(path, field_pos.get("name", at), message, field="name"))
        return None
    entry_id = f"{ns}:{name}"
    if not isinstance(kind, str) or kind not in kinds.KINDS:
        message = "required field missing" if "kind" not in item else (
            f"unknown kind {kind!r}" + kinds.suggest(str(kind), kinds.KINDS))
        issues.append(issue_at(path, field_pos.get("kind", at), message, entry=entry_id,
                               field="kind"))
        return None
    meta = item.get("meta")
    if meta is not None and not isinstance(meta, dict):
        issues.append(issue_at(path, field_pos["meta"], "must be a mapping", entry=entry_id,
                               field="meta"))
    deep = too_deep(item)
    if deep is not None:            # would not store: JSON and pickle recurse once per level
        issues.append(issue_at(path, locate(field_pos, deep, at),
                               f"nested deeper than {MAX_DEPTH} levels", entry=entry_id,
                               field=deep if len(deep) <= 40 else deep[:40] + "..."))
        return None
    fields = {k: v for k, v in item.items() if k not in _ENTRY_KEYS}
    checked = kinds.validate(kind, plain_copy(fields, budget), ns, base_dir, root=root,
                             relative_only=True)
    for p in checked.problems:
        issue = issue_at(path, locate(field_pos, p.field, at), p.message, entry=entry_id,
                         field=p.field or None)
        (warnings if p.warning else issues).append(issue)
    if not checked.errors and kind in PYTHON_KINDS:     # Lua's: once its code translates
        missing = method_problem(kind, checked.data, base_dir)
        if missing is not None:
            issues.append(issue_at(path, locate(field_pos, "method", at), missing,
                                   entry=entry_id, field="method"))
    meta_clean = plain_copy(meta, budget) if isinstance(meta, dict) else {}
    return Entry(entry_id, ns, name, kind, meta_clean, checked.data, path, at[0], at[1],
                 field_pos, base_dir)


def _file_entries(doc: Any, path: str, base_dir: str, issues: list[ConfigIssue],
                  warnings: list[ConfigIssue], root: str | None = None) -> list[Entry] | None:
    """:func:`_entries_from_doc`, turning an alias bomb into an issue. ``root``: the
    application directory every ``file://`` source must stay inside."""
    try:
        return _entries_from_doc(doc, path, base_dir, issues, warnings, root)
    except (TooLarge, RecursionError):
        issues.append(ConfigIssue(path, 1, 1, f"document too large (more than {MAX_NODES} "
                                  "values after expanding aliases, or nested too deeply)"))
        return None


def _add(entries: dict[str, Entry], new: list[Entry], issues: list[ConfigIssue]) -> None:
    for e in new:
        first = entries.get(e.id)
        if first is None:
            entries[e.id] = e
        else:
            issues.append(ConfigIssue(e.path, e.line, e.col, f"duplicate entry id, first defined "
                                      f"at {first.path}:{first.line}:{first.col}", entry=e.id))


def load_entries_from_text(text: str, path: str = "<inline>", base_dir: str = ".",
                           warnings: list[str] | None = None) -> list[Entry]:
    """Parse and validate one YAML document (``namespace`` + ``entries``) given as text.

    Same checks as :func:`load_app` except references between entries. Warnings are appended
    to ``warnings`` when given, else logged. Raises ``ConfigError`` listing every problem.
    """
    issues: list[ConfigIssue] = []
    found: list[ConfigIssue] = []
    doc, issue = parse_yaml(text, path)
    entries: dict[str, Entry] = {}
    if issue is not None:
        issues.append(issue)
    else:
        _add(entries, _file_entries(doc, path, os.path.abspath(base_dir), issues, found) or [],
             issues)
    _report(found, warnings)
    if issues:
        raise ConfigError(issues)
    return list(entries.values())


def _report(found: list[ConfigIssue], sink: list[str] | None) -> None:
    for w in found:
        if sink is None:
            log.warning("%s", w)
        else:
            sink.append(str(w))


# -- references ---------------------------------------------------------------------------

def _issue(entry: Entry, path: str, message: str) -> ConfigIssue:
    line, col = locate(entry.field_pos, path, (entry.line, entry.col))
    return ConfigIssue(entry.path or "<registry>", line, col, message, entry=entry.id,
                       field=path or None)


def validate_references(entries: Mapping[str, Entry]) -> list[ConfigIssue]:
    """Check the references between ``entries``: each target exists and has an allowed kind;
    every supervisor child has one supervisor; no cycle in ``depends_on`` or in supervision.

    Pure: reads only the entries (file positions are used when the entries have them).
    """
    index = refs.RefIndex()
    for e in entries.values():
        index.put(e.id, e.kind, refs.entry_refs(e.id, e.kind, e.data))
    return [_issue(entries[p.entry], p.field, p.message)
            for p in refs.problems(index, list(entries))]


@dataclass(frozen=True, slots=True)
class LoadedApp:
    """A validated application: its entries by id in load order, its files and warnings, and
    whether its code was checked too (``load_app`` was given a ``check_code``)."""

    app_dir: str
    entries: dict[str, Entry]
    files: list[str]
    warnings: list[str]
    code_checked: bool = False


def load_app(app_dir: str, *, check_code: CodeCheck | None = None) -> LoadedApp:
    """Find, parse and validate every registry file of the application at ``app_dir``.

    ``check_code`` checks each entry's code once the references are good (the node passes
    ``wippy.typedlua.lint.check_entry``: Lua must translate); without it the code is not
    looked at. Blocks on file reads only. Raises ``ConfigError`` listing every problem found.
    """
    app = os.path.realpath(app_dir)
    if not os.path.isdir(app):
        raise ConfigError(ConfigIssue(app, 0, 0, "application directory not found"))
    files, issues = discover(app)
    found: list[ConfigIssue] = []
    entries: dict[str, Entry] = {}
    file_failed = bool(issues)
    for path, doc, problem in files:
        if problem is not None:
            issues.append(problem)
            file_failed = True
            continue
        new = _file_entries(doc, path, os.path.dirname(path), issues, found, app)
        file_failed |= new is None
        _add(entries, new or [], issues)
    if not files and not issues:
        issues.append(ConfigIssue(app, 0, 0, "no registry files found (YAML files with "
                                             "'namespace' and 'entries')"))
    if not file_failed:
        issues.extend(validate_references(entries))
        if check_code is not None:                # Lua code must translate (typed Lua, S6)
            for entry in entries.values():
                code_issues = check_code(entry)
                if not code_issues and entry.kind in LUA_KINDS:
                    missing = method_problem(entry.kind, entry.data, entry.base_dir)
                    if missing is not None:
                        code_issues = [_issue(entry, "method", missing)]
                issues.extend(code_issues)
    if issues:
        raise ConfigError(issues)
    return LoadedApp(app, entries, [p for p, _, _ in files], [str(w) for w in found],
                     code_checked=check_code is not None)
