"""A Jet template engine (the subset Wippy's docs and examples use), pure: :func:`parse` makes
a :class:`Template`; :func:`wippy.templating.render.render` runs it against a loader of
templates by name.

Syntax (CloudyKit Jet's): ``{{ expr }}`` (HTML-escaped, as Jet's default set does; ``| raw``
or ``| unsafe`` writes it as is), ``{* comment *}``, ``{{-``/``-}}`` trim whitespace,
``{{ if }} {{ else if }} {{ else }} {{ end }}``, ``{{ range x }}`` / ``{{ range i := x }}`` /
``{{ range i, v := x }}`` (with ``{{ else }}`` for an empty one; ``.`` is the element; lists
count from 0, maps go in key order), ``{{ x := expr }}`` / ``{{ x = expr }}``, ``{{ extends
"name" }}``, ``{{ block name(a, b="x") }}...{{ end }}``, ``{{ yield name(a=1) ctx }}`` (and
``{{ yield name() content }}...{{ end }}`` with ``{{ yield content }}``), ``{{ include "name"
ctx }}``, ``{{ import "name" }}``. Expressions: literals, ``a.b``, ``a["b"]``, ``a[0]``,
``a[1:3]``, ``.`` and ``.field`` (the context), ``+ - * / %``, ``== != < > <= >=``, ``&& || !``,
``c ? a : b``, calls ``f(x)``, prefix calls ``f: x, y``, pipelines ``x | f | g: y`` (``_``
marks where the piped value goes). Builtins: ``len``, ``isset``, ``lower``, ``upper``,
``hasPrefix``, ``hasSuffix``, ``repeat``, ``replace``, ``split``, ``trimSpace``, ``html``,
``url``, ``json``, ``raw``/``unsafe``, ``map``, ``slice``, ``array``, ``ints``, ``default``.
Not here: ``try``/``catch``, ``return``/``exec``, method calls on Go values, custom
functions.

A missing map key is nil (prints nothing, is false); an unknown variable is an error, as in
Jet (test with ``isset(x)``). Values print as Go's ``fmt`` does (``20.0`` -> ``20``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import TemplateError
from .expr import ExprParser

__all__ = ["Template", "TemplateError", "parse", "Delims", "EXTENSIONS", "SafeStr"]

EXTENSIONS = (".jet", ".html.jet", ".jet.html")   # Jet's default template extensions


@dataclass(frozen=True)
class Delims:
    left: str = "{{"
    right: str = "}}"
    comment_left: str = "{*"
    comment_right: str = "*}"


class SafeStr(str):
    """Text that is written without escaping (``raw``)."""


# -- lexing -----------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*')
  | (?P<num>\d+\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|==|!=|<=|>=|&&|\|\||[-+*/%!<>()\[\],.?:|=])
""", re.X)


