"""Translate Wippy's typed Lua to plain Lua 5.4, keeping every line on its line (SPEC S6).

``translate(source, chunk_name)`` is what the Lua loader calls before it loads an entry's code:
annotations are blanked out, ``type`` aliases become locals holding run-time type values, and
the result is handed to Lua 5.4 unchanged otherwise (plain Lua comes back as the very same
string). A syntax error raises :class:`TypedLuaError` naming ``chunk:line:col``.

Results are cached by source text (Python's string hash, computed once per string object and
kept on it), so a spawn of code already translated costs one dictionary lookup. The cache is an
LRU bounded by :data:`CACHE_ENTRIES`; errors are cached too, so a broken entry spawned in a loop
is not re-parsed each time.

Alternatives rejected: compiling typed Lua with a full AST and a printer (loses comments,
formatting and column positions, and is slower); regular-expression stripping (cannot tell
``type(x)`` from ``type X = ...``, nor a ``::label::`` from a cast, nor a string from code).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import overload

from ..errors import TypedLuaError
from ._lexer import LexError, line_col, tokenize
from ._parser import ParseError, parse

__all__ = ["TypedLuaError", "Translation", "translate", "translate_full", "cache_clear",
           "cache_info", "PREFIX", "CACHE_ENTRIES"]

CACHE_ENTRIES = 512     # distinct (chunk, source) pairs kept; an entry is ~2x its source size

# Put at the start of line 1 when the chunk needs run-time types: the type constructors and
# this chunk's registry of named types (forward and recursive references resolve through it).
# Lua reports no columns, so the shift of line 1 shows nowhere.
PREFIX = "local __wt, __ws = __wippy_types, __wippy_types.scope(); "


@dataclass(frozen=True, slots=True)
class Translation:
    """What :func:`translate_full` found: the Lua code and facts ``wippy lint`` reports."""

    code: str
    changed: bool
    uses_runtime: bool
    requires: tuple[tuple[str, int, int], ...] = ()          # (module, line, col)
    warnings: tuple[tuple[int, int, str], ...] = ()          # (line, col, message)
    type_errors: tuple[tuple[int, int, str], ...] = ()       # (line, col, message)
    chunk_name: str = field(default="", compare=False)


_cache: OrderedDict[tuple[str, str], Translation | TypedLuaError] = OrderedDict()
_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def _apply(src: str, edits: list[tuple[int, int, str | None]]) -> str:
    edits.sort(key=lambda e: (e[0], e[1]))
    out: list[str] = []
    pos = 0
    for start, end, text in edits:
        out.append(src[pos:start])
        if text is None:
            span = src[start:end]
            out.append("".join(c if c in "\r\n" else " " for c in span))
        else:
            out.append(text)
        pos = end
    out.append(src[pos:])
    return "".join(out)


def _translate(source: str, chunk_name: str) -> Translation:
    try:
        toks = tokenize(source)
        result = parse(source, toks)
    except (LexError, ParseError) as exc:
        starts = [0]
        starts.extend(i + 1 for i, c in enumerate(source) if c == "\n")
        line, col = line_col(starts, exc.offset)
        raise TypedLuaError(chunk_name, line, col, exc.message) from None
    code = source
    if result.edits:
        code = _apply(source, result.edits)
        if result.uses_runtime:
            code = PREFIX + code
    ls = toks.line_starts
    return Translation(
        code=code, changed=bool(result.edits), uses_runtime=result.uses_runtime,
        requires=tuple((m, *line_col(ls, off)) for m, off in result.requires),
        warnings=tuple((*line_col(ls, off), msg) for off, msg in result.warnings),
        type_errors=tuple((*line_col(ls, off), msg) for off, msg in result.type_errors),
        chunk_name=chunk_name)


def translate_full(source: str, chunk_name: str = "=?") -> Translation:
    """Like :func:`translate`, with what lint needs. Cached; raises :class:`TypedLuaError`."""
    key = (chunk_name, source)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            _stats["hits"] += 1
    if hit is None:
        try:
            hit = _translate(source, chunk_name)
        except TypedLuaError as exc:
            hit = exc
        with _lock:
            _stats["misses"] += 1
            _cache[key] = hit
            if len(_cache) > CACHE_ENTRIES:
                _cache.popitem(last=False)
    if isinstance(hit, TypedLuaError):
        raise TypedLuaError(hit.path, hit.line, hit.col, hit.detail)
    return hit


@overload
def translate(source: str, chunk_name: str = ...) -> str: ...
@overload
def translate(source: bytes, chunk_name: str = ...) -> bytes: ...


def translate(source: str | bytes, chunk_name: str = "=?") -> str | bytes:
    """Plain Lua 5.4 for ``source`` (typed or not), every line kept on its line.

    ``chunk_name`` is used in error messages only (give the file path or entry id). The result
    needs the prelude (:func:`wippy.typedlua.prelude`) in the Lua state when it defines types;
    untyped code comes back unchanged (the same object). ``bytes`` in, ``bytes`` out: the text
    is decoded as UTF-8, bytes that are not stay as they are (inside strings and comments).
    Never blocks; cached by source. Raises :class:`TypedLuaError` (``chunk:line:col:
    message``, the column counted in characters) on a syntax error.
    """
    if isinstance(source, bytes):
        text = source.decode("utf-8", "surrogateescape")
        result = translate_full(text, chunk_name)
        if not result.changed:
            return source
        return result.code.encode("utf-8", "surrogateescape")
    return translate_full(source, chunk_name).code


def cache_info() -> dict[str, int]:
    """``{"hits", "misses", "entries"}`` of the translation cache."""
    with _lock:
        return {"hits": _stats["hits"], "misses": _stats["misses"], "entries": len(_cache)}


def cache_clear() -> None:
    """Empty the translation cache (tests, or after a registry-wide reload)."""
    with _lock:
        _cache.clear()
        _stats["hits"] = _stats["misses"] = 0
