"""The expression grammar of Jet actions: :class:`ExprParser` turns one action's tokens into
a tree of tuples ``(op, ...)`` (literals, fields, indexes, slices, operators, ternaries, calls
and pipelines) that :mod:`.render` evaluates.
"""
from __future__ import annotations

import json as _json
from typing import Any

from ..errors import TemplateError

__all__ = ["ExprParser"]


class ExprParser:
    """Parses one action's tokens into a tree of tuples: (op, ...)."""

    def __init__(self, toks: list[tuple[str, str]], where: str) -> None:
        self.t = toks
        self.i = 0
        self.where = where

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.t[j] if j < len(self.t) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise TemplateError(f"{self.where}: expected {value!r}, got {tok[1] or 'end'!r}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in ("op", "name")

    def done(self) -> bool:
        return self.i >= len(self.t)

    def pipeline(self) -> Any:
        # prefix call: `name: args`
        if self.peek()[0] == "name" and self.peek(1) == ("op", ":"):
            fn = self.take()[1]
            self.take(":")
            args = [self.ternary()]
            while self.at(","):
                self.take(",")
                args.append(self.ternary())
            node: Any = ("call", ("var", fn), args, None)
        else:
            node = self.ternary()
        while self.at("|"):
            self.take("|")
            fn = self.take()[1]
            args = []
            if self.at("("):
                self.take("(")
                args = self.args(")")
            elif self.at(":"):
                self.take(":")
                args = [self.ternary()]
                while self.at(","):
                    self.take(",")
                    args.append(self.ternary())
            node = ("pipe", fn, node, args)
        return node

    def args(self, close: str) -> list[Any]:
        out = []
        while not self.at(close):
            if self.peek()[0] == "name" and self.peek(1) == ("op", "="):
                key = self.take()[1]
                self.take("=")
                out.append(("named", key, self.ternary()))
            else:
                out.append(self.ternary())
            if not self.at(close):
                self.take(",")
        self.take(close)
        return out

    def ternary(self) -> Any:
        cond = self.binary(0)
        if self.at("?"):
            self.take("?")
            a = self.ternary()
            self.take(":")
            return ("?", cond, a, self.ternary())
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            node = (op, node, self.binary(level + 1))
        return node

    def unary(self) -> Any:
        if self.at("!"):
            self.take()
            return ("!", self.unary())
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while True:
            kind, val = self.peek()
            if kind == "field":
                self.take()
                node = ("get", node, ("lit", val[1:]))
            elif self.at("["):
                self.take()
                lo = None if self.at(":") else self.ternary()
                if self.at(":"):
                    self.take()
                    hi = None if self.at("]") else self.ternary()
                    self.take("]")
                    node = ("slice", node, lo, hi)
                else:
                    self.take("]")
                    node = ("get", node, lo)
            elif self.at("(") and node[0] == "var":
                self.take()
                node = ("call", node, self.args(")"), None)
            else:
                return node

    def primary(self) -> Any:
        kind, val = self.take()
        if kind == "str":
            if val[0] == "`":
                return ("lit", val[1:-1])
            try:
                return ("lit", _json.loads('"' + val[1:-1].replace("\\'", "'") + '"'))
            except ValueError:
                raise TemplateError(f"{self.where}: bad string {val}") from None
        if kind == "num":
            return ("lit", float(val) if any(c in val for c in ".eE") else int(val))
        if kind == "field":
            return ("get", ("ctx",), ("lit", val[1:]))
        if kind == "name":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "nil":
                return ("lit", None)
            return ("var", val)
        if val == ".":
            return ("ctx",)
        if val == "(":
            node = self.pipeline()
            self.take(")")
            return node
        raise TemplateError(f"{self.where}: unexpected {val or 'end of action'!r}")