def _tokens(src: str, where: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise TemplateError(f"{where}: unexpected {src[pos]!r} in {src.strip()!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


@dataclass
class _Action:
    toks: list[tuple[str, str]]
    line: int


def _split(src: str, d: Delims, name: str) -> list[Any]:
    """Text (str) and actions, comments dropped, trim markers applied."""
    items: list[Any] = []
    pos, line = 0, 1
    while True:
        a = src.find(d.left, pos)
        c = src.find(d.comment_left, pos)
        if c != -1 and (a == -1 or c < a):
            end = src.find(d.comment_right, c)
            if end == -1:
                raise TemplateError(f"{name}:{line + src.count(chr(10), pos, c)}: unclosed comment")
            items.append(src[pos:c])
            line += src.count("\n", pos, end)
            pos = end + len(d.comment_right)
            continue
        if a == -1:
            items.append(src[pos:])
            return items
        text = src[pos:a]
        line += text.count("\n")
        end = src.find(d.right, a + len(d.left))
        if end == -1:
            raise TemplateError(f"{name}:{line}: unclosed action (missing {d.right!r})")
        body = src[a + len(d.left):end]
        if body.startswith("-") and (len(body) == 1 or body[1].isspace()):
            text = text.rstrip()
            body = body[1:]
        trim_after = body.endswith("-") and (len(body) == 1 or body[-2].isspace())
        if trim_after:
            body = body[:-1]
        items.append(text)
        items.append(_Action(_tokens(body, f"{name}:{line}"), line))
        line += body.count("\n")
        pos = end + len(d.right)
        if trim_after:
            while pos < len(src) and src[pos].isspace():
                line += src[pos] == "\n"
                pos += 1


# -- the tree ---------------------------------------------------------------------------------
@dataclass
class _Node:
    kind: str                      # text out if range set block yield include import
    line: int = 0
    a: Any = None
    b: Any = None
    c: Any = None
    body: list[Any] = field(default_factory=list)
    other: list[Any] = field(default_factory=list)


@dataclass
class Template:
    """A parsed template: its nodes, the blocks it defines, what it extends and imports."""

    name: str
    nodes: list[Any]
    blocks: dict[str, _Node]
    extends: str | None
    imports: list[str]


def parse(name: str, source: str, delims: Delims = Delims()) -> Template:
    """Parse ``source``; raises TemplateError naming the template and line."""
    items = _split(source, delims, name)
    blocks: dict[str, _Node] = {}
    imports: list[str] = []
    p = _Parser(name, items, blocks, imports)
    nodes, end = p.list(())
    if end is not None:
        raise TemplateError(f"{name}:{end.line}: unexpected {{{{ {end.toks[0][1]} }}}}")
    extends = None
    first = [n for n in nodes if not (n.kind == "text" and not n.a.strip())]
    if first and first[0].kind == "extends":
        extends = first[0].a
    elif any(n.kind == "extends" for n in nodes):
        raise TemplateError(f"{name}: extends must come first")
    return Template(name, nodes, blocks, extends, imports)


class _Parser:
    def __init__(self, name: str, items: list[Any], blocks: dict[str, _Node],
                 imports: list[str]) -> None:
        self.name, self.items, self.pos = name, items, 0
        self.blocks, self.imports = blocks, imports

    def expr(self, act: _Action, start: int = 0) -> tuple[Any, ExprParser]:
        e = ExprParser(act.toks[start:], f"{self.name}:{act.line}")
        return e.pipeline(), e

    def whole(self, act: _Action, start: int = 0) -> Any:
        node, e = self.expr(act, start)
        if not e.done():
            raise TemplateError(f"{self.name}:{act.line}: unexpected {e.peek()[1]!r}")
        return node

    def list(self, stops: tuple[str, ...]) -> tuple[list[Any], _Action | None]:
        out: list[Any] = []
        while self.pos < len(self.items):
            it = self.items[self.pos]
            self.pos += 1
            if isinstance(it, str):
                if it:
                    out.append(_Node("text", a=it))
                continue
            if not it.toks:
                continue
            word = it.toks[0][1] if it.toks[0][0] == "name" else ""
            if word in stops:
                return out, it
            if word in ("end", "else", "catch"):
                raise TemplateError(f"{self.name}:{it.line}: unexpected {{{{ {word} }}}}")
            out.append(self.statement(it, word))
        return out, None

    def statement(self, act: _Action, word: str) -> _Node:
        line = act.line
        if word == "if":
            return self.if_(act, 1)
        if word == "range":
            return self.range_(act)
        if word in ("extends", "import", "include"):
            node, e = self.expr(act, 1)
            ctx = None if e.done() else e.pipeline()
            if word != "include":
                if node[0] != "lit" or not isinstance(node[1], str):
                    raise TemplateError(f"{self.name}:{line}: {word} needs a template name")
                if word == "import":
                    self.imports.append(node[1])
                return _Node(word, line, node[1])
            return _Node("include", line, node, ctx)
        if word == "block":
            return self.block(act)
        if word == "yield":
            return self.yield_(act)
        if word in ("try", "return"):
            raise TemplateError(f"{self.name}:{line}: {word} is not supported here")
        toks = act.toks
        if len(toks) > 2 and toks[0][0] == "name" and toks[1][1] in (":=", "="):
            return _Node("set", line, toks[0][1], self.whole(act, 2), toks[1][1] == ":=")
        return _Node("out", line, self.whole(act))

    def if_(self, act: _Action, start: int) -> _Node:
        node = _Node("if", act.line, self.whole(act, start))
        node.body, end = self.list(("else", "end"))
        if end is None:
            raise TemplateError(f"{self.name}:{act.line}: if without end")
        if end.toks[0][1] == "else":
            if len(end.toks) > 1 and end.toks[1][1] == "if":
                node.other = [self.if_(end, 2)]
                return node
            node.other, end2 = self.list(("end",))
            if end2 is None:
                raise TemplateError(f"{self.name}:{act.line}: if without end")
        return node

    def range_(self, act: _Action) -> _Node:
        toks = act.toks[1:]
        names: list[str] = []
        if ("op", ":=") in toks:
            k = toks.index(("op", ":="))
            names = [v for kind, v in toks[:k] if kind == "name"]
            toks = toks[k + 1:]
        node = _Node("range", act.line, names, self.whole(_Action(toks, act.line)))
        node.body, end = self.list(("else", "end"))
        if end is None:
            raise TemplateError(f"{self.name}:{act.line}: range without end")
        if end.toks[0][1] == "else":
            node.other, end2 = self.list(("end",))
            if end2 is None:
                raise TemplateError(f"{self.name}:{act.line}: range without end")
        return node

    def block(self, act: _Action) -> _Node:
        e = ExprParser(act.toks[1:], f"{self.name}:{act.line}")
        bname = e.take()[1]
        params: list[tuple[str, Any]] = []
        if e.at("("):
            e.take("(")
            for a in e.args(")"):
                if a[0] == "named":
                    params.append((a[1], a[2]))
                elif a[0] == "var":
                    params.append((a[1], None))
                else:
                    raise TemplateError(f"{self.name}:{act.line}: bad block parameter")
        ctx = None if e.done() else e.pipeline()
        node = _Node("block", act.line, bname, params, ctx)
        node.body, end = self.list(("end", "content"))
        if end is not None and end.toks[0][1] == "content":
            node.other, end = self.list(("end",))
        if end is None:
            raise TemplateError(f"{self.name}:{act.line}: block {bname} without end")
        self.blocks[bname] = node
        return node

    def yield_(self, act: _Action) -> _Node:
        toks = act.toks[1:]
        if toks == [("name", "content")]:
            return _Node("content", act.line)
        e = ExprParser(toks, f"{self.name}:{act.line}")
        bname = e.take()[1]
        args: list[Any] = []
        if e.at("("):
            e.take("(")
            args = e.args(")")
        content = False
        ctx = None
        if not e.done() and e.peek() == ("name", "content") and e.i == len(e.t) - 1:
            e.take()
            content = True
        elif not e.done():
            ctx = e.pipeline()
            if e.peek() == ("name", "content"):
                e.take()
                content = True
        node = _Node("yield", act.line, bname, args, ctx)
        if content:
            node.body, end = self.list(("end",))
            if end is None:
                raise TemplateError(f"{self.name}:{act.line}: yield ... content without end")
        return node
