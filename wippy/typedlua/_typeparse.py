"""Type expressions of Wippy's typed Lua: the part of the parser that reads them.

A layer of the parser's chain (:mod:`._parser`), over the token cursor (:mod:`._cursor`); the
layers above it give it ``lookup``, ``expr`` and ``return_types``. Grammar, following Wippy's
own (``wippyai/go-lua``, ``parser.go.y``)::

    type     := ['|'] simple {('|' | '&') simple} [extends simple '?' type ':' type]
    simple   := primary {'?' | '@' name ['(' args ')'] | '[' ']' | '[' type ']'}
    primary  := nil | true | false | string | number | '-' number | function
              | name {'.' name} ['<' type {',' type} '>']
              | '{' '}' | '{' type '}' | '{' '[' type ']' ':' type '}'
              | '{' field {(',' | ';') field} '}'          field := name ['?'] ':' type
              | '(' params ')' ['->' (type | '(' [types] ')')]
              | fun '(' params ')' [':' rets] | typeof '(' expr ')' | keyof '(' type ')'
              | (interface | readonly) '{' ... '}' | asserts name [is type]

``|`` and ``&`` associate left to right at one level, as in Wippy. Only what has a run-time
meaning becomes a node (:mod:`._typecode`); ``typeof``/``keyof``/conditional/indexed-access
types and ``asserts`` are accepted and treated as ``any``.
"""
from __future__ import annotations

from ._cursor import Cursor, ParseError
from ._lexer import KEYWORDS, Tokens, decode_string
from ._pattern import PatternError, regex_to_lua
from ._typecode import ANY, BUILTINS, Node, lua_string

__all__ = ["ParseError", "TypeParser", "TYPE_START", "KNOWN_VALIDATORS"]

KNOWN_VALIDATORS = frozenset({"min", "max", "min_len", "max_len", "pattern"})
_VALIDATOR_TARGETS = {"min": ("number", "integer", "any"), "max": ("number", "integer", "any"),
                      "min_len": ("string", "table", "any"),
                      "max_len": ("string", "table", "any"), "pattern": ("string", "any")}
TYPE_START = frozenset({"name", "nil", "true", "false", "str", "num", "{", "(", "-", "function"})


