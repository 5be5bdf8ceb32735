"""Read an application's YAML files into validated registry entries (SPEC S3).

The only module that imports ``yaml``. Pipeline: find the files (:func:`find_config_files`),
parse each with a loader that remembers where every key is and refuses duplicate keys, check
each entry with its kind's validator (:mod:`wippy.registry.kinds`), then check the references
between entries (:func:`validate_references`, the rules of :mod:`wippy.registry.refs`) and, with
the code check the caller hands in, each entry's code. Every problem is collected and raised at
once as one :class:`~wippy.errors.ConfigError` whose lines read ``path:line:col: entry ns:name:
field 'f': message``. The entries are :class:`~wippy.registry.entry.Entry` values.

Design decisions:
- Positions are kept out of the data: the YAML loader builds ``dict``/``list`` subclasses with a
  ``_pos`` side table; the loader flattens them into ``Entry.field_pos`` (dotted paths such as
  ``"lifecycle.restart.max_delay"`` and ``"children[2]"``) and hands the validators plain data.
  A problem's field path is located by its longest known prefix, so a missing nested field
  points at its parent, and a missing top-level field at the entry.
- Duplicate keys are errors (PyYAML keeps the last one silently). Keys brought in by ``<<``
  merges are not duplicates: an explicit key overrides them, as YAML intends.
- YAML timestamps stay strings (``created: 2024-05-01``); registry data is plain data.
- Discovery decides "is this a registry file?" by parsing it: a top-level mapping with
  ``namespace`` and ``entries``, or a file named ``_index.yaml``/``_index.yml`` (Wippy's name;
  such a file is always checked, so a missing namespace is reported, not skipped). A file that
  does not parse counts when it is an ``_index`` file or has a top-level ``namespace:`` or
  ``entries:`` line: a broken registry file must fail loudly (dropping it on hot reload would
  delete its entries), while someone else's broken YAML elsewhere under APP is not ours.
- ``wippy.lock`` without ``directories.src`` means ``src``, Wippy's default.
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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ConfigError, ConfigIssue
from . import kinds, refs
from .methods import method_problem
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
           "MAX_NODES", "yaml_parse", "yaml_dump"]

log = logging.getLogger(__name__)

#: Directory names never searched for registry files (besides dot-directories and virtualenvs).
SKIP_DIRS = frozenset({"tests", "benchmarks", "__pycache__", "node_modules"})
#: The folders of rule (2) of S3's discovery order, loaded in this order.
APP_DIRS = ("config", "workers", "supervisors")

_YAML_EXT = (".yaml", ".yml")
_INDEX_NAMES = frozenset({"_index.yaml", "_index.yml"})
_LOOKS_LIKE_REGISTRY = re.compile(rb"^(?:namespace|entries)\s*:", re.MULTILINE)
_FILE_KEYS = frozenset({"version", "namespace", "entries"})
_ENTRY_KEYS = frozenset({"name", "kind", "meta"})
_MERGE_TAG = "tag:yaml.org,2002:merge"


# -- YAML with positions ------------------------------------------------------------------

class PosDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML; ``_pos[key]`` is the key's 1-based ``(line, col)``."""

    __slots__ = ("_pos", "_start")
    _pos: dict[Any, tuple[int, int]]
    _start: tuple[int, int]


class PosList(list):  # type: ignore[type-arg]
    """A sequence from YAML; ``_pos[i]`` is item ``i``'s 1-based ``(line, col)``."""

    __slots__ = ("_pos", "_start")
    _pos: list[tuple[int, int]]
    _start: tuple[int, int]


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


