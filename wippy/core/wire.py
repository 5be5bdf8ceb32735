"""The data plane's message format and the plain-data rule for payloads.

Every frame is one pickle (protocol 5) of a tuple whose first item is an op code. Pickle is only
ever read from sockets inside the node's private run directory (mode 0700), never from a network.
Code (cloudpickle) travels only inside SPAWN frames made by the Python API (S7).

Payloads must be plain data (S4): None, bool, int, float, str, bytes, lists and maps with str or
int keys. :func:`plain` checks that and turns tuples into lists, returning the object itself when
nothing needs to change, so the common case costs one walk and no copy.
"""
from __future__ import annotations

import pickle
import struct
from typing import Any

from ..errors import InvalidMessage

__all__ = ["plain", "dumps", "loads", "pack_batch", "pack_from", "from_head", "unpack", "unpack_from",
           "check_topic", "MAX_FRAME", "Op", "RESERVED_PREFIX", "NO_ORIGIN"]

MAX_FRAME = 64 * 1024 * 1024  # bytes; larger messages are refused at send (S9: no crash on big input)
_PROTO = 5
_ATOMS = frozenset({type(None), bool, int, float, str, bytes})


class Op:
    """Op codes of data-plane frames (first tuple item)."""

    MSG = 1          # (MSG, dest_local, sender_pid, topic, payload, name_or_None[, security])
    SPAWN = 2        # (SPAWN, local, spawner_pid, entry_id, args, flags, code_blob_or_None[, security])
    # security: the plain form of the sender's (spawner's) context, only when it has one (S9);
    # a spawn carries it so the child acts as its spawner, a message only to a workflow PID
    MONITOR = 3      # (MONITOR, dest_local, watcher_pid)
    UNMONITOR = 4    # (UNMONITOR, dest_local, watcher_pid)
    LINK = 5         # (LINK, dest_local, peer_pid)
    UNLINK = 6       # (UNLINK, dest_local, peer_pid)
    EXIT = 7         # (EXIT, watcher_local, from_pid, value, error_or_None)
    LINK_DOWN = 8    # (LINK_DOWN, dest_local, from_pid, error)
    TERMINATE = 9    # (TERMINATE, dest_local, by_pid)
    CANCEL = 10      # (CANCEL, dest_local, by_pid, reason[, shutdown])
    CALL = 11        # (CALL, call_id, caller_pid, func_id, args)
    REPLY = 12       # (REPLY, dest_local, call_id, value, error_or_None)
    CTL = 13         # (CTL, control_message): node -> host control, after the welcome
    CREDIT = 14      # (CREDIT, [(dest_pid, n, limit), ...]): dest read n of your messages


RESERVED_PREFIX = "@"     # topics that begin with it are the runtime's own (S4)


def check_topic(topic: Any) -> str:
    """``topic`` if a process may send or listen to it; raises :class:`InvalidMessage`."""
    if type(topic) is not str:
        raise InvalidMessage(f"topic must be a string, not {type(topic).__name__}")
    if topic.startswith(RESERVED_PREFIX):
        raise InvalidMessage(f"topic '{topic}' is reserved (topics starting with "
                             f"'{RESERVED_PREFIX}')")
    return topic


def plain(obj: Any) -> Any:
    """Return ``obj`` as plain data (tuples become lists) or raise :class:`InvalidMessage`."""
    t = type(obj)
    if t in _ATOMS:
        return obj
    if t is dict:           # fast path: a flat map of atoms (the usual message) needs one loop
        for k, v in obj.items():
            if (type(k) is not str and type(k) is not int) or type(v) not in _ATOMS:
                return _plain(obj, 0)
        return obj
    return _plain(obj, 0)


