"""Wippy's Lua modules that are plain libraries: ``json``, ``logger``, ``uuid`` and
``io`` (the terminal host's). Inside a workflow's own code, ``uuid.v1/v4/v7`` are journaled
(through :mod:`wippy.runtime.durable`, as ``workflow.uuid`` is). See ``api.py`` for the
conventions at the boundary.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import time as _stdtime
import uuid as _uuid
from typing import Any, Callable

from ..runtime import durable
from . import jsonschema
from .api import ApiError, New, current_ctx, function, lua_value, method, text, unavailable
from .engine import from_lua, is_lua_table, lua_type_of

__all__: list[str] = []


# -- json ------------------------------------------------------------------------------------
JSON_MAX_DEPTH = 128      # Wippy's nesting limit for json.encode


def json_data(v: Any, depth: int = 0) -> Any:
    """A Lua value as JSON data, by Wippy's rules: a table with keys exactly 1..n is an array,
    one with string keys an object, ``{}`` an empty array; a sparse array, a table mixing
    both kinds of keys, a cycle or a function is an error (kind ``Internal``)."""
    t = type(v)
    if t is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError:
            raise ApiError("INTERNAL", "json.encode: a string is not valid UTF-8") from None
    if t is bool or v is None or t is int:
        return v
    if t is float:
        return None if v != v or v in (float("inf"), float("-inf")) else v
    if not is_lua_table(v):
        raise ApiError("INTERNAL", f"json.encode: a {lua_type_of(v) or t.__name__} cannot be "
                                   "encoded")
    if depth >= JSON_MAX_DEPTH:
        raise ApiError("INTERNAL", "json.encode: nested deeper than 128 levels (a cycle?)")
    items = list(v.items())
    if not items:
        return []
    ints = sum(1 for k, _ in items if type(k) is int)
    if ints == len(items):
        n = len(items)
        if max(k for k, _ in items) != n or min(k for k, _ in items) != 1:
            raise ApiError("INTERNAL", "json.encode: sparse array (keys are not 1..n)")
        out: list[Any] = [None] * n
        for k, item in items:
            out[k - 1] = json_data(item, depth + 1)
        return out
    if ints:
        raise ApiError("INTERNAL", "json.encode: a table mixes array and object keys")
    obj: dict[str, Any] = {}
    for k, item in items:
        if type(k) is not bytes:
            raise ApiError("INTERNAL", f"json.encode: a {lua_type_of(k) or type(k).__name__} "
                                       "key cannot be encoded")
        obj[k.decode("utf-8", "replace")] = json_data(item, depth + 1)
    return obj


@function("json")
def encode(v: Any = None) -> bytes:
    return json.dumps(json_data(v), ensure_ascii=False, separators=(",", ":")).encode()


@function("json")
def decode(s: Any = None) -> Any:
    if type(s) is not bytes:
        raise ApiError("INVALID", "json.decode expects a string")
    if not s:
        raise ApiError("INVALID", "json.decode: empty string")
    try:
        data = json.loads(s)
    except ValueError as exc:
        raise ApiError("INTERNAL", f"json.decode: {exc}") from None
    return lua_value(data)


_SCHEMAS: dict[bytes, Any] = {}    # schema text -> parsed schema (Wippy caches them too)


def _schema_arg(schema: Any) -> Any:
    if schema is None:
        raise ApiError("INVALID", "json.validate: schema is required")
    if type(schema) is bytes:
        got = _SCHEMAS.get(schema)
        if got is None:
            try:
                got = json.loads(schema)
            except ValueError as exc:
                raise ApiError("INVALID", f"json.validate: schema is not JSON: {exc}") from None
            if len(_SCHEMAS) > 100:
                _SCHEMAS.clear()
            _SCHEMAS[schema] = got
        return got
    if is_lua_table(schema):
        return json_data(schema)
    raise ApiError("INVALID", "json.validate: schema must be a table or a JSON string")


def _validated(schema: Any, data: Any) -> Any:
    try:
        problems = jsonschema.validate(schema, data)
    except (ValueError, re.error) as exc:
        raise ApiError("INVALID", f"json.validate: invalid schema: {exc}") from None
    if problems:
        raise ApiError("INVALID", "validation failed: " + "; ".join(problems))
    return True


def _false_on_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wippy's validate answers ``false, err`` (not ``nil, err``) for every error."""
    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except ApiError as exc:
            return (False, current_ctx().new_obj(b"Error", b"Invalid", str(exc).encode(), False,
                                                 None))
    return call


