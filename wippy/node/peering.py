"""The node's side of messages between nodes (S12): its peer socket, made before it joins
its cluster (the endpoint and key go into its row), and the hook through which frames that
its hosts address to other nodes' PIDs reach :class:`~wippy.cluster.peers.Peers`."""
from __future__ import annotations

import os
from typing import Any, Callable

from ..cluster.peers import DEFAULT_LISTEN, Peers
from ..core.mesh import Mesh
from .options import NodeOptions

__all__ = ["make_peers", "for_peers", "LISTEN_ENV"]

LISTEN_ENV = "WIPPY_LISTEN"


def make_peers(opts: NodeOptions, name: str, ctx: Any, data_dir: str, mesh: Mesh,
               call_later: Callable[..., Any]) -> Peers | None:
    """The peer socket of a node in a cluster (None outside one); raises ClusterError when
    ``--listen`` is malformed or cannot be bound."""
    if not opts.cluster:
        return None
    listen = opts.listen or os.environ.get(LISTEN_ENV) or DEFAULT_LISTEN
    return Peers(ctx, name, data_dir, listen, mesh, call_later)


def for_peers(frame: tuple) -> bool:
    """Whether a frame in the node's inbox is addressed to another node's PID (its local id
    is then the whole PID, see :mod:`wippy.core.pid`)."""
    dest = frame[1] if len(frame) > 1 else None
    return type(dest) is str and dest[:1] == "{"
