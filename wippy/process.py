"""``wippy.process``: Wippy's process API for Python processes (S4).

Blocking operations are coroutines (``await process.exec(...)``); ``send``, ``spawn*``,
``monitor``, ``link``, ``terminate`` and ``cancel`` never block. Errors are raised:
:class:`wippy.ProcessNotFound` for a dead PID or unknown name, :class:`wippy.InvalidMessage`
for a payload that is not plain data, :class:`wippy.MailboxFull` from ``send`` when the
destination's mailbox is full (``wait_send`` waits instead), :class:`wippy.ProcessFailed` from
``exec`` when the process ended with an error.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .channel import Channel
from .core.wire import check_topic
from .errors import exit_error
from .runtime import scheduler as _sched
from .runtime import table as _rt
from .runtime.proc import CANCEL, EXIT, LINK_DOWN, Event, Message, Result
from .security import api as _security

__all__ = [
    "pid", "spawn", "spawn_monitored", "spawn_linked", "spawn_linked_monitored", "exec",
    "send", "wait_send", "inbox", "listen", "unlisten", "events", "monitor", "unmonitor", "link", "unlink",
    "terminate", "cancel", "set_options", "get_options", "registry", "event",
    "Message", "Event", "Result",
]

#: Event kinds, as Lua's ``process.event.*`` constants.
event = SimpleNamespace(EXIT=EXIT, LINK_DOWN=LINK_DOWN, CANCEL=CANCEL)


def _me() -> Any:
    return _rt.get().current()


def pid() -> str:
    """This process's PID."""
    return _me().pid


def _spawn(flags: int, id: str, host: str, args: tuple, actor: Any, scope: Any) -> str:
    me = _me()
    rt = _rt.get()
    if actor is None and scope is None:
        return rt.spawn(me.pid, id, host, args, flags)
    return rt.spawn(me.pid, id, host, args, flags, security=_security.spawn_context(actor, scope))


def spawn(id: str, host: str, *args: Any, actor: Any = None, scope: Any = None) -> str:
    """Start entry ``id`` on ``host`` with ``args``; returns its PID at once. The new process
    acts as this one does; ``actor`` / ``scope`` (from :mod:`wippy.security`) start it under
    another, which needs ``process.security`` (Wippy's ``spawner:with_actor/with_scope``).
    Raises :class:`wippy.PermissionDenied` when this process may not spawn it."""
    return _spawn(0, id, host, args, actor, scope)


def spawn_monitored(id: str, host: str, *args: Any, actor: Any = None, scope: Any = None) -> str:
    """Spawn and monitor: an EXIT event arrives on ``events()`` when it ends."""
    return _spawn(_rt.MONITOR, id, host, args, actor, scope)


def spawn_linked(id: str, host: str, *args: Any, actor: Any = None, scope: Any = None) -> str:
    """Spawn and link: an abnormal exit of either ends the other (unless trap_links)."""
    return _spawn(_rt.LINK, id, host, args, actor, scope)


def spawn_linked_monitored(id: str, host: str, *args: Any, actor: Any = None,
                           scope: Any = None) -> str:
    return _spawn(_rt.LINK | _rt.MONITOR, id, host, args, actor, scope)


async def exec(id: str, host: str, *args: Any) -> Any:  # noqa: A001 - Wippy's name
    """Spawn, wait for the process to end, return its result or raise ProcessFailed
    (checked as ``process.exec``, Wippy's action, with ``process.host``)."""
    rt = _rt.get()
    me = rt.current()
    child = rt.spawn(me.pid, id, host, args, _rt.MONITOR, action=_rt.EXEC)
    w = rt.sched.new_wait()
    if me.exec_waits is None:
        me.exec_waits = {}
    me.exec_waits[child] = w
    value, error = await _sched.suspend()
    if error is not None:
        raise exit_error(error)
    return value


def send(dest: str, topic: str, payload: Any = None) -> None:
    """Fire-and-forget to a PID or registered name. Per-sender FIFO; never blocks."""
    rt = _rt.get()
    task = rt.sched.current
    sender = task.proc.pid if task is not None and task.proc is not None else None
    rt.send(sender, dest, topic, payload)


async def wait_send(dest: str, topic: str, payload: Any = None) -> None:
    """``send``, but while ``dest``'s mailbox is full, wait for room instead of raising
    :class:`wippy.MailboxFull` (opt-in backpressure for a producer that may outrun its
    consumer). Raises what ``send`` raises otherwise."""
    rt = _rt.get()
    me = rt.current()
    await rt.wait_send(me.pid, dest, topic, payload)


def inbox() -> Channel:
    """The channel of :class:`Message` for topics nobody ``listen``s to (same one every call)."""
    return _me().inbox()


def listen(topic: str) -> Channel:
    """A channel of the raw payloads of one topic (exact match)."""
    return _me().listen(check_topic(topic))


def unlisten(ch: Channel) -> None:
    _me().unlisten(ch)


def events() -> Channel:
    """The channel of lifecycle :class:`Event` (EXIT, LINK_DOWN, CANCEL)."""
    return _me().events()


def monitor(dest: str) -> None:
    """Get an EXIT event when ``dest`` ends (at once, with an error, if it is gone)."""
    rt = _rt.get()
    rt.monitor(rt.current(), dest, True)


def unmonitor(dest: str) -> None:
    rt = _rt.get()
    rt.monitor(rt.current(), dest, False)


def link(dest: str) -> None:
    """Link both ways: an abnormal exit of one ends the other, unless it traps links."""
    rt = _rt.get()
    rt.link(rt.current(), dest, True)


def unlink(dest: str) -> None:
    rt = _rt.get()
    rt.link(rt.current(), dest, False)


def terminate(dest: str) -> None:
    """Forcefully end ``dest``; its monitors see an error exit."""
    rt = _rt.get()
    task = rt.sched.current
    rt.terminate(task.proc.pid if task and task.proc else None, dest)


def cancel(dest: str, reason: str = "") -> None:
    """Ask ``dest`` to stop: it receives a CANCEL event with ``reason``."""
    rt = _rt.get()
    task = rt.sched.current
    rt.cancel(task.proc.pid if task and task.proc else None, dest, reason)


def set_options(*, trap_links: bool | None = None) -> None:
    me = _me()
    if trap_links is not None:
        me.trap_links = bool(trap_links)


def get_options() -> dict[str, Any]:
    return {"trap_links": _me().trap_links}


class _NameRegistry:
    """``process.registry``: the node's names, visible on every host when register returns;
    in a cluster, one binding in the whole cluster (:mod:`wippy.cluster.names`)."""

    async def register(self, name: str, pid: str | None = None) -> bool:
        """Register ``name`` for this process (or ``pid``: Wippy's ``process.registry.foreign``
        check); returns once every host has it."""
        rt = _rt.get()
        target = pid or rt.current().pid
        rt.check("process.registry.register", name)
        if pid is not None and rt.security() is not None and pid != rt.current().pid:
            rt.check("process.registry.foreign", pid)
        await rt.ctl_request("register", name, target)
        owner = rt.procs.get(target.rpartition("|")[2][:-1])
        if owner is not None:
            owner.names = (owner.names or []) + [name]
        rt.names[name] = target
        return True

    def lookup(self, name: str) -> str | None:
        """The PID registered as ``name``, or None."""
        return _rt.get().names.get(name)

    async def unregister(self, name: str) -> bool:
        rt = _rt.get()
        rt.check("process.registry.unregister", name)
        if name not in rt.names:
            return False
        await rt.ctl_request("unregister", name)
        rt.names.pop(name, None)
        return True


registry = _NameRegistry()


