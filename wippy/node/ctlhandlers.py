"""What the node does with the control messages its members send on the ROUTER.

One table keyed by :class:`~wippy.core.protocol.Kind` says which handler takes each message;
requests go on to a second table keyed by :class:`~wippy.core.protocol.ReqOp`. Besides the
handling, this part owns the two things only these messages change:

* the welcome: a host that says READY, an attached program that says HELLO and an HTTP server
  that listens each get the topology, the placement loads, the names and the dead serials, and
  join the :class:`~wippy.node.control.ControlPlane`;
* the placement loads: each host's LOAD is kept here, and the changed ones are broadcast every
  ``LOADS_EVERY_S`` (and given in every welcome).

Where a message belongs to another part (a name's ACK, a PS reply, a service that STARTED), the
handler passes it on through that part's public method; nothing here decides for it.

Rejected: each part adding its own entries to the table (ACK by the names, PS_REPLY by the
status, STARTED by the services): what a message does would then be found only by reading every
part, and the table would depend on the order the parts were made in.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Protocol

from ..core import protocol
from ..core.mesh import Mesh
from ..core.protocol import Kind, ReqOp
from .control import ControlPlane
from .hosts import HostProc
from .procs import NODE_PID
from .requests import Handler

__all__ = ["ControlHandlers", "LOADS_EVERY_S"]

log = logging.getLogger("wippy.node")

LOADS_EVERY_S = 0.25       # how often changed placement loads are broadcast


class _Hosts(Protocol):
    def on_ready(self, serial: int, os_pid: int) -> HostProc | None: ...

    def topology(self) -> dict[str, list[int]]: ...

    def dead_serials(self) -> list[int]: ...


class _Names(Protocol):
    def snapshot(self) -> dict[str, str]: ...

    def ack(self, serial: int, seq: int) -> None: ...

    def release(self, pid: str, names: Iterable[str]) -> None: ...


class _Status(Protocol):
    def watch(self, serial: int, os_pid: int) -> None: ...

    def on_reply(self, frame: protocol.PsReply) -> None: ...


class _Placed(Protocol):
    """What runs on hosts and moves to a host that becomes ready (services, workflows)."""

    def host_ready(self, host_id: str) -> None: ...


class _Services(_Placed, Protocol):
    def started(self, pid: str) -> None: ...


class _Server(Protocol):
    """An OS process that hosts no processes (an HTTP server, the observer)."""

    def on_ready(self, ident: bytes, f: protocol.Ready) -> bool: ...


class _Http(_Server, Protocol):
    def on_stats(self, f: protocol.Event) -> bool: ...


class ControlHandlers:
    """Handles every control message from the ROUTER (:meth:`drain`) and keeps the placement
    loads. ``requests``: the handler of each request op; ``booted()``: whether services have
    been started (a host ready before that gets none); ``stopping()``: whether the node stops
    (the loads are no longer broadcast)."""

    def __init__(self, control: ControlPlane, mesh: Mesh, hosts: _Hosts, names: _Names,
                 status: _Status, services: _Services, workflows: _Placed, http: _Http,
                 observe: _Server, requests: dict[ReqOp, Handler], new_serial: Callable[[], int],
                 store_path: str, call_later: Callable[..., Any], booted: Callable[[], bool],
                 stopping: Callable[[], bool]) -> None:
        self._control = control
        self._mesh = mesh
        self._hosts = hosts
        self._names = names
        self._status = status
        self._services = services
        self._workflows = workflows
        self._http = http
        self._observe = observe
        self._requests = requests
        self._new_serial = new_serial
        self._store_path = store_path
        self._call_later = call_later
        self._booted = booted
        self._stopping = stopping
        self.loads: dict[int, int] = {}      # host serial -> how many processes it runs
        self.loads_dirty = False
        self._dispatch = protocol.sender_dispatcher({
            Kind.READY: self._on_ready, Kind.HELLO: self._on_hello, Kind.BYE: self._on_bye,
            Kind.REQUEST: self._on_request, Kind.ACK: self._on_ack,
            Kind.RELEASE: self._on_release, Kind.EVENT: self._on_event, Kind.LOAD: self._on_load,
            Kind.PS_REPLY: self._on_ps_reply, Kind.STARTED: self._on_started,
            Kind.STOPPED: self._on_stopped,
        }, log, "node")

    def drain(self) -> None:
        """Handle every message waiting on the ROUTER, without blocking."""
        for ident, msg in self._control.receive():
            try:
                self._dispatch(ident, msg)
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the node
                log.warning("control message from %r failed: %s", ident, exc)

    # -- members joining and leaving -----------------------------------------------------
    def welcome_server(self, ident: bytes, serial: int) -> None:
        """An HTTP server is listening: it joins the mesh as a host does."""
        topo = self._hosts.topology()
        self._control.send_router(ident, protocol.welcome(topo, dict(self.loads),
                                                          self._names.snapshot(),
                                                          self._hosts.dead_serials()))
        self._control.join_host(ident, serial)

    def server_down(self, serial: int, reason: str) -> None:
        """An OS process that hosts no processes (an HTTP server) is gone."""
        self._mesh.host_down(serial)
        self._control.leave_host(serial)
        self._control.broadcast(protocol.host_down(serial, reason))

    def host_gone(self, serial: int) -> None:
        """Host ``serial`` is dead: its load no longer counts."""
        self.loads.pop(serial, None)

    def _on_ready(self, ident: bytes, f: protocol.Ready) -> None:
        if self._http.on_ready(ident, f) or self._observe.on_ready(ident, f):
            return
        hp = self._hosts.on_ready(f.serial, f.os_pid)
        if hp is None:
            return
        topo = self._hosts.topology()
        self._mesh.set_topology(topo)
        self._control.send_router(ident, protocol.welcome(topo, dict(self.loads),
                                                          self._names.snapshot(),
                                                          self._hosts.dead_serials()))
        self._control.join_host(ident, hp.serial)
        self._control.broadcast(protocol.topology(topo), skip=hp.serial)
        self._status.watch(hp.serial, hp.os_pid)
        if self._booted():
            self._services.host_ready(hp.host_id)
            self._workflows.host_ready(hp.host_id)

    def _on_hello(self, ident: bytes, f: protocol.Hello) -> None:
        serial = self._new_serial()
        self._control.join_client(ident, serial)
        self._control.send_router(ident, protocol.welcome(
            self._hosts.topology(), dict(self.loads), self._names.snapshot(),
            self._hosts.dead_serials(), serial=serial, node_pid=NODE_PID, store=self._store_path))

    def _on_bye(self, ident: bytes, f: protocol.Bye) -> None:
        serial = self._control.leave_client(ident)
        if serial is not None:
            self._mesh.host_down(serial)

    # -- messages other parts take -------------------------------------------------------
    def _on_ack(self, ident: bytes, f: protocol.Ack) -> None:
        serial = self._control.host_serial(ident)
        if serial is not None:
            self._names.ack(serial, f.seq)

    def _on_release(self, ident: bytes, f: protocol.Release) -> None:
        self._names.release(f.pid, f.names)

    def _on_event(self, ident: bytes, f: protocol.Event) -> None:
        if self._http.on_stats(f):
            return
        self._control.broadcast(protocol.event(*f))

    def _on_ps_reply(self, ident: bytes, f: protocol.PsReply) -> None:
        self._status.on_reply(f)

    def _on_started(self, ident: bytes, f: protocol.Started) -> None:
        self._services.started(f.pid)

    def _on_stopped(self, ident: bytes, f: protocol.Stopped) -> None:
        log.debug("host %d has stopped its processes", f.serial)

    def _on_request(self, ident: bytes, f: protocol.Request) -> None:
        reply = self._control.reply_to(ident, f.req, f.caller)
        handler = self._requests.get(f.op)    # type: ignore[call-overload]  # an unknown op: int
        if handler is None:
            reply.error("INVALID", f"unknown request '{f.op}'")
            return
        handler(f.args, reply)

    # -- placement loads -----------------------------------------------------------------
    def _on_load(self, ident: bytes, f: protocol.Load) -> None:
        self.loads[f.serial] = f.procs
        self.loads_dirty = True

    def start_loads(self) -> None:
        """Broadcast the changed loads every ``LOADS_EVERY_S`` from now until the node stops."""
        self._call_later(LOADS_EVERY_S, self._broadcast_loads)

    def _broadcast_loads(self) -> None:
        if self.loads_dirty:
            self.loads_dirty = False
            self._mesh.set_loads(self.loads)
            self._control.broadcast(protocol.loads(dict(self.loads)))
        if not self._stopping():
            self._call_later(LOADS_EVERY_S, self._broadcast_loads)
