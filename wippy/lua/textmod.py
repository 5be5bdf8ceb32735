"""Lua's ``text`` and ``expr`` modules with Wippy's names: ``text.regexp`` (Go's RE2 syntax through ``re``:
``$1``/``${name}`` in replacements, ``\\z``), ``text.diff`` (character diffs through
``difflib``: ``compare``, ``summarize``, ``pretty_text``, ``pretty_html``, and patches that carry
both texts), ``text.splitter`` (recursive and markdown splitters for chunking documents);
``expr.eval``/``expr.compile`` over :mod:`.exprlang`. Objects: ``Regexp {compiled pattern}``,
``Differ {}``, ``Splitter {options}``, ``ExprProgram {tree}``.
"""
from __future__ import annotations

import difflib
import html
import re
from typing import Any

from . import exprlang
from .api import ApiError, New, function, lua_value, method, subtable, text
from .engine import from_lua, is_lua_table

__all__: list[str] = []

for _sub in ("regexp", "diff", "splitter"):
    subtable("text", _sub, f"text.{_sub}")


# -- regexp ----------------------------------------------------------------------------------
def _go_pattern(p: str) -> str:
    return p.replace(r"\z", r"\Z")


@function("text.regexp", "compile")
def regexp_compile(pattern: Any = None) -> Any:
    p = text(pattern, "pattern")
    try:
        rx = re.compile(_go_pattern(p))
    except re.error as exc:
        raise ApiError("INVALID", f"invalid regex pattern {p!r}: {exc}") from None
    return New((b"Regexp", rx, p.encode()))


def _s(v: Any) -> str:
    return text(v, "string")


@method("Regexp")
def match_string(rx: Any, _p: Any, _c: Any, s: Any = None) -> bool:
    return rx.search(_s(s)) is not None


@method("Regexp")
def find_string(rx: Any, _p: Any, _c: Any, s: Any = None) -> Any:
    m = rx.search(_s(s))
    return None if m is None else m.group(0).encode()


@method("Regexp")
def find_all_string(rx: Any, _p: Any, _c: Any, s: Any = None, n: Any = None) -> Any:
    found = [m.group(0) for m in rx.finditer(_s(s))]
    return lua_value(found if not isinstance(n, int) or n < 0 else found[:n])


def _groups(m: re.Match) -> list[str]:
    return [m.group(0)] + [g or "" for g in m.groups()]


@method("Regexp")
def find_string_submatch(rx: Any, _p: Any, _c: Any, s: Any = None) -> Any:
    m = rx.search(_s(s))
    return None if m is None else lua_value(_groups(m))


@method("Regexp")
def find_all_string_submatch(rx: Any, _p: Any, _c: Any, s: Any = None) -> Any:
    return lua_value([_groups(m) for m in rx.finditer(_s(s))])


@method("Regexp")
def find_string_index(rx: Any, _p: Any, _c: Any, s: Any = None) -> Any:
    m = rx.search(_s(s))
    return None if m is None else lua_value([m.start() + 1, m.end()])


@method("Regexp")
def find_all_string_index(rx: Any, _p: Any, _c: Any, s: Any = None) -> Any:
    found = [[m.start() + 1, m.end()] for m in rx.finditer(_s(s))]
    return lua_value(found) if found else None


_GO_REF = re.compile(r"\$(\d+|\{\w+\}|\w+)")


@method("Regexp")
def replace_all_string(rx: Any, _p: Any, _c: Any, s: Any = None, repl: Any = None) -> bytes:
    r = _GO_REF.sub(lambda m: "\\g<" + m.group(1).strip("{}") + ">",
                    text(repl, "replacement").replace("\\", "\\\\"))
    try:
        return rx.sub(r, _s(s)).encode()
    except (re.error, IndexError) as exc:
        raise ApiError("INVALID", f"replacement: {exc}") from None


@method("Regexp")
def split(rx: Any, _p: Any, _c: Any, s: Any = None, n: Any = None) -> Any:
    limit = n if isinstance(n, int) else -1
    if limit == 0:
        return lua_value([])
    src, pos = _s(s), 0
    parts: list[str] = []
    for m in rx.finditer(src):         # Go's Split: no capture groups among the parts
        if 0 < limit <= len(parts) + 1:
            break
        if m.end() == 0:
            continue
        parts.append(src[pos:m.start()])
        pos = m.end()
    parts.append(src[pos:])
    return lua_value(parts)


