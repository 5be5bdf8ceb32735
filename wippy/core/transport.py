"""ZeroMQ sockets: the only module that imports zmq.

Layout (S2, measured in the library notes): every OS process of a node binds one PULL inbox at
``<rundir>/<serial>`` and pushes directly to each peer it talks to (no broker on the data plane:
a broker halved throughput and doubled latency). The node's control plane is a ROUTER that hosts
and clients reach with a DEALER; node-wide announcements go to each host over that control pair (reliable and
ordered, unlike a PUB), and, once a host is ready, on its data-plane inbox.

Options are set before bind/connect, because zmq applies most of them only to later ones.
"""
from __future__ import annotations

import os

import zmq

from .rundir import check_socket

__all__ = [
    "Context", "Socket", "Poller", "Again", "ZMQError", "POLLIN", "POLLOUT",
    "new_context", "bind_inbox", "connect_peer", "bind_router", "connect_dealer",
    "ipc", "IPC_PATH_MAX", "curve_keypair", "bind_zap", "bind_curve_router",
    "connect_curve_dealer", "user_id", "z85", "watch_connection", "events",
]

Context = zmq.Context
Socket = zmq.Socket
Poller = zmq.Poller
Again = zmq.Again
ZMQError = zmq.ZMQError
POLLIN = zmq.POLLIN
POLLOUT = zmq.POLLOUT
EVENTS = zmq.EVENTS
NOBLOCK = zmq.NOBLOCK
IPC_PATH_MAX = 107

# zmq messages (batches of frames) queued per peer pipe before send raises Again; the mesh then
# buffers them within its send budget. Mailboxes are bounded by flow control (core/flow.py),
# not here: a pipe that never fills would hide a slow receiver from its sender.
HWM = 10_000
LINGER_MS = 500        # how long close() may flush pending messages on a clean stop


def ipc(path: str) -> str:
    if len(path) > IPC_PATH_MAX:
        raise ValueError(f"ipc path longer than {IPC_PATH_MAX} characters: {path}")
    return "ipc://" + path


def new_context() -> zmq.Context:
    """A fresh context for this OS process (never one inherited across fork)."""
    ctx = zmq.Context(io_threads=1)
    ctx.linger = LINGER_MS
    return ctx


def _clear(path: str) -> None:
    """Remove a stale socket file (the run directory is ours alone: it is locked)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def bind_inbox(ctx: zmq.Context, path: str) -> zmq.Socket:
    _clear(path)
    sock = ctx.socket(zmq.PULL)
    sock.rcvhwm = HWM
    sock.bind(ipc(path))
    return sock


def connect_peer(ctx: zmq.Context, path: str) -> zmq.Socket:
    check_socket(path)
    sock = ctx.socket(zmq.PUSH)
    sock.sndhwm = HWM
    sock.connect(ipc(path))
    return sock


def bind_router(ctx: zmq.Context, path: str) -> zmq.Socket:
    _clear(path)
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.sndhwm = sock.rcvhwm = HWM
    sock.bind(ipc(path))
    return sock


def connect_dealer(ctx: zmq.Context, path: str, identity: bytes) -> zmq.Socket:
    check_socket(path)
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.sndhwm = sock.rcvhwm = HWM
    sock.connect(ipc(path))
    return sock


# -- between nodes (S12): tcp with CURVE -----------------------------------------------------
ZAP_ENDPOINT = "inproc://zeromq.zap.01"     # where libzmq asks who may connect (RFC 27)


def curve_keypair() -> tuple[bytes, bytes]:
    """A new CURVE key pair (public, secret), Z85-encoded (40 bytes each)."""
    return zmq.curve_keypair()


def bind_zap(ctx: zmq.Context) -> zmq.Socket:
    """The REP socket that answers this context's ZAP requests (one per context)."""
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    sock.bind(ZAP_ENDPOINT)
    return sock


def bind_curve_router(ctx: zmq.Context, endpoint: str, public: bytes, secret: bytes,
                      domain: str) -> tuple[zmq.Socket, str]:
    """A ROUTER serving CURVE on ``endpoint`` (``tcp://HOST:PORT``; port 0: any); returns it
    and the endpoint it got. Every handshake is checked by the context's ZAP handler."""
    sock = ctx.socket(zmq.ROUTER)
    sock.curve_server = True
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.zap_domain = domain.encode()
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.sndhwm = sock.rcvhwm = HWM
    sock.linger = 0
    sock.bind(endpoint)
    return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)


def connect_curve_dealer(ctx: zmq.Context, endpoint: str, server_key: bytes, public: bytes,
                         secret: bytes) -> zmq.Socket:
    """A DEALER to a CURVE server whose public key is ``server_key``."""
    sock = ctx.socket(zmq.DEALER)
    sock.curve_serverkey = server_key
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.sndhwm = sock.rcvhwm = HWM
    sock.linger = 0
    sock.connect(endpoint)
    return sock


def user_id(frame: zmq.Frame) -> str:
    """The identity the ZAP handler gave the sender of ``frame`` ('' when none)."""
    try:
        return str(frame.get("User-Id") or "")
    except zmq.ZMQError:
        return ""


def z85(raw: bytes) -> str:
    """A raw 32-byte CURVE key in Z85 text (as ZAP hands a client's key over raw)."""
    from zmq.utils import z85 as _z85
    return _z85.encode(raw).decode()


EVENT_DISCONNECTED = zmq.EVENT_DISCONNECTED
EVENT_HANDSHAKE_SUCCEEDED = zmq.EVENT_HANDSHAKE_SUCCEEDED
EVENT_HANDSHAKE_FAILED_AUTH = zmq.EVENT_HANDSHAKE_FAILED_AUTH


def watch_connection(sock: zmq.Socket) -> zmq.Socket:
    """A socket that reports ``sock``'s connection events (read with :func:`events`)."""
    return sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                                   | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


def events(monitor: zmq.Socket) -> list[int]:
    """The events a :func:`watch_connection` socket has queued (never blocks)."""
    from zmq.utils.monitor import recv_monitor_message
    out: list[int] = []
    while True:
        try:
            out.append(int(recv_monitor_message(monitor, zmq.NOBLOCK)["event"]))
        except zmq.Again:
            return out
