"""Running Jet templates (:mod:`.syntax` parses them, :mod:`.values` says how values print,
compare and compute, and holds the builtins): :func:`render` and the template chain.

Lookup order for a name: the variables of the enclosing scopes (block parameters, range
variables, ``:=``), then the render's variables, then the set's globals, then the builtins.
"""
from __future__ import annotations

from typing import Any, Callable

from .syntax import EXTENSIONS, SafeStr, Template, TemplateError, _Node
from .values import (BUILTINS, MAX_OUTPUT, arith, compare, escape, index, num, to_text,
                     truthy)

__all__ = ["render", "to_text", "truthy", "BUILTINS", "MAX_DEPTH"]

MAX_DEPTH = 64            # nested extends/include/yield: a template that includes itself ends
# Templates are code an agent may write, and rendering runs in Python, outside the Lua
# process's memory and CPU limits: these (and values.MAX_OUTPUT) bound one render.
MAX_STEPS = 2_000_000     # statements one render may run

Loader = Callable[[str], Template]
_MISSING = object()


class _Run:
    def __init__(self, loader: Loader, variables: dict[str, Any], globals_: dict[str, Any],
                 blocks: dict[str, _Node]) -> None:
        self.loader = loader
        self.variables = variables
        self.globals = globals_
        self.blocks = blocks
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.depth = 0

    # -- expressions ------------------------------------------------------------------------
    def lookup(self, name: str, scopes: list[dict[str, Any]]) -> Any:
        for s in reversed(scopes):
            if name in s:
                return s[name]
        for table in (self.variables, self.globals, BUILTINS):
            if name in table:
                return table[name]
        return _MISSING

    def eval(self, n: Any, sc: list[dict[str, Any]], ctx: Any) -> Any:
        op = n[0]
        if op == "lit":
            return n[1]
        if op == "var":
            v = self.lookup(n[1], sc)
            if v is _MISSING:
                raise TemplateError(f"identifier {n[1]!r} not available in current (render) "
                                    "scope")
            return v
        if op == "ctx":
            return ctx
        if op == "get":
            return index(self.eval(n[1], sc, ctx), self.eval(n[2], sc, ctx))
        if op == "slice":
            v = self.eval(n[1], sc, ctx)
            lo = 0 if n[2] is None else int(num(self.eval(n[2], sc, ctx), "slice"))
            hi = None if n[3] is None else int(num(self.eval(n[3], sc, ctx), "slice"))
            if not isinstance(v, (list, str)):
                raise TemplateError("cannot slice a value that is not a list or string")
            return v[lo:hi]
        if op == "?":
            return self.eval(n[2] if truthy(self.eval(n[1], sc, ctx)) else n[3], sc, ctx)
        if op == "!":
            return not truthy(self.eval(n[1], sc, ctx))
        if op == "neg":
            return -num(self.eval(n[1], sc, ctx), "-")
        if op == "&&":
            a = self.eval(n[1], sc, ctx)
            return self.eval(n[2], sc, ctx) if truthy(a) else a
        if op == "||":
            a = self.eval(n[1], sc, ctx)
            return a if truthy(a) else self.eval(n[2], sc, ctx)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return compare(op, self.eval(n[1], sc, ctx), self.eval(n[2], sc, ctx))
        if op in ("+", "-", "*", "/", "%"):
            return arith(op, self.eval(n[1], sc, ctx), self.eval(n[2], sc, ctx))
        if op == "call":
            if n[1][0] == "var" and n[1][1] == "isset":
                return all(self._isset(a, sc, ctx) for a in n[2])
            return self.call(n[1][1], [self.eval(a, sc, ctx) for a in n[2]], sc)
        if op == "pipe":
            piped = self.eval(n[2], sc, ctx)
            args = [piped if a == ("var", "_") else self.eval(a, sc, ctx) for a in n[3]]
            if ("var", "_") not in n[3]:
                args.insert(0, piped)
            return self.call(n[1], args, sc)
        raise TemplateError(f"cannot evaluate {op!r}")

    def _isset(self, n: Any, sc: list[dict[str, Any]], ctx: Any) -> bool:
        try:
            return self.eval(n, sc, ctx) is not None
        except TemplateError:
            return False

    def call(self, name: str, args: list[Any], sc: list[dict[str, Any]]) -> Any:
        fn = self.lookup(name, sc)
        if not callable(fn):
            raise TemplateError(f"{name} is not a function")
        try:
            return fn(*args)
        except TypeError as exc:
            raise TemplateError(f"{name}: {exc}") from None

    # -- statements -------------------------------------------------------------------------
    def run(self, nodes: list[Any], sc: list[dict[str, Any]], ctx: Any, tpl: str,
            content: Any = None) -> None:
        for n in nodes:
            try:
                self.step(n, sc, ctx, tpl, content)
            except TemplateError as exc:
                if str(exc).startswith(tpl + ":") or "\n  in " in str(exc):
                    raise
                raise TemplateError(f"{tpl}:{n.line}: {exc}") from None

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"output larger than {MAX_OUTPUT} characters")
        self.out.append(text)

    def step(self, n: _Node, sc: list[dict[str, Any]], ctx: Any, tpl: str, content: Any) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"more than {MAX_STEPS} steps in one render")
        k = n.kind
        if k == "text":
            self.write(n.a)
        elif k == "out":
            v = self.eval(n.a, sc, ctx)
            self.write(v if isinstance(v, SafeStr) else escape(to_text(v)))
        elif k == "set":
            v = self.eval(n.b, sc, ctx)
            if n.a == "_":
                return
            if n.c:
                sc[-1][n.a] = v
            else:
                for s in reversed(sc):
                    if n.a in s:
                        s[n.a] = v
                        return
                if n.a in self.variables:
                    self.variables[n.a] = v
                else:
                    raise TemplateError(f"assignment to undeclared variable {n.a!r}")
        elif k == "if":
            branch = n.body if truthy(self.eval(n.a, sc, ctx)) else n.other
            self.run(branch, sc + [{}], ctx, tpl, content)
        elif k == "range":
            self.range_(n, sc, ctx, tpl, content)
        elif k == "block":
            self.yield_block(n.a, [], None, n, sc, ctx, tpl, None, defining=True)
        elif k == "content":                     # {{ yield content }}
            if content is not None:
                body, csc, cctx, ctpl = content
                self.run(body, csc, cctx, ctpl)
        elif k == "yield":
            cnt = (n.body, sc, ctx, tpl) if n.body else None
            self.yield_block(n.a, n.b, n.c, None, sc, ctx, tpl, cnt)
        elif k == "include":
            name = to_text(self.eval(n.a, sc, ctx))
            sub = self.template(name)
            self.nest(lambda: self.run(sub.nodes, sc + [{}], ctx if n.b is None else
                                       self.eval(n.b, sc, ctx), sub.name))
        # extends and import act at load time

    def nest(self, fn: Callable[[], None]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TemplateError(f"templates nested deeper than {MAX_DEPTH} (a template that "
                                "includes or yields itself?)")
        try:
            fn()
        finally:
            self.depth -= 1

    def range_(self, n: _Node, sc: list[dict[str, Any]], ctx: Any, tpl: str, content: Any) -> None:
        coll = self.eval(n.b, sc, ctx)
        if coll is None:
            pairs: list[tuple[Any, Any]] = []
        elif isinstance(coll, list):
            pairs = list(enumerate(coll))
        elif isinstance(coll, dict):
            pairs = [(k, coll[k]) for k in sorted(coll, key=str)]
        elif isinstance(coll, int) and not isinstance(coll, bool):
            pairs = [(i, i) for i in range(coll)]
        else:
            raise TemplateError(f"cannot range over {to_text(coll)!r}")
        if not pairs:
            self.run(n.other, sc + [{}], ctx, tpl, content)
            return
        names = n.a
        for key, value in pairs:
            scope: dict[str, Any] = {}
            if len(names) == 1:
                scope[names[0]] = key
            elif len(names) >= 2:
                scope[names[0]] = key
                scope[names[1]] = value
            self.run(n.body, sc + [scope], value, tpl, content)

    def yield_block(self, name: str, args: list[Any], ctx_expr: Any, own: _Node | None,
                    sc: list[dict[str, Any]], ctx: Any, tpl: str, content: Any,
                    defining: bool = False) -> None:
        block = self.blocks.get(name) or own
        if block is None:
            raise TemplateError(f"unknown block {name!r}")
        scope: dict[str, Any] = {}
        named = {a[1]: a[2] for a in args if a[0] == "named"}
        positional = [a for a in args if a[0] != "named"]
        for i, (pname, default) in enumerate(block.b):
            if pname in named:
                scope[pname] = self.eval(named[pname], sc, ctx)
            elif i < len(positional):
                scope[pname] = self.eval(positional[i], sc, ctx)
            else:
                scope[pname] = None if default is None else self.eval(default, sc, ctx)
        if defining and own is not None and own.c is not None:
            ctx_expr = own.c
        new_ctx = ctx if ctx_expr is None else self.eval(ctx_expr, sc, ctx)
        if content is None and block.other:
            content = (block.other, sc, ctx, tpl)
        # Jet's scopes chain: a block sees the variables where it is yielded, then its params
        self.nest(lambda: self.run(block.body, sc + [scope], new_ctx, tpl, content))

    def template(self, name: str) -> Template:
        return self.loader(name)


def _chain(loader: Loader, tpl: Template) -> tuple[Template, dict[str, _Node]]:
    """The root of ``tpl``'s extends chain, and the blocks seen from ``tpl`` (the child's win;
    imported templates' blocks come under the importer's own)."""
    blocks: dict[str, _Node] = {}
    seen = set()
    t = tpl
    while True:
        if t.name in seen:
            raise TemplateError(f"{t.name}: extends itself")
        seen.add(t.name)
        for imp in t.imports:
            for k, v in loader(imp).blocks.items():
                blocks.setdefault(k, v)
        for k, v in t.blocks.items():
            blocks.setdefault(k, v)
        if t.extends is None:
            return t, blocks
        t = loader(t.extends)


def render(loader: Loader, name: str, variables: dict[str, Any] | None = None,
           globals_: dict[str, Any] | None = None, context: Any = None) -> str:
    """Render template ``name`` (``loader(name)`` gives parsed templates; it raises
    TemplateError for a name it lacks). Raises TemplateError naming the template and line."""
    tpl = loader(name)
    root, blocks = _chain(loader, tpl)
    run = _Run(loader, dict(variables or {}), dict(globals_ or {}), blocks)
    run.run(root.nodes, [{}], context, root.name)
    return "".join(run.out)


def candidates(name: str) -> list[str]:
    """Names a reference may mean: ``./a.jet`` -> ``a.jet``, ``a``; ``/a`` -> ``a``."""
    n = name.strip()
    while n.startswith("./"):
        n = n[2:]
    n = n.lstrip("/")
    out = [n]
    for ext in EXTENSIONS:
        if n.endswith(ext):
            out.append(n[: -len(ext)])
    return out
