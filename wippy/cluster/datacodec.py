"""The encoding of frames between nodes: plain data only, never pickle (S9, S12).

A value is None, bool, int (any size), float, str, bytes, a list (tuples become lists) or a
map with str or int keys: S4's plain data, the same rule as a message inside a node. Anything
else (a function, a class instance, a set) is refused at :func:`encode` with
:class:`~wippy.errors.InvalidMessage` naming its type and where it sits; :func:`decode` reads
only these tags, so bytes from the network can never make an object, run code or import
anything. Nesting is bounded (``MAX_DEPTH``) on both sides.

The layout: one tag byte, then: ``N`` ``T`` ``F`` (nothing), ``i`` (8-byte signed), ``I``
(length + decimal text, for integers past 64 bits), ``f`` (8-byte double), ``s``/``b``
(4-byte length + UTF-8 / raw), ``l`` (4-byte count + items), ``d`` (4-byte count + key,
value pairs). All big-endian.

Rejected: JSON (no bytes, and int keys come back as strings) and msgpack (a new dependency
for a codec of sixty lines; measured need first).
"""
from __future__ import annotations

import struct
from typing import Any

from ..errors import InvalidMessage

__all__ = ["encode", "decode", "MAX_DEPTH"]

MAX_DEPTH = 100
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")
_U32 = struct.Struct(">I")
_LO, _HI = -(1 << 63), (1 << 63) - 1


def encode(value: Any) -> bytes:
    """``value`` as bytes; raises InvalidMessage when it is not plain data."""
    out: list[bytes] = []
    _enc(value, out, 0, "the value")
    return b"".join(out)


def _enc(v: Any, out: list[bytes], depth: int, where: str) -> None:
    t = type(v)
    if v is None:
        out.append(b"N")
    elif t is bool:
        out.append(b"T" if v else b"F")
    elif t is int:
        if _LO <= v <= _HI:
            out.append(b"i" + _I64.pack(v))
        else:
            text = str(v).encode()
            out.append(b"I" + _U32.pack(len(text)) + text)
    elif t is float:
        out.append(b"f" + _F64.pack(v))
    elif t is str:
        data = v.encode("utf-8", "surrogatepass")
        out.append(b"s" + _U32.pack(len(data)) + data)
    elif t is bytes or t is bytearray or t is memoryview:
        data = bytes(v)
        out.append(b"b" + _U32.pack(len(data)) + data)
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise InvalidMessage(f"{where} is nested deeper than {MAX_DEPTH} levels")
        out.append(b"l" + _U32.pack(len(v)))
        for i, item in enumerate(v):
            _enc(item, out, depth + 1, f"{where}[{i}]")
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise InvalidMessage(f"{where} is nested deeper than {MAX_DEPTH} levels")
        out.append(b"d" + _U32.pack(len(v)))
        for k, item in v.items():
            if type(k) is not str and type(k) is not int:
                raise InvalidMessage(f"{where} has a key of type {type(k).__name__} "
                                     "(only str and int keys cross nodes)")
            _enc(k, out, depth + 1, where)
            _enc(item, out, depth + 1, f"{where}[{k!r}]")
    else:
        raise InvalidMessage(f"{where} is a {t.__name__}, which cannot cross nodes "
                             "(plain data only: None, bool, int, float, str, bytes, list, dict)")


def decode(data: bytes) -> Any:
    """The value :func:`encode` made; raises InvalidMessage on anything else."""
    try:
        value, end = _dec(memoryview(data), 0, 0)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidMessage(f"malformed data from another node: {exc}") from None
    if end != len(data):
        raise InvalidMessage("malformed data from another node: trailing bytes")
    return value


def _dec(m: memoryview, i: int, depth: int) -> tuple[Any, int]:
    tag = m[i]
    i += 1
    if tag == 0x4E:                                     # N
        return None, i
    if tag == 0x54:                                     # T
        return True, i
    if tag == 0x46:                                     # F
        return False, i
    if tag == 0x69:                                     # i
        return _I64.unpack_from(m, i)[0], i + 8
    if tag == 0x66:                                     # f
        return _F64.unpack_from(m, i)[0], i + 8
    if tag in (0x73, 0x62, 0x49):                       # s b I
        n = _U32.unpack_from(m, i)[0]
        i += 4
        if i + n > len(m):
            raise ValueError("a string runs past the end")
        raw = bytes(m[i:i + n])
        if tag == 0x62:
            return raw, i + n
        text = raw.decode("utf-8", "surrogatepass")
        return (int(text) if tag == 0x49 else text), i + n
    if tag in (0x6C, 0x64):                             # l d
        if depth >= MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        n = _U32.unpack_from(m, i)[0]
        i += 4
        if n > len(m) - i:
            raise ValueError("a count runs past the end")
        if tag == 0x6C:
            items = []
            for _ in range(n):
                v, i = _dec(m, i, depth + 1)
                items.append(v)
            return items, i
        d: dict[Any, Any] = {}
        for _ in range(n):
            k, i = _dec(m, i, depth + 1)
            if type(k) is not str and type(k) is not int:
                raise ValueError(f"a key of type {type(k).__name__}")
            d[k], i = _dec(m, i, depth + 1)
        return d, i
    raise ValueError(f"unknown tag {tag:#x}")
