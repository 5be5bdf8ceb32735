"""The public surface is frozen here, and the layers point one way."""
from __future__ import annotations

import wippy

PUBLIC = [
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


def test_public_names_are_exactly_the_frozen_list():
    assert wippy.__all__ == PUBLIC
    for name in PUBLIC:
        assert hasattr(wippy, name), name


def test_every_error_is_a_wippy_error():
    for name in PUBLIC:
        obj = getattr(wippy, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, wippy.WippyError), name
