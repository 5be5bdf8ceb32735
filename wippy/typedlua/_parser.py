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
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import _statics as S
from ._lexer import Tokens, line_col
from ._typecode import ANY, Node, emit, lua_string
from ._typeparse import TYPE_START, ParseError, TypeParser

__all__ = ["ParseError", "ParseResult", "parse"]


_BLOCK_END = frozenset({"else", "elseif", "end", "until", "<eof>"})
_UNOPS = frozenset({"not", "-", "#", "~"})
_BINOPS = frozenset({"or", "and", "<", ">", "<=", ">=", "~=", "==", "|", "~", "&", "<<", ">>",
                     "..", "+", "-", "*", "/", "//", "%", "^"})
_SIMPLE = frozenset({"num", "str", "nil", "true", "false"})


@dataclass(slots=True)
class ParseResult:
    """Edits to apply (``(start, end, text)``; ``text`` None means blank the span) and lint facts."""

    edits: list[tuple[int, int, str | None]]
    uses_runtime: bool
    requires: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    type_errors: list[tuple[int, str]] = field(default_factory=list)


class Parser(TypeParser):
    def __init__(self, src: str, toks: Tokens) -> None:
        self.src = src
        self.ty = toks.ty
        self.st = toks.start
        self.en = toks.end
        self.line_starts = toks.line_starts
        self.i = 0
        self.edits: list[tuple[int, int, str | None]] = []
        self.mut: list[tuple[int, str, int]] = []   # token splits ('>>' -> '>' '>'), undoable
        self.scopes: list[dict[str, Node | None]] = [{}]
        self.generic_params: list[frozenset[str]] = []   # of enclosing generic functions
        self.alias_params: list[frozenset[str]] = []     # of the alias being defined
        self.vararg: list[bool] = [True]
        self.uses_runtime = False
        self.requires: list[tuple[str, int]] = []
        self.warnings: list[tuple[int, str]] = []
        self.unresolved: list[tuple[str, int]] = []
        self.aliases: dict[str, int] = {}                # name -> number of type parameters
        self.generic_uses: list[tuple[str, int, int]] = []
        self.block_aliases: list[set[str]] = [set()]
        # static checks (_statics.py): alias bodies, the declared returns of the functions
        # being parsed and whether they returned, the static type of the last operand
        self.type_errors: list[tuple[int, str]] = []
        self.alias_nodes: dict[str, Node] = {}
        self.fn_rets: list[list[Node]] = []
        self.fn_returned: list[bool] = []
        self.last_type: Node | None = None

    # -- tokens ------------------------------------------------------------------------------

    def text(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        return self.src[self.st[i]:self.en[i]]

    def near(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        if self.ty[i] == "<eof>":
            return "near <eof>"
        t = self.text(i)
        return f"near '{t[:40]}'"

    def error(self, message: str, i: int | None = None) -> ParseError:
        i = self.i if i is None else i
        return ParseError(self.st[i], f"{message} {self.near(i)}")

    def line(self, offset: int) -> int:
        return line_col(self.line_starts, offset)[0]

    def expect(self, sym: str, what: str | None = None) -> int:
        i = self.i
        if self.ty[i] != sym:
            raise self.error(f"'{what or sym}' expected")
        self.i = i + 1
        return i

    def expect_name(self) -> str:
        if self.ty[self.i] != "name":
            raise self.error("<name> expected")
        self.i += 1
        return self.text(self.i - 1)

    def expect_match(self, sym: str, opener: str, open_i: int) -> None:
        if self.ty[self.i] == sym:
            self.i += 1
            return
        open_line = self.line(self.st[open_i])
        if open_line == self.line(self.st[self.i]):
            raise self.error(f"'{sym}' expected")
        raise self.error(f"'{sym}' expected (to close '{opener}' at line {open_line})")

    def accept(self, sym: str) -> bool:
        if self.ty[self.i] == sym:
            self.i += 1
            return True
        return False

    def expect_gt(self) -> None:
        """Consume one '>', splitting '>>' or '>=' (``Map<K, List<V>>``, ``A<B>= x``)."""
        t = self.ty[self.i]
        if t == ">":
            self.i += 1
        elif t in (">>", ">="):
            self.mut.append((self.i, t, self.st[self.i]))
            self.ty[self.i] = t[1:]
            self.st[self.i] += 1
        else:
            raise self.error("'>' expected")

    def save(self) -> tuple[int, int, int, int, int, int]:
        return (self.i, len(self.edits), len(self.mut), len(self.warnings),
                len(self.unresolved), len(self.generic_uses))

    def restore(self, state: tuple[int, int, int, int, int, int]) -> None:
        self.i = state[0]
        del self.edits[state[1]:]
        while len(self.mut) > state[2]:
            i, t, s = self.mut.pop()
            self.ty[i] = t
            self.st[i] = s
        del self.warnings[state[3]:]
        del self.unresolved[state[4]:]
        del self.generic_uses[state[5]:]

    def last_end(self) -> int:
        """End offset of what was consumed last (half of a split '>>' counts)."""
        end = self.en[self.i - 1]
        if self.mut and self.mut[-1][0] == self.i:
            end = max(end, self.st[self.i])
        return end

    def erase(self, start: int, mark: int) -> None:
        """Blank the source from ``start`` to the end of what was consumed; inner edits go."""
        del self.edits[mark:]
        self.edits.append((start, self.last_end(), None))

    # -- scopes ------------------------------------------------------------------------------

    def declare(self, name: str, t: Node | None) -> None:
        self.scopes[-1][name] = t

    def lookup(self, name: str) -> tuple[bool, Node | None]:
        for scope in reversed(self.scopes):
            if name in scope:
                return True, scope[name]
        return False, None

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

    def type_error(self, offset: int, message: str) -> None:
        self.type_errors.append((offset, message))

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

    def opt_annotation(self) -> Node | None:
        """``: T`` after a name (local, parameter, for variable): parsed and erased."""
        if self.ty[self.i] != ":":
            return None
        start, mark = self.st[self.i], len(self.edits)
        self.i += 1
        t = self.type_expr()
        self.erase(start, mark)
        return t

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

    def return_types(self) -> list[Node]:
        """After ``):`` -- ``T``, ``T, U``, ``(T, U)``, ``()``, ``asserts x is T``."""
        first = self.type_expr(allow_tuple=True)
        if first[0] == "tuple":
            return list(first[1])
        out = [first]
        while self.accept(","):
            out.append(self.type_expr())
        return out

    # -- type declarations -------------------------------------------------------------------

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

    def replace(self, start: int, code: str) -> None:
        end = self.last_end()
        pad = self.src.count("\n", start, end) - code.count("\n")
        self.edits.append((start, end, code + "\n" * max(pad, 0)))

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

