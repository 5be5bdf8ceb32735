"""Lua's encoding modules with Wippy's names: ``base64``, ``compress`` (``gzip``, ``deflate``,
``zlib``; ``brotli`` and ``zstd`` answer UNAVAILABLE: the standard library has neither) and
``yaml`` (through the loader, YAML's one importer). Strings are bytes both ways (binary data
survives). Errors are Wippy's: bad input and data that does not decode are INVALID, a failed YAML parse
INTERNAL.
"""
from __future__ import annotations

import base64 as _b64
import binascii
import zlib
from typing import Any

from ..registry.loader import yaml_dump, yaml_parse
from .api import ApiError, function, lua_value, subtable, unavailable
from .engine import is_lua_table
from .stdmods import json_data

__all__ = ["MAX_SIZE"]

MAX_SIZE = 128 << 20         # Wippy's default max_size for a decompressed result
MAX_SIZE_LIMIT = 1 << 30     # and its ceiling


def _bytes(v: Any, what: str = "data") -> bytes:
    if type(v) is not bytes:
        raise ApiError("INVALID", f"{what} must be a string")
    return v


# -- base64 ----------------------------------------------------------------------------------
@function("base64", "encode")
def b64_encode(data: Any = None) -> bytes:
    return _b64.b64encode(_bytes(data))


@function("base64", "decode")
def b64_decode(data: Any = None) -> bytes:
    try:
        return _b64.b64decode(_bytes(data), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("INVALID", f"illegal base64 data: {exc}") from None


# -- compress --------------------------------------------------------------------------------
def _opt(options: Any, name: str, default: int) -> int:
    if options is None:
        return default
    if not is_lua_table(options):
        raise ApiError("INVALID", "options must be a table")
    v = options[name.encode()]
    if v is None:
        return default
    if type(v) is not int:
        raise ApiError("INVALID", f"option {name} must be an integer")
    return v


def _level(options: Any) -> int:
    level = _opt(options, "level", 6)
    if not 1 <= level <= 9:
        raise ApiError("INVALID", f"compression level must be 1..9, not {level}")
    return level


def _inflate(data: bytes, wbits: int, options: Any) -> bytes:
    limit = _opt(options, "max_size", MAX_SIZE)
    if not 0 < limit <= MAX_SIZE_LIMIT:
        raise ApiError("INVALID", f"max_size must be 1..{MAX_SIZE_LIMIT}")
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ApiError("INVALID", f"invalid compressed data: {exc}") from None
    if len(out) > limit:
        raise ApiError("INVALID", f"decompressed data exceeds max_size ({limit} bytes)")
    if not d.eof:
        raise ApiError("INVALID", "invalid compressed data: truncated")
    return out


_WBITS = {"gzip": 31, "zlib": 15, "deflate": -15}
for _fmt, _wbits in _WBITS.items():
    subtable("compress", _fmt, f"compress.{_fmt}")

    def _encode(data: Any = None, options: Any = None, _w: int = _wbits) -> bytes:
        c = zlib.compressobj(_level(options), zlib.DEFLATED, _w)
        raw = _bytes(data)
        if not raw:
            raise ApiError("INVALID", "nothing to compress: empty data")
        return c.compress(raw) + c.flush()

    def _decode(data: Any = None, options: Any = None, _w: int = _wbits) -> bytes:
        raw = _bytes(data)
        if not raw:
            raise ApiError("INVALID", "nothing to decompress: empty data")
        return _inflate(raw, _w, options)
    function(f"compress.{_fmt}", "encode")(_encode)
    function(f"compress.{_fmt}", "decode")(_decode)
for _fmt in ("brotli", "zstd"):
    subtable("compress", _fmt, f"compress.{_fmt}")
    for _name in ("encode", "decode"):
        function(f"compress.{_fmt}", _name)(unavailable(f"compress.{_fmt}.{_name}"))
function("compress.zstd", "train_dict")(unavailable("compress.zstd.train_dict"))
function("compress.zstd", "inspect_dict")(unavailable("compress.zstd.inspect_dict"))


# -- yaml ------------------------------------------------------------------------------------
def _ordered(data: Any, order: list[str], sort_rest: bool) -> Any:
    if isinstance(data, dict):
        keys = [k for k in order if k in data]
        rest = [k for k in data if k not in keys]
        keys += sorted(rest, key=str) if sort_rest else rest
        return {k: _ordered(data[k], order, sort_rest) for k in keys}
    if isinstance(data, list):
        return [_ordered(v, order, sort_rest) for v in data]
    return data


@function("yaml", "encode")
def yaml_encode(data: Any = None, options: Any = None) -> bytes:
    if data is None:
        raise ApiError("INVALID", "yaml.encode: data is required")
    if not is_lua_table(data):
        raise ApiError("INVALID", "yaml.encode: data must be a table")
    plain = json_data(data)
    order: list[str] = []
    sort_rest = True
    if is_lua_table(options):
        fo = options[b"field_order"]
        if is_lua_table(fo):
            order = [v.decode() for _, v in sorted(fo.items()) if type(v) is bytes]
            sort_rest = options[b"sort_unordered"] is not False
    try:
        return yaml_dump(_ordered(plain, order, sort_rest), sort_keys=False).encode()
    except ValueError as exc:
        raise ApiError("INTERNAL", f"yaml.encode: {exc}") from None


@function("yaml", "decode")
def yaml_decode(data: Any = None) -> Any:
    if type(data) is not bytes:
        raise ApiError("INVALID", "yaml.decode: data must be a string")
    if not data.strip():
        raise ApiError("INVALID", "yaml.decode: empty data")
    try:
        return lua_value(yaml_parse(data))
    except ValueError as exc:
        raise ApiError("INTERNAL", f"yaml.decode: {exc}") from None