@function("json", "validate")
@_false_on_error
def json_validate(schema: Any = None, data: Any = None) -> Any:
    s = _schema_arg(schema)
    if data is None:
        raise ApiError("INVALID", "json.validate: data is required")
    return _validated(s, json_data(data))


@function("json")
@_false_on_error
def validate_string(schema: Any = None, text_: Any = None) -> Any:
    s = _schema_arg(schema)
    if type(text_) is not bytes:
        raise ApiError("INVALID", "json.validate_string: the data must be a JSON string")
    try:
        data = json.loads(text_)
    except ValueError as exc:
        raise ApiError("INVALID", f"json.validate_string: not JSON: {exc}") from None
    return _validated(s, data)


# -- logger ----------------------------------------------------------------------------------
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}


def _log(level: int, name: Any, extra: Any, message: Any, fields: Any) -> None:
    logger = logging.getLogger("wippy.lua" + ("." + text(name) if name is not None else ""))
    if not logger.isEnabledFor(level):
        return
    ctx = current_ctx()
    merged: dict[str, Any] = {}
    for src in (extra, fields):
        if src is not None:
            data = from_lua(src)
            if isinstance(data, dict):
                merged.update(data)
    msg = "" if message is None else text(message, "message")
    line = msg + "".join(f" {k}={json.dumps(v, default=repr)}" for k, v in merged.items())
    logger.log(level, "%s", line, extra={"wippy_pid": ctx.pid, "wippy_entry": ctx.entry_id,
                                         "wippy_msg": msg, "wippy_fields": merged})


def _module_level(level: int) -> Any:
    def log_(*args: Any) -> bool:
        if args and is_lua_table(args[0]):      # logger:info(...) on the module table
            args = args[1:]
        message = args[0] if args else None
        fields = args[1] if len(args) > 1 else None
        _log(level, None, None, message, fields)
        return True
    return log_


def _object_level(level: int) -> Any:
    def log_(name: Any, extra: Any, _: Any, message: Any = None, fields: Any = None) -> bool:
        _log(level, name, extra, message, fields)
        return True
    return log_


def _merge(a: Any, b: Any) -> Any:
    merged: dict[str, Any] = {}
    for src in (a, b):
        if src is not None:
            data = from_lua(src)
            if isinstance(data, dict):
                merged.update(data)
    return lua_value(merged) if merged else None


for _name, _level in _LEVELS.items():
    function("logger", _name)(_module_level(_level))
    method("Logger", _name)(_object_level(_level))


@function("logger", "with")
def logger_with(*args: Any) -> Any:
    fields = args[-1] if args else None
    return New((b"Logger", None, _merge(None, fields)))


@function("logger", "named")
def logger_named(*args: Any) -> Any:
    name = text(args[-1] if args else None, "name")
    if not name:
        raise ApiError("INVALID", "logger:named: empty name")
    return New((b"Logger", name.encode(), None))


@method("Logger", "with")
def logger_obj_with(name: Any, extra: Any, _: Any, fields: Any = None) -> Any:
    return New((b"Logger", name, _merge(extra, fields)))


@method("Logger", "named")
def logger_obj_named(name: Any, extra: Any, _: Any, sub: Any = None) -> Any:
    s = text(sub, "name")
    if not s:
        raise ApiError("INVALID", "logger:named: empty name")
    full = s if name is None else text(name) + "." + s
    return New((b"Logger", full.encode(), extra))


# -- uuid ------------------------------------------------------------------------------------
def _uuid_arg(v: Any) -> _uuid.UUID:
    try:
        return _uuid.UUID(text(v, "uuid"))
    except ValueError:
        raise ApiError("INVALID", f"invalid UUID {text(v)!r}") from None


