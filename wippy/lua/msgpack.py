"""MessagePack for plain data (pure functions): what Lua's ``payload`` transcodes to and from
(``payload.format.MSGPACK``). nil, booleans, integers (64-bit), floats (64-bit), UTF-8 strings
(str), binary (bytes), arrays and maps; extension types are refused.

Rejected: the ``msgpack`` package, a compiled dependency for a format Lua code rarely asks for.
"""
from __future__ import annotations

import struct
from typing import Any

__all__ = ["packb", "unpackb"]


def packb(v: Any) -> bytes:
    """``v`` (plain data) as MessagePack; raises ValueError for anything else."""
    out: list[bytes] = []
    _pack(v, out, 0)
    return b"".join(out)


def _pack(v: Any, out: list[bytes], depth: int) -> None:
    if depth > 128:
        raise ValueError("msgpack: nested deeper than 128 levels")
    if v is None:
        out.append(b"\xc0")
    elif v is True or v is False:
        out.append(b"\xc3" if v else b"\xc2")
    elif isinstance(v, int):
        if 0 <= v < 128:
            out.append(bytes((v,)))
        elif -32 <= v < 0:
            out.append(struct.pack("b", v))
        elif 0 <= v < 1 << 64:
            out.append(b"\xcf" + struct.pack(">Q", v))
        elif -(1 << 63) <= v < 0:
            out.append(b"\xd3" + struct.pack(">q", v))
        else:
            raise ValueError(f"msgpack: integer {v} does not fit in 64 bits")
    elif isinstance(v, float):
        out.append(b"\xcb" + struct.pack(">d", v))
    elif isinstance(v, str):
        b = v.encode()
        out.append(_head(len(b), 0xA0, 31, b"\xd9", b"\xda", b"\xdb") + b)
    elif isinstance(v, (bytes, bytearray)):
        out.append(_head(len(v), None, 0, b"\xc4", b"\xc5", b"\xc6") + bytes(v))
    elif isinstance(v, (list, tuple)):
        out.append(_head(len(v), 0x90, 15, None, b"\xdc", b"\xdd"))
        for x in v:
            _pack(x, out, depth + 1)
    elif isinstance(v, dict):
        out.append(_head(len(v), 0x80, 15, None, b"\xde", b"\xdf"))
        for k, x in v.items():
            _pack(k, out, depth + 1)
            _pack(x, out, depth + 1)
    else:
        raise ValueError(f"msgpack: a {type(v).__name__} cannot be packed")


def _head(n: int, fix: int | None, fix_max: int, b8: bytes | None, b16: bytes,
          b32: bytes) -> bytes:
    if fix is not None and n <= fix_max:
        return bytes((fix | n,))
    if b8 is not None and n < 256:
        return b8 + bytes((n,))
    if n < 1 << 16:
        return b16 + struct.pack(">H", n)
    return b32 + struct.pack(">I", n)


def unpackb(data: bytes) -> Any:
    """The plain data of MessagePack ``data``; raises ValueError when it is not."""
    try:
        v, pos = _unpack(memoryview(data), 0, 0)
    except (IndexError, struct.error) as exc:
        raise ValueError("msgpack: truncated data") from exc
    if pos != len(data):
        raise ValueError("msgpack: extra bytes after the value")
    return v


_FIXED = {0xCA: (">f", 4), 0xCB: (">d", 8), 0xCC: (">B", 1), 0xCD: (">H", 2),
          0xCE: (">I", 4), 0xCF: (">Q", 8), 0xD0: (">b", 1), 0xD1: (">h", 2),
          0xD2: (">i", 4), 0xD3: (">q", 8)}
_SIZED = {0xD9: (1, "s"), 0xDA: (2, "s"), 0xDB: (4, "s"), 0xC4: (1, "b"), 0xC5: (2, "b"),
          0xC6: (4, "b"), 0xDC: (2, "a"), 0xDD: (4, "a"), 0xDE: (2, "m"), 0xDF: (4, "m")}


def _unpack(d: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if depth > 128:
        raise ValueError("msgpack: nested deeper than 128 levels")
    b = d[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        return _collect("s", b & 0x1F, d, pos, depth)
    if 0x90 <= b <= 0x9F:
        return _collect("a", b & 0x0F, d, pos, depth)
    if 0x80 <= b <= 0x8F:
        return _collect("m", b & 0x0F, d, pos, depth)
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    if b in _FIXED:
        fmt, n = _FIXED[b]
        return struct.unpack(fmt, d[pos:pos + n])[0], pos + n
    if b in _SIZED:
        n, what = _SIZED[b]
        size = int.from_bytes(d[pos:pos + n], "big")
        return _collect(what, size, d, pos + n, depth)
    raise ValueError(f"msgpack: unsupported type byte 0x{b:02x}")


def _collect(what: str, n: int, d: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if what in "sb":
        if pos + n > len(d):
            raise IndexError
        raw = bytes(d[pos:pos + n])
        if what == "s":
            try:
                return raw.decode(), pos + n
            except UnicodeDecodeError:
                return raw, pos + n
        return raw, pos + n
    if what == "a":
        items = []
        for _ in range(n):
            v, pos = _unpack(d, pos, depth + 1)
            items.append(v)
        return items, pos
    out: dict[Any, Any] = {}
    for _ in range(n):
        k, pos = _unpack(d, pos, depth + 1)
        v, pos = _unpack(d, pos, depth + 1)
        if isinstance(k, (list, dict)):
            raise ValueError("msgpack: a map key must be a scalar")
        out[k] = v
    return out, pos
