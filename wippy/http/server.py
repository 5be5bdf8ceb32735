"""The HTTP server OS process of one ``http.service``: Granian, embedded, serving the
:class:`~wippy.http.dispatch.Dispatcher` (a bare ASGI app), as a member of the node's mesh.

The node forks it through the zygote (like a host) and owns it: one OS process (Granian's
embedded server runs in this process's event loop, its Rust I/O threads inside it), with a
parent-death signal, reaped by the zygote, restarted by the node when it dies, stopped by the
node's STOP. Life:

1. check that the address is free (Granian binds with ``SO_REUSEPORT``, so a second server on
   the same port would silently share it): a port in use ends the process with
   :attr:`ServerExit.ADDR_IN_USE`, which the node reports as a boot error naming the entry;
2. start Granian and wait until it accepts connections;
3. say READY to the node over the control DEALER and take the WELCOME (topology, names), as a
   host does; from then on the node's control messages arrive on the data-plane inbox
   (``Op.CTL``): topology and loads for placement, host deaths, registry versions (the routes
   are rebuilt when an ``http.*`` entry changes), STOP;
4. on STOP: refuse new requests (503), let Granian drain the ones in flight within the stop
   timeout, exit.

The inbox is a zmq PULL socket read from the event loop through its file descriptor
(``add_reader``), draining while ``EVENTS`` says POLLIN (the descriptor is edge-triggered, so
the loop also drains after every flush of outgoing frames). Frames to hosts are queued in the
mesh and flushed once per loop turn, so a burst of requests leaves as one zmq message per host.

Why Granian, embedded: measured on this machine (``docs/http.md``), Granian serving a bare ASGI
app was the fastest server when every request is forwarded over zmq to another OS process;
uvicorn + httptools + uvloop was 14-26 % slower; aiohttp and socketify were rejected. Granian's
embedded server (``granian.server.embed``, marked experimental upstream) runs in a process we
fork and watch, where its standalone mode would fork workers of its own that the node could
not supervise. Rejected: ``zmq.asyncio`` for the inbox (it wraps every receive in a Future;
``add_reader`` on the FD drains many frames per wake-up).
"""
from __future__ import annotations

import asyncio
import enum
import errno
import logging
import os
import signal
import socket
import sys
import time as _time
from typing import Any

from ..core import protocol, transport, wire
from ..core.mesh import Mesh
from ..core.protocol import Kind
from ..errors import WippyError
from ..registry.entry import HTTP_KINDS
from ..registry.store import Store
from . import frames
from .dispatch import Dispatcher, Limits
from .middleware import unsupported
from .routing import RouteTable, compile_routes

__all__ = ["server_main", "ServerExit", "parse_addr", "embedded", "listening", "STATS_SYSTEM",
           "LISTEN_TIMEOUT_S"]

log = logging.getLogger("wippy.http")

STATS_SYSTEM = "wippy.http"     # the event system of a server's statistics (node-only)
STATS_EVERY_S = 1.0             # how often changed statistics are sent to the node
LISTEN_TIMEOUT_S = 10.0         # how long Granian may take to accept connections
WELCOME_TIMEOUT_S = 30.0
FLUSH_RETRY_S = 0.001           # a slow host's pipe is retried this often


class ServerExit(enum.IntEnum):
    """A server process's exit codes (the node reads them from the wait status)."""

    OK = 0
    ADDR_IN_USE = 3        # the listen address is taken: a boot error naming the entry
    BIND_FAILED = 4        # any other reason the address cannot be used (printed on stderr)
    FAILED = 5             # Granian stopped on its own


def parse_addr(addr: str) -> tuple[str, int]:
    """Wippy's ``:8080`` / ``127.0.0.1:8080`` / ``[::1]:8080`` as (host, port); an empty
    host listens on every IPv4 interface."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _probe(host: str, port: int) -> int | None:
    """None when (host, port) can be bound now, else the errno."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
    except OSError as exc:
        return exc.errno or errno.EADDRINUSE
    finally:
        s.close()
    return None


def embedded(app: Any, host: str, port: int, backlog: int = 1024) -> Any:
    """Granian's embedded ASGI server for ``app`` on (host, port), not yet serving: ``await
    server.serve()`` runs it in the running event loop, ``server.stop()`` ends it. This module
    is granian's one importer; the web observer serves its page through this too."""
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server
    return Server(app, address=host, port=port, interface=Interfaces.ASGINL, http=HTTPModes.auto,
                  websockets=False, backlog=backlog, log_enabled=False)


