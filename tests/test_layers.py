"""The layers point one way, and nothing imports in a circle (STYLE: Shape).

Every import counts, at any depth: one made inside a function to dodge a circle is still an
edge. Each module has a rank on the ladder below; a module may import its own rank or lower.
Heavy dependencies each have one importer (one seam each, one place to fake).
"""
from __future__ import annotations

import ast
import os

import wippy

PKG = os.path.dirname(wippy.__file__)

# The ladder, lowest first. A module takes the rank of the longest prefix listed here.
LADDER: list[tuple[str, ...]] = [
    # 0: leaves
    ("wippy._version", "wippy.errors", "wippy.logs"),
    # 1: wire and OS plumbing
    ("wippy.core",),
    # 2: pure models and storage: registry entries, validation, YAML, LMDB; supervision
    #    decisions; typed Lua; the workflow journal and replay decisions; the Jet engine
    ("wippy.registry.entry", "wippy.registry.kinds", "wippy.registry.loader",
     "wippy.registry.yamlio", "wippy.registry.discovery",
     "wippy.registry.refs", "wippy.registry.diff", "wippy.registry.changes",
     "wippy.registry.store", "wippy.registry.snapmap", "wippy.registry.query",
     "wippy.registry.methods",
     "wippy.supervision", "wippy.typedlua", "wippy.workflow.journal", "wippy.workflow.replay",
     "wippy.security.policy", "wippy.security.book", "wippy.security.context",
     "wippy.security.rules", "wippy.security.callers", "wippy.security.lifecycle",
     "wippy.http.routing", "wippy.http.frames", "wippy.http.middleware",
     "wippy.observe.metrics", "wippy.templating"),
    # 3: processes inside one OS process
    ("wippy.runtime", "wippy.channel"),
    # 4: the public API modules processes call
    ("wippy.process", "wippy.time", "wippy.funcs", "wippy.events", "wippy.system",
     "wippy.coroutine", "wippy.registry", "wippy.workflow", "wippy.security", "wippy.http",
     "wippy.resources", "wippy.sql", "wippy.store", "wippy.queue", "wippy.env", "wippy.metrics",
     "wippy.fs", "wippy.exec", "wippy.templates",
     "wippy.sanitize"),
    # 5: what runs code: workflows under replay, Lua
    ("wippy.workflow.context", "wippy.workflow.runner", "wippy.lua"),
    # 6: OS processes: a host, the node, an attached program
    ("wippy.host", "wippy.node", "wippy.client", "wippy.http.server", "wippy.http.dispatch",
     "wippy.observe", "wippy.cluster"),
    # 7: the command line and the package's front door
    ("wippy.cli", "wippy.__main__", "wippy"),
]

# One importer each (paths relative to the package).
SEAMS = {"zmq": {"core/transport.py"}, "lmdb": {"registry/store.py"},
         "yaml": {"registry/yamlio.py"}, "lupa": {"lua/engine.py"},
         "granian": {"http/server.py"}, "uvloop": {"http/server.py"},
         "prometheus_client": {"observe/prom.py"},
         "psycopg": {"resources/sqldrivers.py"}, "cryptography": {"lua/cryptomods.py"}}

def _modules() -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(PKG))[:-3].replace(os.sep, ".")
                out[rel[:-9] if rel.endswith(".__init__") else rel] = path
    return out


MODULES = _modules()


def rank(mod: str) -> int:
    best, best_len = None, -1
    for i, rung in enumerate(LADDER):
        for prefix in rung:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{mod} has no rank on the ladder"
    return best


def imports(mod: str) -> set[str]:
    """The wippy modules ``mod`` imports, at any depth (functions included)."""
    path = MODULES[mod]
    pkg = mod if path.endswith("__init__.py") else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("wippy"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not base.startswith("wippy"):
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in MODULES else base)
    out.discard(mod)
    return {m for m in out if m in MODULES}


def third_party(path: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_module_has_a_rank():
    for mod in MODULES:
        rank(mod)


def test_no_module_imports_a_higher_layer():
    found = {(mod, dep) for mod in MODULES for dep in imports(mod) if rank(dep) > rank(mod)}
    assert not found, "upward imports: " + ", ".join(f"{a} -> {b}" for a, b in sorted(found))


def test_no_import_circle():
    graph = {m: imports(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:          # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_each_heavy_dependency_has_one_importer():
    for mod, path in MODULES.items():
        rel = os.path.relpath(path, PKG)
        for dep in third_party(path) & set(SEAMS):
            assert rel in SEAMS[dep], f"{rel} imports {dep}"


# Exceptions that stay beside their code: signals private to one package that never leave it
# (the Lua API's way of raising into Lua; the typed-Lua parser's errors, which it turns into
# TypedLuaError; YAML's duplicate-key error, which must subclass PyYAML's own).
PRIVATE_SIGNALS = {"wippy.lua.api.ApiError", "wippy.lua.api.Raise",
                   "wippy.typedlua._lexer.LexError", "wippy.typedlua._cursor.ParseError",
                   "wippy.typedlua._pattern.PatternError", "wippy.registry.yamlio._DuplicateKey"}


def test_every_exception_is_defined_in_errors_py():
    found = []
    for mod, path in MODULES.items():
        if mod == "wippy.errors":
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ClassDef) and any(
                    (getattr(b, "id", None) or getattr(b, "attr", "")).endswith(("Error", "Exception", "Failed", "Rejected", "Denied"))
                    or getattr(b, "id", None) in {"ApiError", "WippyError"} for b in node.bases):
                name = f"{mod}.{node.name}"
                if name not in PRIVATE_SIGNALS:
                    found.append(name)
    assert not found, "exceptions outside wippy/errors.py: " + ", ".join(found)
