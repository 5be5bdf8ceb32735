"""The node's socket to the other nodes of its cluster (S12): zmq tcp with CURVE, an
allow-list of node keys from the database, and the relay of frames between this node's hosts
and the other nodes.

* Each node binds a ROUTER (``--listen HOST:PORT``, ``WIPPY_LISTEN``; default
  ``127.0.0.1:0``, any free port) as a CURVE server with the key pair of its data directory
  (:mod:`.keys`); its endpoint and public key go into its ``wippy_nodes`` row.
* A ZAP handler on the node's loop answers every handshake: a client key that is some node's
  row in ``wippy_nodes`` is accepted, with that node's name as the connection's User-Id
  (so the name a frame comes from cannot be forged); any other key is refused.
* To send, a node connects a DEALER to the other node's endpoint (once, on first use), as a
  CURVE client that checks the server's key; each pair of nodes thus has two connections,
  one each way. Frames are plain data (:mod:`.datacodec`): nothing from the network is
  unpickled.
* A frame a host addresses to another node's PID comes to this node and is relayed
  (:mod:`.relay`): hosts do not hold tcp sockets. This costs two ipc hops on top of the tcp
  one; the hosts could connect to the other nodes directly later.
* A spawn on a host of another node (``process.spawn(entry, "n2@app:procs")``) travels the
  same way; the receiving node places the child and hands it its frames (:mod:`.children`).
* Another node is down when its lease expired or it restarted (checked every TTL/3 in the
  database) or when the connection to it drops: the watchers here of its processes get
  EXIT/LINK_DOWN naming it (:class:`.relay.Watches`).

Guarantees: frames to one node arrive in the order they were relayed, while its connection
stays up. Not guaranteed: delivery to a node that dies, or whose connection drops, with
frames in flight (they are lost, as in Erlang: monitor to know); no flow control across
nodes yet (a slow remote mailbox is not felt by the sender).
"""
from __future__ import annotations

import logging
import socket
import struct
import time as _time
from dataclasses import dataclass
from typing import Any, Callable

from ..core import transport, wire
from ..core.mesh import Mesh
from ..core.pid import parse_pid
from ..core.protocol import LINK, MONITOR
from ..errors import ClusterError, InvalidMessage, StorageError, WippyError
from . import datacodec, keys, membership
from .children import Children
from .db import Db
from .relay import Op, Watches, down_error, inbound, localize, node_of, outbound, qualify

__all__ = ["Peers", "DEFAULT_LISTEN", "parse_listen"]

log = logging.getLogger("wippy.cluster")

DEFAULT_LISTEN = "127.0.0.1:0"
DOMAIN = "wippy"
REFRESH_MIN_S = 0.2        # an unknown key or node looks the database up at most this often
BATCH_BYTES = 256 * 1024
_U32 = struct.Struct(">I")


