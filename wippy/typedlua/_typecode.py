"""Type expressions as data, and the Lua code that builds their run-time type values.

The parser turns each type expression into a small tree of tuples (cheap to build, and most are
thrown away: an annotation is only erased). Only ``type`` aliases, ``interface`` declarations
and ``typeof(x)`` of an annotated local need run-time values; :func:`emit` writes the Lua
expression that builds one, on one line, calling the prelude's constructors through the chunk
local ``__wt`` (see :mod:`wippy.typedlua.types_rt`).

Node shapes (first item is the tag):
    ("prim", name)                 builtin: number, string, any, ...
    ("lit", lua_literal_source)    "pending", 42, true
    ("ref", dotted_name)           a named type, resolved lazily at run time
    ("tvar", name)                 a parameter of the generic alias being defined
    ("opt", t) ("union", [t...]) ("inter", [t...])
    ("rec", [(name, t, optional)]) ("arr", t) ("map", k, v)
    ("fn", [(name|None, t)], vararg_t|None, [ret...])
    ("inst", t, [arg...])          Result<User, string>
    ("val", t, [(name, [lua_arg_source...])])   validators
    ("iface", [base...], [(method, fn_node)])
    ("tuple", [t...])              only inside a return position
"""
from __future__ import annotations

from typing import Any

__all__ = ["BUILTINS", "emit", "lua_string"]

Node = tuple[Any, ...]

# builtin type name -> field of __wippy_types holding its value
BUILTINS = {
    "nil": "Nil", "boolean": "Boolean", "number": "Number", "integer": "Integer",
    "string": "String", "table": "Table", "function": "Function", "thread": "Thread",
    "userdata": "Userdata", "any": "Any", "unknown": "Unknown", "never": "Never",
    "error": "Error",
}

ANY: Node = ("prim", "any")


def lua_string(text: str) -> str:
    """``text`` as a Lua double-quoted string literal (any bytes, one line)."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif o < 32 or o == 127:
            out.append(f"\\{o:03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _list(items: list[str]) -> str:
    return "{" + ", ".join(items) + "}"


def emit(n: Node) -> str:
    """Lua expression building the run-time value of type node ``n``."""
    tag = n[0]
    if tag == "prim":
        return "__wt." + BUILTINS[n[1]]
    if tag == "lit":
        return f"__wt.lit({n[1]})"
    if tag == "ref":
        name = n[1]
        scope = "nil" if "." in name else "__ws"
        return f"__wt.ref({scope}, {lua_string(name)}, function() return {name} end)"
    if tag == "tvar":
        return n[1]
    if tag == "opt":
        return f"__wt.opt({emit(n[1])})"
    if tag == "union":
        return f"__wt.union({_list([emit(t) for t in n[1]])})"
    if tag == "inter":
        return f"__wt.inter({_list([emit(t) for t in n[1]])})"
    if tag == "rec":
        fields = [f"{{{lua_string(name)}, {emit(t)}{', true' if opt else ''}}}"
                  for name, t, opt in n[1]]
        return f"__wt.record({_list(fields)})"
    if tag == "arr":
        return f"__wt.array({emit(n[1])})"
    if tag == "map":
        return f"__wt.map({emit(n[1])}, {emit(n[2])})"
    if tag == "fn":
        params = [emit(t) for _, t in n[1]]
        names = [lua_string(name) if name else "false" for name, _ in n[1]]
        rets = [emit(t) for t in n[3]]
        vararg = emit(n[2]) if n[2] is not None else "nil"
        return f"__wt.func({_list(params)}, {_list(rets)}, {_list(names)}, {vararg})"
    if tag == "inst":
        return f"__wt.inst({emit(n[1])}, {_list([emit(t) for t in n[2]])})"
    if tag == "val":
        vals = [_list([lua_string(name)] + args) for name, args in n[2]]
        return f"__wt.v({emit(n[1])}, {_list(vals)})"
    if tag == "iface":
        bases = [emit(b) for b in n[1]]
        methods = [f"{{{lua_string(name)}, {emit(fn)}}}" for name, fn in n[2]]
        return f"__wt.iface({_list(bases)}, {_list(methods)})"
    if tag == "tuple":   # a bare tuple where one type is expected: its first element
        return emit(n[1][0]) if n[1] else "__wt.Nil"
    raise AssertionError(f"unknown type node {tag!r}")