def _plain(obj: Any, _depth: int) -> Any:
    t = type(obj)
    if t in _ATOMS:
        return obj
    if _depth > 100:
        raise InvalidMessage("payload nested deeper than 100 levels (a cycle?)")
    if t is list or t is tuple:
        out = None
        for i, item in enumerate(obj):
            new = _plain(item, _depth + 1)
            if new is not item and out is None:
                out = list(obj[:i])
            if out is not None:
                out.append(new)
        if out is not None:
            return out
        return list(obj) if t is tuple else obj
    if t is dict:
        changed = None
        for k, v in obj.items():
            tk = type(k)
            if tk is not str and tk is not int:
                raise InvalidMessage(f"payload map key of type {tk.__name__} is not plain data (str or int keys only)")
            new = _plain(v, _depth + 1)
            if new is not v:
                if changed is None:
                    changed = dict(obj)
                changed[k] = new
        return obj if changed is None else changed
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise InvalidMessage(f"payload of type {t.__name__} is not plain data "
                         "(nil, booleans, numbers, strings, bytes, lists, maps)")


_BATCH = 0x42            # first byte of a batch; a lone pickle (protocol 5) starts with 0x80
_FROM = 0x46             # first byte of a batch that names its origin (b"F")
_LEN = struct.Struct(">I")
_FROM_HEAD = struct.Struct(">cI")
_FROM_ONE = struct.Struct(">II")        # a batch's origin and its first frame's length
NO_ORIGIN = -1           # what unpack_from reports for a message that does not name its origin


def pack_batch(frames: list[bytes]) -> bytes:
    """Several frames as one zmq message: ``B`` then (4-byte length, frame) pairs. One zmq
    message per burst instead of one per frame: pyzmq's per-call cost dominates small frames."""
    parts = [b"B"]
    for f in frames:
        parts.append(_LEN.pack(len(f)))
        parts.append(f)
    return b"".join(parts)


def from_head(origin: int) -> bytes:
    """The first bytes of every message :func:`pack_from` makes for ``origin``."""
    return _FROM_HEAD.pack(b"F", origin)


def pack_from(origin: int | bytes, frames: list[bytes]) -> bytes:
    """Frames as one zmq message that names the OS process (serial) it comes from: ``F``, the
    4-byte serial, then (4-byte length, frame) pairs. The receiver needs the origin to give
    flow-control credits back (:mod:`wippy.core.flow`); a message's frames all share it.
    ``origin`` may be given as its :func:`from_head` already."""
    head = origin if isinstance(origin, bytes) else _FROM_HEAD.pack(b"F", origin)
    if len(frames) == 1:
        f = frames[0]
        return b"".join((head, _LEN.pack(len(f)), f))
    parts = [head]
    for f in frames:
        parts.append(_LEN.pack(len(f)))
        parts.append(f)
    return b"".join(parts)


def unpack_from(data: bytes) -> tuple[int, list[Any]]:
    """``(origin serial, frames)`` of one zmq message; the origin is :data:`NO_ORIGIN` for a
    lone frame or a batch that does not name it."""
    head = data[0]
    if head == _FROM:
        origin, ln = _FROM_ONE.unpack_from(data, 1)
        if ln + 9 == len(data):                 # one frame: the usual message, decoded at once
            return origin, [pickle.loads(memoryview(data)[9:])]
        return origin, _frames(data, 5)
    if head == _BATCH:
        return NO_ORIGIN, _frames(data, 1)
    return NO_ORIGIN, [pickle.loads(data)]


def unpack(data: bytes) -> list[Any]:
    """The frames of one zmq message (a lone frame or a batch), decoded."""
    return unpack_from(data)[1]


def _frames(data: bytes, i: int) -> list[Any]:
    out = []
    mv = memoryview(data)
    n = len(data)
    unpack_len = _LEN.unpack_from
    while i < n:
        (ln,) = unpack_len(data, i)
        i += 4
        out.append(pickle.loads(mv[i:i + ln]))
        i += ln
    return out


def dumps(frame: tuple) -> bytes:
    """One frame as bytes; raises :class:`InvalidMessage` when it is too large or nested too
    deeply to encode (pickle recurses once per level)."""
    try:
        data = pickle.dumps(frame, _PROTO)
    except RecursionError:
        raise InvalidMessage("message nested too deeply to encode") from None
    if len(data) > MAX_FRAME:
        raise InvalidMessage(f"message of {len(data)} bytes exceeds the {MAX_FRAME} byte limit")
    return data


loads = pickle.loads
