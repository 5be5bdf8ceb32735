"""How Jet values print, compare and compute (Go's ``fmt`` and Jet's rules), and the builtin
functions a template may call: :func:`to_text`, :func:`truthy` and :data:`BUILTINS`.
"""
from __future__ import annotations

import json as _json
import math
from typing import Any, Callable
from urllib.parse import quote_plus

from .syntax import SafeStr, TemplateError

__all__ = ["to_text", "truthy", "num", "arith", "compare", "index", "escape", "BUILTINS",
           "MAX_OUTPUT"]

# Templates are code an agent may write, and rendering runs in Python, outside the Lua
# process's memory and CPU limits: this bounds what one builtin call may make.
MAX_OUTPUT = 16 << 20     # characters one render may produce (and one repeat/ints may make)


def _go_float(v: float) -> str:
    """Go's ``fmt.Print`` of a float64 (%v: shortest repr, exponent past 1e21)."""
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    if "e" in r:
        mant, exp = r.split("e")
        e = int(exp)
        if -4 <= e < 21:
            return format(v, "f").rstrip("0").rstrip(".")
        return f"{mant}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    return r


def to_text(v: Any) -> str:
    """A value as Jet writes it (Go's fmt for numbers, booleans, lists and maps)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, list):
        return "[" + " ".join(to_text(x) if x is not None else "<nil>" for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{to_text(v[k])}" for k in sorted(v, key=str)) + "]"
    return str(v)


def escape(s: str) -> str:
    """Go's template.HTMLEscape (Jet's default escaper)."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;").replace("\0", "\ufffd"))


def truthy(v: Any) -> bool:
    """Jet's truth: false, nil, zero, "" and empty collections are false."""
    if v is None or v is False:
        return False
    if isinstance(v, (int, float, str, bytes, list, dict)):
        return bool(v)
    return True


def num(v: Any, what: str) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TemplateError(f"{what}: {to_text(v)!r} is not a number")
    return v


def arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and (isinstance(a, str) or isinstance(b, str)):
        return to_text(a) + to_text(b)
    x, y = num(a, op), num(b, op)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        raise TemplateError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)      # Go truncates
        return q if op == "/" else x - q * y
    return x / y if op == "/" else math.fmod(x, y)


def compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        same = a == b if not (isinstance(a, bool) or isinstance(b, bool)) else a is b
        return same if op == "==" else not same
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a
        y: Any = b
    else:
        x, y = num(a, op), num(b, op)
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def index(v: Any, k: Any) -> Any:
    if isinstance(v, dict):
        if k in v:
            return v[k]
        return v.get(str(k)) if not isinstance(k, str) else None
    if isinstance(v, (list, str, bytes)):
        if isinstance(k, bool) or not isinstance(k, int):
            raise TemplateError(f"index {to_text(k)!r} of a list is not an integer")
        if not 0 <= k < len(v):
            raise TemplateError(f"index out of range: {k}")
        got = v[k]
        return ord(got) if isinstance(got, str) else got
    if v is None:
        return None
    raise TemplateError(f"cannot index {type(v).__name__} with {to_text(k)!r}")


def _len(v: Any) -> int:
    if isinstance(v, (str, bytes, list, dict)):
        return len(v)
    raise TemplateError(f"len of {to_text(v)!r}: not a string, list or map")


def _ints(a: Any, b: Any) -> list[int]:
    lo, hi = int(num(a, "ints")), int(num(b, "ints"))
    if hi - lo > MAX_OUTPUT:
        raise TemplateError(f"ints: a range of {hi - lo} is too large")
    return list(range(lo, hi))


def _bounded(s: str, n: int) -> str:
    if len(s) * max(n, 0) > MAX_OUTPUT:
        raise TemplateError(f"repeat: {len(s) * n} characters is more than a render may make")
    return s * n


def _map(*kv: Any) -> dict[str, Any]:
    if len(kv) % 2:
        raise TemplateError("map needs key, value pairs")
    return {to_text(kv[i]): kv[i + 1] for i in range(0, len(kv), 2)}


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "lower": lambda s: to_text(s).lower(),
    "upper": lambda s: to_text(s).upper(),
    "hasPrefix": lambda s, p: to_text(s).startswith(to_text(p)),
    "hasSuffix": lambda s, p: to_text(s).endswith(to_text(p)),
    "repeat": lambda s, n: _bounded(to_text(s), int(num(n, "repeat"))),
    "replace": lambda s, old, new, n=-1: to_text(s).replace(to_text(old), to_text(new),
                                                           int(num(n, "replace"))),
    "split": lambda s, sep: to_text(s).split(to_text(sep)),
    "trimSpace": lambda s: to_text(s).strip(),
    "html": lambda s: SafeStr(escape(to_text(s))),
    "url": lambda s: quote_plus(to_text(s)),
    "json": lambda v: SafeStr(_json.dumps(v, separators=(",", ":"), default=str)),
    "raw": lambda v: SafeStr(to_text(v)),
    "unsafe": lambda v: SafeStr(to_text(v)),
    "map": _map,
    "slice": lambda *a: list(a),
    "array": lambda *a: list(a),
    "ints": _ints,
    "default": lambda v, d: v if truthy(v) else d,
}
