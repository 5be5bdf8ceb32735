"""``wippy.events``: the node-wide event bus (Wippy's ``events`` module), best effort.

``send(system, kind, path, data)`` goes to the node, which hands it to every host in order, so
events from one sender arrive in order. ``subscribe(pattern, kind=None)`` is local to the
host: it is active when it returns. Patterns match the system by dot-separated segments:
``*`` is one segment, ``**`` any number (``orders.*``, ``app.**``, ``registry``).

Registry changes arrive here as ``{"system": "registry", "kind": "entry.create" |
"entry.update" | "entry.delete", "path": id, "data": entry}``.

Checks (S9): ``events.subscribe`` on the pattern as given (a wildcard pattern needs a policy
that covers that pattern), ``events.send`` on the system; a subscriber under a context gets a
registry event only for entries it may ``registry.get``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from .channel import Channel
from .core.wire import plain
from .errors import InvalidMessage
from .runtime import table as _rt

__all__ = ["send", "subscribe", "Subscription", "match"]


@lru_cache(maxsize=1024)
def _split(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("."))


def match(pattern: str, system: str) -> bool:
    """Pure: does ``system`` match ``pattern`` (``*`` one segment, ``**`` any number)."""
    if pattern == system or pattern == "**":
        return True
    return _match(_split(pattern), _split(system))


def _match(p: tuple[str, ...], s: tuple[str, ...]) -> bool:
    if not p:
        return not s
    head = p[0]
    if head == "**":
        return any(_match(p[1:], s[i:]) for i in range(len(s) + 1))
    if not s:
        return False
    return (head == "*" or head == s[0]) and _match(p[1:], s[1:])


class Subscription:
    """A subscription: ``channel()`` yields event maps; ``close()`` ends it (idempotent)."""

    def __init__(self, pattern: str, kind: str | None, owner: Any) -> None:
        self.pattern = pattern
        self.kind = kind
        self.owner = owner
        self._ch = Channel(None)

    def channel(self) -> Channel:
        return self._ch

    def wants(self, system: str, kind: str) -> bool:
        return (self.kind is None or self.kind == kind) and match(self.pattern, system)

    def deliver(self, event: dict[str, Any]) -> None:
        if not self._ch.closed:
            self._ch.send_nowait(event)

    def close(self) -> bool:
        rt = _rt.get()
        if self in rt.subscriptions:
            rt.subscriptions.remove(self)
        self._ch.close()
        return True


def subscribe(pattern: str, kind: str | None = None) -> Subscription:
    """Subscribe this process to events whose system matches ``pattern`` (and ``kind``)."""
    if not pattern:
        raise InvalidMessage("events.subscribe needs a system pattern")
    rt = _rt.get()
    rt.check("events.subscribe", pattern)
    sub = Subscription(pattern, kind, rt.current())
    rt.subscriptions.append(sub)
    return sub


def send(system: str, kind: str, path: str, data: Any = None) -> bool:
    """Publish an event node-wide. True when the runtime accepted it (not that anyone got it)."""
    if not system or not kind or not path:
        raise InvalidMessage("events.send needs a system, a kind and a path")
    rt = _rt.get()
    rt.check("events.send", system)
    rt.ctl_notify("event", system, kind, path, plain(data))
    return True
