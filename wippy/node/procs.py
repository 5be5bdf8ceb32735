"""The node as a sender on the data plane: spawning, cancelling and terminating processes,
and the EXITs and messages it hands out on behalf of workflow PIDs.

The node's own PID is ``{node/0|0}``; processes it spawns get ``0.<n>`` local ids on the host
that runs them (allocated here, so ``spawn`` returns at once, as for any spawner).
"""
from __future__ import annotations

from typing import Any

from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import MONITOR, STARTED_ACK
from ..errors import WippyError

__all__ = ["ProcessPort", "NODE_PID"]

NODE_PID = make_pid("node", 0, "0")


class ProcessPort:
    """Data-plane frames from the node to processes, through the node's :class:`Mesh`."""

    def __init__(self, mesh: Mesh) -> None:
        self._mesh = mesh
        self._spawned = 0

    def spawn(self, entry_id: str, host_id: str, args: list[Any], monitor: bool = True,
              ack: bool = False, security: Any = None) -> str:
        """Start ``entry_id`` on the least loaded ready OS process of ``host_id``; returns its
        PID at once. ``monitor``: the node gets its EXIT; ``ack``: the host says STARTED once
        it has taken its first step; ``security``: the plain form of the context it runs
        under (S9; None: the operator). Raises ProcessNotFound when the host has no ready
        worker."""
        serial = self._mesh.pick(host_id)
        self._spawned += 1
        local = f"0.{self._spawned}"
        flags = (MONITOR if monitor else 0) | (STARTED_ACK if ack else 0)
        frame: tuple = (wire.Op.SPAWN, local, NODE_PID, entry_id, wire.plain(list(args)), flags,
                        None)
        if security:
            frame += (security,)
        self._mesh.send(serial, wire.dumps(frame))
        return make_pid(host_id, serial, local)

    def terminate(self, pid: str) -> None:
        """End ``pid`` at once (its monitors see an error exit)."""
        p = parse_pid(pid)
        self._send(p.serial, (wire.Op.TERMINATE, p.local, NODE_PID))

    def cancel(self, pid: str, reason: str) -> None:
        """Deliver CANCEL (a shutdown) to ``pid``."""
        p = parse_pid(pid)
        self._send(p.serial, (wire.Op.CANCEL, p.local, NODE_PID, reason, True))

    def send_exit(self, watcher: str, pid: str, value: Any, error: dict[str, Any] | None) -> None:
        """Tell ``watcher`` that ``pid`` ended (the node answers for workflow PIDs)."""
        w = parse_pid(watcher)
        self._send(w.serial, (wire.Op.EXIT, w.local, pid, value, error))

    def deliver(self, pid: str, sender: str | None, topic: str, payload: Any) -> None:
        """Hand a message to ``pid`` as if ``sender`` had sent it."""
        p = parse_pid(pid)
        self._send(p.serial, (wire.Op.MSG, p.local, sender, topic, payload, None))

    def _send(self, serial: int, frame: tuple) -> None:
        try:
            self._mesh.send(serial, wire.dumps(frame))
        except WippyError:
            pass   # its OS process is gone: the watchers hear of it from the host's death
