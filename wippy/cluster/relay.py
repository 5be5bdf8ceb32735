"""What a node does to the frames it relays between its hosts and other nodes (S12): pure
logic, no sockets (those are :mod:`.peers`).

PIDs name their node only when they leave it. A frame a host addresses to
``{n2@app:processes/3|17}`` reaches this node (such PIDs route to serial 0, see
:mod:`wippy.core.pid`); on the way out the node qualifies the PID that the frame carries
about its sender (``{app:w/2|5}`` becomes ``{n1@app:w/2|5}``), and on the way in the peer
strips its own name off both. Workflow PIDs (``{wf/0|ID}``) are the same on every node and
stay as they are.

Relayed: messages, monitors, links, exits, link downs, terminate, cancel and spawns (of
registry entries, with plain arguments and the spawner's security context as data; the
receiving node places them, :mod:`.children`). Not relayed: shipped code, and the frames of a
workflow signal under a security context (a message to a workflow on another node goes
through the journal instead).

The book of cross-node monitors and links (:class:`Watches`) lets the node tell the watchers
on its side when another node dies: each gets EXIT (a monitor) or LINK_DOWN (a link) from
the remote PID with the error kind ``NODE_DOWN`` and a message naming the node.
"""
from __future__ import annotations

from typing import Any

from ..core import wire
from ..core.pid import is_pid
from ..core.protocol import LINK as _LINKED, MONITOR as _MONITORED

__all__ = ["RELAYED", "node_of", "qualify", "localize", "outbound", "inbound", "Watches",
           "down_error"]

Op = wire.Op
RELAYED = frozenset({Op.MSG, Op.MONITOR, Op.UNMONITOR, Op.LINK, Op.UNLINK, Op.EXIT,
                     Op.LINK_DOWN, Op.TERMINATE, Op.CANCEL})
_KEEP = {Op.MSG: 5, Op.CANCEL: 4}     # items kept (a name and a security context stay home)
_WF = "{wf/"


def node_of(pid: str) -> str:
    """The node a qualified PID names ('' for a local one)."""
    head = pid[1:].partition("|")[0]
    node, at, _ = head.partition("@")
    return node if at else ""


def qualify(pid: Any, me: str) -> Any:
    """``pid`` as other nodes must see it: with this node's name (other values unchanged)."""
    if type(pid) is not str or not is_pid(pid) or pid.startswith(_WF) or node_of(pid):
        return pid
    return "{" + me + "@" + pid[1:]


def localize(pid: Any, me: str) -> Any:
    """``pid`` as this node's hosts see it: without this node's name."""
    if type(pid) is str and pid.startswith("{" + me + "@"):
        return "{" + pid[len(me) + 2:]
    return pid


def outbound(frame: tuple, me: str) -> list[Any]:
    """A host's frame for another node, as plain data: the sender's PID qualified."""
    n = _KEEP.get(frame[0])
    out = list(frame[:n + 1] if n is not None else frame)
    if frame[0] == Op.MSG:
        out[5] = None               # a name resolves on the sending node only
    out[2] = qualify(out[2], me)
    return out


def inbound(frame: Any, me: str) -> tuple | None:
    """A frame from another node, checked and made local; None when it is not one we take
    (an unknown op, a destination that is not a PID of this node)."""
    if type(frame) is not list or len(frame) < 3:
        return None
    if frame[0] == Op.SPAWN:
        return _spawn_in(frame, me)
    if frame[0] not in RELAYED:
        return None
    dest = frame[1]
    if type(dest) is not str or not dest.startswith("{" + me + "@"):
        return None
    sender = frame[2]
    if sender is not None and (type(sender) is not str or not is_pid(sender)):
        return None
    if frame[0] == Op.MSG and (len(frame) != 6 or type(frame[3]) is not str):
        return None
    return (frame[0], localize(dest, me), localize(sender, me), *frame[3:])


def _spawn_in(frame: list, me: str) -> tuple | None:
    """A SPAWN from another node: (SPAWN, PID, spawner, entry, args, flags, None[, context]),
    the PID one the spawner named (``{me@host/0|~...}``), no code."""
    dest, sender = frame[1], frame[2]
    if len(frame) not in (7, 8) or type(dest) is not str or not dest.startswith("{" + me + "@") \
            or "/0|~" not in dest or type(frame[3]) is not str or type(frame[4]) is not list \
            or type(frame[5]) is not int or frame[6] is not None \
            or (len(frame) == 8 and type(frame[7]) is not list) \
            or (sender is not None and (type(sender) is not str or not is_pid(sender))):
        return None
    return (Op.SPAWN, localize(dest, me), localize(sender, me), *frame[3:])


def down_error(node: str, why: str) -> dict[str, str]:
    """The error watchers of a dead node's processes get."""
    return {"kind": "NODE_DOWN", "message": f"node {node} is down: {why}"}


class Watches:
    """Cross-node monitors and links, by remote node: (remote PID, local PID, op) where op is
    MONITOR (the local one watches) or LINK (they are linked, either side asked)."""

    def __init__(self) -> None:
        self.by_node: dict[str, set[tuple[str, str, int]]] = {}

    def seen_out(self, node: str, frame: tuple) -> None:
        """A host's frame going to ``node``: ``frame[1]`` remote, ``frame[2]`` local."""
        op, remote, local = frame[0], frame[1], frame[2]
        if type(local) is not str:
            return
        book = self.by_node.setdefault(node, set())
        if op == Op.MONITOR:
            book.add((remote, local, Op.MONITOR))
        elif op == Op.UNMONITOR:
            book.discard((remote, local, Op.MONITOR))
        elif op == Op.LINK:
            book.add((remote, local, Op.LINK))
        elif op in (Op.UNLINK, Op.LINK_DOWN):
            book.discard((remote, local, Op.LINK))
        elif op == Op.SPAWN:        # spawn_monitored / spawn_linked of a remote child
            if frame[5] & _MONITORED:
                book.add((remote, local, Op.MONITOR))
            if frame[5] & _LINKED:
                book.add((remote, local, Op.LINK))

    def seen_in(self, node: str, frame: tuple) -> None:
        """A localized frame from ``node``: ``frame[1]`` local, ``frame[2]`` remote."""
        op, local, remote = frame[0], frame[1], frame[2]
        if type(remote) is not str:
            return
        book = self.by_node.setdefault(node, set())
        if op == Op.LINK:
            book.add((remote, local, Op.LINK))
        elif op in (Op.UNLINK, Op.LINK_DOWN):
            book.discard((remote, local, Op.LINK))
        elif op == Op.EXIT:
            book.discard((remote, local, Op.MONITOR))
            book.discard((remote, local, Op.LINK))
        elif op == Op.SPAWN and frame[5] & _LINKED:    # a child here linked to its spawner
            book.add((remote, local, Op.LINK))

    def down(self, node: str, why: str) -> list[tuple]:
        """The frames (local PIDs as destinations) that tell every watcher here that
        ``node`` died; forgets them."""
        err = down_error(node, why)
        out: list[tuple] = []
        for remote, local, op in sorted(self.by_node.pop(node, ())):
            if op == Op.MONITOR:
                out.append((Op.EXIT, local, remote, None, err))
            else:
                out.append((Op.LINK_DOWN, local, remote, err))
        return out