async def listening(host: str, port: int, task: asyncio.Task[Any]) -> None:
    """Until a connection to the server succeeds (or its task ended: raise its error)."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    deadline = _time.monotonic() + LISTEN_TIMEOUT_S
    while _time.monotonic() < deadline:
        if task.done():
            task.result()
            raise RuntimeError("the HTTP server stopped before it listened")
        try:
            _, writer = await asyncio.open_connection(target, port)
        except OSError:
            await asyncio.sleep(0.005)
            continue
        writer.close()
        return
    raise RuntimeError(f"the HTTP server did not accept connections within {LISTEN_TIMEOUT_S} s")


class HttpServer:
    """One ``http.service``'s server (see the module docstring)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.service_id: str = spec["service_id"]
        self.serial: int = spec["serial"]
        self.host, self.port = parse_addr(spec["addr"])
        self.handler_host: str = spec["handler_host"]
        self.ctx = transport.new_context()
        self.mesh = Mesh(self.ctx, spec["rundir"], self.serial)
        self.ctl = transport.connect_dealer(self.ctx, os.path.join(spec["rundir"], "ctl"),
                                            f"s{self.serial}".encode())
        self.store = Store(spec["store"], readonly=True)
        self.dispatcher = Dispatcher(self.service_id, self.serial, self._routes(),
                                     Limits(spec["max_in_flight"], spec["max_body"],
                                            spec["timeout"]),
                                     self._send_frame, self._pick, lambda: self.handler_host)
        self.on_ctl = protocol.dispatcher({
            Kind.TOPOLOGY: lambda f: self.mesh.set_topology(f.topology),
            Kind.LOADS: lambda f: self.mesh.set_loads(f.loads),
            Kind.HOST_DOWN: self._on_host_down, Kind.REGISTRY: self._on_registry,
            Kind.NAME: self._on_name, Kind.STOP: self._on_stop, Kind.PS: self._on_ps,
            Kind.EVENT: lambda f: None, Kind.REPLY: lambda f: None,
        }, log, f"http {self.service_id}")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.granian: Any = None
        self.stopped: asyncio.Event | None = None
        self._flush_scheduled = False
        self._last_stats: Any = None

    # -- routes --------------------------------------------------------------------------
    def _routes(self) -> RouteTable:
        entries = [e for e in self.store.entries().values() if e.get("kind") in HTTP_KINDS]
        table = compile_routes(self.service_id, entries)
        for problem in table.problems:
            log.warning("http %s: %s", self.service_id, problem)
        for r in table.routers:
            for name in unsupported(list(r.middleware) + list(r.post_middleware)):
                log.warning("http %s: router %s: middleware %r is not supported; skipped",
                            self.service_id, r.id, name)
        return table

    def _on_registry(self, f: protocol.Registry) -> None:
        if any(entry is None or entry.get("kind") in HTTP_KINDS for _, _, entry in f.events):
            self.dispatcher.set_routes(self._routes())
            log.info("http %s: routes reloaded (registry v%d)", self.service_id, f.version)

    # -- the data plane ------------------------------------------------------------------
    def _pick(self) -> int:
        return self.mesh.pick(self.handler_host)

    def _send_frame(self, serial: int, data: bytes) -> None:
        self.mesh.send(serial, data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.mesh.flush():
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_later(FLUSH_RETRY_S, self._flush)
        self._drain()           # zmq's FD is edge-triggered: a send may have consumed its edge

    def _drain(self) -> None:
        inbox = self.mesh.inbox
        events, pollin, nb = transport.EVENTS, transport.POLLIN, int(transport.NOBLOCK)
        msg_op, exit_op, ctl_op, topic = wire.Op.MSG, wire.Op.EXIT, wire.Op.CTL, frames.TOPIC
        on_reply, on_exit = self.dispatcher.on_reply, self.dispatcher.on_exit
        while inbox.getsockopt(events) & pollin:  # type: ignore[arg-type,operator]  # EVENTS is an int option
            try:
                data = inbox.recv(nb)
            except transport.Again:
                break
            try:
                batch = wire.unpack(data)
            except Exception as exc:  # noqa: BLE001 - a bad frame must not stop the server
                log.warning("http %s: dropped an undecodable message: %s", self.service_id, exc)
                continue
            for frame in batch:
                op = frame[0]
                if op == msg_op:
                    if frame[3] == topic:
                        on_reply(frame[1], frame[4])
                elif op == exit_op:
                    on_exit(frame[1], frame[4])
                elif op == ctl_op:
                    self.on_ctl(frame[1])

    # -- control -------------------------------------------------------------------------
    def _send_ctl(self, message: tuple) -> None:
        self.ctl.send(wire.dumps(message))

    def _on_host_down(self, f: protocol.HostDown) -> None:
        self.mesh.host_down(f.serial)
        self.dispatcher.host_down(f.serial, f.reason)

    def _on_name(self, f: protocol.Name) -> None:
        if f.ack is not None:
            self._send_ctl(protocol.ack(f.ack))

    def _on_ps(self, f: protocol.Ps) -> None:
        self._send_ctl(protocol.ps_reply(f.seq, self.stats()))

    def _on_stop(self, f: protocol.Stop) -> None:
        log.info("http %s: stopping (%s)", self.service_id, f.reason)
        self.dispatcher.accepting = False
        if self.granian is not None:
            self.granian.workers_kill_timeout = max(1, int(f.timeout + 0.999))
            self.granian.stop()

    def stats(self) -> dict[str, Any]:
        d = self.dispatcher
        return {"serial": self.serial, "service": self.service_id, "os_pid": os.getpid(),
                "addr": f"{self.host}:{self.port}", "in_flight": len(d.pending),
                "routes": len(d.routes.routes), "metrics": d.metrics.snapshot()}

    async def _report_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            snap = self.stats()
            if snap != self._last_stats:
                self._last_stats = snap
                self._send_ctl(protocol.event(STATS_SYSTEM, "stats", self.service_id, snap))

    async def _welcome(self) -> protocol.Welcome:
        self._send_ctl(protocol.ready(self.serial, os.getpid()))
        deadline = _time.monotonic() + WELCOME_TIMEOUT_S
        while _time.monotonic() < deadline:
            if self.ctl.poll(0):
                msg = wire.loads(self.ctl.recv())
                if msg[0] == Kind.WELCOME:
                    welcome = protocol.parse(msg)
                    assert isinstance(welcome, protocol.Welcome)
                    return welcome
                self.on_ctl(msg)
                continue
            await asyncio.sleep(0.002)
        raise WippyError(f"the node did not welcome HTTP server {self.service_id} within "
                         f"{WELCOME_TIMEOUT_S:.0f} s")

    # -- life ----------------------------------------------------------------------------
    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.stopped = asyncio.Event()
        self.granian = embedded(self.dispatcher, self.host, self.port)
        serve = self.loop.create_task(self.granian.serve())
        await listening(self.host, self.port, serve)
        welcome = await self._welcome()
        self.mesh.set_topology(welcome.topology)
        self.mesh.set_loads(welcome.loads)
        self.mesh.dead_serials.update(welcome.dead)
        self.dispatcher.joined.set()
        inbox_fd = self.mesh.inbox.fileno()
        self.loop.add_reader(inbox_fd, self._drain)
        self._drain()
        stats = self.loop.create_task(self._report_stats())
        try:
            await serve
        finally:
            stats.cancel()
            self.loop.remove_reader(inbox_fd)
        code = ServerExit.OK if not self.dispatcher.accepting else ServerExit.FAILED
        self.mesh.flush()
        self._send_ctl(protocol.stopped(self.serial))
        return int(code)


def server_main(spec: dict[str, Any]) -> int:
    """Body of an HTTP server OS process (called in the forked child; the caller
    ``os._exit``s with the returned code)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the node stops us in order (STOP)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=spec.get("log_level", "WARNING"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s http {spec['service_id']}/"
                               f"{spec['serial']} %(message)s")
    host, port = parse_addr(spec["addr"])
    err = _probe(host, port)
    if err == errno.EADDRINUSE:
        return int(ServerExit.ADDR_IN_USE)
    if err is not None:
        print(f"wippy: http.service {spec['service_id']}: field 'addr': cannot listen on "
              f"{spec['addr']}: {os.strerror(err)}", file=sys.stderr, flush=True)
        return int(ServerExit.BIND_FAILED)
    import uvloop
    server = HttpServer(spec)
    try:
        return uvloop.run(server.run())
    finally:
        server.store.close()
        server.ctx.destroy(linger=200)
