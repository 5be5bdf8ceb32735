"""wippy: a Python runtime for software that changes while it runs.

Processes (actors) in groups of OS processes, connected by ZeroMQ; supervision; a live,
versioned registry in LMDB. See README.md for a tour.
"""
from __future__ import annotations

from . import (
    channel,
    coroutine,
    env,
    events,
    funcs,
    http,
    metrics,
    process,
    queue,
    registry,
    security,
    sql,
    store,
    system,
    time,
    workflow,
)
from ._version import __version__
from .channel import Channel, SelectResult
from .client import Connection, Node, connect
from .errors import (
    Cancelled,
    ChannelClosed,
    ConfigError,
    EntryNotFound,
    HttpError,
    InvalidMessage,
    LimitExceeded,
    MailboxFull,
    NodeError,
    PermissionDenied,
    ProcessError,
    ProcessFailed,
    ProcessNotFound,
    RegistryError,
    ResourceError,
    SendBufferFull,
    StorageError,
    Timeout,
    WippyError,
)
from .runtime.proc import Event, Message, Result
from .runtime.threads import to_thread

__all__ = [
    "__version__",
    "Node", "Connection", "connect",
    "process", "channel", "time", "funcs", "registry", "events", "system", "workflow", "coroutine", "to_thread",
    "security", "http", "sql", "store", "queue", "env", "metrics",
    "Channel", "SelectResult", "Message", "Event", "Result",
    "WippyError", "ConfigError", "ProcessError", "ProcessNotFound", "ProcessFailed",
    "InvalidMessage", "SendBufferFull", "ChannelClosed", "Timeout", "Cancelled", "NodeError",
    "RegistryError", "EntryNotFound", "LimitExceeded", "PermissionDenied", "HttpError",
    "MailboxFull", "StorageError", "ResourceError",
]
