"""Every error wippy raises, under one root.

The tree is shallow on purpose: a few subsystem bases, and leaves named for the situation.
Errors that cross OS processes travel as plain data (``kind`` + ``message``) and are rebuilt on
the other side with :func:`from_wire`.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "WippyError",
    "ConfigError",
    "ConfigIssue",
    "ProcessError",
    "ProcessNotFound",
    "ProcessFailed",
    "InvalidMessage",
    "SendBufferFull",
    "ChannelClosed",
    "Timeout",
    "Cancelled",
    "NodeError",
    "RegistryError",
    "EntryNotFound",
    "LimitExceeded",
    "PermissionDenied",
]


class WippyError(Exception):
    """Root of every error wippy raises. ``kind`` is Wippy's error kind name."""

    kind: str = "INTERNAL"

    def message(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in an application's files, located as precisely as we can."""

    path: str
    line: int
    col: int
    message: str
    entry: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}:"
        parts = [where]
        if self.entry:
            parts.append(f"entry {self.entry}:")
        if self.field:
            parts.append(f"field '{self.field}':")
        parts.append(self.message)
        return " ".join(parts)


class ConfigError(WippyError):
    """The application's files are invalid; ``issues`` lists every problem found."""

    kind = "INVALID"

    def __init__(self, issues: list[ConfigIssue] | ConfigIssue | str) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue("<config>", 0, 0, issues)]
        elif isinstance(issues, ConfigIssue):
            issues = [issues]
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ProcessError(WippyError):
    """Base of the errors about processes and messages."""


class ProcessNotFound(ProcessError):
    """The destination process exited (and this host knows it), or the name is not registered."""

    kind = "NOT_FOUND"


class ProcessFailed(ProcessError):
    """A process ended with an error; raised by ``exec`` with the process's error message."""

    kind = "INTERNAL"


class InvalidMessage(ProcessError):
    """A payload that is not plain data, a reserved topic, or an oversized message."""

    kind = "INVALID"


class SendBufferFull(ProcessError):
    """The sender's host has buffered more than its budget for slow peers."""

    kind = "UNAVAILABLE"


class ChannelClosed(WippyError):
    """Receiving from a closed, empty channel (or sending on a closed one)."""

    kind = "CANCELED"


class Timeout(WippyError):
    """A blocking call ran past its deadline."""

    kind = "TIMEOUT"


class Cancelled(WippyError):
    """The process was cancelled or is shutting down."""

    kind = "CANCELED"


class NodeError(WippyError):
    """The node could not be started, reached or stopped."""

    kind = "UNAVAILABLE"


class RegistryError(WippyError):
    """A registry read or change failed."""

    kind = "INVALID"


class EntryNotFound(RegistryError):
    """No registry entry has that id."""

    kind = "NOT_FOUND"


class LimitExceeded(WippyError):
    """A per-process limit (memory, CPU) was exceeded."""

    kind = "LIMIT_EXCEEDED"


class PermissionDenied(WippyError):
    """An action its caller may not take: a policy denies it, or code outside the application."""

    kind = "PERMISSION_DENIED"


_BY_KIND: dict[str, type[WippyError]] = {
    "NOT_FOUND": ProcessNotFound,
    "INVALID": InvalidMessage,
    "TIMEOUT": Timeout,
    "CANCELED": Cancelled,
    "LIMIT_EXCEEDED": LimitExceeded,
    "PERMISSION_DENIED": PermissionDenied,
}


def to_wire(exc: BaseException) -> dict[str, str]:
    """Plain-data form of an error, for EXIT events and replies that cross OS processes."""
    kind = exc.kind if isinstance(exc, WippyError) else "INTERNAL"
    text = str(exc) if isinstance(exc, WippyError) else f"{type(exc).__name__}: {exc}"
    return {"kind": kind, "message": text}


def exit_error(data: dict[str, str] | str | None) -> ProcessFailed:
    """The error of a process that ended abnormally, as ``exec`` raises it and EXIT carries
    it: always a :class:`ProcessFailed`, with Wippy's kind of the original (``kind``)."""
    exc = ProcessFailed(data if isinstance(data, str) else (data or {}).get("message", "unknown error"))
    if isinstance(data, dict) and data.get("kind"):
        exc.kind = data["kind"]
    return exc


def from_wire(data: dict[str, str] | str | None) -> WippyError:
    """Rebuild an error sent by :func:`to_wire`."""
    if isinstance(data, str):
        return ProcessFailed(data)
    if not data:
        return ProcessFailed("unknown error")
    kind = data.get("kind", "INTERNAL")
    exc = _BY_KIND.get(kind, ProcessFailed)(data.get("message", ""))
    if exc.kind != kind:
        exc.kind = kind   # keep Wippy's kind (ALREADY_EXISTS, HOST_DOWN...) on the generic class
    return exc
