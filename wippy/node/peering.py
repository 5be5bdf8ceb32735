"""The node's side of messages between nodes (S12): its peer socket, made before it joins
its cluster (the endpoint and key go into its row), and the hook through which frames that
its hosts address to other nodes' PIDs (and to children other nodes spawned here) reach
:class:`~wippy.cluster.peers.Peers`."""
from __future__ import annotations

import os
from typing import Any, Callable

from ..cluster.peers import DEFAULT_LISTEN, Peers
from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import parse_pid
from ..core.protocol import LINK, MONITOR
from ..errors import WippyError
from .options import NodeOptions

__all__ = ["make_peers", "for_peers", "refuse_outside_cluster", "LISTEN_ENV"]

LISTEN_ENV = "WIPPY_LISTEN"


def make_peers(opts: NodeOptions, name: str, ctx: Any, data_dir: str, mesh: Mesh,
               call_later: Callable[..., Any],
               entry_known: Callable[[str], bool] | None = None) -> Peers | None:
    """The peer socket of a node in a cluster (None outside one); raises ClusterError when
    ``--listen`` is malformed or cannot be bound. ``entry_known(id)``: whether the node's
    registry has an entry (a spawn from another node of one it has not is refused)."""
    if not opts.cluster:
        return None
    listen = opts.listen or os.environ.get(LISTEN_ENV) or DEFAULT_LISTEN
    return Peers(ctx, name, data_dir, listen, mesh, call_later, entry_known=entry_known)


def refuse_outside_cluster(frame: tuple, mesh: Mesh) -> None:
    """A spawn on another node's host (``n2@app:procs``) by a node outside a cluster: its
    monitoring or linked spawner is told at once (nobody else can be)."""
    _, pid, spawner, entry_id, _args, flags = frame[:6]
    if spawner is None:
        return
    err = {"kind": "NOT_FOUND", "message": f"spawn of {entry_id} on {pid}: this node is not in "
                                           "a cluster (--cluster)"}
    w = parse_pid(spawner)
    try:
        if flags & MONITOR:
            mesh.send(w.serial, wire.dumps((wire.Op.EXIT, w.local, pid, None, err)))
        if flags & LINK:
            mesh.send(w.serial, wire.dumps((wire.Op.LINK_DOWN, w.local, pid, err)))
    except WippyError:
        pass        # the spawner's OS process is gone


def for_peers(frame: tuple) -> bool:
    """Whether a frame in the node's inbox is addressed to another node's PID (its local id
    is then the whole PID, see :mod:`wippy.core.pid`)."""
    dest = frame[1] if len(frame) > 1 else None
    return type(dest) is str and dest[:1] == "{"
