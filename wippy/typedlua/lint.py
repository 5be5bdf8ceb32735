"""``wippy lint``: check (typed) Lua code without running it.

What is checked, per Lua source (a ``.lua`` file, or the inline ``source:`` of a Lua entry):

* errors: syntax errors of Lua 5.4 or of the type syntax, ``@pattern`` regexes that Lua
  patterns cannot express; with a ``compile`` callback, whatever Lua's own compiler refuses
  after translation (``goto`` into a local's scope, ``break`` outside a loop, too many locals);
* warnings: type names that resolve to nothing, unknown validators, validators on a type they
  cannot apply to, duplicate ``type`` declarations in one block, generic aliases given the wrong
  number of arguments, and (for entries) ``require("m")`` of a module missing from the entry's
  ``modules:`` / ``imports:``.

A directory is linted as an application when it has registry files: the loader's own problems
are reported (as errors), every Lua entry is checked with its entry's context, and every other
``.lua`` file under the directory is checked too. Without registry files, only ``.lua`` files.

* errors: the static type errors the translator can see (``_statics.py``: a literal or a
  declared type assigned, returned or passed where it cannot go, arithmetic on a string, a
  call of a number, a field a record alias lacks, a wrong number of arguments); the registry
  refuses code with them, at boot and at apply, as Wippy does.

Not done: type checking proper (inference through calls of other modules, narrowing) --
Wippy's checker is a large flow-sensitive analysis; this is the part that is cheap and certain.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError, ConfigIssue, TypedLuaError
from ..registry.entry import LUA_KINDS, Entry, source_path
from ..registry.loader import load_app
from .translate import translate_full

__all__ = ["LintIssue", "lint_source", "lint_paths", "check_entry", "BUILTIN_MODULES"]

Severity = Literal["error", "warning"]

#: Modules the Lua runtime provides to ``require`` (SPEC S6); an entry lists those it uses.
BUILTIN_MODULES = frozenset({"time", "json", "logger", "registry", "events", "funcs", "uuid",
                             "io", "env", "workflow", "system", "ctx"})
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "benchmarks", "tests"})
_LUA_LINE = re.compile(r"^(?:.*?):(\d+): ")

Compile = Callable[[str, str], Any]


@dataclass(frozen=True, slots=True, order=True)
class LintIssue:
    """One problem: ``str()`` is ``path:line:col: severity: [entry ns:name: ]message``."""

    path: str
    line: int
    col: int
    severity: Severity
    message: str
    entry: str | None = None

    def __str__(self) -> str:
        where = f"entry {self.entry}: " if self.entry else ""
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {where}{self.message}"


def lint_source(source: str, path: str, *, entry: str | None = None,
                allowed_modules: Iterable[str] | None = None, line_offset: int = 0,
                col_offset: int = 0, compile: Compile | None = None) -> list[LintIssue]:
    """Problems in one Lua source. Never raises for problems in the code.

    ``path`` names the source in the issues; ``line_offset``/``col_offset`` place an inline
    source inside its YAML file (the column offset applies to every line, as in a block
    scalar). ``allowed_modules`` enables the ``require`` check. ``compile(code, chunk_name)``,
    if given, compiles the translated code with Lua and raises on what Lua refuses (the Lua
    runtime provides it); its error's ``chunk:line:`` prefix places the issue.
    """
    def issue(line: int, col: int, severity: Severity, message: str) -> LintIssue:
        return LintIssue(path, line + line_offset, col + (col_offset if col else 0), severity,
                         message, entry)

    try:
        result = translate_full(source, path)
    except TypedLuaError as exc:
        return [issue(exc.line, exc.col, "error", exc.detail)]
    out = [issue(line, col, "warning", msg) for line, col, msg in result.warnings]
    out += [issue(line, col, "error", f"type error: {msg}") for line, col, msg in result.type_errors]
    if allowed_modules is not None:
        allowed = set(allowed_modules)
        for module, line, col in result.requires:
            if module not in allowed:
                out.append(issue(line, col, "warning",
                                 f"require('{module}'): not in the entry's modules: or imports: "
                                 "(fails at run time)"))
    if compile is not None:
        try:
            compile(result.code, path)
        except Exception as exc:  # noqa: BLE001 - any refusal of the compiler is a finding
            text = str(exc)
            m = _LUA_LINE.match(text)
            line = int(m.group(1)) if m else 1
            message = text[m.end():] if m else text
            out.append(issue(line, 0, "error", message.strip()))
    return out


def _read(path: str) -> tuple[str | None, LintIssue | None]:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, LintIssue(path, 1, 1, "error", f"not UTF-8 text: {exc.reason}")
    except OSError as exc:
        return None, LintIssue(path, 0, 0, "error", f"cannot read: {exc.strerror}")


def _lua_files(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and d not in _SKIP_DIRS)
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".lua"))
    return out


def _inline_offsets(yaml_path: str, key_line: int) -> tuple[int, int]:
    """(line offset, column offset) of an inline ``source:`` value whose key is at key_line."""
    try:
        with open(yaml_path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, UnicodeDecodeError):
        return key_line - 1, 0
    head = lines[key_line - 1] if 0 < key_line <= len(lines) else ""
    after = head.split(":", 1)[1].strip() if ":" in head else ""
    if after[:1] in ("|", ">"):
        for text in lines[key_line:]:
            if text.strip():
                return key_line, len(text) - len(text.lstrip())
        return key_line, 0
    col = head.find(after) if after else 0
    return key_line - 1, col + (1 if after[:1] in "\"'" else 0)


def _entry_modules(data: Mapping[str, Any]) -> set[str]:
    allowed = {m for m in data.get("modules") or [] if isinstance(m, str)}
    imports = data.get("imports") or {}
    if isinstance(imports, Mapping):
        allowed.update(k for k in imports if isinstance(k, str))
    return allowed


def _lint_entry(entry: Entry, compile: Compile | None, seen: set[str] | None = None,
                warnings: bool = True) -> list[LintIssue]:
    """Issues of one Lua entry, placed in its file."""
    src = entry.data.get("source")
    if not isinstance(src, str):
        return []
    allowed = _entry_modules(entry.data) if warnings else None
    if src.startswith("file://"):
        path = os.path.realpath(source_path(src, entry.base_dir or ".") or "")
        text, problem = _read(path)
        if problem:
            return [problem]
        if seen is not None:
            seen.add(path)
        found = lint_source(text or "", path, entry=entry.id, allowed_modules=allowed,
                            compile=compile)
    else:
        dl = dc = 0
        if entry.path:
            key_line = entry.field_pos.get("source", (entry.line, entry.col))[0]
            dl, dc = _inline_offsets(entry.path, key_line)
        found = lint_source(src, entry.path or entry.id, entry=entry.id, allowed_modules=allowed,
                            line_offset=dl, col_offset=dc, compile=compile)
    return found if warnings else [i for i in found if i.severity == "error"]


def check_entry(entry: Entry) -> list[ConfigIssue]:
    """Syntax errors of a Lua entry's code, as config issues (empty when it translates).

    The code check the node hands to the loader (reject the entry at load) and to the change
    planner (reject the change): a ``wippy.registry.entry.CodeCheck``. A non-Lua entry gives
    ``[]``. Reads the
    entry's file; the translation is cached, so the Lua loader's own call costs nothing more.
    Issues name the file (or the YAML file of an inline source, or the entry id when the entry
    came without a file), the line and column, the entry and the field ``source``.
    """
    if entry.kind not in LUA_KINDS:
        return []
    return [ConfigIssue(i.path, i.line, i.col, i.message, entry=i.entry, field="source")
            for i in _lint_entry(entry, None, warnings=False)]


def _lint_app(root: str, compile: Compile | None, seen: set[str]) -> list[LintIssue]:
    out: list[LintIssue] = []
    try:
        app = load_app(root)          # no code check there: the code is what we check here
    except ConfigError as exc:
        if not any("no registry files" in i.message for i in exc.issues):
            out.extend(LintIssue(i.path, i.line, i.col, "error",
                                 i.message if not i.field else f"field '{i.field}': {i.message}",
                                 i.entry) for i in exc.issues)
        return out
    for entry in app.entries.values():
        if entry.kind in LUA_KINDS:
            out.extend(_lint_entry(entry, compile, seen))
    return out


def lint_paths(paths: Iterable[str], *, compile: Compile | None = None) -> list[LintIssue]:
    """Problems in the Lua code under ``paths`` (files, or directories: applications or trees).

    Blocks on file reads only; never runs code. Returns the issues sorted by file and position;
    a missing path is itself an issue.
    """
    out: list[LintIssue] = []
    seen: set[str] = set()
    for given in paths:
        path = os.path.realpath(given)
        if os.path.isdir(path):
            out.extend(_lint_app(path, compile, seen))
            files = _lua_files(path)
        elif os.path.isfile(path):
            files = [path]
        else:
            out.append(LintIssue(given, 0, 0, "error", "no such file or directory"))
            continue
        for f in files:
            if f in seen:
                continue
            seen.add(f)
            text, problem = _read(f)
            out.extend([problem] if problem else lint_source(text or "", f, compile=compile))
    return sorted(set(out), key=lambda i: (i.path, i.line, i.col, i.severity, i.message))