def _v7() -> _uuid.UUID:
    ms = _stdtime.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    n = ((ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
         | 0b10 << 62 | (rand & ((1 << 62) - 1)))
    return _uuid.UUID(int=n)


_VARIANTS = {_uuid.RFC_4122: "RFC4122", _uuid.RESERVED_NCS: "NCS",
             _uuid.RESERVED_MICROSOFT: "Microsoft", _uuid.RESERVED_FUTURE: "Future"}


def _journaled_uuid(make: Callable[[], str]) -> bytes:
    """A UUID from ``make``; inside a workflow's own code, a journaled ``uuid`` step."""
    wf = durable.current()
    return (make() if wf is None else wf.uuid(make)).encode()


@function("uuid")
def v1() -> bytes:
    return _journaled_uuid(lambda: str(_uuid.uuid1()))


@function("uuid")
def v4() -> bytes:
    return _journaled_uuid(lambda: str(_uuid.uuid4()))


@function("uuid")
def v7() -> bytes:
    return _journaled_uuid(lambda: str(_v7()))


@function("uuid")
def v3(ns: Any, name: Any) -> bytes:
    return str(_uuid.uuid3(_uuid_arg(ns), text(name, "name"))).encode()


@function("uuid")
def v5(ns: Any, name: Any) -> bytes:
    return str(_uuid.uuid5(_uuid_arg(ns), text(name, "name"))).encode()


@function("uuid")
def validate(v: Any = None) -> bool:
    if type(v) is not bytes:
        return False
    try:
        _uuid.UUID(v.decode())
    except (ValueError, UnicodeDecodeError):
        return False
    return True


@function("uuid")
def version(v: Any) -> int:
    return _uuid_arg(v).version or 0


@function("uuid")
def variant(v: Any) -> bytes:
    return _VARIANTS.get(_uuid_arg(v).variant, "Invalid").encode()


@function("uuid", "parse")
def uuid_parse(v: Any) -> Any:
    u = _uuid_arg(v)
    info: dict[str, Any] = {"version": u.version, "variant": _VARIANTS.get(u.variant, "Invalid")}
    if u.version == 7:
        info["timestamp"] = (u.int >> 80) // 1000
    elif u.version == 1:
        info["timestamp"] = (u.time - 0x01B21DD213814000) // 10_000_000
        info["node"] = f"{u.node:012x}"
    return lua_value(info)


@function("uuid", "format")
def uuid_format(v: Any, style: Any = None) -> bytes:
    u = _uuid_arg(v)
    s = "standard" if style is None else text(style, "format")
    if s == "standard":
        return str(u).encode()
    if s == "simple":
        return u.hex.encode()
    if s == "urn":
        return u.urn.encode()
    raise ApiError("INVALID", f"unknown UUID format {s!r} (standard, simple, urn)")


# -- io (terminal host) ----------------------------------------------------------------------
def _joined(sep: str, args: tuple) -> bytes:
    parts = []
    for a in args:
        if type(a) is bytes:
            parts.append(a)
        elif type(a) is bool:
            parts.append(b"true" if a else b"false")
        elif a is None:
            parts.append(b"nil")
        elif type(a) is float and a.is_integer():
            parts.append(f"{a:.1f}".encode())
        else:
            parts.append(str(a).encode())
    return sep.encode().join(parts)


def _out(stream: Any, data: bytes, flush: bool) -> bool:
    try:
        stream.buffer.write(data)
        if flush:
            stream.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"write failed: {exc}") from None
    return True


@function("io")
def write(*args: Any) -> bool:
    return _out(sys.stdout, _joined("", args), False)


@function("io", "print")
def io_print(*args: Any) -> bool:
    return _out(sys.stdout, _joined("\t", args) + b"\n", False)


@function("io")
def eprint(*args: Any) -> bool:
    return _out(sys.stderr, _joined("\t", args) + b"\n", True)


@function("io")
def flush() -> bool:
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        raise ApiError("INTERNAL", f"flush failed: {exc}") from None
    return True


@function("io")
def args() -> Any:
    return lua_value([a for a in current_ctx().args if isinstance(a, str)])


function("io", "raw")(unavailable("io.raw"))
