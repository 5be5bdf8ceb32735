"""Does an entry's code define the ``method`` it names? Checked at boot, on every file reload and
at every registry change, wherever the code can be read without running it; a method that is
not there would otherwise fail each spawn, and a service would restart forever.

* Python (``process.py``, ``function.py``, ``workflow.py``): the file is parsed (``ast``), never
  imported. The method must be bound at the module's top level: a ``def`` or ``async def``,
  or an assignment, import or class of that name (also inside a top-level ``if``/``try``/
  ``with``, as in ``if FAST: def main(...)``). Code that fails to parse is reported with its
  line. Parses are cached by (path, mtime, size).
* Lua: a module's table of methods exists only once the code runs (``return {main = main}``,
  ``M.main = ...``, or built in a loop), so the static check is a cheap necessary condition:
  the name must appear in the source as a word. That catches a misspelt or missing method,
  and refuses only code that builds the name from pieces at run time, which nobody writes.
  Syntax is the code check's business (``wippy.typedlua.lint``).

Rejected: importing the Python module to look (runs the application's code inside the node,
at boot and on every change, before anything is supervised), and running the Lua chunk in a
sandbox to read its table (a CPU- and memory-limited Lua state per check, on the node, for a
check the spawn repeats anyway).
"""
from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping
from typing import Any

from .entry import LUA_KINDS, PYTHON_KINDS, source_path

__all__ = ["method_problem"]

_parsed: dict[tuple[str, int, int], tuple[frozenset[str], str | None]] = {}
_PARSED_KEPT = 1024


def method_problem(kind: str, data: Mapping[str, Any], base_dir: str = ".") -> str | None:
    """Why ``data['method']`` is not defined by the entry's code (checked data of a code
    kind), or None when it is, or when the code cannot be read (the validators report a
    missing file; an entry without a method has nothing to check)."""
    method = data.get("method")
    if not isinstance(method, str) or not method:
        return None
    source = data.get("source")
    path = source_path(source, base_dir)
    if kind in PYTHON_KINDS:
        return None if path is None else _python_problem(path, method)
    if kind in LUA_KINDS:
        text = _read(path) if path is not None else source
        if not isinstance(text, str):
            return None
        if re.search(rf"(?<![\w]){re.escape(method)}(?![\w])", text) is None:
            where = os.path.basename(path) if path is not None else "its source"
            return (f"{where} never mentions '{method}': the table it returns cannot have "
                    "that method")
    return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _python_problem(path: str, method: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_mtime_ns, st.st_size)
    hit = _parsed.get(key)
    if hit is None:
        hit = _parse(path)
        if len(_parsed) >= _PARSED_KEPT:
            _parsed.clear()
        _parsed[key] = hit
    names, error = hit
    if error is not None:
        return error
    if method in names or "*" in names:     # a star import may bind anything
        return None
    defined = sorted(n for n in names if not n.startswith("_"))
    shown = ", ".join(defined[:8]) + (", ..." if len(defined) > 8 else "")
    return (f"{os.path.basename(path)} defines no top-level '{method}'"
            + (f" (it defines: {shown})" if shown else ""))


def _parse(path: str) -> tuple[frozenset[str], str | None]:
    """The names bound at the top level of the Python file at ``path``, or why it cannot be
    parsed."""
    text = _read(path)
    if text is None:
        return frozenset(), None
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{os.path.basename(path)}:{line}" if line else os.path.basename(path)
        return frozenset(), f"{where}: the code does not parse: {getattr(exc, 'msg', exc)}"
    names: set[str] = set()
    body: list[ast.stmt] = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If):
            body += node.body + node.orelse
        elif isinstance(node, ast.Try):
            body += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                body += handler.body
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            body += node.body
    return frozenset(names), None
