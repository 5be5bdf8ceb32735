"""Who asked the node: the caller of a request, its authority, and how it signs its changes.

A host sends, with every request a process makes, the process's PID, its entry and the plain
form of the context it acts under (``Runtime.caller``); a program (the Python API, the CLI)
sends nothing and is the operator. The node trusts the host for this: hosts are OS processes
of the node's own user, and the only code inside them that is not trusted, Lua, has no handle
on its context.

Registry changes are the node's to check (it is the single writer and knows which entries a
change touches): :meth:`Caller.authorize` is the planner's ``authorize`` callback, and
:meth:`Caller.stamp` the ``author`` every entry it creates or changes carries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .context import Context, denied_error, from_wire
from .rules import APPLY_PYTHON

__all__ = ["Caller", "caller_of", "Via"]

#: How a request reached the node: from a process, or from the operator's tools (the Python
#: API, the CLI, the web observer's operator actions).
Via = str
PROCESS, API, CLI, OBSERVER = "process", "api", "cli", "observer"


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of one request: its context (None: the operator), and for a process its
    PID and entry."""

    context: Context | None
    via: Via = API
    pid: str | None = None
    entry: str | None = None

    def check(self, action: str, resource: str, meta: Mapping[str, Any] | None = None) -> None:
        """Raise PermissionDenied unless the caller may ``action`` ``resource``."""
        if self.context is not None:
            self.context.check(action, resource, meta)

    def authorize(self, action: str, resource: str, meta: Mapping[str, Any]) -> None:
        """The change planner's callback. A process with no actor is the operator's code,
        except for Python: ``registry.apply.python`` is never implied, a process needs a
        policy that grants it (only the operator's tools and files create Python code
        without one)."""
        if self.context is not None:
            self.context.check(action, resource, meta)
        elif action == APPLY_PYTHON and self.via == PROCESS:
            raise denied_error(f"process {self.pid} ({self.entry}) without an actor", action,
                               resource, "registry.apply.python needs a policy that grants it")

    def history_author(self) -> dict[str, Any]:
        """Who made a version, as its history record keeps it."""
        if self.via != PROCESS:
            return {"via": self.via}
        actor = self.context.actor if self.context is not None else None
        return {"actor": None if actor is None else actor.id, "pid": self.pid,
                "entry": self.entry}

    def stamp(self, version: int) -> dict[str, Any] | None:
        """The ``author`` of the entries this caller creates or changes in ``version``; None
        for the operator (their entries carry no stamp)."""
        if self.context is None:
            return None
        actor = self.context.actor
        return {"actor": None if actor is None else actor.id, "context": self.context.wire,
                "pid": self.pid, "entry": self.entry, "version": version}


def caller_of(info: Any, via: Via = API) -> Caller:
    """The caller a request names: ``info`` is what a host sent (``{"pid", "entry",
    "security"}``), or None for a program, which reached the node ``via`` the API or the
    CLI. A malformed context is refused (PermissionDenied): never treated as the operator."""
    if not isinstance(info, Mapping):
        return Caller(None, via if via in (API, CLI, OBSERVER) else API)
    try:
        ctx = from_wire(info.get("security"))
    except ValueError as exc:
        raise denied_error(f"process {info.get('pid')}", "act", "as an unreadable context",
                           str(exc)) from None
    return Caller(ctx, PROCESS, info.get("pid"), info.get("entry"))
