"""A small JSON Schema validator for Lua's ``json.validate`` (pure functions, no I/O).

Covers what schemas written for Wippy use (draft 7 / 2020-12 keywords): ``type``, ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties``, ``patternProperties``,
``propertyNames``, ``min/maxProperties``, ``items`` (a schema or, draft 7, a list),
``prefixItems``, ``additionalItems``, ``min/maxItems``, ``uniqueItems``, ``contains``,
``min/maxLength``, ``pattern``, ``minimum``, ``maximum``, ``exclusiveMinimum``/``Maximum``
(numbers, or draft 4 booleans), ``multipleOf``, ``allOf``, ``anyOf``, ``oneOf``, ``not``,
``if``/``then``/``else`` and local ``$ref`` (``#``, ``#/definitions/x``, ``#/$defs/x``).
``format`` and unknown keywords are annotations and pass. An empty Lua table is both an empty
array and an empty object.

Rejected: the ``jsonschema`` package (a dependency with its own dependencies, for a function
Lua code calls now and then); its error messages would also read differently from Wippy's.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["validate"]


def _type_ok(v: Any, t: str) -> bool:
    if t == "object":
        return isinstance(v, dict) or v == []
    if t == "array":
        return isinstance(v, list) or v == {}
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    raise ValueError(f"unknown type {t!r}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, not {ref!r}")
    node = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"$ref {ref!r} points to nothing")
    return node


def validate(schema: Any, data: Any) -> list[str]:
    """The problems of ``data`` against ``schema`` ("at /path: message"), empty when it is
    valid. Raises ValueError for a schema that is not one."""
    errors: list[str] = []
    _check(schema, data, "", schema, errors, 0)
    return errors


def _check(s: Any, v: Any, path: str, root: Any, out: list[str], depth: int) -> None:
    if depth > 64:
        raise ValueError("schema nested deeper than 64 levels (a $ref cycle?)")
    if s is True or s == {}:
        return
    if s is False:
        out.append(f"at {path or '/'}: no value is allowed here")
        return
    if not isinstance(s, dict):
        raise ValueError(f"a schema must be an object or a boolean, not {type(s).__name__}")
    where = path or "/"
    if "$ref" in s:
        _check(_resolve(root, s["$ref"]), v, path, root, out, depth + 1)
    t = s.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_type_ok(v, x) for x in types):
            out.append(f"at {where}: expected {' or '.join(types)}, got {_name(v)}")
            return
    if "enum" in s and not any(_equal(v, e) for e in s["enum"]):
        out.append(f"at {where}: value must be one of {s['enum']!r}")
    if "const" in s and not _equal(v, s["const"]):
        out.append(f"at {where}: value must be {s['const']!r}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        _numbers(s, v, where, out)
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            out.append(f"at {where}: shorter than {s['minLength']} characters")
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append(f"at {where}: longer than {s['maxLength']} characters")
        if "pattern" in s and not re.search(s["pattern"], v):
            out.append(f"at {where}: does not match pattern {s['pattern']!r}")
    if isinstance(v, dict) or v == []:
        _object(s, v if isinstance(v, dict) else {}, path, root, out, depth)
    if isinstance(v, list) or v == {}:
        _array(s, v if isinstance(v, list) else [], path, root, out, depth)
    for sub in s.get("allOf", ()):
        _check(sub, v, path, root, out, depth + 1)
    if "anyOf" in s and not any(_ok(sub, v, path, root, depth) for sub in s["anyOf"]):
        out.append(f"at {where}: matches none of anyOf")
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if _ok(sub, v, path, root, depth))
        if n != 1:
            out.append(f"at {where}: matches {n} of oneOf (exactly one expected)")
    if "not" in s and _ok(s["not"], v, path, root, depth):
        out.append(f"at {where}: must not match the 'not' schema")
    if "if" in s:
        branch = s.get("then") if _ok(s["if"], v, path, root, depth) else s.get("else")
        if branch is not None:
            _check(branch, v, path, root, out, depth + 1)


def _ok(s: Any, v: Any, path: str, root: Any, depth: int) -> bool:
    sub: list[str] = []
    _check(s, v, path, root, sub, depth + 1)
    return not sub


def _name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _numbers(s: dict, v: float, where: str, out: list[str]) -> None:
    lo, hi = s.get("minimum"), s.get("maximum")
    xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if xlo is True:
        xlo, lo = lo, None           # draft 4: a flag on minimum
    if xhi is True:
        xhi, hi = hi, None
    if lo is not None and v < lo:
        out.append(f"at {where}: {v} is less than the minimum {lo}")
    if hi is not None and v > hi:
        out.append(f"at {where}: {v} is greater than the maximum {hi}")
    if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and v <= xlo:
        out.append(f"at {where}: {v} is not greater than {xlo}")
    if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and v >= xhi:
        out.append(f"at {where}: {v} is not less than {xhi}")
    m = s.get("multipleOf")
    if m and (v / m) != int(v / m):
        out.append(f"at {where}: {v} is not a multiple of {m}")


def _object(s: dict, v: dict, path: str, root: Any, out: list[str], depth: int) -> None:
    where = path or "/"
    for k in s.get("required", ()):
        if k not in v:
            out.append(f"at {where}: missing required property '{k}'")
    if "minProperties" in s and len(v) < s["minProperties"]:
        out.append(f"at {where}: fewer than {s['minProperties']} properties")
    if "maxProperties" in s and len(v) > s["maxProperties"]:
        out.append(f"at {where}: more than {s['maxProperties']} properties")
    props = s.get("properties") or {}
    patterns = s.get("patternProperties") or {}
    extra = s.get("additionalProperties", True)
    for k, item in v.items():
        key = str(k)
        sub_path = f"{path}/{key}"
        matched = False
        if key in props:
            matched = True
            _check(props[key], item, sub_path, root, out, depth + 1)
        for pat, sub in patterns.items():
            if re.search(pat, key):
                matched = True
                _check(sub, item, sub_path, root, out, depth + 1)
        if not matched:
            if extra is False:
                out.append(f"at {where}: property '{key}' is not allowed")
            elif isinstance(extra, dict):
                _check(extra, item, sub_path, root, out, depth + 1)
        if "propertyNames" in s:
            _check(s["propertyNames"], key, sub_path, root, out, depth + 1)


def _array(s: dict, v: list, path: str, root: Any, out: list[str], depth: int) -> None:
    where = path or "/"
    if "minItems" in s and len(v) < s["minItems"]:
        out.append(f"at {where}: fewer than {s['minItems']} items")
    if "maxItems" in s and len(v) > s["maxItems"]:
        out.append(f"at {where}: more than {s['maxItems']} items")
    if s.get("uniqueItems"):
        for i, a in enumerate(v):
            if any(_equal(a, b) for b in v[:i]):
                out.append(f"at {where}: items are not unique")
                break
    items = s.get("items")
    prefix = s.get("prefixItems")
    if isinstance(items, list):            # draft 7 tuple form
        prefix, items = items, s.get("additionalItems")
    start = 0
    if isinstance(prefix, list):
        for i, sub in enumerate(prefix[:len(v)]):
            _check(sub, v[i], f"{path}/{i}", root, out, depth + 1)
        start = len(prefix)
    if items is not None:
        for i in range(start, len(v)):
            _check(items, v[i], f"{path}/{i}", root, out, depth + 1)
    if "contains" in s and not any(_ok(s["contains"], x, path, root, depth) for x in v):
        out.append(f"at {where}: no item matches 'contains'")
