"""Every error wippy raises, under one root.

The tree is shallow on purpose: a few subsystem bases, and leaves named for the situation.
Errors that cross OS processes travel as plain data (``kind`` + ``message``) and are rebuilt on
the other side with :func:`from_wire`.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "VersionTaken",
    "WippyError",
    "TemplateError",
    "HtmlPolicyError",
    "ConfigError",
    "ConfigIssue",
    "ProcessError",
    "ProcessNotFound",
    "ProcessFailed",
    "InvalidMessage",
    "SendBufferFull",
    "MailboxFull",
    "StorageError",
    "FencedError",
    "ClusterError",
    "ChannelClosed",
    "Timeout",
    "Cancelled",
    "NodeError",
    "RegistryError",
    "EntryNotFound",
    "LimitExceeded",
    "PermissionDenied",
    "TrustError",
    "Terminated",
    "LinkFailed",
    "NondeterminismError",
    "LuaFailure",
    "ChangeRejected",
    "TypedLuaError",
    "PolicyError",
    "BadFrame",
    "TooLarge",
    "HttpError",
    "ResourceError",
]


class WippyError(Exception):
    """Root of every error wippy raises. ``kind`` is Wippy's error kind name."""

    kind: str = "INTERNAL"

    def message(self) -> str:
        return str(self)


class TemplateError(WippyError):
    """A Jet template that does not parse or render; the message names the template and line."""

    kind = "INTERNAL"


class HtmlPolicyError(WippyError):
    """A bad HTML sanitization rule (an invalid regular expression)."""

    kind = "INVALID"


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


class ForeignName(ProcessError):
    """A name registered, in a cluster, for a process of another node: it must be registered
    on that process's own node, whose lease the binding lives and dies with."""

    kind = "INVALID"


class ProcessFailed(ProcessError):
    """A process ended with an error; raised by ``exec`` with the process's error message."""

    kind = "INTERNAL"


class InvalidMessage(ProcessError):
    """A payload that is not plain data, a reserved topic, or an oversized message."""

    kind = "INVALID"


class SendBufferFull(ProcessError):
    """The sender's host has buffered more than its budget for slow peers."""

    kind = "UNAVAILABLE"


class MailboxFull(SendBufferFull):
    """The destination process has as many unread messages from this OS process as its
    mailbox holds (``limits.mailbox``): the send is refused, nothing is queued. Wait for room
    with ``await process.wait_send(...)`` or try again later."""


class StorageError(WippyError):
    """A durable store (the registry or the workflow journal) could not be written: the disk
    is full, the LMDB map is full, or the file system failed. ``path`` names the store; what
    was being written is not committed, and the node stays up."""

    kind = "UNAVAILABLE"

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"storage error at {path}: {cause}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (StorageError, (self.path, self.cause))


class FencedError(StorageError):
    """A journal write of a workflow that this node no longer owns (another node took it over,
    its fencing token moved on) was refused by the cluster's database: nothing of it was
    written, and this node stops driving that workflow."""

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (FencedError, (self.path, self.cause))


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


class ClusterError(NodeError):
    """The node cannot take part in its cluster: the database cannot be reached, or another
    live node holds its name."""


class RegistryError(WippyError):
    """A registry read or change failed."""

    kind = "INVALID"


class VersionTaken(RegistryError):
    """In a cluster, another node committed the registry version this change was planned
    as: the node catches up and plans the change again."""


class EntryNotFound(RegistryError):
    """No registry entry has that id."""

    kind = "NOT_FOUND"


class LimitExceeded(WippyError):
    """A per-process limit (memory, CPU) was exceeded."""

    kind = "LIMIT_EXCEEDED"


class PermissionDenied(WippyError):
    """An action its caller may not take: a policy denies it, or code outside the application."""

    kind = "PERMISSION_DENIED"


class TrustError(NodeError):
    """A run directory or socket that another user could control: refused (S9)."""


class Terminated(ProcessError):
    """The process was ended from outside: ``terminate``, a node stop, a retired host."""

    kind = "CANCELED"


class LinkFailed(ProcessError):
    """A linked process failed and this one did not trap links."""

    kind = "INTERNAL"


class NondeterminismError(WippyError):
    """A workflow's code asked for a different step than its journal recorded."""

    kind = "NONDETERMINISM"


class LuaFailure(WippyError):
    """A Lua process or function ended with an error; Wippy's ``kind``, the Lua stack and the
    error object's ``retryable`` (None: unset) and ``details`` (plain data) are kept."""

    def __init__(self, kind: str, message: str, stack: str | None = None,
                 retryable: bool | None = None, details: object = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.stack = stack
        self.retryable = retryable
        self.details = details


class ChangeRejected(RegistryError):
    """A registry change is refused; ``issues`` names every problem found."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = issues
        super().__init__("; ".join(issues))


class TypedLuaError(ConfigError):
    """A syntax error in (typed) Lua source: ``str(err)`` is ``chunk:line:col: message``.

    Attributes ``path``, ``line``, ``col`` and ``detail`` (the message alone). It is a
    :class:`ConfigError` with one issue, so loaders report it like any other problem in an
    application's files.
    """

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        self.path = path
        self.line = line
        self.col = col
        self.detail = message
        super().__init__(ConfigIssue(path, line, col, message))

    def __reduce__(self) -> tuple[type, tuple[str, int, int, str]]:
        return (TypedLuaError, (self.path, self.line, self.col, self.detail))


class PolicyError(ConfigError):
    """A ``security.policy`` entry's definition is invalid; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class BadFrame(WippyError, ValueError):
    """A control message that is not one of the protocol's layouts."""

    kind = "INVALID"


class TooLarge(WippyError, ValueError):
    """A value holds more values than allowed, or is nested too deeply."""

    kind = "INVALID"


class HttpError(WippyError):
    """An HTTP handler's call outside a request, or a response used in the wrong order."""

    kind = "INVALID"


class ResourceError(WippyError):
    """A resource (database, key-value store, queue, environment variable) refused or failed
    an operation: ``kind`` is Wippy's (``CONFLICT``, ``ALREADY_EXISTS``, ``UNAVAILABLE``...)
    and ``retryable`` whether trying again may succeed (None: the kind decides)."""

    def __init__(self, kind: str, message: str, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


_BY_KIND: dict[str, type[WippyError]] = {
    "NOT_FOUND": ProcessNotFound,
    "INVALID": InvalidMessage,
    "TIMEOUT": Timeout,
    "CANCELED": Cancelled,
    "LIMIT_EXCEEDED": LimitExceeded,
    "PERMISSION_DENIED": PermissionDenied,
    "NONDETERMINISM": NondeterminismError,
}


def to_wire(exc: BaseException) -> dict[str, str]:
    """Plain-data form of an error, for EXIT events and replies that cross OS processes
    (a StorageError keeps its ``path``, so it arrives as one)."""
    kind = exc.kind if isinstance(exc, WippyError) else "INTERNAL"
    text = str(exc) if isinstance(exc, WippyError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, StorageError):
        return {"kind": kind, "message": text, "path": exc.path}
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
    message = data.get("message", "")
    path = data.get("path")
    if path is not None and kind == StorageError.kind:
        prefix = f"storage error at {path}: "
        return StorageError(path, message[len(prefix):] if message.startswith(prefix) else message)
    exc = _BY_KIND.get(kind, ProcessFailed)(message)
    if exc.kind != kind:
        exc.kind = kind   # keep Wippy's kind (ALREADY_EXISTS, HOST_DOWN...) on the generic class
    return exc