def _at(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml when present) that records positions and rejects duplicate keys."""

    def flatten_mapping(self, node: Any) -> None:
        # Count the keys written in this mapping before merges are spliced in front of them.
        if not hasattr(node, "_explicit"):
            setattr(node, "_explicit", sum(1 for k, _ in node.value if k.tag != _MERGE_TAG))
        super().flatten_mapping(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> PosDict:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark)
        self.flatten_mapping(node)
        first_explicit = len(node.value) - getattr(node, "_explicit")
        out, pos = PosDict(), {}
        seen: dict[Any, int] = {}  # explicit key -> line of its first definition
        for i, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key",
                    key_node.start_mark) from None
            if i >= first_explicit:
                if key in seen:
                    raise _DuplicateKey(problem=f"duplicate key {key!r} (first defined at line "
                                        f"{seen[key]})", problem_mark=key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
            out[key] = self.construct_object(value_node, deep=True)
            pos[key] = _at(key_node.start_mark)
        out._pos, out._start = pos, _at(node.start_mark)
        return out

    def _construct_seq(self, node: Any) -> PosList:
        out = PosList(self.construct_object(child, deep=True) for child in node.value)
        out._pos, out._start = [_at(c.start_mark) for c in node.value], _at(node.start_mark)
        return out


_Loader.add_constructor("tag:yaml.org,2002:map", lambda ld, n: ld.construct_mapping(n))
_Loader.add_constructor("tag:yaml.org,2002:seq", lambda ld, n: ld._construct_seq(n))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda ld, n: ld.construct_scalar(n))


def _parse(data: bytes | str, path: str) -> tuple[Any, ConfigIssue | None]:
    """Parse one YAML document: ``(value, None)`` or ``(None, issue)``."""
    try:
        loader = _Loader(data)
        try:
            return loader.get_single_data(), None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and not isinstance(exc, _DuplicateKey):
            message = f"{message} ({exc.context})"
        line, col = _at(mark) if mark else (1, 1)
        return None, ConfigIssue(path, line, col, message)
    except yaml.reader.ReaderError as exc:
        line, col, message = _unreadable(data, exc)
        return None, ConfigIssue(path, line, col, message)
    except yaml.YAMLError as exc:
        return None, ConfigIssue(path, 1, 1, f"invalid YAML: {exc}")
    except RecursionError:
        line, col = _too_deep(data)
        return None, ConfigIssue(path, line, col, f"invalid YAML: nested deeper than "
                                                  f"{MAX_DEPTH} levels")


_LIBYAML = _Loader.__mro__[1] is not yaml.SafeLoader   # libyaml counts bytes, PyYAML characters


def _unreadable(data: bytes | str, exc: Any) -> tuple[int, int, str]:
    """Where a character the YAML reader refused is, and what is wrong with it: the first
    byte that is not UTF-8, or a character YAML does not allow (a control character)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (*_line_col(raw, bad.start),
                f"byte 0x{raw[bad.start]:02x} is not valid UTF-8 (YAML files must be UTF-8)")
    offset = exc.position
    if not _LIBYAML:                # a character index: as bytes, for _line_col
        offset = len(raw.decode("utf-8")[:offset].encode("utf-8"))
    return (*_line_col(raw, offset),
            f"character #x{exc.character:04x} is not allowed in YAML ({exc.reason})"
            if isinstance(exc.character, int) else f"invalid YAML: {exc.reason}")


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` of ``raw``."""
    start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, len(raw[start:offset].decode("utf-8", "replace")) + 1


def _too_deep(data: bytes | str) -> tuple[int, int]:
    """Where a document first nests deeper than MAX_DEPTH levels (scanning tokens, which
    does not recurse), or 1:1 when the scan cannot tell."""
    depth = 0
    try:
        for token in yaml.scan(data, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken,
                                  yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)):
                depth += 1
                if depth > MAX_DEPTH:
                    return _at(token.start_mark)
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken,
                                    yaml.BlockEndToken)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 1, 1


def _problem(path: str, at: tuple[int, int], message: str, *, entry: str | None = None,
             field: str | None = None) -> ConfigIssue:
    return ConfigIssue(path, at[0], at[1], message, entry=entry, field=field)


def _read(path: str) -> tuple[bytes | None, ConfigIssue | None]:
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as exc:
        return None, ConfigIssue(path, 0, 0, f"cannot read file: {exc.strerror or exc}")


def load_yaml(path: str) -> Any:
    """Parse the YAML file at ``path`` with position tracking and duplicate-key checks.

    Mappings come back as ``dict`` subclasses and sequences as ``list`` subclasses whose
    ``_pos`` attribute holds 1-based ``(line, col)`` positions. Raises ``ConfigError`` with a
    ``path:line:col: message`` issue for unreadable or malformed files.
    """
    data, issue = _read(path)
    if issue is None:
        value, issue = _parse(data or b"", path)
        if issue is None:
            return value
    raise ConfigError(issue)


def _positions(value: Any, prefix: str, out: dict[str, tuple[int, int]],
               budget: list[int]) -> dict[str, tuple[int, int]]:
    """Flatten the ``_pos`` tables under ``value`` into ``{"a.b[2].c": (line, col)}``."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(value, dict):
        pos = getattr(value, "_pos", {})
        for key, sub in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key in pos:
                out[path] = pos[key]
            _positions(sub, path, out, budget)
    elif isinstance(value, list):
        pos = getattr(value, "_pos", [])
        for i, sub in enumerate(value):
            path = f"{prefix}[{i}]"
            if i < len(pos):
                out[path] = pos[i]
            _positions(sub, path, out, budget)
    return out


def _locate(field_pos: Mapping[str, tuple[int, int]], path: str,
            default: tuple[int, int]) -> tuple[int, int]:
    """Position of ``path``, or of its longest prefix that has one, or ``default``."""
    while path:
        if path in field_pos:
            return field_pos[path]
        path = path[:max(path.rfind("."), path.rfind("["), 0)]
    return default


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
            warnings.append(_problem(path, pos.get(key, (1, 1)), "unknown field, ignored",
                                     field=str(key)))
    ns, raw = doc.get("namespace"), doc.get("entries")
    bad = False
    if not isinstance(ns, str) or not kinds.NAMESPACE_RE.fullmatch(ns):
        message = "required field missing" if "namespace" not in doc else (
            f"invalid namespace {ns!r} (expected dotted names such as 'app.workers')")
        issues.append(_problem(path, pos.get("namespace", (1, 1)), message, field="namespace"))
        bad = True
    if "entries" not in doc or (raw is not None and not isinstance(raw, list)):
        message = "required field missing" if "entries" not in doc else (
            "must be a list of entries")
        issues.append(_problem(path, pos.get("entries", (1, 1)), message, field="entries"))
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
        issues.append(_problem(path, at, f"entry #{index + 1} must be a mapping with 'name' "
                               "and 'kind'"))
        return None
    budget = [MAX_NODES]
    field_pos = _positions(item, "", {}, budget)
    name, kind = item.get("name"), item.get("kind")
    if not isinstance(name, str) or not kinds.NAME_RE.fullmatch(name):
        message = "required field missing" if "name" not in item else (
            f"must be a name of letters, digits, '_', '.', '-', got {kinds.describe(name)}")
        issues.append(_problem(path, field_pos.get("name", at), message, field="name"))
        return None
    entry_id = f"{ns}:{name}"
    if not isinstance(kind, str) or kind not in kinds.KINDS:
        message = "required field missing" if "kind" not in item else (
            f"unknown kind {kind!r}" + kinds.suggest(str(kind), kinds.KINDS))
        issues.append(_problem(path, field_pos.get("kind", at), message, entry=entry_id,
                               field="kind"))
        return None
    meta = item.get("meta")
    if meta is not None and not isinstance(meta, dict):
        issues.append(_problem(path, field_pos["meta"], "must be a mapping", entry=entry_id,
                               field="meta"))
    deep = too_deep(item)
    if deep is not None:            # would not store: JSON and pickle recurse once per level
        issues.append(_problem(path, _locate(field_pos, deep, at),
                               f"nested deeper than {MAX_DEPTH} levels", entry=entry_id,
                               field=deep if len(deep) <= 40 else deep[:40] + "..."))
        return None
    fields = {k: v for k, v in item.items() if k not in _ENTRY_KEYS}
    checked = kinds.validate(kind, plain_copy(fields, budget), ns, base_dir, root=root,
                             relative_only=True)
    for p in checked.problems:
        issue = _problem(path, _locate(field_pos, p.field, at), p.message, entry=entry_id,
                         field=p.field or None)
        (warnings if p.warning else issues).append(issue)
    if not checked.errors and kind in PYTHON_KINDS:     # Lua's: once its code translates
        missing = method_problem(kind, checked.data, base_dir)
        if missing is not None:
            issues.append(_problem(path, _locate(field_pos, "method", at), missing,
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
    doc, issue = _parse(text, path)
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
    line, col = _locate(entry.field_pos, path, (entry.line, entry.col))
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


# -- discovery ----------------------------------------------------------------------------

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
    data, issue = _read(lock)
    doc, issue = (None, issue) if issue else _parse(data or b"", lock)
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
        issues.append(_problem(lock, pos["modules"], f"unsupported: hub modules ({shown}) are "
                               "not supported; copy their entries into a directories.src folder "
                               "or remove them from wippy.lock"))
    dirs = doc.get("directories")
    dirs_pos = getattr(dirs, "_pos", {})
    src: Any = dirs.get("src", "src") if isinstance(dirs, dict) else "src"
    where = dirs_pos.get("src", pos.get("directories", (1, 1)))
    srcs = [src] if isinstance(src, str) else src
    if not isinstance(srcs, list) or not all(isinstance(s, str) and s for s in srcs):
        return [], issues + [_problem(lock, where, "must be a folder or a list of folders",
                                      field="directories.src")]
    roots = []
    for s in srcs:
        root = os.path.normpath(os.path.join(app_dir, s))
        if os.path.isdir(root):
            roots.append(root)
        else:
            issues.append(_problem(lock, where, f"folder {s!r} does not exist",
                                   field="directories.src"))
    return roots, issues


def _roots(app_dir: str) -> tuple[list[str], list[ConfigIssue]]:
    lock = os.path.join(app_dir, "wippy.lock")
    if os.path.isfile(lock):
        return _lock_roots(app_dir, lock)
    present = [os.path.join(app_dir, d) for d in APP_DIRS]
    present = [d for d in present if os.path.isdir(d)]
    return (present or [app_dir]), []


def _discover(app_dir: str) -> tuple[list[tuple[str, Any, ConfigIssue | None]], list[ConfigIssue]]:
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
            data, problem = _read(path)
            doc = None
            if problem is None:
                doc, problem = _parse(data or b"", path)
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
    files, issues = _discover(os.path.realpath(app_dir))
    if issues:
        raise ConfigError(issues)
    return [path for path, _, _ in files]


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
    files, issues = _discover(app)
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


# -- YAML for code that runs (Lua's yaml module and payloads): this module is yaml's one seam --
class _PlainLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with timestamps kept as strings (plain data only)."""


_PlainLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda ld, n: ld.construct_scalar(n))


def yaml_parse(text: str | bytes) -> Any:
    """YAML text as plain data; raises ValueError naming the problem."""
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def yaml_dump(data: Any, indent: int = 2, sort_keys: bool = True) -> str:
    """Plain data as YAML text; raises ValueError for anything YAML's safe dumper refuses."""
    try:
        return yaml.safe_dump(data, indent=indent, sort_keys=sort_keys, allow_unicode=True,
                              default_flow_style=False)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