def parse_listen(text: str) -> str:
    """``HOST:PORT`` as a tcp endpoint; raises ClusterError naming the option."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ClusterError(f"--listen {text!r}: expected HOST:PORT (WIPPY_LISTEN), "
                           "such as 127.0.0.1:7000 or 0.0.0.0:0")
    return f"tcp://{host}:{port}"


@dataclass
class _Node:
    listen: str | None
    pubkey: str | None
    live: bool
    incarnation: int


@dataclass
class _Link:
    sock: Any
    monitor: Any
    incarnation: int


class Peers:
    """This node's peer socket, ZAP handler and relay (see the module docstring)."""

    def __init__(self, ctx: Any, me: str, data_dir: str, listen: str, mesh: Mesh,
                 call_later: Callable[..., Any], clock: Callable[[], float] = _time.monotonic,
                 entry_known: Callable[[str], bool] | None = None) -> None:
        self.me = me
        self.public, self.secret = keys.load_or_create(data_dir)
        self._ctx = ctx
        self._mesh = mesh
        self._call_later = call_later
        self._clock = clock
        self.zap = transport.bind_zap(ctx)
        try:
            self.router, endpoint = transport.bind_curve_router(
                ctx, parse_listen(listen), self.public, self.secret, DOMAIN)
        except transport.ZMQError as exc:
            self.zap.close()
            raise ClusterError(f"--listen {listen}: cannot listen there ({exc})") from None
        host = endpoint.rpartition(":")[0][len("tcp://"):]
        self.endpoint = endpoint if host not in ("0.0.0.0", "*", "[::]") else \
            f"tcp://{socket.getfqdn()}:{endpoint.rpartition(':')[2]}"
        self.db: Db | None = None
        self.every = 1.0
        self.nodes: dict[str, _Node] = {}
        self._allow: dict[str, str] = {}     # public key -> node name
        self._refreshed = -1e9
        self.links: dict[str, _Link] = {}
        self.pending: dict[str, list[bytes]] = {}
        self.watches = Watches()
        self.children = Children(me, mesh, call_later, self._answer, entry_known)
        self._poller: Any = None
        self.stopped = False
        self.relayed_out = self.relayed_in = self.refused = self.dropped = 0

    # -- wiring ------------------------------------------------------------------------
    def attach(self, db: Db, ttl: float) -> None:
        """Start checking the other nodes' leases (the node has joined)."""
        self.db = db
        self.every = ttl / 3
        self._call_later(self.every, self._check)

    def register(self, poller: Any) -> None:
        """Read this part's sockets in ``poller`` (the node's loop)."""
        self._poller = poller
        for sock in (self.router, self.zap, *(lk.monitor for lk in self.links.values())):
            poller.register(sock, transport.POLLIN)

    def on_ready(self, sock: Any) -> bool:
        """Handle ``sock`` if it is one of ours (False: not ours)."""
        if sock is self.router:
            self._drain_router()
        elif sock is self.zap:
            self._drain_zap()
        else:
            for node, link in list(self.links.items()):
                if sock is link.monitor:
                    if transport.EVENT_DISCONNECTED in transport.events(link.monitor):
                        self._down(node, "its connection dropped")
                    break
            else:
                return False
        return True

    # -- the allow-list ------------------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        now = self._clock()
        if self.db is None or (not force and now - self._refreshed < REFRESH_MIN_S):
            return
        self._refreshed = now
        try:
            rows = membership.peers(self.db)
        except StorageError as exc:
            log.warning("cannot read the cluster's nodes: %s", exc)
            return
        self.nodes = {n: _Node(lst, key, live, inc) for n, lst, key, live, inc in rows}
        self._allow = {key: n for n, lst, key, live, inc in rows if key}

    def _drain_zap(self) -> None:
        while True:
            try:
                msg = self.zap.recv_multipart(transport.NOBLOCK)
            except transport.Again:
                return
            version, rid, address = msg[0], msg[1], msg[3]
            key = transport.z85(msg[6]) if len(msg) > 6 and msg[5] == b"CURVE" else ""
            node = self._allow.get(key)
            if node is None and key:
                self._refresh()
                node = self._allow.get(key)
            if node is not None:
                self.zap.send_multipart([version, rid, b"200", b"OK", node.encode(), b""])
                continue
            self.refused += 1
            log.warning("refused a connection from %s: its key %s is not a node of this "
                        "cluster", address.decode(errors="replace"), key or "(none)")
            self.zap.send_multipart([version, rid, b"400", b"key not in the cluster", b"", b""])

    # -- out -----------------------------------------------------------------------------
    def relay(self, frame: tuple) -> None:
        """A host's frame addressed to a PID of another node (``frame[1]``)."""
        node = node_of(frame[1])
        if not node:                    # a child another node spawned here
            self.children.route(frame)
            return
        if node == self.me:             # one of ours, named from outside: deliver it here
            if frame[0] == Op.SPAWN:    # its PID would name this node inside it
                self._answer_down(node, frame, "it is this node: name the host without it")
                return
            f = outbound(frame, self.me)
            self._deliver(node, (f[0], localize(f[1], self.me), localize(f[2], self.me), *f[3:]))
            return
        self.watches.seen_out(node, frame)
        if not self._link(node):
            self._answer_down(node, frame, "it is not a live node of the cluster")
            return
        try:
            data = datacodec.encode(outbound(frame, self.me))
        except InvalidMessage as exc:
            self.dropped += 1
            log.warning("a frame from %s to %s cannot cross nodes: %s", frame[2], frame[1], exc)
            return
        self.pending.setdefault(node, []).append(data)
        self.relayed_out += 1

    def _link(self, node: str) -> bool:
        if node in self.links:
            return True
        info = self.nodes.get(node)
        if info is None or not info.live:
            self._refresh(force=info is not None)
            info = self.nodes.get(node)
        if info is None or not info.live or not info.listen or not info.pubkey:
            return False
        sock = transport.connect_curve_dealer(self._ctx, info.listen, info.pubkey.encode(),
                                              self.public, self.secret)
        monitor = transport.watch_connection(sock)
        self.links[node] = _Link(sock, monitor, info.incarnation)
        if self._poller is not None:
            self._poller.register(monitor, transport.POLLIN)
        return True

    def flush(self) -> None:
        """Send what this turn relayed, one batch per node (never blocks)."""
        for node, frames in list(self.pending.items()):
            link = self.links.get(node)
            if link is None:
                del self.pending[node]
                continue
            while frames:
                take, size = 0, 0
                while take < len(frames) and (take == 0 or size + len(frames[take]) <= BATCH_BYTES):
                    size += len(frames[take])
                    take += 1
                batch = b"l" + _U32.pack(take) + b"".join(frames[:take])
                try:
                    link.sock.send(batch, transport.NOBLOCK)
                except transport.Again:
                    break           # its pipe is full: the next turn tries again
                del frames[:take]
            if not frames:
                del self.pending[node]

    # -- in ------------------------------------------------------------------------------
    def _drain_router(self) -> None:
        while True:
            try:
                parts = self.router.recv_multipart(transport.NOBLOCK, copy=False)
            except transport.Again:
                return
            node = transport.user_id(parts[-1])
            try:
                frames = datacodec.decode(parts[-1].bytes)
            except InvalidMessage as exc:
                log.warning("dropped a message from node %s: %s", node or "?", exc)
                continue
            if type(frames) is not list:
                continue
            for raw in frames:
                frame = inbound(raw, self.me)
                if frame is None:
                    self.dropped += 1
                    log.warning("dropped a frame from node %s that is not for this node", node)
                    continue
                self.relayed_in += 1
                self.watches.seen_in(node, frame)
                self._deliver(node, frame)

    def _deliver(self, node: str, frame: tuple) -> None:
        """Hand a frame whose ``frame[1]`` is a local PID to its host."""
        pid = frame[1]
        if frame[0] == Op.SPAWN:
            self.children.spawn(frame)
            return
        try:
            p = parse_pid(pid)
        except ValueError:
            return
        if p.serial == 0 and "|~" in pid:   # a child spawned here from another node
            self.children.route(frame)
            return
        if p.serial == 0 or self._mesh.known_dead(pid, p.serial):
            if frame[0] in (Op.MONITOR, Op.LINK) and frame[2] is not None:
                err = {"kind": "NOT_FOUND", "message": f"process {qualify(pid, self.me)} not found"}
                back = (Op.EXIT, frame[2], pid, None, err) if frame[0] == Op.MONITOR else \
                    (Op.LINK_DOWN, frame[2], pid, err)
                self.relay(back)
            return
        try:
            self._mesh.send(p.serial, wire.dumps((frame[0], p.local, *frame[2:])))
        except WippyError:
            pass        # its OS process is gone: its watchers hear of it from there

    # -- other nodes' deaths -------------------------------------------------------------
    def _check(self) -> None:
        if self.stopped:
            return
        self._call_later(self.every, self._check)
        watched = set(self.links) | {n for n, b in self.watches.by_node.items() if b}
        if not watched:
            return
        self._refresh(force=True)
        for node in watched:
            info = self.nodes.get(node)
            link = self.links.get(node)
            if info is None or not info.live:
                self._down(node, "its lease expired")
            elif link is not None and link.incarnation != info.incarnation:
                self._down(node, "it restarted")

    def _answer(self, frame: tuple) -> None:
        """Send ``frame`` to ``frame[1]``, a PID of this node or of another."""
        if node_of(frame[1]):
            self.relay(frame)
        else:
            self._deliver(self.me, frame)

    def host_down(self, serial: int, reason: str) -> list[str]:
        """An OS process of this node died (see :meth:`.children.Children.host_down`); the
        PIDs of the children other nodes spawned on it."""
        return self.children.host_down(serial, reason)

    def _answer_down(self, node: str, frame: tuple, why: str) -> None:
        """A monitor, link or watched spawn of a PID on a node that is not there: answered
        at once."""
        if frame[0] == Op.SPAWN:
            err = down_error(node, why)
            if frame[2] is None or not frame[5] & (MONITOR | LINK):
                log.warning("spawn of %s on %s by %s, who does not watch it: %s", frame[3],
                            frame[1], frame[2], err["message"])
                return
            self.watches.by_node.get(node, set()).clear()
            if frame[5] & MONITOR:
                self._deliver(node, (Op.EXIT, frame[2], frame[1], None, err))
            if frame[5] & LINK:
                self._deliver(node, (Op.LINK_DOWN, frame[2], frame[1], err))
            return
        if frame[0] in (Op.MONITOR, Op.LINK):
            err = down_error(node, why)
            back = (Op.EXIT, frame[2], frame[1], None, err) if frame[0] == Op.MONITOR else \
                (Op.LINK_DOWN, frame[2], frame[1], err)
            self.watches.by_node.get(node, set()).clear()
            self._deliver(node, back)

    def _down(self, node: str, why: str) -> None:
        link = self.links.pop(node, None)
        if link is not None:
            self._close(link)
        self.pending.pop(node, None)
        frames = self.watches.down(node, why)
        log.warning("node %s is down: %s (%d watcher(s) told)", node, why, len(frames))
        for frame in frames:
            self._deliver(node, frame)

    def _close(self, link: _Link) -> None:
        if self._poller is not None:
            try:
                self._poller.unregister(link.monitor)
            except KeyError:
                pass
        link.sock.disable_monitor()
        link.monitor.close(linger=0)
        link.sock.close(linger=0)

    def info(self) -> dict[str, Any]:
        """For ``wippy ps``."""
        return {"listen": self.endpoint, "connected": sorted(self.links),
                "relayed_out": self.relayed_out, "relayed_in": self.relayed_in,
                "refused": self.refused, "dropped": self.dropped,
                "spawned_here": self.children.info()}

    def close(self) -> None:
        self.stopped = True
        for link in self.links.values():
            self._close(link)
        self.links.clear()
        self.router.close(linger=0)
        self.zap.close(linger=0)
