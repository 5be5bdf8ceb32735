"""A connection's two sockets to its node and what arrives on them (S7).

The control socket carries the requests a :class:`~wippy.client.connection.Connection` makes of
the node and their replies, and what the node announces to every member: the topology, the
loads, the registered names and the hosts that died. The data-plane inbox carries what
processes send to the connection's PID, handed to its :class:`~wippy.client.inbox.Inbox`.
Both are read by :meth:`Link.pump`, which runs only while a call of the connection waits.

Rejected: a thread of its own reading both sockets. ZeroMQ sockets may not be shared between
threads, and every structure the pump fills (the mailbox, the mesh's topology, the names)
would need a lock; a program that wants to wait does so in a call, where the pump runs.
"""
from __future__ import annotations

import logging
import time as _time
from typing import Any

from ..core import protocol, transport, wire
from ..core.mesh import Mesh
from ..core.protocol import Kind, ReqOp
from ..errors import Timeout, from_wire
from .inbox import Inbox

__all__ = ["Link"]

log = logging.getLogger("wippy.client")


class Link:
    """The control socket ``ctl`` and ``mesh``'s inbox, read into ``inbox``, ``mesh`` and
    ``names`` (name -> PID, kept as the node announces them)."""

    def __init__(self, ctl: Any, mesh: Mesh, inbox: Inbox, names: dict[str, str]) -> None:
        self.ctl = ctl
        self.mesh = mesh
        self.inbox = inbox
        self.names = names
        self._req = 0
        self._replies: dict[int, tuple[bool, Any]] = {}
        self._on_ctl = protocol.dispatcher({
            Kind.REPLY: self._on_reply, Kind.TOPOLOGY: self._on_topology,
            Kind.LOADS: self._on_loads, Kind.NAME: self._on_name,
            Kind.HOST_DOWN: self._on_host_down,
            Kind.EVENT: _ignore, Kind.REGISTRY: _ignore,     # read from LMDB when asked
        }, log, "connection")
        self._poller = transport.Poller()
        self._poller.register(ctl, transport.POLLIN)
        self._poller.register(mesh.inbox, transport.POLLIN)

    def pump(self, timeout: float) -> None:
        """Handle whatever arrives within ``timeout`` seconds (at least one poll)."""
        self.mesh.flush()
        ready = {sock for sock, _ in self._poller.poll(max(0, int(timeout * 1000)))}
        # the data plane first: what a host sent before it died precedes the node's HOST_DOWN
        if self.mesh.inbox in ready:
            while True:
                try:
                    data = self.mesh.inbox.recv(transport.NOBLOCK)
                except transport.Again:
                    break
                origin, frames = wire.unpack_from(data)
                for frame in frames:
                    self.inbox.on_frame(frame, origin)
        if self.ctl in ready:
            while True:
                try:
                    self._on_ctl(wire.loads(self.ctl.recv(transport.NOBLOCK)))
                except transport.Again:
                    break

    def request(self, op: ReqOp | str, *args: Any, timeout: float = 10.0) -> Any:
        """Ask the node ``op`` with ``args`` and wait for its answer, pumping meanwhile.
        Raises Timeout after ``timeout`` seconds, or the error the node answered with."""
        code = protocol.request_op(op)
        self._req += 1
        req = self._req
        self.ctl.send(wire.dumps(protocol.request(req, code, args)))
        deadline = _time.monotonic() + timeout
        while req not in self._replies:
            left = deadline - _time.monotonic()
            if left <= 0:
                raise Timeout(f"the node did not answer '{code.name.lower()}' within {timeout} s")
            self.pump(min(left, 0.1))
        ok, value = self._replies.pop(req)
        if not ok:
            raise from_wire(value)
        return value

    def _on_reply(self, f: protocol.Reply) -> None:
        self._replies[f.req] = (f.ok, f.value)

    def _on_topology(self, f: protocol.Topology) -> None:
        self.mesh.set_topology(f.topology)

    def _on_loads(self, f: protocol.Loads) -> None:
        self.mesh.set_loads(f.loads)

    def _on_name(self, f: protocol.Name) -> None:
        if f.pid is None:
            self.names.pop(f.name, None)
        else:
            self.names[f.name] = f.pid

    def _on_host_down(self, f: protocol.HostDown) -> None:
        host = self.mesh.host_of.get(f.serial, "?")
        self.mesh.host_down(f.serial)
        self.inbox.host_down(f.serial, f"host {host}/{f.serial} died: {f.reason}")


def _ignore(frame: protocol.Frame) -> None:
    pass
