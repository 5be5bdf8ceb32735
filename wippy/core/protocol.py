"""The control protocol between the node, its hosts and attached programs, in one place.

Data-plane frames (messages, spawns, monitors...) are :mod:`wippy.core.wire`'s; this module
holds what the node and its members say to each other about the node itself, and the flags a
spawn carries.

Every control message is a tuple whose first item is a :class:`Kind`, as a plain int. Each kind
has one constructor here (``request(...)``, ``name(...)``...), which builds that tuple, and one
typed view (``Request``, ``Name``...), which :func:`parse` returns; :func:`dispatcher` calls
the handler a member registered for a kind with that view. Hosts and programs send to the node over their
control DEALER; the node answers a program over its ROUTER and a ready host through the host's
data-plane inbox, wrapped as ``(wire.Op.CTL, message)`` (:func:`ctl_frame`), so that a host
waits on one socket only.

Kinds and their layouts (member -> node, then node -> member):

==========  ==============================================  =====================================
kind        fields                                          meaning
==========  ==============================================  =====================================
READY       serial, os_pid                                  a host's inbox is bound
HELLO       -                                               a program attaches
BYE         -                                               a program detaches
REQUEST     req, op, args[, caller]                         ask the node (:class:`ReqOp`); a
                                                            host names the asking process
ACK         seq                                             a host has applied NAME ``seq``
RELEASE     pid, names                                      a process with names has exited
LOAD        serial, procs                                   a host's process count (placement)
PS_REPLY    seq, data                                       a host's part of ``ps``
STARTED     pid                                             a service took its first step
STOPPED     serial                                          a host finished its stop
EVENT       system, kind, path, data                        bus event (both directions)
WELCOME     serial, topology, loads, names, dead, node_pid,
            store                                           answer to READY / HELLO
REPLY       req, ok, value                                  answer to REQUEST ``req``
NAME        name, pid or None, ack seq or None              a name (un)registered
TOPOLOGY    topology                                        host entry -> ready serials
LOADS       loads                                           serial -> process count
HOST_DOWN   serial, reason                                  an OS process of the node died
REGISTRY    version, events                                 a registry version was committed
PS          seq, processes                                  send your PS_REPLY
STOP        timeout, reason                                 stop every process, then exit
==========  ==============================================  =====================================

Kinds and ops travel as plain ints: an enum member pickles as a call to its class (6x slower
and 40 bytes longer, measured), and this protocol carries every host-to-node request of a
process (names, registry changes, workflow steps). The parsed views are NamedTuples rather than
frozen dataclasses for the same reason: they are built from the decoded tuple in one call
(0.25 us against 0.45 us). The enums and the views live in :mod:`wippy.core.ctlframes`,
re-exported here.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..errors import BadFrame
from . import wire
from .ctlframes import (
    LINK, MONITOR, STARTED_ACK, Ack, Bye, Event, Frame, Hello, HostDown, Kind, Load, Loads, Name,
    Ps, PsReply, Ready, Registry, Release, Reply, ReqOp, Request, SpawnFlag, Started, Stop,
    Stopped, Topology, Welcome, _OPS, request_op,
)

__all__ = [
    "SpawnFlag", "MONITOR", "LINK", "STARTED_ACK", "Kind", "ReqOp", "BadFrame", "Frame",
    "parse", "ctl_frame", "dispatcher", "sender_dispatcher", "notification", "request_op",
    "Ready", "Hello", "Bye", "Request", "Ack", "Release", "Load", "PsReply", "Started",
    "Stopped", "Event", "Welcome", "Reply", "Name", "Topology", "Loads", "HostDown", "Registry",
    "Ps", "Stop",
    "ready", "hello", "bye", "request", "ack", "release", "load", "ps_reply", "started",
    "stopped", "event", "welcome", "reply", "name", "topology", "loads", "host_down", "registry",
    "ps", "stop",
]


# -- constructors: each builds its kind's tuple, with plain ints ----------------------------
_READY, _HELLO, _BYE, _REQUEST, _ACK, _RELEASE, _LOAD, _PS_REPLY, _STARTED, _STOPPED, _EVENT = (
    int(Kind.READY), int(Kind.HELLO), int(Kind.BYE), int(Kind.REQUEST), int(Kind.ACK),
    int(Kind.RELEASE), int(Kind.LOAD), int(Kind.PS_REPLY), int(Kind.STARTED),
    int(Kind.STOPPED), int(Kind.EVENT))
_WELCOME, _REPLY, _NAME, _TOPOLOGY, _LOADS, _HOST_DOWN, _REGISTRY, _PS, _STOP = (
    int(Kind.WELCOME), int(Kind.REPLY), int(Kind.NAME), int(Kind.TOPOLOGY), int(Kind.LOADS),
    int(Kind.HOST_DOWN), int(Kind.REGISTRY), int(Kind.PS), int(Kind.STOP))


def ready(serial: int, os_pid: int) -> tuple:
    return (_READY, serial, os_pid)


def hello() -> tuple:
    return (_HELLO,)


def bye() -> tuple:
    return (_BYE,)


def request(req: int, op: ReqOp, args: tuple[Any, ...], caller: Any = None) -> tuple:
    if caller is None:
        return (_REQUEST, req, op._value_, args)  # _value_: the plain int, 4x cheaper than int()
    return (_REQUEST, req, op._value_, args, caller)


def ack(seq: int) -> tuple:
    return (_ACK, seq)


def release(pid: str, names: list[str]) -> tuple:
    return (_RELEASE, pid, names)


def load(serial: int, procs: int) -> tuple:
    return (_LOAD, serial, procs)


def ps_reply(seq: int, data: dict[str, Any]) -> tuple:
    return (_PS_REPLY, seq, data)


def started(pid: str) -> tuple:
    return (_STARTED, pid)


def stopped(serial: int) -> tuple:
    return (_STOPPED, serial)


def event(system: str, kind: str, path: str, data: Any) -> tuple:
    return (_EVENT, system, kind, path, data)


def welcome(topology: dict[str, list[int]], loads: dict[int, int], names: dict[str, str],
            dead: list[int], serial: int | None = None, node_pid: str | None = None,
            store: str | None = None) -> tuple:
    return (_WELCOME, serial, topology, loads, names, dead, node_pid, store)


def reply(req: int, ok: bool, value: Any) -> tuple:
    return (_REPLY, req, ok, value)


def name(name: str, pid: str | None, ack: int | None = None) -> tuple:
    return (_NAME, name, pid, ack)


def topology(topology: dict[str, list[int]]) -> tuple:
    return (_TOPOLOGY, topology)


def loads(loads: dict[int, int]) -> tuple:
    return (_LOADS, loads)


def host_down(serial: int, reason: str) -> tuple:
    return (_HOST_DOWN, serial, reason)


def registry(version: int, events: list[tuple[str, str, Any]]) -> tuple:
    return (_REGISTRY, version, events)


def ps(seq: int, processes: bool = True) -> tuple:
    return (_PS, seq, processes)


def stop(timeout: float, reason: str) -> tuple:
    return (_STOP, float(timeout), reason)


_CTL = wire.Op.CTL


def ctl_frame(message: tuple) -> tuple:
    """``message`` as a data-plane frame, for a host that reads only its inbox."""
    return (_CTL, message)


# What a host's runtime reports, by the names the runtime uses (``ctl_notify("started", pid)``).
_NOTIFY: dict[str, Callable[..., tuple]] = {"started": started, "release": release,
                                            "event": event}


def notification(what: str, *args: Any) -> tuple:
    """The message for a runtime notification named ``what``; raises ValueError."""
    make = _NOTIFY.get(what)
    if make is None:
        raise ValueError(f"unknown notification '{what}'")
    return make(*args)


# -- parsing --------------------------------------------------------------------------------
# A parser takes the whole message and returns its view; a wrong field count raises TypeError.
# Built here rather than with ``view._make(msg[1:])``: one Python call per message instead of
# three (this runs for every reply a process waits for).
def _view_parser(view: Any) -> Callable[[tuple], Any]:
    new = tuple.__new__
    n = len(view._fields)

    def parse(msg: tuple) -> Any:
        frame = new(view, msg[1:])
        if len(frame) != n:
            raise TypeError(f"expected {n} fields, got {len(frame)}")
        return frame
    return parse


def _parse_request(msg: tuple) -> Request:
    if len(msg) == 5:
        _, req, op, args, caller = msg
    else:
        _, req, op, args = msg
        caller = None
    return tuple.__new__(Request, (req, _OPS.get(op, op),
                                   args if type(args) is tuple else tuple(args), caller))


_VIEWS: dict[int, Any] = {
    _READY: Ready, _HELLO: Hello, _BYE: Bye, _ACK: Ack, _RELEASE: Release,
    _LOAD: Load, _PS_REPLY: PsReply, _STARTED: Started, _STOPPED: Stopped, _EVENT: Event,
    _WELCOME: Welcome, _REPLY: Reply, _NAME: Name, _TOPOLOGY: Topology, _LOADS: Loads,
    _HOST_DOWN: HostDown, _REGISTRY: Registry, _PS: Ps, _STOP: Stop,
}
_PARSERS: dict[int, Callable[[tuple], Any]] = {k: _view_parser(v) for k, v in _VIEWS.items()}
_PARSERS[_REQUEST] = _parse_request


def parse(msg: Any) -> Frame:
    """The typed view of a decoded control message; raises :class:`BadFrame`."""
    try:
        parser = _PARSERS[msg[0]]
    except (KeyError, TypeError, IndexError):
        raise BadFrame(f"not a control message: {_short(msg)}") from None
    try:
        return parser(msg)
    except (TypeError, ValueError) as exc:
        raise BadFrame(f"malformed {Kind(msg[0]).name} message {_short(msg)}: {exc}") from None


def _short(msg: Any) -> str:
    text = repr(msg)
    return text if len(text) <= 120 else text[:117] + "..."


def dispatcher(table: Mapping[Kind, Callable[[Any], None]], log: logging.Logger,
               who: str) -> Callable[[Any], None]:
    """A function that calls, for each message, the handler registered for its kind with the
    parsed frame. A message of no registered kind, or malformed, is logged and dropped: one bad
    message never stops a member. Handlers' own exceptions propagate.

    A closure rather than an object with ``__call__``: calling an instance costs a slot lookup
    per message (150 ns, a third of a dispatch), and every reply a process waits for comes
    through here."""
    entries = _entries(table)

    def dispatch(msg: Any) -> None:
        try:
            parse, handler = entries[msg[0]]
        except (KeyError, TypeError, IndexError):
            _drop(log, who, msg, None)
            return
        try:
            frame = parse(msg)
        except (TypeError, ValueError) as exc:
            _drop(log, who, msg, exc)
            return
        handler(frame)
    return dispatch


def sender_dispatcher(table: Mapping[Kind, Callable[[Any, Any], None]], log: logging.Logger,
                      who: str) -> Callable[[Any, Any], None]:
    """:func:`dispatcher` for handlers that also take who sent the message:
    ``dispatch(sender, msg)`` calls ``handler(sender, frame)``."""
    entries = _entries(table)

    def dispatch(sender: Any, msg: Any) -> None:
        try:
            parse, handler = entries[msg[0]]
        except (KeyError, TypeError, IndexError):
            _drop(log, who, msg, None)
            return
        try:
            frame = parse(msg)
        except (TypeError, ValueError) as exc:
            _drop(log, who, msg, exc)
            return
        handler(sender, frame)
    return dispatch


def _entries(table: Mapping[Kind, Callable[..., None]]) -> dict[int, tuple[Callable[[tuple], Any], Callable[..., None]]]:
    return {int(k): (_PARSERS[int(k)], h) for k, h in table.items()}


def _drop(log: logging.Logger, who: str, msg: Any, exc: Exception | None) -> None:
    if exc is None:
        log.warning("%s: dropped an unexpected control message %s", who, _short(msg))
    else:
        log.warning("%s: dropped a malformed %s message %s: %s", who, Kind(msg[0]).name,
                    _short(msg), exc)
