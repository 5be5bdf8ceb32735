"""Lua's ``eval_runner`` module: compile and run Lua source given as a string, in a sandbox
of its own: a fresh Lua state with the entry's limits (S6), a frame of its own (as a function
call), and only the modules it is given, which must be modules the calling entry may use
itself (code evaluated by a process never gets more than that process has). ``custom_modules``
(plain data) become globals of the evaluated code. Compiling and running are guarded actions
(``eval.compile``, ``eval.run``: ``guard.check``).
"""
from __future__ import annotations

import itertools
import re
from typing import Any

from .. import funcs as _funcs
from ..errors import LuaFailure
from ..registry.entry import Kind
from . import guard
from .api import ApiError, New, blocking, current_ctx, field, function, lua_value, text
from .chunks import compile_entry
from .ctx import Ctx
from .engine import from_lua, is_lua_table, to_lua
from .modules import BUILTIN_MODULES

__all__: list[str] = []

_serial = itertools.count(1)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _lua_literal(v: Any) -> str:
    """Plain data as a Lua expression on one line (for custom_modules)."""
    if v is None:
        return "nil"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, bytes)):
        raw = v.encode() if isinstance(v, str) else v
        return '"' + "".join(f"\\{b}" for b in raw) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(_lua_literal(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"[{_lua_literal(k)}] = {_lua_literal(x)}" for k, x in v.items()) + "}"
    raise ApiError("INVALID", f"custom_modules: a {type(v).__name__} is not plain data")


def _modules(ctx: Ctx, mods: Any) -> list[str]:
    names = [] if mods is None else from_lua(mods, empty=list)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError("INVALID", "modules must be a list of module names")
    own = ctx.allowlist(ctx.entry_id)[0]
    for n in names:
        if n not in BUILTIN_MODULES:
            raise ApiError("INVALID", f"module '{n}' is not available in wippy")
        if n not in own:
            raise ApiError("PERMISSION_DENIED", f"module '{n}' is not in the modules of "
                                                f"{ctx.entry_id}, so its evaluated code may not "
                                                "have it either")
    return names


def _program(ctx: Ctx, source: Any, method: Any, mods: Any, custom: Any = None) -> dict:
    src = text(source, "source")
    if not src:
        raise ApiError("INVALID", "source is required")
    prefix = ""
    if custom is not None:
        data = from_lua(custom)
        if not isinstance(data, dict):
            raise ApiError("INVALID", "custom_modules must be a table of name = value")
        for name, value in data.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ApiError("INVALID", f"custom_modules: '{name}' is not a Lua name")
            prefix += f"local {name} = {_lua_literal(value)}; "     # on line 1: lines stay
    name = text(method, "method") if method is not None else ""
    if not name:        # no method: the chunk's own result is the result
        prefix += "local __result = (function(...) "
        src += "\nend)(...) return {main = function() return __result end}"
    entry = {"id": f"eval:{next(_serial)}", "kind": "function.lua", "meta": {},
             "data": {"source": prefix + src, "method": name or "main",
                      "modules": _modules(ctx, mods), "imports": {}}, "method_name": name}
    try:
        code, _ = compile_entry(entry)
    except LuaFailure as exc:
        raise ApiError("INTERNAL", f"compilation failed: {exc}") from None
    return {"entry": entry, "code": code}


@function("eval_runner")
def compile(source: Any = None, method: Any = None, options: Any = None) -> Any:
    ctx = current_ctx()
    guard.check(ctx.pid, "eval.compile", "")
    mods = options[b"modules"] if is_lua_table(options) else None
    prog = _program(ctx, source, method, mods)
    data = prog["entry"]["data"]
    return New((b"Program", prog, prog["entry"]["method_name"].encode(),
                lua_value(data["modules"])))


field("Program", "method", 2)
field("Program", "modules", 3)


@blocking("eval_runner", "run")
async def _run(ctx: Ctx, config: Any = None) -> tuple:
    if not is_lua_table(config):
        raise ApiError("INVALID", "eval_runner.run expects a config table")
    guard.check(ctx.pid, "eval.run", "")
    prog = _program(ctx, config[b"source"], config[b"method"], config[b"modules"],
                    config[b"custom_modules"])
    args = from_lua(config[b"args"], empty=list) if config[b"args"] is not None else []
    values = from_lua(config[b"context"]) if config[b"context"] is not None else None
    if not isinstance(args, list):
        args = [args]
    # the host's runner of function.lua entries (the Lua driver) runs it, in a frame
    runner = ctx.rt.runners[Kind.FUNCTION_LUA.value](prog["entry"])
    try:
        value = await _funcs.run_frame(prog["entry"]["id"], runner, True, args,
                                       values if isinstance(values, dict) else None)
    except LuaFailure as exc:
        raise ApiError("INTERNAL", f"execution failed: {exc}") from None
    return (True, to_lua(ctx.state, value))
