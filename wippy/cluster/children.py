"""Processes that other nodes spawn on this one (S12): the node's side of a remote spawn.

A spawner on another node names its child before this node has chosen where it runs
(``{app:procs/0|~TOKEN-N}``, see :mod:`wippy.runtime.remote`): such PIDs route to this node,
which, when the SPAWN arrives, picks the least loaded OS process of the host (as a local
spawn does), remembers the local id's OS process, and hands it every later frame for that id,
from another node or from a process here. The node watches each child (under
:data:`WATCHER`, a PID that routes back here) so that its exit retires the entry.

Frames that overtake their SPAWN (two senders of one node reach this node through different
paths) wait here, at most ``EARLY_KEEP_S``; whether an id is still to come is known from the
highest counter seen per spawner token, the ids of one spawner counting up.

A spawn this node cannot place (an unknown host or entry, a host with no running OS process)
is answered to a monitoring or linked spawner with EXIT or LINK_DOWN naming this node; an
unwatched one is logged. Every frame for a child passes this node, so it knows who monitors or
links to it (the spawner, and whoever asked later); when an OS process here dies, they get
EXIT / LINK_DOWN ``HOST_DOWN`` from here. (A link the child asked for itself is not seen:
its peer hears of the host's death only if it is on this node.)
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable

from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import parse_pid
from ..core.protocol import LINK, MONITOR
from ..errors import WippyError

__all__ = ["Children", "WATCHER", "EARLY_KEEP_S"]

log = logging.getLogger("wippy.cluster")

Op = wire.Op
WATCHER = "{node/0|~}"      # the node's monitor of each child: routes back here
EARLY_KEEP_S = 30.0         # how long frames wait for a SPAWN that has not arrived
EARLY_MAX = 10_000          # frames kept for ids not spawned yet, at most (then dropped)
TOKENS_KEPT = 10_000        # spawner tokens whose highest counter is remembered
_WATCH = {Op.MONITOR: MONITOR, Op.UNMONITOR: MONITOR, Op.LINK: LINK, Op.UNLINK: LINK,
          Op.LINK_DOWN: LINK}


class _Child:
    __slots__ = ("serial", "pid", "watchers")

    def __init__(self, serial: int, pid: str, spawner: str | None, flags: int) -> None:
        self.serial, self.pid = serial, pid
        # (PID, MONITOR or LINK): who hears of its OS process's death from this node
        self.watchers: set[tuple[str, int]] = set() if spawner is None else \
            {(spawner, k) for k in (MONITOR, LINK) if flags & k}


class Children:
    """Where each process spawned here from another node runs (see the module docstring).
    ``answer(frame)`` sends a frame to ``frame[1]``, a PID of any node; ``entry_known(id)``
    says whether this node's registry has an entry."""

    def __init__(self, me: str, mesh: Mesh, call_later: Callable[..., Any],
                 answer: Callable[[tuple], None],
                 entry_known: Callable[[str], bool] | None = None) -> None:
        self.me = me
        self._mesh = mesh
        self._call_later = call_later
        self._answer = answer
        self._entry_known = entry_known
        self.where: dict[str, _Child] = {}                    # local id -> child
        self.hwm: OrderedDict[str, int] = OrderedDict()       # spawner token -> highest counter
        self.early: dict[str, list[tuple]] = {}
        self.kept = 0
        self.spawned = self.refused = 0

    # -- spawn ---------------------------------------------------------------------------
    def spawn(self, frame: tuple) -> None:
        """A SPAWN (checked by :func:`.relay.inbound`): place it, or answer why not."""
        pid, spawner, entry_id, args, flags = frame[1], frame[2], frame[3], frame[4], frame[5]
        p = parse_pid(pid)
        local = pid[pid.rindex("|") + 1:-1]
        if local in self.where or not self._note(local):
            log.warning("dropped a SPAWN of %s: a second one, or not an id a spawner makes", pid)
            return
        why = None
        if self._entry_known is not None and not self._entry_known(entry_id):
            why = f"entry {entry_id} not found in the registry"
        else:
            try:
                serial = self._mesh.pick(p.host)
            except WippyError as exc:
                why = str(exc)
        if why is not None:
            self.refused += 1
            error = {"kind": "NOT_FOUND",
                     "message": f"spawn of {entry_id} on node {self.me}: {why}"}
            if spawner is None or not flags & (MONITOR | LINK):
                log.warning("%s (spawned by %s, who does not watch it)", error["message"], spawner)
            self._tell(spawner, flags, pid, error)
            self._drop_early(local)
            return
        self.where[local] = _Child(serial, pid, spawner, flags)
        self.spawned += 1
        out = (Op.SPAWN, local, *frame[2:])
        try:
            self._mesh.send(serial, wire.dumps(out))
            self._mesh.send(serial, wire.dumps((Op.MONITOR, local, WATCHER)))
        except WippyError as exc:
            self._gone_host(local, str(exc))
            return
        for f in self.early.pop(local, ()):
            self.kept -= 1
            self.route(f)

    def _tell(self, spawner: str | None, flags: int, pid: str, error: dict[str, Any]) -> None:
        if spawner is None:
            return
        if flags & MONITOR:
            self._answer((Op.EXIT, spawner, pid, None, error))
        if flags & LINK:
            self._answer((Op.LINK_DOWN, spawner, pid, error))

    # -- frames for a child ---------------------------------------------------------------
    def route(self, frame: tuple) -> None:
        """A frame whose ``frame[1]`` is a child's PID (``{host/0|~...}``, local form)."""
        pid = frame[1]
        if pid == WATCHER:
            if frame[0] == Op.EXIT and type(frame[2]) is str:
                self.where.pop(frame[2][frame[2].rfind("|") + 1:-1], None)   # it ended
            return
        local = pid[pid.rfind("|") + 1:-1]
        child = self.where.get(local)
        if child is not None:
            op, watcher = frame[0], frame[2]
            if op in _WATCH and type(watcher) is str:
                if op == Op.MONITOR or op == Op.LINK:
                    child.watchers.add((watcher, _WATCH[op]))
                else:
                    child.watchers.discard((watcher, _WATCH[op]))
            try:
                self._mesh.send(child.serial, wire.dumps((frame[0], local, *frame[2:])))
            except WippyError:
                self._gone_host(local, "its OS process is down")
                self._not_found(frame)
            return
        if self._to_come(local):
            if self.kept >= EARLY_MAX:
                log.warning("dropped a frame for %s: too many wait for their SPAWN", pid)
                return
            if local not in self.early:
                self.early[local] = []
                self._call_later(EARLY_KEEP_S, self._drop_early, local)
            self.early[local].append(frame)
            self.kept += 1
            return
        self._not_found(frame)

    def _not_found(self, frame: tuple) -> None:
        """A monitor or link of a child that is not there: answered at once (noproc)."""
        op, pid, watcher = frame[0], frame[1], frame[2]
        if op not in (Op.MONITOR, Op.LINK) or type(watcher) is not str:
            return
        err = {"kind": "NOT_FOUND", "message": f"process {pid} not found on node {self.me}"}
        self._answer((Op.EXIT, watcher, pid, None, err) if op == Op.MONITOR else
                     (Op.LINK_DOWN, watcher, pid, err))

    def _drop_early(self, local: str) -> None:
        frames = self.early.pop(local, ())
        self.kept -= len(frames)
        for f in frames:
            self._not_found(f)

    # -- which ids are still to come ------------------------------------------------------
    @staticmethod
    def _split(local: str) -> tuple[str, int] | None:
        token, dash, n = local.rpartition("-")
        return (token, int(n)) if dash and n.isdigit() else None

    def _note(self, local: str) -> bool:
        """Record the SPAWN of ``local``; False when it is not a spawned id."""
        parts = self._split(local)
        if parts is None:
            return False
        token, n = parts
        if n > self.hwm.get(token, 0):
            self.hwm[token] = n
        self.hwm.move_to_end(token)
        if len(self.hwm) > TOKENS_KEPT:
            self.hwm.popitem(last=False)
        return True

    def _to_come(self, local: str) -> bool:
        parts = self._split(local)
        return parts is not None and parts[1] > self.hwm.get(parts[0], 0)

    # -- deaths ---------------------------------------------------------------------------
    def host_down(self, serial: int, reason: str) -> list[str]:
        """OS process ``serial`` of this node died: its children's watchers hear of it.
        Returns the PIDs of those children (their names go too: they carry serial 0, so the
        name table cannot tell by serial)."""
        gone = []
        for local in [k for k, c in self.where.items() if c.serial == serial]:
            gone.append(self.where[local].pid)
            self._gone_host(local, reason)
        return gone

    def _gone_host(self, local: str, reason: str) -> None:
        child = self.where.pop(local, None)
        if child is None:
            return
        host = parse_pid(child.pid).host
        err = {"kind": "HOST_DOWN",
               "message": f"host {host}/{child.serial} of node {self.me} died: {reason}"}
        for watcher, kind in sorted(child.watchers):
            self._tell(watcher, kind, child.pid, err)

    def info(self) -> dict[str, int]:
        """For ``wippy ps``: children here now, spawned and refused since start."""
        return {"children": len(self.where), "spawned": self.spawned, "refused": self.refused}
