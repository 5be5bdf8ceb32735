"""Helpers shared by the typed-Lua tests (no tests here): a Lua 5.4 state with the type prelude.

Tests use lupa directly (the package itself never imports it: the Lua runtime module does).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import lupa.lua54 as lua54

from wippy.typedlua import translate
from wippy.typedlua.types_rt import (
    CORE_CHUNK_NAME,
    ENGINE_CHUNK_NAME,
    PRELUDE_CHUNK_NAME,
    core_source,
    engine_source,
    prelude,
)

DATA = Path(__file__).parent / "data" / "typedlua"

_bytecode: dict[str, bytes] = {}


def _dumped(name: str, source: str) -> bytes:
    """Precompiled chunk, as a host would make it once (the fast path)."""
    if name not in _bytecode:
        lua = lua54.LuaRuntime(encoding=None)
        dump = lua.eval("function(s, n) return string.dump(assert(load(s, n)), true) end")
        _bytecode[name] = dump(source.encode(), name.encode())
    return _bytecode[name]


def new_state(precompiled: bool = False, env: bool = False) -> Any:
    """A Lua 5.4 runtime with the typed-Lua installer run on its globals (or on a sandbox env).

    With ``env=True`` the installer targets a fresh table whose ``__index`` is ``_G`` (how a
    sandbox might look) and the runtime's ``_SANDBOX`` global holds it.
    """
    lua = lua54.LuaRuntime(unpack_returned_tuples=True)
    g = lua.globals()
    target = g
    if env:
        target = lua.eval("setmetatable({string = setmetatable({}, {__index = string})}, "
                          "{__index = _G})")
        g._SANDBOX = target
    if precompiled:
        core = _dumped(CORE_CHUNK_NAME, core_source())
        engine = _dumped(ENGINE_CHUNK_NAME, engine_source())
        load_b = lua.eval("function(b, n) return assert(load(b, n, 'b')) end")
        core_fn, engine_fn = load_b(core, CORE_CHUNK_NAME), load_b(engine, ENGINE_CHUNK_NAME)
        g.load(prelude(), PRELUDE_CHUNK_NAME)(target, core_fn, engine_fn)
    else:
        g.load(prelude(), PRELUDE_CHUNK_NAME)(target, core_source(), engine_source())
    return lua


def load_chunk(lua: Any, code: str, name: str, env: Any = None) -> Any:
    """Compile ``code`` in ``lua``; raise ``SyntaxError`` with Lua's message on failure."""
    g = lua.globals()
    fn = g.load(code, "@" + name, "t", env) if env is not None else g.load(code, "@" + name)
    if isinstance(fn, tuple):
        raise SyntaxError(fn[1])
    return fn


def run_typed(source: str, name: str = "chunk.lua", **state: Any) -> Any:
    """Translate and run ``source``; return its first result converted to Python."""
    lua = new_state(**state)
    fn = load_chunk(lua, translate(source, name), name)
    return to_py(fn())


def lua_error_text(lua: Any, exc: BaseException) -> str:
    """The message of a Lua error, whether it was raised as a string or an error object."""
    value = exc.args[0] if exc.args else exc
    return str(value)


def to_py(v: Any) -> Any:
    """Lua tables to lists (keys 1..n) or dicts, recursively; other values unchanged."""
    if lupa_typeof(v) == "table":
        keys = list(v.keys())
        if keys and all(isinstance(k, int) for k in keys) and sorted(keys) == list(
                range(1, len(keys) + 1)):
            return [to_py(v[k]) for k in range(1, len(keys) + 1)]
        return {k: to_py(v[k]) for k in keys}
    if isinstance(v, tuple):
        return [to_py(x) for x in v]
    return v


def lupa_typeof(v: Any) -> str | None:
    try:
        return lua54.lua_type(v)
    except Exception:  # noqa: BLE001 - not a Lua object
        return None


_HEADER = re.compile(r"^--\s*(expect|expect-error|expect-syntax):\s*(.*)$")


def corpus_header(path: Path) -> tuple[str, Any]:
    """``("expect", value)``, ``("expect-error", text)`` or ``("expect-syntax", text)``."""
    first = path.read_text().splitlines()[0]
    m = _HEADER.match(first)
    assert m, f"{path.name}: first line must be an '-- expect...:' header"
    kind, text = m.groups()
    return kind, (ast.literal_eval(text) if kind == "expect" else text)
