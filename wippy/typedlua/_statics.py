"""The static type errors the translator can see (pure functions over type nodes).

Wippy rejects code with static type errors when it is registered; wippy's translator is no
type checker, but it knows the declared types of locals, parameters, local functions and
``type`` aliases of the chunk, and the types of literals. Where both sides of an assignment,
a return, an argument, an arithmetic operand, a call or a field access are known that way,
an impossible combination is an error:

* ``local x: number = "hello"``, ``local x: number = nil``, ``local x: number = get()`` where
  ``get(): number?``, a union that excludes the value (``number | string = true``);
* ``return "oops"`` from a function declared ``: number``, or no ``return`` at all in it;
* arithmetic on a string, boolean, nil, table or function (``"a" + "b"``, ``true + false``);
* calling a number, string or boolean local; indexing a number, boolean or nil local; a field
  a record alias does not have (``p.unknown`` for ``p: Person``);
* a call of a local function with too few or too many arguments, or an argument of a known
  type its parameter cannot take.

Everything else is "unknown" and passes: the check never guesses (a false error would refuse
working code). ``integer`` and ``number`` are one type here, as Lua literals do not tell them
apart.
"""
from __future__ import annotations

from typing import Any

from ._typecode import Node

__all__ = ["literal", "assignable", "describe", "ARITH", "NOT_ARITH", "field_of", "required",
           "can_be_nil"]

NUMBER: Node = ("prim", "number")
_LITERALS = {"num": NUMBER, "str": ("prim", "string"), "nil": ("prim", "nil"),
             "true": ("prim", "boolean"), "false": ("prim", "boolean")}
ARITH = frozenset({"+", "-", "*", "/", "//", "%", "^"})
#: Static types arithmetic refuses.
NOT_ARITH = frozenset({"string", "boolean", "nil", "table", "function"})
_SAME = {"integer": "number"}
_OPEN = frozenset({"any", "unknown"})


def literal(token_type: str) -> Node | None:
    """The type of a literal token (``num``, ``str``, ``nil``, ``true``, ``false``)."""
    return _LITERALS.get(token_type)


def _prim(n: Node | None) -> str | None:
    if n is not None and n[0] == "prim":
        return _SAME.get(n[1], n[1])
    return None


def _resolve(n: Node | None, aliases: dict[str, Node]) -> Node | None:
    seen = 0
    while n is not None and n[0] == "ref" and seen < 16:
        n = aliases.get(n[1])
        seen += 1
    if n is not None and n[0] == "val":          # validators: the type they validate
        n = n[1]
    return n


def can_be_nil(n: Node | None, aliases: dict[str, Node]) -> bool:
    """Whether a value of declared type ``n`` may be nil (unknown: yes)."""
    n = _resolve(n, aliases)
    if n is None:
        return True
    tag = n[0]
    if tag == "opt":
        return True
    if tag == "prim":
        return n[1] in ("nil", "any", "unknown", "never")
    if tag == "union":
        return any(can_be_nil(t, aliases) for t in n[1])
    return tag not in ("rec", "arr", "map", "fn", "lit", "iface")


def assignable(want: Node | None, got: Node | None, aliases: dict[str, Node]) -> bool:
    """False only when a value of static type ``got`` can certainly not be a ``want``."""
    want, got = _resolve(want, aliases), _resolve(got, aliases)
    if want is None or got is None:
        return True
    g = _prim(got)
    if got[0] == "opt":
        return can_be_nil(want, aliases) and assignable(want, got[1], aliases)
    if got[0] == "union":
        return all(assignable(want, t, aliases) for t in got[1])
    if g is None or g in _OPEN:
        return True
    tag = want[0]
    if tag == "prim":
        w = _prim(want)
        return w in _OPEN or w == g or (w == "table" and g == "table")
    if tag == "opt":
        return g == "nil" or assignable(want[1], got, aliases)
    if tag == "union":
        return any(assignable(t, got, aliases) for t in want[1])
    if tag in ("rec", "arr", "map", "iface"):
        return g == "table"
    if tag == "fn":
        return g == "function"
    return True          # literal types, generics, intersections...: not judged here


def required(params: list[tuple[str | None, Node | None]], aliases: dict[str, Node]) -> int:
    """How many leading parameters a call must give (trailing ones that may be nil are
    optional)."""
    n = len(params)
    while n and (params[n - 1][1] is None or can_be_nil(params[n - 1][1], aliases)):
        n -= 1
    return n


def field_of(n: Node | None, name: str, aliases: dict[str, Node]) -> tuple[bool, Node | None]:
    """(known to lack the field, the field's type) for ``x.name`` with ``x`` of type ``n``."""
    n = _resolve(n, aliases)
    if n is None or n[0] != "rec":
        return False, None
    for field in n[1]:
        if field[0] == name:
            return False, field[1]
    return True, None


def describe(n: Any) -> str:
    """A type node as the error message names it."""
    if not isinstance(n, tuple):
        return "?"
    tag = n[0]
    if tag == "prim":
        return str(n[1])
    if tag == "opt":
        return describe(n[1]) + "?"
    if tag == "union":
        return " | ".join(describe(t) for t in n[1])
    if tag == "ref":
        return str(n[1])
    if tag == "rec":
        return "{" + ", ".join(str(f[0]) for f in n[1]) + "}"
    if tag == "arr":
        return "{" + describe(n[1]) + "}"
    if tag == "fn":
        return "function"
    return tag
