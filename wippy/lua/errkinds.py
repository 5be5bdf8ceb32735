"""Error values at the Lua boundary: Wippy's kind names, and an exception as the fields of a Lua
error object.

Python names error kinds in upper case (``WippyError.kind``: ``"NOT_FOUND"``, ``"INVALID"``,
the words of the wire format and of every Python caller); Wippy's Lua names them as its Go
runtime does (``errors.NOT_FOUND == "NotFound"``, ``errors.UNKNOWN == ""``). Kinds are
translated where an error crosses between Python and Lua, in both directions; a kind outside
the table (one a user made up, ``errors.new({kind = "Quota"})``) passes unchanged both ways.

A Lua error object is a table of fields ``{kind, message, retryable, details, stack, context}``
(``prelude.lua``): ``retryable`` is true, false or nil (unset), ``details`` a table or nil,
``context`` the prefixes ``errors.wrap`` added (``tostring`` shows ``context: message``).
Errors made by the API (a bad argument, a dead PID) are not retryable unless their kind says
the condition passes (``Timeout``, ``Unavailable``, ``RateLimited``), as Wippy's modules do.
"""
from __future__ import annotations

from typing import Any

from ..errors import LuaFailure, WippyError

__all__ = ["LUA_KINDS", "lua_kind", "py_kind", "retryable_default", "fields", "lua_failure"]

#: Python kind -> Wippy's Lua kind (the values of the ``errors.*`` constants).
LUA_KINDS: dict[str, str] = {
    "UNKNOWN": "",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "INVALID": "Invalid",
    "PERMISSION_DENIED": "PermissionDenied",
    "UNAVAILABLE": "Unavailable",
    "INTERNAL": "Internal",
    "CANCELED": "Canceled",
    "CONFLICT": "Conflict",
    "TIMEOUT": "Timeout",
    "RATE_LIMITED": "RateLimited",
    # wippy's own kinds, named the same way
    "LIMIT_EXCEEDED": "LimitExceeded",
    "HOST_DOWN": "HostDown",
    "NONDETERMINISM": "Nondeterminism",
}
_PY_KINDS = {v: k for k, v in LUA_KINDS.items()}
_LUA_BYTES = {k: v.encode() for k, v in LUA_KINDS.items()}
_RETRYABLE = frozenset({"TIMEOUT", "UNAVAILABLE", "RATE_LIMITED"})


def lua_kind(kind: str) -> bytes:
    """A Python kind as Lua sees it (``"NOT_FOUND"`` -> ``b"NotFound"``)."""
    got = _LUA_BYTES.get(kind)
    return got if got is not None else kind.encode()


def py_kind(kind: Any) -> str:
    """A Lua kind (bytes or str) as Python names it (``"NotFound"`` -> ``"NOT_FOUND"``)."""
    if type(kind) is bytes:
        kind = kind.decode("utf-8", "replace")
    elif type(kind) is not str:
        return "UNKNOWN"
    return _PY_KINDS.get(kind, kind)


def retryable_default(kind: str) -> bool:
    """Whether an API error of this (Python) kind may succeed when tried again."""
    return kind in _RETRYABLE


def fields(exc: BaseException) -> tuple[bytes, bytes, Any, Any]:
    """(Lua kind, message, retryable, details as plain data) of an exception that becomes a Lua
    error object. A :class:`~wippy.errors.LuaFailure` keeps what the Lua code that raised it
    set; other errors get their kind's default."""
    if isinstance(exc, WippyError):
        kind = exc.kind
        text = str(exc)
    else:
        kind = "INTERNAL"
        text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, LuaFailure):
        return lua_kind(kind), text.encode(), exc.retryable, exc.details
    retryable = getattr(exc, "retryable", None)
    if retryable is None:
        retryable = retryable_default(kind)
    return lua_kind(kind), text.encode(), retryable, getattr(exc, "details", None)


def lua_failure(kind: Any, message: Any, stack: Any = None, retryable: Any = None,
                details: Any = None) -> LuaFailure:
    """The Python error for a Lua error object's fields (raw values from lupa; ``details``
    already plain data)."""
    def s(v: Any) -> str | None:
        return v.decode("utf-8", "replace") if type(v) is bytes else v if type(v) is str else None
    return LuaFailure(py_kind(kind), s(message) or "error", s(stack),
                      retryable if type(retryable) is bool else None, details)
