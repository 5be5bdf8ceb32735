"""Typed Lua (SPEC S6): Wippy's annotations erased before Lua 5.4 runs the code.

* :func:`translate` -- typed Lua source to plain Lua 5.4, every line on its line (cached);
* :func:`prelude`, :func:`core_source`, :func:`engine_source` -- the Lua code that gives a Lua
  state its run-time type values (``User(data)``, ``User:is(data)``, ``typeof``, casts);
* :func:`lint_paths` -- ``wippy lint``: problems in an application's Lua code, without running it.

Modules: ``_lexer`` (tokens), ``_parser`` over ``_exprparse``, ``_typeparse`` and ``_cursor``
(the edits), ``_typecode`` (type values as Lua code), ``_pattern`` (``@pattern`` regexes),
``translate``, ``types_rt``, ``lint``.
See docs/typed-lua.md.
"""
from __future__ import annotations

from ..errors import TypedLuaError
from .lint import LintIssue, lint_paths, lint_source
from .translate import (
    Translation,
    cache_clear,
    cache_info,
    translate,
    translate_full,
)
from .types_rt import (
    CORE_CHUNK_NAME,
    ENGINE_CHUNK_NAME,
    PRELUDE_CHUNK_NAME,
    core_source,
    engine_source,
    prelude,
)

__all__ = [
    "translate", "translate_full", "Translation", "TypedLuaError", "cache_info", "cache_clear",
    "prelude", "core_source", "engine_source", "PRELUDE_CHUNK_NAME", "CORE_CHUNK_NAME",
    "ENGINE_CHUNK_NAME", "lint_paths", "lint_source", "LintIssue",
]
