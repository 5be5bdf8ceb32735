"""Who is where: the data-plane peers, the node's topology, placement and known deaths.

Shared by host processes and by programs attached through the Python API. A message to a PID
goes straight to the PUSH socket of the PID's OS process (its serial); sockets are created on
first use. Frames queued in one loop turn leave as batches (one zmq message each, capped in
frames and in bytes) that name this OS process as their origin, which the receiver needs to
give flow-control credits back. A message to a process is admitted only when the
destination has room for it (:mod:`wippy.core.flow`). When a peer is slow and its pipe is
full, frames wait in a per-peer buffer that the owner flushes when the socket is writable
again; past ``SEND_BUDGET`` bytes over all peers a send fails instead of growing without
bound (S4).
"""
from __future__ import annotations

import logging
import os
import struct
from collections import OrderedDict, deque
from typing import Any

from ..errors import ProcessNotFound, SendBufferFull, TrustError
from . import transport, wire
from .flow import Flow

__all__ = ["Mesh", "SEND_BUDGET", "BATCH_FRAMES", "BATCH_BYTES"]

log = logging.getLogger("wippy.mesh")

_NOBLOCK = int(transport.NOBLOCK)   # a plain int: pyzmq's IntFlag costs a conversion per call
_EVENTS = int(transport.EVENTS)
_POLLOUT = int(transport.POLLOUT)
_LEN_PACK = struct.Struct(">I").pack    # a frame's length in a batch (wire.pack_from's layout)

SEND_BUDGET = 512 * 1024 * 1024   # bytes buffered for slow peers per OS process
DEAD_PIDS_KEPT = 100_000          # how many exited remote PIDs we remember, to fail sends early
BATCH_FRAMES = 1024               # frames per zmq message when a turn sent many
BATCH_BYTES = 256 * 1024          # bytes per zmq message: a batch never copies more than this
                                  # (a bigger frame goes alone), and a receiver's turn stays short
NODE_SERIAL = 0                   # the node: its messages are not flow-controlled


