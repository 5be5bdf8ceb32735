"""What the node answers to REQUEST messages, one handler per :class:`~wippy.core.protocol.ReqOp`.

A handler gets the request's arguments and a :class:`~wippy.node.control.Reply` to answer
through, now or later (a name registration is answered once every host has it, a workflow
write once it is durable). The workflow ops are :class:`~wippy.node.workflows.WorkflowManager`'s.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from ..core.protocol import ReqOp
from ..errors import WippyError
from ..security.callers import Caller, caller_of
from .control import Reply
from .names import NameTable

__all__ = ["Handler", "NodeRequests"]

Handler = Callable[[tuple[Any, ...], Reply], None]


class _Registry(Protocol):
    def apply(self, ops: list[dict[str, Any]], source: str = "api", python: bool = True,
              caller: Caller | None = None) -> int: ...

    def rollback(self, version: int, caller: Caller | None = None) -> int: ...


def request_caller(args: tuple[Any, ...], reply: Reply, via_arg: int = 1) -> Caller:
    """Who asked (S9): the process a host names, or a program, whose optional argument
    ``via_arg`` says which tool it is (``"cli"``; the Python API by default)."""
    if reply.from_host:
        return caller_of(reply.caller or {"pid": None, "entry": None, "security": None})
    via = args[via_arg] if len(args) > via_arg and isinstance(args[via_arg], str) else "api"
    return caller_of(None, via)


class NodeRequests:
    """The node's own requests: names, status, stop, registry changes.

    ``ps(reply, processes)`` gathers the status (with every process, or counts only); ``states()`` lists the services' states;
    ``stop_node(code, reason)`` begins an orderly stop; ``info()`` describes the node."""

    def __init__(self, names: NameTable, registry: _Registry, ps: Callable[[Reply, bool], None],
                 states: Callable[[], list[dict[str, Any]]],
                 stop_node: Callable[[int, str], None], info: Callable[[], dict[str, Any]]) -> None:
        self._names = names
        self._registry = registry
        self._ps = ps
        self._states = states
        self._stop_node = stop_node
        self._info = info

    def table(self) -> dict[ReqOp, Handler]:
        return {
            ReqOp.REGISTER: self._register, ReqOp.UNREGISTER: self._unregister,
            ReqOp.LOOKUP: self._lookup, ReqOp.PS: self._status, ReqOp.STOP: self._stop,
            ReqOp.EXIT: self._exit, ReqOp.INFO: self._describe,
            ReqOp.SUPERVISOR_STATES: self._supervisor_states,
            ReqOp.REGISTRY_APPLY: self._registry_apply,
            ReqOp.REGISTRY_ROLLBACK: self._registry_rollback,
        }

    def _register(self, args: tuple[Any, ...], reply: Reply) -> None:
        name, pid = args
        try:
            holder = self._names.register(name, pid, reply.ok)
        except WippyError as exc:        # in a cluster: the database, or another node's PID
            reply.fail(exc)
            return
        if holder is not None:
            reply.error("ALREADY_EXISTS", f"name '{name}' is registered to {holder}")

    def _unregister(self, args: tuple[Any, ...], reply: Reply) -> None:
        try:
            self._names.unregister(args[0])
        except WippyError as exc:        # in a cluster: the database failed
            reply.fail(exc)
            return
        reply.ok(True)

    def _lookup(self, args: tuple[Any, ...], reply: Reply) -> None:
        reply.ok(self._names.lookup(args[0]))

    def _status(self, args: tuple[Any, ...], reply: Reply) -> None:
        self._ps(reply, bool(args[0]) if args else True)     # args: (with processes?)

    def _stop(self, args: tuple[Any, ...], reply: Reply) -> None:
        reply.ok(True)
        self._stop_node(0, "stop requested")

    def _exit(self, args: tuple[Any, ...], reply: Reply) -> None:
        if _denied(reply, "system.exit", "system"):
            return
        reply.ok(True)
        self._stop_node(int(args[0]), "system.exit")

    def _describe(self, args: tuple[Any, ...], reply: Reply) -> None:
        reply.ok(self._info())

    def _supervisor_states(self, args: tuple[Any, ...], reply: Reply) -> None:
        if not _denied(reply, "system.read", "supervisor"):
            reply.ok(self._states())

    def _registry_apply(self, args: tuple[Any, ...], reply: Reply) -> None:
        try:
            caller = request_caller(args, reply)
        except WippyError as exc:
            reply.fail(exc)
            return
        _answer(reply, lambda: self._registry.apply(args[0], caller=caller))

    def _registry_rollback(self, args: tuple[Any, ...], reply: Reply) -> None:
        try:
            caller = request_caller(args, reply)
        except WippyError as exc:
            reply.fail(exc)
            return
        _answer(reply, lambda: self._registry.rollback(int(args[0]), caller))


def _denied(reply: Reply, action: str, resource: str) -> bool:
    """Answer with the denial when the asking process may not ``action`` ``resource``."""
    if not reply.from_host:
        return False
    try:
        request_caller((), reply).check(action, resource)
    except WippyError as exc:
        reply.fail(exc)
        return True
    return False


def _answer(reply: Reply, change: Callable[[], int]) -> None:
    try:
        version = change()
    except WippyError as exc:
        reply.fail(exc)
    else:
        reply.ok(version)
