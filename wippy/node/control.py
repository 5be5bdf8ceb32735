"""The node's end of the control plane: who its members are and how a message reaches them.

Members are host OS processes and attached programs. Both talk to the node over a DEALER
connected to the node's ROUTER. The node answers a program over the ROUTER; a host, once
welcomed, waits on its data-plane inbox only (S11: every extra polled socket costs each round
trip), so the node's messages to it travel there as ``Op.CTL`` frames, in order among
themselves (one PUSH pipe per host). Before its welcome a host reads only its DEALER.

Nothing here knows what a message means: :mod:`wippy.core.protocol` builds and parses them,
the node's loop dispatches them.
"""
from __future__ import annotations

from typing import Any, Iterator

from ..core import protocol, transport, wire
from ..core.mesh import Mesh
from ..errors import WippyError, to_wire

__all__ = ["ControlPlane", "Reply"]


class ControlPlane:
    """The node's ROUTER and its members (``mesh`` carries messages to welcomed hosts)."""

    def __init__(self, router: Any, mesh: Mesh) -> None:
        self.router = router
        self._mesh = mesh
        self._hosts: dict[bytes, int] = {}       # ident -> serial of a welcomed host
        self._listening: set[int] = set()        # serials that read control from their inbox
        self._clients: dict[bytes, int] = {}     # ident -> serial of an attached program

    # -- members -------------------------------------------------------------------------
    def join_host(self, ident: bytes, serial: int) -> None:
        """Host ``serial`` has been welcomed: it reads control from its inbox from now on."""
        self._hosts[ident] = serial
        self._listening.add(serial)

    def leave_host(self, serial: int) -> None:
        """Host ``serial`` is gone."""
        self._listening.discard(serial)
        for ident in [i for i, s in self._hosts.items() if s == serial]:
            del self._hosts[ident]

    def join_client(self, ident: bytes, serial: int) -> None:
        self._clients[ident] = serial

    def leave_client(self, ident: bytes) -> int | None:
        """The program at ``ident`` detached: its serial, if it had one."""
        return self._clients.pop(ident, None)

    def host_serial(self, ident: bytes) -> int | None:
        """The serial of the welcomed host at ``ident``; None for a program or a stranger."""
        return self._hosts.get(ident)

    # -- receiving -----------------------------------------------------------------------
    def receive(self) -> Iterator[tuple[bytes, Any]]:
        """Every (ident, decoded message) waiting on the ROUTER, without blocking. A message
        that does not decode comes as (ident, None). A host sends what one loop turn of its
        said as one batch (:func:`wippy.core.wire.pack_batch`), decoded here in order."""
        router = self.router
        while True:
            try:
                parts = router.recv_multipart(transport.NOBLOCK)
            except transport.Again:
                return
            if len(parts) != 2:
                continue
            ident, data = parts
            try:
                msgs = wire.unpack(data)
            except Exception:  # noqa: BLE001 - a bad message is dropped (logged by the caller)
                msgs = [None]
            for msg in msgs:
                yield ident, msg

    # -- sending -------------------------------------------------------------------------
    def send(self, ident: bytes, message: tuple) -> None:
        """To one member: through its inbox if it is a welcomed host, else the ROUTER."""
        serial = self._hosts.get(ident)
        if serial is not None and serial in self._listening:
            self.send_host(serial, message)
        else:
            self.send_router(ident, message)

    def send_router(self, ident: bytes, message: tuple) -> None:
        """Through the ROUTER, whoever ``ident`` is (a host's WELCOME goes this way)."""
        try:
            self.router.send_multipart([ident, wire.dumps(message)], transport.NOBLOCK)
        except transport.ZMQError:
            pass   # that peer is gone; a host's death is handled through the zygote

    def send_host(self, serial: int, message: tuple, data: bytes | None = None) -> None:
        """To welcomed host ``serial`` through its inbox (``data``: the frame, pre-encoded)."""
        try:
            self._mesh.send(serial, data or wire.dumps(protocol.ctl_frame(message)))
        except WippyError:
            pass   # host down: its death is handled through the zygote

    def broadcast(self, message: tuple, skip: int | None = None) -> None:
        """To every welcomed host (but ``skip``) and every attached program."""
        if self._listening:
            data = wire.dumps(protocol.ctl_frame(message))
            for serial in self._listening:
                if serial != skip:
                    self.send_host(serial, message, data)
        if self._clients:
            data = wire.dumps(message)
            for ident in self._clients:
                try:
                    self.router.send_multipart([ident, data], transport.NOBLOCK)
                except transport.ZMQError:
                    pass

    def reply_to(self, ident: bytes, req: int, caller: Any = None) -> Reply:
        """The answer slot for request ``req`` of the member at ``ident`` (``caller``: the
        process that asked, from a host)."""
        return Reply(self, ident, req, caller if self._hosts.get(ident) is not None else None)


class Reply:
    """Answers one request: :meth:`ok` with a value or :meth:`error`."""

    __slots__ = ("_control", "ident", "req", "caller")

    def __init__(self, control: ControlPlane, ident: bytes, req: int, caller: Any = None) -> None:
        self._control = control
        self.ident = ident
        self.req = req
        self.caller = caller        # the asking process, as its host names it (S9); None: a program

    @property
    def from_host(self) -> bool:
        """True when a process asked (through its host), False for an attached program."""
        return self._control.host_serial(self.ident) is not None

    def ok(self, value: Any = True) -> None:
        self._control.send(self.ident, protocol.reply(self.req, True, value))

    def error(self, kind: str, message: str) -> None:
        self._control.send(self.ident, protocol.reply(self.req, False,
                                                      {"kind": kind, "message": message}))

    def fail(self, exc: WippyError) -> None:
        """Answer with ``exc`` (its kind and message, and a StorageError's path, reach the
        caller's ``from_wire``)."""
        self._control.send(self.ident, protocol.reply(self.req, False, to_wire(exc)))