@method("Regexp")
def num_subexp(rx: Any, _p: Any, _c: Any) -> int:
    return int(rx.groups)


@method("Regexp")
def subexp_names(rx: Any, _p: Any, _c: Any) -> Any:
    names = {i: n for n, i in rx.groupindex.items()}
    return lua_value([""] + [names.get(i, "") for i in range(1, rx.groups + 1)])


@method("Regexp", "string")
def regexp_string(rx: Any, p: Any, _c: Any) -> Any:
    return p


# -- diff ------------------------------------------------------------------------------------
@function("text.diff", "new")
def diff_new(options: Any = None) -> Any:
    return New((b"Differ",))


def _diffs(a: str, b: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append({"operation": "equal", "text": a[i1:i2]})
            continue
        if i2 > i1:
            out.append({"operation": "delete", "text": a[i1:i2]})
        if j2 > j1:
            out.append({"operation": "insert", "text": b[j1:j2]})
    return out


def _diff_arg(diffs: Any) -> list[dict[str, str]]:
    data = from_lua(diffs, empty=list) if diffs is not None else []
    if not isinstance(data, list):
        raise ApiError("INVALID", "a list of diffs expected")
    return [d for d in data if isinstance(d, dict)]


@method("Differ")
def compare(_a: Any, _b: Any, _c: Any, t1: Any = None, t2: Any = None) -> Any:
    return lua_value(_diffs(text(t1, "text1"), text(t2, "text2")))


@method("Differ")
def summarize(_a: Any, _b: Any, _c: Any, diffs: Any = None) -> Any:
    stats = {"insertions": 0, "deletions": 0, "equals": 0}
    key = {"insert": "insertions", "delete": "deletions", "equal": "equals"}
    for d in _diff_arg(diffs):
        k = key.get(str(d.get("operation")))
        if k:
            stats[k] += len(str(d.get("text", "")))
    return lua_value(stats)


@method("Differ")
def pretty_text(_a: Any, _b: Any, _c: Any, diffs: Any = None) -> bytes:
    color = {"insert": "\x1b[32m", "delete": "\x1b[31m"}
    return "".join(color.get(str(d.get("operation")), "") + str(d.get("text", ""))
                   + ("\x1b[0m" if d.get("operation") in color else "")
                   for d in _diff_arg(diffs)).encode()


@method("Differ")
def pretty_html(_a: Any, _b: Any, _c: Any, diffs: Any = None) -> bytes:
    tag = {"insert": "ins", "delete": "del"}
    out = []
    for d in _diff_arg(diffs):
        t = html.escape(str(d.get("text", ""))).replace("\n", "&para;<br>")
        name = tag.get(str(d.get("operation")))
        out.append(f"<{name}>{t}</{name}>" if name else f"<span>{t}</span>")
    return "".join(out).encode()


@method("Differ")
def patch_make(_a: Any, _b: Any, _c: Any, t1: Any = None, t2: Any = None) -> Any:
    a, b = text(t1, "text1"), text(t2, "text2")
    body = "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True)))
    return lua_value([{"text": body, "from": a, "to": b}])


@method("Differ")
def patch_apply(_a: Any, _b: Any, _c: Any, patches: Any = None, t: Any = None) -> tuple:
    current = text(t, "text")
    ok = True
    for p in _diff_arg(patches):
        if p.get("from") == current:
            current = str(p.get("to", current))
        else:
            ok = False
    return (current.encode(), ok)


# -- splitter --------------------------------------------------------------------------------
_DEFAULT_SEPS = ["\n\n", "\n", " ", ""]
_MD_SEPS = ["\n# ", "\n## ", "\n### ", "\n#### ", "\n##### ", "\n###### ", "```\n", "\n\n",
            "\n", " ", ""]


def _options(options: Any, seps: list[str]) -> dict[str, Any]:
    o = from_lua(options) if options is not None else {}
    if not isinstance(o, dict):
        raise ApiError("INVALID", "splitter options must be a table")
    size, overlap = o.get("chunk_size", 4000), o.get("chunk_overlap", 200)
    if not isinstance(size, int) or size <= 0:
        raise ApiError("INVALID", "chunk_size must be a positive integer")
    if not isinstance(overlap, int) or overlap < 0:
        raise ApiError("INVALID", "chunk_overlap must be an integer >= 0")
    overlap = min(overlap, size // 2)       # an overlap as large as a chunk would never end
    return {"size": size, "overlap": overlap, "keep": bool(o.get("keep_separator", False)),
            "seps": list(o.get("separators") or seps)}


@function("text.splitter")
def recursive(options: Any = None) -> Any:
    return New((b"Splitter", _options(options, _DEFAULT_SEPS)))


@function("text.splitter")
def markdown(options: Any = None) -> Any:
    return New((b"Splitter", _options(options, _MD_SEPS)))


def _split(t: str, o: dict[str, Any], seps: list[str]) -> list[str]:
    size = o["size"]
    if len(t) <= size:
        return [t] if t.strip() else []
    sep = next((s for s in seps if s == "" or s in t), "")
    rest = seps[seps.index(sep) + 1:] if sep in seps else []
    pieces = list(t) if sep == "" else t.split(sep)
    if sep and o["keep"]:
        pieces = [pieces[0]] + [sep + p for p in pieces[1:]]
    joiner = "" if (o["keep"] or sep == "") else sep
    out: list[str] = []
    cur = ""
    for piece in pieces:
        if len(piece) > size:
            if cur.strip():
                out.append(cur)
            cur = ""
            out.extend(_split(piece, o, rest))
            continue
        cand = piece if not cur else cur + joiner + piece
        if len(cand) <= size:
            cur = cand
        else:
            if cur.strip():
                out.append(cur)
            tail = cur[-o["overlap"]:] if o["overlap"] else ""
            cur = (tail + joiner + piece) if tail and len(tail) + len(piece) < size else piece
    if cur.strip():
        out.append(cur)
    return out


@method("Splitter")
def split_text(o: Any, _b: Any, _c: Any, t: Any = None) -> Any:
    return lua_value(_split(text(t, "text"), o, o["seps"]))


@method("Splitter")
def split_batch(o: Any, _b: Any, _c: Any, pages: Any = None) -> Any:
    data = from_lua(pages, empty=list) if is_lua_table(pages) else None
    if not isinstance(data, list):
        raise ApiError("INVALID", "split_batch expects a list of {content, metadata}")
    out = []
    for page in data:
        if not isinstance(page, dict) or not isinstance(page.get("content"), str):
            raise ApiError("INVALID", "each page needs a string content")
        for chunk in _split(page["content"], o, o["seps"]):
            out.append({"content": chunk, "metadata": page.get("metadata") or {}})
    return lua_value(out)


# -- expr ------------------------------------------------------------------------------------
# expr-lang expressions (exprlang.py): Program {tree}. Wippy's errors: an empty expression is
# INVALID, a syntax or evaluation error INTERNAL.
_EXPR_CACHE: dict[str, Any] = {}
EXPR_CACHE_MAX = 1000          # compiled expressions kept per OS process (Wippy: an LRU of 1000)


def _expr_tree(expression: Any) -> Any:
    src = text(expression, "expression") if expression is not None else ""
    if not src.strip():
        raise ApiError("INVALID", "expression is empty")
    tree = _EXPR_CACHE.get(src)
    if tree is None:
        try:
            tree = exprlang.parse(src)
        except ValueError as exc:
            raise ApiError("INTERNAL", f"expression syntax: {exc}") from None
        if len(_EXPR_CACHE) >= EXPR_CACHE_MAX:
            _EXPR_CACHE.clear()
        _EXPR_CACHE[src] = tree
    return tree


def _expr_run(tree: Any, env: Any) -> Any:
    data = from_lua(env) if env is not None else {}
    if not isinstance(data, dict):
        data = {}
    try:
        return lua_value(exprlang.run(tree, data))
    except (ArithmeticError, TypeError, KeyError, ValueError, IndexError) as exc:
        raise ApiError("INTERNAL", f"expression evaluation: {exc}") from None


@function("expr", "eval")
def expr_eval(expression: Any = None, env: Any = None) -> Any:
    return _expr_run(_expr_tree(expression), env)


@function("expr", "compile")
def expr_compile(expression: Any = None, env: Any = None) -> Any:
    return New((b"ExprProgram", _expr_tree(expression)))


@method("ExprProgram", "run")
def expr_program_run(tree: Any, _b: Any, _c: Any, env: Any = None) -> Any:
    return _expr_run(tree, env)
