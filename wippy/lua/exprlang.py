"""An evaluator for expr-lang expressions (what Lua's ``expr`` module runs), pure functions.

Covers the language the docs use: literals (numbers, strings, ``true``/``false``/``nil``,
arrays ``[..]``, maps ``{k: v}``), variables from the environment, member access (``a.b``,
``a?.b``, ``a[i]``), unary ``not``/``!``/``-``, ``**``, ``* / %``, ``+ -`` (``+`` also joins
strings), ``..`` ranges, comparisons, ``in``/``not in``, ``contains``, ``startsWith``,
``endsWith``, ``matches``, ``and``/``&&``, ``or``/``||``, ``??`` and ``? :``; builtins ``len``,
``abs``, ``max``, ``min``, ``ceil``, ``floor``, ``round``, ``upper``, ``lower``, ``trim``,
``trimPrefix``, ``trimSuffix``, ``split``, ``join``, ``sum``, ``mean``, ``int``, ``float``,
``string``, ``keys``, ``values``, ``first``, ``last``, ``sort``, ``reverse``, ``has``.
Expressions are parsed once into a tree (:func:`parse`) and run against an environment
(:func:`run`); errors are ValueError (syntax) or ArithmeticError/TypeError/KeyError (run).
Closures (``map``, ``filter``, ``#``) are not supported.
"""
from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["parse", "run"]

_TOKEN = re.compile(r"""\s*(?:(?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\d*\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<op>\?\?|\?\.|\*\*|==|!=|<=|>=|&&|\|\||\.\.|[-+*/%^<>!?:.,()\[\]{}]))""", re.X)
_BINARY = [  # lowest precedence first
    {"??"}, {"or", "||"}, {"and", "&&"},
    {"==", "!=", "<", ">", "<=", ">=", "in", "not in", "contains", "startsWith", "endsWith",
     "matches"},
    {".."}, {"+", "-"}, {"*", "/", "%"}, {"**", "^"},
]
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _tokens(src: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unexpected character {src[pos:].lstrip()[:1]!r} at {pos}")
        pos = m.end()
        if m.group("num"):
            t = m.group("num")
            out.append(("lit", float(t) if any(c in t for c in ".eE") else int(t)))
        elif m.group("str"):
            body = m.group("str")[1:-1]
            out.append(("lit", re.sub(r"\\(.)", lambda e: _ESC.get(e.group(1), e.group(1)),
                                      body)))
        elif m.group("name"):
            out.append(("name", m.group("name")))
        else:
            out.append(("op", m.group("op")))
    out.append(("end", None))
    return out


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = _tokens(src)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, Any]:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self, value: str | None = None) -> tuple[str, Any]:
        t = self.peek()
        if value is not None and t[1] != value:
            raise ValueError(f"expected {value!r}, found {t[1]!r}")
        self.i += 1
        return t

    def op_at(self, level: int) -> str | None:
        kind, v = self.peek()
        if kind == "name" and v == "not" and self.peek(1) == ("name", "in") and "not in" in _BINARY[level]:
            return "not in"
        if kind in ("op", "name") and v in _BINARY[level]:
            return str(v)
        return None

    def expr(self) -> Any:
        cond = self.binary(0)
        if self.peek() == ("op", "?"):
            self.take()
            yes = self.expr()
            self.take(":")
            return ("if", cond, yes, self.expr())
        return cond

    def binary(self, level: int) -> Any:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            op = self.op_at(level)
            if op is None:
                return left
            self.take()
            if op == "not in":
                self.take()
            right = self.binary(level + 1) if op not in ("**", "^") else self.binary(level)
            left = ("bin", op, left, right)

    def unary(self) -> Any:
        kind, v = self.peek()
        if (kind == "op" and v in ("!", "-", "+")) or (kind == "name" and v == "not"):
            self.take()
            return ("un", v, self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, v = self.take()
        if kind == "lit":
            return ("lit", v)
        if kind == "name":
            if v in ("true", "false"):
                return ("lit", v == "true")
            if v in ("nil", "null"):
                return ("lit", None)
            if self.peek() == ("op", "("):
                return ("call", v, self.items(")"))
            return ("var", v)
        if v == "(":
            e = self.expr()
            self.take(")")
            return e
        if v == "[":
            return ("arr", self.items("]", opened=True))
        if v == "{":
            pairs = []
            while self.peek() != ("op", "}"):
                k = self.take()
                self.take(":")
                pairs.append((("lit", k[1]) if k[0] in ("name", "lit") else k, self.expr()))
                if self.peek() != ("op", "}"):
                    self.take(",")
            self.take("}")
            return ("map", pairs)
        raise ValueError(f"unexpected {v!r}")

    def items(self, close: str, opened: bool = False) -> list[Any]:
        if not opened:
            self.take()
        out = []
        while self.peek() != ("op", close):
            out.append(self.expr())
            if self.peek() != ("op", close):
                self.take(",")
        self.take(close)
        return out

    def postfix(self, node: Any) -> Any:
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in (".", "?."):
                safe = t[1] == "?."
                self.take()
                node = ("get", node, ("lit", self.take()[1]), safe)
            elif t == ("op", "["):
                self.take()
                key = self.expr()
                self.take("]")
                node = ("get", node, key, False)
            else:
                return node


def parse(src: str) -> Any:
    """The tree of expression ``src``; raises ValueError for a syntax error."""
    if not src.strip():
        raise ValueError("empty expression")
    p = _Parser(src)
    tree = p.expr()
    if p.peek()[0] != "end":
        raise ValueError(f"unexpected {p.peek()[1]!r} after the expression")
    return tree


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"a number expected, got {type(v).__name__}")
    return v