class Mesh:
    def __init__(self, ctx: Any, rundir: str, serial: int) -> None:
        self.ctx = ctx
        self.rundir = rundir
        self.serial = serial
        self.inbox = transport.bind_inbox(ctx, os.path.join(rundir, str(serial)))
        self.peers: dict[int, Any] = {}
        self.backlog: dict[int, deque[bytes]] = {}
        self.backlog_bytes = 0
        self.topology: dict[str, list[int]] = {}       # host entry id -> live serials
        self.host_of: dict[int, str] = {}              # serial -> host entry id
        self.loads: dict[int, int] = {}                # serial -> estimated live processes
        self.dead_serials: set[int] = set()
        self.dead_pids: OrderedDict[str, None] = OrderedDict()
        self.flow = Flow()
        self._head = wire.from_head(serial)     # what every batch of ours starts with
        self._rr = 0

    # -- topology ------------------------------------------------------------------------
    def set_topology(self, topology: dict[str, list[int]]) -> None:
        self.topology = {h: list(s) for h, s in topology.items()}
        # kept after a serial leaves the topology: a retired host's death is still named
        self.host_of.update((s, h) for h, ss in topology.items() for s in ss)

    def set_loads(self, loads: dict[int, int]) -> None:
        self.loads.update(loads)

    def pick(self, host_id: str) -> int:
        """The host's OS process with the fewest live processes; round-robin on ties (S4)."""
        serials = self.topology.get(host_id)
        if not serials:
            if host_id in self.topology:
                raise ProcessNotFound(f"host {host_id} has no running OS process")
            raise ProcessNotFound(f"host {host_id} not found")
        if len(serials) == 1:
            best = serials[0]
        else:
            loads = self.loads
            low = min(loads.get(s, 0) for s in serials)
            tied = [s for s in serials if loads.get(s, 0) == low]
            self._rr += 1
            best = tied[self._rr % len(tied)]
        self.loads[best] = self.loads.get(best, 0) + 1
        return best

    def host_down(self, serial: int) -> None:
        self.dead_serials.add(serial)
        sock = self.peers.pop(serial, None)
        if sock is not None:
            sock.close(linger=0)
        dropped = self.backlog.pop(serial, None)
        if dropped:
            self.backlog_bytes -= sum(len(f) for f in dropped)
        for h, ss in self.topology.items():
            if serial in ss:
                ss.remove(serial)
        self.loads.pop(serial, None)
        self.flow.forget_serial(serial)

    def note_dead(self, pid: str) -> None:
        d = self.dead_pids
        d[pid] = None
        if len(d) > DEAD_PIDS_KEPT:
            d.popitem(last=False)
        self.flow.forget(pid)

    def known_dead(self, pid: str, serial: int) -> bool:
        """Whether ``pid`` is known to be gone: its OS process died or never existed, or its
        exit was reported here. An OS process this one has not heard of yet is looked up in
        the run directory (a member binds its inbox there before anyone can learn its
        serial), so a PID made up, or kept from another run, fails like a dead one."""
        if serial in self.dead_serials or pid in self.dead_pids:
            return True
        if serial in self.peers or serial in self.host_of or serial == NODE_SERIAL:
            return False
        return not os.path.exists(os.path.join(self.rundir, str(serial)))

    # -- sending ----------------------------------------------------------------------
    def send_msg(self, serial: int, pid: str, data: bytes) -> None:
        """Queue a message (an ``Op.MSG`` frame) for process ``pid`` on OS process
        ``serial``: like :meth:`send`, once its mailbox has room for it (raises MailboxFull,
        and queues nothing, when it has not)."""
        if serial in self.dead_serials:
            raise ProcessNotFound(f"process {pid} not found (its OS process is down)")
        n = len(data)
        if self.backlog_bytes + n > SEND_BUDGET:
            raise SendBufferFull(f"send buffer for slow peers is full ({SEND_BUDGET} bytes)")
        if serial != NODE_SERIAL:
            self.flow.admit(pid, n)
        q = self.backlog.get(serial)
        if q is None:
            self.backlog[serial] = deque((data,))
        else:
            q.append(data)
        self.backlog_bytes += n

    def send(self, serial: int, data: bytes) -> None:
        """Queue one frame for OS process ``serial``; never blocks. Frames go out at the next
        :meth:`flush` (the host loop flushes after every turn, before it waits), batched: a
        burst of sends costs one zmq message, not one each."""
        if serial in self.dead_serials:
            raise ProcessNotFound(f"OS process {serial} of the node is down")
        n = len(data)
        if self.backlog_bytes + n > SEND_BUDGET:
            raise SendBufferFull(f"send buffer for slow peers is full ({SEND_BUDGET} bytes)")
        self._queue(serial, data, n)

    def _queue(self, serial: int, data: bytes, n: int) -> None:
        q = self.backlog.get(serial)
        if q is None:
            self.backlog[serial] = deque((data,))
        else:
            q.append(data)
        self.backlog_bytes += n

    def flush(self) -> bool:
        """Push queued frames to their peers; True while some could not go (peer is slow)."""
        backlog = self.backlog
        if not backlog:
            return False
        peers = self.peers
        for serial, q in list(backlog.items()):
            sock = peers.get(serial)
            if sock is None:
                try:
                    sock = peers[serial] = transport.connect_peer(
                        self.ctx, os.path.join(self.rundir, str(serial)))
                except TrustError as exc:       # not ours: never deliver there
                    log.error("%s", exc)
                    self.host_down(serial)
                    continue
            while q:
                n = len(q)
                if n == 1:              # the usual turn: one frame, no batch to build
                    frame = q[0]
                    try:
                        sock.send(self._head + _LEN_PACK(len(frame)) + frame, _NOBLOCK)
                    except transport.Again:
                        break
                    q.popleft()
                    self.backlog_bytes -= len(frame)
                    break
                if not sock.getsockopt(_EVENTS) & _POLLOUT:  # type: ignore[operator]  # EVENTS is an int option
                    break       # peer slow or gone: don't pack a batch only to get Again
                frames = _take(q, n)
                try:
                    sock.send(wire.pack_from(self._head, frames), _NOBLOCK)
                except transport.Again:
                    break
                sent = 0
                for _ in range(len(frames)):
                    sent += len(q.popleft())
                self.backlog_bytes -= sent
            if not q:
                del backlog[serial]
        return bool(backlog)

    def close(self) -> None:
        for sock in self.peers.values():
            sock.close()
        self.inbox.close(linger=0)


def _take(q: deque[bytes], n: int) -> list[bytes]:
    """The first frames of ``q`` that fit in one batch: at most BATCH_FRAMES of them and
    BATCH_BYTES together, but always at least one."""
    first = q[0]
    size = len(first)
    if n == 1 or size >= BATCH_BYTES:
        return [first]
    out = [first]
    for i in range(1, min(n, BATCH_FRAMES)):
        f = q[i]
        size += len(f)
        if size > BATCH_BYTES:
            break
        out.append(f)
    return out
