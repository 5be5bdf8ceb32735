"""Lua sources and compiled chunks: the prelude and ``lib/*.lua`` of this package (with their
``OP.<name>``/``REQ.<name>`` constants resolved), typed Lua's runtime, and the code of Lua
entries (typed Lua erased, S6). Every chunk is compiled once per OS process.
"""
from __future__ import annotations

import os
import re
from importlib import resources
from typing import Any

from .. import typedlua as tl
from ..errors import LuaFailure, TypedLuaError, WippyError
from ..registry.entry import code_file
from ..typedlua import translate
from . import engine
from .api import op_numbers, req_numbers
from .engine import LuaError

__all__ = ["lua_source", "builtin_chunk", "prelude", "compile_entry", "types_chunks"]

_CONST = re.compile(rb"\b(OP|REQ)\.(\w+)")


def lua_source(path: str) -> bytes:
    """A Lua file of this package with ``OP.<name>``/``REQ.<name>`` replaced by numbers."""
    nums = {"OP": op_numbers(), "REQ": req_numbers()}
    raw = resources.files(__package__).joinpath(path).read_bytes()

    def sub(m: re.Match) -> bytes:
        table, name = m.group(1).decode(), m.group(2).decode()
        try:
            return str(nums[table][name]).encode()
        except KeyError:
            raise RuntimeError(f"{path}: unknown {table}.{name}") from None
    return _CONST.sub(sub, raw)


_BUILTIN: dict[str, bytes | None] = {}
_PRELUDE: bytes | None = None


def builtin_chunk(name: str) -> bytes | None:
    """Compiled ``lib/<name>.lua``, or None."""
    if name not in _BUILTIN:
        res = resources.files(__package__).joinpath("lib", name + ".lua")
        _BUILTIN[name] = (engine.compile_chunk(lua_source(f"lib/{name}.lua"), f"wippy/{name}.lua",
                                               strip=True) if res.is_file() else None)
    return _BUILTIN[name]


def prelude() -> bytes:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = engine.compile_chunk(lua_source("prelude.lua"), "wippy/prelude.lua", strip=True)
    return _PRELUDE


def _source_of(entry: dict[str, Any]) -> tuple[bytes, str]:
    src = (entry.get("data") or {}).get("source")
    if not isinstance(src, str) or not src:
        raise LuaFailure("INVALID", f"entry {entry['id']}: no Lua source")
    if src.startswith("file://"):
        try:
            path = code_file(entry) or ""
        except WippyError as exc:
            raise LuaFailure(exc.kind, str(exc)) from None
        try:
            with open(path, "rb") as fh:
                return fh.read(), os.path.basename(path)
        except OSError as exc:
            raise LuaFailure("NOT_FOUND", f"entry {entry['id']}: cannot read {path}: "
                                          f"{exc.strerror}") from None
    return src.encode(), entry["id"]


def compile_entry(entry: dict[str, Any]) -> tuple[bytes, str]:
    """(binary chunk, chunk name) of a Lua entry, typed Lua erased (S6); raises LuaFailure
    (kind INVALID) on a syntax error."""
    src, name = _source_of(entry)
    try:
        return engine.compile_chunk(translate(src, name), name), name
    except TypedLuaError as exc:
        raise LuaFailure("INVALID", f"entry {entry['id']}: {exc}") from None
    except LuaError as exc:
        raise LuaFailure("INVALID", f"entry {entry['id']}: {exc}") from None


_TYPES: tuple[bytes, bytes, bytes] | None = None


def types_chunks() -> tuple[bytes, bytes, bytes]:
    """The typed-Lua installer, core and engine, compiled once per OS process."""
    global _TYPES
    if _TYPES is None:
        _TYPES = (engine.compile_chunk(tl.prelude(), tl.PRELUDE_CHUNK_NAME, strip=True),
                  engine.compile_chunk(tl.core_source(), tl.CORE_CHUNK_NAME, strip=True),
                  engine.compile_chunk(tl.engine_source(), tl.ENGINE_CHUNK_NAME, strip=True))
    return _TYPES
