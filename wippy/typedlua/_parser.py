"""Recursive-descent pass over Lua 5.4 + Wippy's type syntax, producing source edits.

The parser follows Lua 5.4's own grammar (``lparser.c``: statements, expressions, ``<const>``
attributes, labels, ``goto``) and recognises the typed positions Wippy adds. It builds no syntax
tree for Lua code: it only records *edits* to the source text:

* erase (replace by spaces, newlines kept): annotations after ``local name``, parameters and
  ``...``; return types after a function's ``)``; ``<T, U: Bound>`` after a function name;
  casts ``e :: T`` and ``e as T``; the ``!`` assertion;
* replace: ``type Name = T`` becomes ``local Name = <type value>`` and ``interface Name ... end``
  likewise, on the statement's first line, padded with the newlines the statement spanned;
* insert: ``typeof(x)`` for an annotated local ``x`` gets the declared type as a second
  argument (so ``typeof`` reports the declared type, as Wippy's does).

Every line therefore stays on its line; columns stay too except after an inserted or replaced
span. Plain Lua produces no edit at all, so it comes out byte for byte unchanged.

Context-dependent words: ``type``/``interface`` only start a declaration when followed by a
name (``type(x)``, ``local type = 1`` stay Lua); ``as`` is a cast only after an expression and
before something that parses as a type, and not when it starts a line followed by ``(``, ``{``
or a string (a call of a function named ``as``); ``::`` after an expression is a cast unless it
reads ``:: name ::`` (a label).

Also collected for ``wippy lint``: type names that resolve to nothing, unknown validators,
duplicate aliases, generic arity mismatches, and ``require("x")`` calls.

The parser is a chain of classes, each owning the state it uses: :class:`~._cursor.Cursor`
(tokens and edits), :class:`~._typeparse.TypeParser` (type expressions),
:class:`~._exprparse.ExprParser` (expressions and scopes), :class:`~._declparse.DeclParser`
(annotations and type declarations), and :class:`Parser` here (statements).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import _statics as S
from ._declparse import DeclParser
from ._lexer import Tokens
from ._typecode import Node
from ._typeparse import ParseError

__all__ = ["ParseError", "ParseResult", "parse"]


_BLOCK_END = frozenset({"else", "elseif", "end", "until", "<eof>"})


@dataclass(slots=True)
class ParseResult:
    """Edits to apply (``(start, end, text)``; ``text`` None means blank the span) and lint facts."""

    edits: list[tuple[int, int, str | None]]
    uses_runtime: bool
    requires: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    type_errors: list[tuple[int, str]] = field(default_factory=list)


class Parser(DeclParser):
    """Statements: the whole parse, from :meth:`chunk` to :meth:`finish`."""

    def __init__(self, src: str, toks: Tokens) -> None:
        super().__init__(src, toks)
        self.fn_rets: list[list[Node]] = []              # declared returns of the functions

    # -- blocks and statements ---------------------------------------------------------------

    def chunk(self) -> None:
        self.block(new_scope=False)
        if self.ty[self.i] != "<eof>":
            raise self.error("'<eof>' expected")

    def block(self, new_scope: bool = True) -> None:
        if new_scope:
            self.scopes.append({})
        self.block_aliases.append(set())
        ty = self.ty
        while True:
            t = ty[self.i]
            if t in _BLOCK_END:
                break
            if t == "return":
                self.retstat()
                break
            self.statement()
        self.block_aliases.pop()
        if new_scope:
            self.scopes.pop()

    def retstat(self) -> None:
        at = self.st[self.i]
        self.i += 1
        t = self.ty[self.i]
        got: list[Node | None] = []
        if t not in _BLOCK_END and t != ";":
            got = self.explist()
        self.accept(";")
        if self.fn_rets:
            self.fn_returned[-1] = True
            want = self.fn_rets[-1]
            if want and got and not S.assignable(want[0], got[0], self.alias_nodes):
                self.type_error(at, f"cannot return {S.describe(got[0])} as "
                                    f"{S.describe(want[0])}")

    def statement(self) -> None:
        ty = self.ty
        i = self.i
        t = ty[i]
        if t == ";":
            self.i += 1
        elif t == "if":
            self.i += 1
            self.expr()
            self.expect("then")
            self.block()
            while ty[self.i] == "elseif":
                self.i += 1
                self.expr()
                self.expect("then")
                self.block()
            if self.accept("else"):
                self.block()
            self.expect_match("end", "if", i)
        elif t == "while":
            self.i += 1
            self.expr()
            self.expect("do")
            self.block()
            self.expect_match("end", "while", i)
        elif t == "do":
            self.i += 1
            self.block()
            self.expect_match("end", "do", i)
        elif t == "for":
            self.forstat(i)
        elif t == "repeat":
            self.i += 1
            self.block()
            self.expect_match("until", "repeat", i)
            self.expr()
        elif t == "function":
            self.funcstat(i)
        elif t == "local":
            self.i += 1
            if self.accept("function"):
                name = self.expect_name()
                self.declare(name, None)
                self.declare(name, self.funcbody(i))
            else:
                self.localstat()
        elif t == "::":
            self.i += 1
            self.expect_name()
            self.expect("::")
        elif t == "goto":
            self.i += 1
            self.expect_name()
        elif t == "break":
            self.i += 1
        elif t == "name" and ty[i + 1] == "name" and self.text(i) in ("type", "interface"):
            word = self.text(i)
            if word == "type" and ty[i + 2] in ("=", "<"):
                self.typestat()
            elif word == "interface":
                self.ifacestat()
            else:
                self.exprstat()
        else:
            self.exprstat()

    def exprstat(self) -> None:
        kind = self.suffixedexp()
        if self.ty[self.i] in ("=", ","):
            if kind != "var":
                raise self.error("syntax error")
            while self.accept(","):
                if self.suffixedexp() != "var":
                    raise self.error("syntax error")
            self.expect("=")
            self.explist()
        elif kind != "call":
            raise self.error("syntax error")

    def forstat(self, open_i: int) -> None:
        self.i += 1
        names = [self.expect_name()]
        self.opt_annotation()
        if self.accept("="):
            self.expr()
            self.expect(",")
            self.expr()
            if self.accept(","):
                self.expr()
        else:
            while self.accept(","):
                names.append(self.expect_name())
                self.opt_annotation()
            self.expect("in", "=' or 'in")
            self.explist()
        self.expect("do")
        self.scopes.append({n: None for n in names})
        self.block()
        self.scopes.pop()
        self.expect_match("end", "for", open_i)

    def funcstat(self, open_i: int) -> None:
        self.i += 1
        self.expect_name()
        is_method = False
        while self.ty[self.i] == ".":
            self.i += 1
            self.expect_name()
        if self.accept(":"):
            self.expect_name()
            is_method = True
        self.funcbody(open_i, is_method)

    def localstat(self) -> None:
        names: list[tuple[str, Node | None]] = []
        while True:
            name = self.expect_name()
            self.attrib()
            t = self.opt_annotation()
            if t is not None:
                self.attrib()
            names.append((name, t))
            if not self.accept(","):
                break
        if self.accept("="):
            at = self.st[self.i]
            values = self.explist()
            for (name, t), got in zip(names, values):
                if t is not None and not S.assignable(t, got, self.alias_nodes):
                    self.type_error(at, f"cannot assign {S.describe(got)} to '{name}' of type "
                                        f"{S.describe(t)}")
        for name, t in names:
            self.declare(name, t)

    def attrib(self) -> None:
        ty = self.ty
        if ty[self.i] == "<":
            self.i += 1
            name = self.expect_name()
            if name not in ("const", "close"):
                raise ParseError(self.st[self.i - 1], f"unknown attribute '{name}'")
            self.expect(">")

    def funcbody(self, open_i: int, is_method: bool = False) -> Node:
        """Parse a function from its parameters to ``end``; returns its signature node."""
        ty = self.ty
        gp: set[str] = set()
        if ty[self.i] == "<":
            start, mark = self.st[self.i], len(self.edits)
            self.i += 1
            while True:
                gp.add(self.expect_name())
                if self.accept(":"):
                    self.type_expr()
                if not self.accept(","):
                    break
            self.expect_gt()
            self.erase(start, mark)
        self.generic_params.append(frozenset(gp))
        params: dict[str, Node | None] = {"self": None} if is_method else {}
        vararg = False
        self.expect("(")
        if ty[self.i] != ")":
            while True:
                if ty[self.i] == "name":
                    pname = self.expect_name()
                    if ty[self.i] == "?" and ty[self.i + 1] == ":":
                        self.edits.append((self.st[self.i], self.en[self.i], None))
                        self.i += 1
                    params[pname] = self.opt_annotation()
                elif ty[self.i] == "...":
                    self.i += 1
                    vararg = True
                    self.opt_annotation()
                else:
                    raise self.error("<name> expected")
                if vararg or not self.accept(","):
                    break
        self.expect(")")
        rets: list[Node] = []
        if ty[self.i] == ":":
            start, mark = self.st[self.i], len(self.edits)
            self.i += 1
            rets = self.return_types()
            self.erase(start, mark)
        self.scopes.append(params)
        self.vararg.append(vararg)
        self.fn_rets.append(rets if not gp else [])     # generic returns are not judged
        self.fn_returned.append(False)
        self.block()
        returned = self.fn_returned.pop()
        self.fn_rets.pop()
        self.vararg.pop()
        self.scopes.pop()
        self.generic_params.pop()
        if rets and not gp and not returned and not S.can_be_nil(rets[0], self.alias_nodes):
            self.type_error(self.st[self.i], f"missing return: the function returns "
                                             f"{S.describe(rets[0])}")
        self.expect_match("end", "function", open_i)
        sig = [(n, t) for n, t in params.items() if n != "self"]
        return ("fn", sig, vararg, [] if gp else rets)

    # -- after the parse ---------------------------------------------------------------------

    def finish(self) -> ParseResult:
        for name, offset in self.unresolved:
            if name not in self.aliases:
                self.warnings.append((offset, f"unknown type '{name}'"))
        for name, nargs, offset in self.generic_uses:
            want = self.aliases.get(name)
            if want is not None and want != nargs:
                self.warnings.append((offset, f"type '{name}' takes {want} type argument(s), "
                                              f"got {nargs}"))
        self.warnings.sort()
        return ParseResult(self.edits, self.uses_runtime, self.requires, self.warnings,
                           sorted(self.type_errors))


def parse(src: str, toks: Tokens) -> ParseResult:
    """Parse ``src`` (already tokenized). Raises :class:`ParseError`."""
    p = Parser(src, toks)
    p.chunk()
    return p.finish()

