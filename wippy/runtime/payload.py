"""Private copies of message payloads: what a local send and a bus event hand a process.

Processes never share mutable state, so a payload delivered within one OS process is still a
copy. The usual message (a flat map or list of small atoms) is checked and copied in one pass;
anything deeper is made plain (:func:`wippy.core.wire.plain`) and copied through pickle, which
also enforces the frame size limit a remote send would meet.
"""
from __future__ import annotations

import pickle
from typing import Any

from ..core import wire
from ..errors import InvalidMessage

__all__ = ["ATOMS", "copy", "private"]

ATOMS = frozenset({type(None), bool, int, float, str, bytes})   # immutable: never copied
BIG = 1 << 20    # a string this long inside a flat payload takes the size-checked path


def copy(payload: Any) -> Any:
    """A private copy of a plain payload (processes never share mutable data). A flat list or
    map of atoms (the usual message) is copied shallowly, which is a full copy; anything
    deeper goes through pickle."""
    t = type(payload)
    if t in ATOMS:
        if (t is bytes or t is str) and len(payload) > wire.MAX_FRAME:
            raise InvalidMessage(f"message of {len(payload)} bytes exceeds the {wire.MAX_FRAME} byte limit")
        return payload
    if t is dict or t is list:
        for v in (payload.values() if t is dict else payload):
            tv = type(v)
            if tv not in ATOMS or ((tv is str or tv is bytes) and len(v) > BIG):
                break
        else:
            return t(payload)
    data = pickle.dumps(payload, 5)
    if len(data) > wire.MAX_FRAME:
        raise InvalidMessage(f"message of {len(data)} bytes exceeds the {wire.MAX_FRAME} byte limit")
    return pickle.loads(data)


def private(payload: Any) -> tuple[Any, bool]:
    """``(plain payload, copied)`` for a local send: a flat map (str or int keys) or list of
    small atoms, the usual message, is checked and copied in one pass (``copied``: it is
    already private); anything else is only made plain (``wire.plain``), and copied later."""
    t = type(payload)
    if t is dict:
        for k, v in payload.items():
            tk, tv = type(k), type(v)
            if ((tk is not str and tk is not int) or tv not in ATOMS
                    or ((tv is str or tv is bytes) and len(v) > BIG)):
                break
        else:
            return dict(payload), True
    elif t is list:
        for v in payload:
            tv = type(v)
            if tv not in ATOMS or ((tv is str or tv is bytes) and len(v) > BIG):
                break
        else:
            return list(payload), True
    return wire.plain(payload), False
