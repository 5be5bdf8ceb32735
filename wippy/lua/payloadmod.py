"""Lua's ``payload`` global: Wippy's payloads, a value with a format. A payload object is
``{value, format}`` (``prelude.lua`` makes them: ``msg:payload()``, ``payload.new``, a future's
result); the format is nil for ``lua/any`` (the value is a Lua value), otherwise the value is
the encoded string. ``data()``/``unmarshal()`` decode, ``transcode(format)`` re-encodes.
"""
from __future__ import annotations

import json
from typing import Any

from ..registry.loader import yaml_dump, yaml_parse
from . import msgpack
from .api import ApiError, New, constant, lua_value, method, raw_op, subtable, text
from .stdmods import json_data

__all__ = ["FORMATS"]

FORMATS = {"JSON": "json/plain", "YAML": "yaml/plain", "STRING": "text/plain",
           "BYTES": "application/octet-stream", "MSGPACK": "application/msgpack",
           "LUA": "lua/any", "GOLANG": "golang/any", "ERROR": "golang/error"}
_LUA, _ERROR = FORMATS["LUA"], FORMATS["ERROR"]

subtable("payload", "format", "payload.format")
for _name, _value in FORMATS.items():
    constant("payload.format", _name, _value)


def _fmt(f: Any) -> str:
    return f.decode() if type(f) is bytes else _LUA


def _plain(value: Any, fmt: str) -> Any:
    """The plain data a payload holds."""
    try:
        if fmt == _LUA:
            return json_data(value) if value is not None else None
        if fmt == FORMATS["JSON"]:
            return json.loads(value)
        if fmt == FORMATS["YAML"]:
            return yaml_parse(value)
        if fmt == FORMATS["MSGPACK"]:
            return msgpack.unpackb(value)
        if fmt in (FORMATS["STRING"], FORMATS["BYTES"], FORMATS["GOLANG"]):
            return value
    except (ValueError, TypeError) as exc:
        raise ApiError("INTERNAL", f"payload: cannot decode {fmt}: {exc}") from None
    raise ApiError("INTERNAL", f"payload: a {fmt} payload cannot be decoded")


def _encode(data: Any, fmt: str) -> Any:
    try:
        if fmt == FORMATS["JSON"]:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        if fmt == FORMATS["YAML"]:
            return yaml_dump(data).encode()
        if fmt == FORMATS["MSGPACK"]:
            return msgpack.packb(data)
    except (ValueError, TypeError) as exc:
        raise ApiError("INTERNAL", f"payload: cannot encode {fmt}: {exc}") from None
    if fmt in (FORMATS["STRING"], FORMATS["BYTES"]):
        if isinstance(data, (str, bytes)):
            return data.encode() if isinstance(data, str) else data
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return str(data).encode()
        raise ApiError("INTERNAL", f"payload: only a string or a number becomes {fmt}")
    raise ApiError("INTERNAL", f"payload: cannot transcode to {fmt}")


@raw_op("payload_data")
def _payload_data(value: Any, fmt: Any) -> tuple:
    f = _fmt(fmt)
    if f == _ERROR:
        return (True, value)
    try:
        return (True, lua_value(_plain(value, f)))
    except ApiError as exc:
        return (False, b"Internal", str(exc).encode(), False, None)


@method("Payload")
def get_format(value: Any, fmt: Any, _: Any) -> bytes:
    return _fmt(fmt).encode()


@method("Payload")
def transcode(value: Any, fmt: Any, _: Any, target: Any = None) -> Any:
    to = text(target, "format")
    if to not in FORMATS.values():
        raise ApiError("INVALID", f"payload: unknown format {to!r}")
    src = _fmt(fmt)
    if src == _ERROR:
        raise ApiError("INTERNAL", "payload: an error payload cannot be transcoded")
    if src in (FORMATS["JSON"], FORMATS["YAML"]) and to in (FORMATS["STRING"], FORMATS["BYTES"]):
        return New((b"Payload", value, to.encode()))     # the encoded text itself
    data = _plain(value, src)
    if to == _LUA:
        return New((b"Payload", lua_value(data)))
    return New((b"Payload", _encode(data, to), to.encode()))


@method("Payload", "tostring")
def payload_tostring(value: Any, fmt: Any, _: Any) -> bytes:
    return f"payload{{format={_fmt(fmt)}}}".encode()