_FUNCS: dict[str, Any] = {
    "len": lambda v: len(v), "abs": lambda v: abs(_num(v)),
    "max": lambda *a: max(a[0] if len(a) == 1 else a), "min": lambda *a: min(a[0] if len(a) == 1 else a),
    "ceil": lambda v: math.ceil(_num(v)), "floor": lambda v: math.floor(_num(v)),
    "round": lambda v: round(_num(v)), "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(), "trim": lambda s, c=None: str(s).strip(c),
    "trimPrefix": lambda s, p: str(s)[len(p):] if str(s).startswith(p) else s,
    "trimSuffix": lambda s, p: str(s)[:-len(p)] if p and str(s).endswith(p) else s,
    "split": lambda s, sep: str(s).split(sep), "join": lambda a, sep="": sep.join(map(str, a)),
    "sum": lambda a: sum(a), "mean": lambda a: sum(a) / len(a) if a else 0,
    "int": lambda v: int(float(v)) if isinstance(v, str) else int(v),
    "float": lambda v: float(v), "string": lambda v: _to_string(v),
    "keys": lambda m: sorted(m), "values": lambda m: [m[k] for k in sorted(m)],
    "first": lambda a: a[0] if a else None, "last": lambda a: a[-1] if a else None,
    "sort": lambda a: sorted(a), "reverse": lambda a: list(reversed(a)),
    "has": lambda m, k: k in m,
}


def _to_string(v: Any) -> str:
    if v is True or v is False:
        return "true" if v else "false"
    return "nil" if v is None else str(v)


def run(tree: Any, env: dict[str, Any]) -> Any:
    """Evaluate ``tree`` with variables ``env``."""
    tag = tree[0]
    if tag == "lit":
        return tree[1]
    if tag == "var":
        if tree[1] not in env:
            raise KeyError(f"unknown name {tree[1]}")
        return env[tree[1]]
    if tag == "arr":
        return [run(x, env) for x in tree[1]]
    if tag == "map":
        return {run(k, env): run(v, env) for k, v in tree[1]}
    if tag == "if":
        return run(tree[2], env) if run(tree[1], env) else run(tree[3], env)
    if tag == "un":
        v = run(tree[2], env)
        return (not v) if tree[1] in ("!", "not") else -_num(v) if tree[1] == "-" else _num(v)
    if tag == "get":
        obj = run(tree[1], env)
        if obj is None and tree[3]:
            return None
        key = run(tree[2], env)
        if isinstance(obj, list) and isinstance(key, int):
            return obj[key] if -len(obj) <= key < len(obj) else None
        return obj.get(key) if isinstance(obj, dict) else None
    if tag == "call":
        fn = _FUNCS.get(tree[1])
        if fn is None:
            raise KeyError(f"unknown function {tree[1]}")
        return fn(*[run(a, env) for a in tree[2]])
    return _binary(tree[1], tree[2], tree[3], env)


def _binary(op: str, lt: Any, rt: Any, env: dict[str, Any]) -> Any:
    if op in ("and", "&&"):
        return bool(run(lt, env)) and bool(run(rt, env))
    if op in ("or", "||"):
        return bool(run(lt, env)) or bool(run(rt, env))
    a = run(lt, env)
    if op == "??":
        return a if a is not None else run(rt, env)
    b = run(rt, env)
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op in ("in", "not in"):
        found = (a in b) if isinstance(b, (list, dict, str)) else False
        return found if op == "in" else not found
    if op == "contains":
        return str(b) in str(a)
    if op == "startsWith":
        return str(a).startswith(str(b))
    if op == "endsWith":
        return str(a).endswith(str(b))
    if op == "matches":
        return re.search(str(b), str(a)) is not None
    if op in ("<", ">", "<=", ">="):
        pair: tuple[Any, Any] = (a, b) if isinstance(a, str) and isinstance(b, str) else (
            _num(a), _num(b))
        x, y = pair
        return x < y if op == "<" else x > y if op == ">" else x <= y if op == "<=" else x >= y
    if op == "..":
        return list(range(int(_num(a)), int(_num(b)) + 1))
    x, y = _num(a), _num(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return x / y
    if op == "%":
        return x % y
    return x ** y
