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
    "ipc", "IPC_PATH_MAX",
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
