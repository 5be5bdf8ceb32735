"""Lua expressions for the typed-Lua parser: operands, casts (``e :: T``, ``e as T``, ``e!``),
calls and table constructors, with the static type an expression has when its operands tell it
(the checks of :mod:`._statics`). The statements above them are in :mod:`._parser`.
"""
from __future__ import annotations

from . import _statics as S
from ._lexer import Tokens
from ._typecode import Node, emit
from ._typeparse import TYPE_START, ParseError, TypeParser

__all__ = ["ExprParser"]

_UNOPS = frozenset({"not", "-", "#", "~"})
_BINOPS = frozenset({"or", "and", "<", ">", "<=", ">=", "~=", "==", "|", "~", "&", "<<", ">>",
                     "..", "+", "-", "*", "/", "//", "%", "^"})
_SIMPLE = frozenset({"num", "str", "nil", "true", "false"})


class ExprParser(TypeParser):
    """Expressions, and the scopes and static facts they read and leave."""

    def __init__(self, src: str, toks: Tokens) -> None:
        super().__init__(src, toks)
        self.scopes: list[dict[str, Node | None]] = [{}]
        self.vararg: list[bool] = [True]
        self.uses_runtime = False
        self.requires: list[tuple[str, int]] = []
        # static checks (_statics.py): alias bodies, whether the functions being parsed
        # returned, the static type of the last operand
        self.type_errors: list[tuple[int, str]] = []
        self.alias_nodes: dict[str, Node] = {}
        self.fn_returned: list[bool] = []
        self.last_type: Node | None = None

    # provided by the statement parser
    def funcbody(self, open_i: int, is_method: bool = False) -> Node: raise NotImplementedError

    # -- scopes ------------------------------------------------------------------------------

    def declare(self, name: str, t: Node | None) -> None:
        self.scopes[-1][name] = t

    def lookup(self, name: str) -> tuple[bool, Node | None]:
        for scope in reversed(self.scopes):
            if name in scope:
                return True, scope[name]
        return False, None

    def type_error(self, offset: int, message: str) -> None:
        self.type_errors.append((offset, message))

    # -- expressions -------------------------------------------------------------------------

    def explist(self) -> list[Node | None]:
        """Parse expressions; their static types (None: unknown, or several values)."""
        out = [self.expr()]
        while self.accept(","):
            out.append(self.expr())
        return out

    def expr(self) -> Node | None:
        """Parse an expression; its static type when the operands tell it (else None)."""
        ty = self.ty
        ops: set[str] = set()
        operands: list[tuple[int, Node | None]] = []        # (offset, type after unary ops)
        while True:
            neg = False
            unary: Node | None = None
            while ty[self.i] in _UNOPS:
                u = ty[self.i]
                neg = neg or u == "-"
                unary = ("prim", "boolean") if u == "not" else S.NUMBER
                self.i += 1
            at = self.st[self.i]
            got = self.simpleexp()
            if neg and got is not None and got[0] == "prim" and got[1] in S.NOT_ARITH:
                self.type_error(at, f"cannot do arithmetic on a {got[1]}")
            operands.append((at, unary if unary is not None else got))
            if ty[self.i] in _BINOPS:
                ops.add(ty[self.i])
                self.i += 1
                continue
            break
        if ops and ops <= S.ARITH:          # with other operators, precedence decides: no guess
            for at, got in operands:
                if got is not None and got[0] == "prim" and got[1] in S.NOT_ARITH:
                    self.type_error(at, f"cannot do arithmetic on a {got[1]}")
        if len(operands) == 1:
            return operands[0][1]
        if ops <= S.ARITH:
            return S.NUMBER
        if ops == {".."}:
            return ("prim", "string")
        if ops <= {"<", ">", "<=", ">=", "~=", "=="}:
            return ("prim", "boolean")
        return None

    def simpleexp(self) -> Node | None:
        ty = self.ty
        t = ty[self.i]
        out: Node | None = None
        if t in _SIMPLE:
            out = S.literal(t)
            self.i += 1
        elif t == "...":
            if not self.vararg[-1]:
                raise self.error("cannot use '...' outside a vararg function")
            self.i += 1
        elif t == "{":
            self.table()
            out = ("prim", "table")
        elif t == "function":
            open_i = self.i
            self.i += 1
            self.funcbody(open_i)
            out = ("prim", "function")
        else:
            self.suffixedexp()
            out = self.last_type
        start = self.i
        self.casts()
        return out if self.i == start else None       # a cast says what it is: not judged

    def casts(self) -> None:
        """Postfix ``!``, ``:: T`` and ``as T`` after an operand."""
        ty = self.ty
        while True:
            t = ty[self.i]
            if t == "!":
                self.edits.append((self.st[self.i], self.en[self.i], None))
                self.i += 1
            elif t == "::":
                if ty[self.i + 1] == "name" and ty[self.i + 2] == "::":
                    return      # '::label::' starts the next statement
                start, mark = self.st[self.i], len(self.edits)
                self.i += 1
                self.type_expr()
                self.erase(start, mark)
            elif t == "name" and self.text() == "as" and self.as_cast():
                continue
            else:
                return

    def as_cast(self) -> bool:
        i = self.i
        nt = self.ty[i + 1]
        if nt not in TYPE_START:
            return False
        if nt in ("(", "{", "str") and self.line(self.st[i]) != self.line(self.en[i - 1]):
            return False    # 'as' starting a line, then a call: Lua code using a name 'as'
        state = self.save()
        start, mark = self.st[i], len(self.edits)
        self.i += 1
        try:
            self.type_expr()
        except ParseError:
            self.restore(state)
            return False
        self.erase(start, mark)
        return True

    def suffixedexp(self) -> str:
        """Parse a primary expression and its suffixes; ``var``, ``call`` or ``paren``. Its
        static type is left in ``last_type``."""
        ty = self.ty
        i = self.i
        t = ty[i]
        cur: Node | None = None
        if t == "name":
            kind = "var"
            name = self.text(i)
            self.i += 1
            if name == "typeof" or name == "require":
                self.special_call(name)
            else:
                found, cur = self.lookup(name)
                if cur is not None and cur[0] in ("opt", "union"):
                    cur = None          # the code may have narrowed it (`if x ~= nil`): unknown
                if name == "error" and not found and self.fn_returned:
                    self.fn_returned[-1] = True     # error() does not return
        elif t == "(":
            self.i += 1
            self.expr()
            self.expect_match(")", "(", i)
            kind = "paren"
        else:
            raise self.error("unexpected symbol")
        while True:
            t = ty[self.i]
            at = self.st[self.i]
            prim = cur[1] if cur is not None and cur[0] == "prim" else None
            if t == ".":
                self.i += 1
                fname = self.expect_name()
                if prim in ("number", "integer", "boolean", "nil"):
                    self.type_error(at, f"cannot index a {prim} (field '{fname}')")
                    cur = None
                else:
                    lacks, cur = S.field_of(cur, fname, self.alias_nodes)
                    if lacks:
                        self.type_error(at, f"unknown field '{fname}'")
                kind = "var"
            elif t == "[":
                self.i += 1
                self.expr()
                self.expect("]")
                kind, cur = "var", None
            elif t == ":":
                self.i += 1
                self.expect_name()
                self.args()
                kind, cur = "call", None
            elif t == "(" or t == "str" or t == "{":
                if prim in ("number", "integer", "string", "boolean", "nil"):
                    self.type_error(at, f"cannot call a {prim}")
                got, multi = self.args()
                cur = self.call_result(cur, got, multi, at)
                kind = "call"
            elif t == "!":
                self.edits.append((self.st[self.i], self.en[self.i], None))
                self.i += 1
                cur = None
            else:
                self.last_type = cur
                return kind

    def call_result(self, sig: Node | None, got: list[Node | None], multi: bool,
                    at: int) -> Node | None:
        """Check a call of a local function with a known signature; its first result type."""
        if sig is None or sig[0] != "fn":
            return None
        _, params, vararg, rets = sig
        need = S.required(params, self.alias_nodes)
        if len(got) < need and not multi:
            self.type_error(at, f"expects at least {need} argument(s), got {len(got)}")
        elif len(got) > len(params) and not vararg:
            self.type_error(at, f"expects at most {len(params)} argument(s), got {len(got)}")
        for (pname, pt), g in zip(params, got):
            if pt is not None and not S.assignable(pt, g, self.alias_nodes):
                self.type_error(at, f"argument '{pname}' expects {S.describe(pt)}, got "
                                    f"{S.describe(g)}")
        return rets[0] if len(rets) == 1 else None

    def special_call(self, name: str) -> None:
        """``typeof(x)`` of an annotated local, ``require("m")``: looked at, parsed normally."""
        ty, i = self.ty, self.i
        if name == "require":
            if ty[i] == "(" and ty[i + 1] == "str" and ty[i + 2] == ")":
                i += 1
            if ty[i] == "str":
                lit = self.text(i)
                if lit[0] in "\"'" and "\\" not in lit:
                    self.requires.append((lit[1:-1], self.st[i]))
        elif ty[i] == "(" and ty[i + 1] == "name" and ty[i + 2] == ")":
            if self.lookup("typeof")[0]:
                return          # a local named typeof: not ours
            found, t = self.lookup(self.text(i + 1))
            if found and t is not None:
                self.uses_runtime = True
                pos = self.st[i + 2]
                self.edits.append((pos, pos, ", " + emit(t)))

    def args(self) -> tuple[list[Node | None], bool]:
        """Parse call arguments: their static types, and whether the last one may be several
        values (a call or ``...``)."""
        t = self.ty[self.i]
        if t == "str":
            self.i += 1
            return [("prim", "string")], False
        if t == "{":
            self.table()
            return [("prim", "table")], False
        if t == "(":
            open_i = self.i
            self.i += 1
            got: list[Node | None] = []
            multi = False
            if self.ty[self.i] != ")":
                got = self.explist()
                multi = self.ty[self.i - 1] in (")", "...")
            self.expect_match(")", "(", open_i)
            return got, multi
        raise self.error("function arguments expected")

    def table(self) -> None:
        ty = self.ty
        open_i = self.i
        self.i += 1
        while ty[self.i] != "}":
            if ty[self.i] == "[":
                self.i += 1
                self.expr()
                self.expect("]")
                self.expect("=")
                self.expr()
            elif ty[self.i] == "name" and ty[self.i + 1] == "=":
                self.i += 2
                self.expr()
            else:
                self.expr()
            if not (self.accept(",") or self.accept(";")):
                break
        self.expect_match("}", "{", open_i)
