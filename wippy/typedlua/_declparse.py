"""The typed layer over expressions: annotations (``: T`` after a name, a function's return
types) and the declarations ``type Name = T`` and ``interface Name ... end``, which become a
``local`` holding the run-time type; the aliases declared, per block, for ``wippy lint``.

One link of the parser chain (see :mod:`._parser`): :class:`DeclParser` sits between
:class:`~._exprparse.ExprParser` and the statement parser, which calls it.
"""
from __future__ import annotations

from ._exprparse import ExprParser
from ._lexer import Tokens
from ._typecode import ANY, Node, emit, lua_string

__all__ = ["DeclParser"]


class DeclParser(ExprParser):
    """Annotations and type declarations, with the aliases they declare."""

    def __init__(self, src: str, toks: Tokens) -> None:
        super().__init__(src, toks)
        self.aliases: dict[str, int] = {}                # name -> number of type parameters
        self.block_aliases: list[set[str]] = [set()]

    def opt_annotation(self) -> Node | None:
        """``: T`` after a name (local, parameter, for variable): parsed and erased."""
        if self.ty[self.i] != ":":
            return None
        start, mark = self.st[self.i], len(self.edits)
        self.i += 1
        t = self.type_expr()
        self.erase(start, mark)
        return t

    def return_types(self) -> list[Node]:
        """After ``):`` -- ``T``, ``T, U``, ``(T, U)``, ``()``, ``asserts x is T``."""
        first = self.type_expr(allow_tuple=True)
        if first[0] == "tuple":
            return list(first[1])
        out = [first]
        while self.accept(","):
            out.append(self.type_expr())
        return out

    def typestat(self) -> None:
        start = self.st[self.i]
        self.i += 1
        name_i = self.i
        name = self.expect_name()
        params: list[str] = []
        mark = len(self.edits)
        if self.accept("<"):
            while True:
                params.append(self.expect_name())
                if self.accept(":"):
                    self.type_expr()
                if not self.accept(","):
                    break
            self.expect_gt()
        self.expect("=")
        self.alias_params.append(frozenset(params))
        self.accept("|")
        body = self.type_expr()
        self.alias_params.pop()
        del self.edits[mark:]
        self.note_alias(name, len(params), name_i)
        if not params:
            self.alias_nodes[name] = body
        if params:
            code = (f"__wt.gdef(__ws, {lua_string(name)}, {len(params)}, "
                    f"function({', '.join(params)}) return {emit(body)} end)")
        else:
            code = f"__wt.def(__ws, {lua_string(name)}, {emit(body)})"
        self.replace(start, f"local {name} = {code}")
        self.declare(name, None)

    def ifacestat(self) -> None:
        start = self.st[self.i]
        open_i = self.i
        self.i += 1
        name_i = self.i
        name = self.expect_name()
        mark = len(self.edits)
        bases: list[Node] = []
        if self.accept(":"):
            while True:
                bases.append(self.named_type([self.expect_name()], self.st[self.i - 1]))
                if not self.accept(","):
                    break
        methods: list[tuple[str, Node]] = []
        while self.ty[self.i] == "function":
            self.i += 1
            mname = self.expect_name()
            methods.append((mname, self.iface_method()))
        self.expect_match("end", "interface", open_i)
        del self.edits[mark:]
        self.note_alias(name, 0, name_i)
        code = f"__wt.def(__ws, {lua_string(name)}, {emit(('iface', bases, methods))})"
        self.replace(start, f"local {name} = {code}")
        self.declare(name, None)

    def iface_method(self) -> Node:
        params: list[tuple[str | None, Node]] = []
        vararg: Node | None = None
        self.expect("(")
        if self.ty[self.i] != ")":
            while True:
                if self.accept("..."):
                    vararg = self.opt_annotation() or ANY
                    break
                pname = self.expect_name()
                params.append((pname, self.opt_annotation() or ANY))
                if not self.accept(","):
                    break
        self.expect(")")
        rets = self.return_types() if self.accept(":") else []
        return ("fn", params, vararg, rets)

    def note_alias(self, name: str, nparams: int, name_i: int) -> None:
        if name in self.block_aliases[-1]:
            self.warnings.append((self.st[name_i], f"type '{name}' is already declared in "
                                                   "this block"))
        self.block_aliases[-1].add(name)
        self.aliases.setdefault(name, nparams)
        self.uses_runtime = True