class TypeParser(Cursor):
    """Type-expression methods, and the type parameters in scope."""

    def __init__(self, src: str, toks: Tokens) -> None:
        super().__init__(src, toks)
        self.generic_params: list[frozenset[str]] = []   # of enclosing generic functions
        self.alias_params: list[frozenset[str]] = []     # of the alias being defined

    # provided by the layers above
    def lookup(self, name: str) -> tuple[bool, Node | None]: raise NotImplementedError
    def expr(self) -> Node | None: raise NotImplementedError
    def return_types(self) -> list[Node]: raise NotImplementedError

    # -- types -------------------------------------------------------------------------------

    def type_expr(self, allow_tuple: bool = False) -> Node:
        """``A | B & C`` (left to right, as Wippy's grammar), and ``A extends B ? X : Y``."""
        ty = self.ty
        left = self.simple_type(allow_tuple)
        if left[0] == "tuple":
            return left
        if (ty[self.i] == "name" and self.text() == "extends"
                and self.line(self.st[self.i]) == self.line(self.en[self.i - 1])):
            self.i += 1
            self.simple_type()
            self.expect("?")
            self.type_expr()
            self.expect(":")
            self.type_expr()
            return ANY
        while True:
            op = ty[self.i]
            if op != "|" and op != "&":
                return left
            self.i += 1
            right = self.simple_type()
            tag = "union" if op == "|" else "inter"
            if left[0] == tag:
                left = (tag, left[1] + [right])
            else:
                left = (tag, [left, right])

    def simple_type(self, allow_tuple: bool = False) -> Node:
        ty = self.ty
        node = self.primary_type(allow_tuple)
        if node[0] == "tuple":
            return node
        while True:
            t = ty[self.i]
            if t == "?":
                self.i += 1
                node = ("opt", node)
            elif t == "@":
                node = self.validators(node)
            elif t == "[":
                self.i += 1
                if self.accept("]"):
                    node = ("arr", node)
                else:
                    self.type_expr()     # indexed access T[K]: no run-time meaning here
                    self.expect("]")
                    node = ANY
            else:
                return node

    def validators(self, node: Node) -> Node:
        vals: list[tuple[str, list[str]]] = []
        base = node
        while self.ty[self.i] == "@":
            self.i += 1
            name_i = self.i
            vname = self.expect_name()
            args: list[str] = []
            arg_spans: list[tuple[int, int]] = []
            if self.ty[self.i] == "(":
                open_i = self.i
                self.i += 1
                if self.ty[self.i] != ")":
                    while True:
                        mark, a = len(self.edits), self.i
                        self.expr()
                        del self.edits[mark:]
                        arg_spans.append((a, self.i))
                        args.append(" ".join(self.text(k) for k in range(a, self.i)))
                        if not self.accept(","):
                            break
                self.expect_match(")", "(", open_i)
            if vname not in KNOWN_VALIDATORS:
                self.warnings.append((self.st[name_i], f"unknown validator '@{vname}' "
                                                       "(ignored at run time)"))
                continue
            if len(args) != 1:
                raise ParseError(self.st[name_i], f"'@{vname}' takes one argument")
            self.check_validator_target(vname, base, name_i)
            if vname == "pattern":
                a, b = arg_spans[0]
                if b != a + 1 or self.ty[a] != "str":
                    raise ParseError(self.st[a], "'@pattern' needs a string literal")
                regex = decode_string(self.text(a))
                try:
                    pats = regex_to_lua(regex)
                except PatternError as exc:
                    raise ParseError(self.st[a], f"'@pattern': {exc}") from None
                args = ["{" + ", ".join(lua_string(p) for p in pats) + "}", lua_string(regex)]
            vals.append((vname, args))
        return ("val", node, vals) if vals else node

    def check_validator_target(self, vname: str, t: Node, name_i: int) -> None:
        if t[0] != "prim":
            return
        if t[1] not in _VALIDATOR_TARGETS[vname]:
            self.warnings.append((self.st[name_i], f"'@{vname}' does not apply to {t[1]}"))

    def primary_type(self, allow_tuple: bool = False) -> Node:
        ty = self.ty
        i = self.i
        t = ty[i]
        if t == "name":
            word = self.text(i)
            nt = ty[i + 1]
            if nt == "(" and word in ("fun", "typeof", "keyof"):
                return self.special_type(word)
            if nt == "{" and word in ("interface", "readonly"):
                self.i += 1
                return self.table_type()
            if nt == "name" and word == "asserts":
                self.i += 2
                if ty[self.i] == "name" and self.text() == "is":
                    self.i += 1
                    self.type_expr()
                return ANY
            self.i += 1
            path = [word]
            while ty[self.i] == "." and ty[self.i + 1] == "name":
                path.append(self.text(self.i + 1))
                self.i += 2
            node = self.named_type(path, self.st[i])
            if ty[self.i] == "<" and not (ty[self.i + 1] == "name"
                                          and self.text(self.i + 1) in ("const", "close")
                                          and ty[self.i + 2] == ">"):
                node = self.generic_args(node, path, i)
            return node
        if t == "nil":
            self.i += 1
            return ("prim", "nil")
        if t == "function":
            self.i += 1
            return ("prim", "function")
        if t in ("true", "false", "num", "str"):
            self.i += 1
            return ("lit", self.text(i))
        if t == "-" and ty[i + 1] == "num":
            self.i += 2
            return ("lit", "-" + self.text(i + 1))
        if t == "{":
            return self.table_type()
        if t == "(":
            return self.paren_type(allow_tuple)
        raise self.error("type expected")

    def named_type(self, path: list[str], offset: int) -> Node:
        if len(path) > 1:
            return ("ref", ".".join(path))
        name = path[0]
        if any(name in ps for ps in self.alias_params):
            return ("tvar", name)
        if any(name in ps for ps in self.generic_params):
            return ANY
        if name in BUILTINS:
            return ("prim", name)
        if name == "self":
            return ANY
        if not self.lookup(name)[0]:
            self.unresolved.append((name, offset))
        return ("ref", name)

    def generic_args(self, node: Node, path: list[str], name_i: int) -> Node:
        state = self.save()
        self.i += 1
        try:
            args = [self.type_expr()]
            while self.accept(","):
                args.append(self.type_expr())
            self.expect_gt()
        except ParseError:
            self.restore(state)
            return node
        if node[0] == "ref" and len(path) == 1:
            self.generic_uses.append((path[0], len(args), self.st[name_i]))
        return ("inst", node, args) if node[0] == "ref" else node

    def special_type(self, word: str) -> Node:
        self.i += 2
        if word == "typeof":
            # typeof(x) of an annotated local is its declared type; of anything else, any
            known: Node | None = None
            if self.ty[self.i] == "name" and self.ty[self.i + 1] == ")":
                known = self.lookup(self.text())[1]
            mark = len(self.edits)
            self.expr()
            del self.edits[mark:]
            self.expect(")")
            return known if known is not None else ANY
        if word == "keyof":
            self.type_expr()
            self.expect(")")
            return ANY
        params, vararg = self.param_types()     # fun(a: T, ...): R
        self.expect(")")
        rets: list[Node] = []
        if self.accept(":"):
            rets = self.return_types()
        return ("fn", params, vararg, rets)

    def param_types(self) -> tuple[list[tuple[str | None, Node]], Node | None]:
        ty = self.ty
        params: list[tuple[str | None, Node]] = []
        vararg: Node | None = None
        if ty[self.i] == ")":
            return params, vararg
        while True:
            if self.accept("..."):
                if self.accept(":"):
                    vararg = self.type_expr()
                elif ty[self.i] in TYPE_START:
                    vararg = self.type_expr()
                else:
                    vararg = ANY
                break
            if ty[self.i] == "name" and ty[self.i + 1] == ":":
                pname = self.text()
                self.i += 2
                params.append((pname, self.type_expr()))
            elif ty[self.i] == "name" and ty[self.i + 1] == "?" and ty[self.i + 2] == ":":
                pname = self.text()
                self.i += 3
                params.append((pname, ("opt", self.type_expr())))
            else:
                params.append((None, self.type_expr()))
            if not self.accept(","):
                break
        return params, vararg

    def paren_type(self, allow_tuple: bool) -> Node:
        open_i = self.i
        self.i += 1
        params, vararg = self.param_types()
        self.expect_match(")", "(", open_i)
        if self.accept("->"):
            ret = self.type_expr(allow_tuple=True)
            rets = list(ret[1]) if ret[0] == "tuple" else [ret]
            return ("fn", params, vararg, rets)
        if len(params) == 1 and params[0][0] is None and vararg is None:
            return params[0][1]
        if allow_tuple and all(name is None for name, _ in params) and vararg is None:
            return ("tuple", [t for _, t in params])
        raise self.error("'->' expected")

    def table_type(self) -> Node:
        ty = self.ty
        open_i = self.i
        self.i += 1
        t = ty[self.i]
        if t == "}":
            self.i += 1
            return ("rec", [])
        if t == "[":
            self.i += 1
            k = self.type_expr()
            self.expect("]")
            self.expect(":")
            v = self.type_expr()
            self.accept(",")
            self.expect_match("}", "{", open_i)
            return ("map", k, v)
        if (t == "name" or t in KEYWORDS) and (
                ty[self.i + 1] == ":" or (ty[self.i + 1] == "?" and ty[self.i + 2] == ":")):
            fields: list[tuple[str, Node, bool]] = []
            seen: set[str] = set()
            while ty[self.i] != "}":
                if not (ty[self.i] == "name" or ty[self.i] in KEYWORDS):
                    raise self.error("field name expected")
                fname = self.text()
                if fname in seen:
                    self.warnings.append((self.st[self.i], f"duplicate field '{fname}'"))
                seen.add(fname)
                self.i += 1
                optional = self.accept("?")
                self.expect(":")
                fields.append((fname, self.type_expr(), optional))
                if not (self.accept(",") or self.accept(";")):
                    break
            self.expect_match("}", "{", open_i)
            return ("rec", fields)
        elem = self.type_expr()
        self.accept(",")
        self.expect_match("}", "{", open_i)
        return ("arr", elem)
