"""Process identifiers.

A PID is an opaque string in Wippy's shape, ``{host|id}``; ours is ``{app:processes/3|17}``:
the host entry id, the serial number of the OS process inside the node, and a local id. The
serial routes a message with no lookup (the OS process's inbox is ``<rundir>/<serial>``), and
serials are never reused while a node runs, so a restarted host gets new PIDs.

A PID that leaves its node names it (S12): ``{n2@app:processes/3|17}`` is process ``17`` of
OS process 3 on node ``n2``. Inside a node such a PID routes to the node itself (serial 0),
with the whole PID as its local id: the node relays it to ``n2`` (:mod:`wippy.cluster.peers`).
Local PIDs stay as they were.

A process another node spawned here has serial 0 and a local id starting ``~``
(``{app:processes/0|~1f2e3d4c5-17}``): its spawner named it before this node chose the OS
process that runs it, so it too routes to the node, with the whole PID as its local id, and the
node hands it on (:mod:`wippy.cluster.children`).

Local ids are allocated by whoever spawns: a process spawned by its own host gets a plain counter
(``17``); one spawned from another OS process gets ``<spawner serial>.<counter>`` so the spawner
can hand the PID out before the spawn request arrives (S4: a PID is addressable at once).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

__all__ = ["Pid", "parse_pid", "make_pid", "is_pid"]


class Pid(NamedTuple):
    host: str
    serial: int
    local: str


def make_pid(host: str, serial: int, local: str | int) -> str:
    return f"{{{host}/{serial}|{local}}}"


def is_pid(value: object) -> bool:
    return isinstance(value, str) and len(value) > 4 and value[0] == "{" and value[-1] == "}" and "|" in value


@lru_cache(maxsize=65536)
def parse_pid(pid: str) -> Pid:
    """Split a PID; raises ValueError for anything that is not one."""
    if not is_pid(pid):
        raise ValueError(f"not a PID: {pid!r}")
    head, _, local = pid[1:-1].rpartition("|")
    if "@" in head:         # another node's: the node relays it
        node, _, rest = head.partition("@")
        if not node or "/" not in rest:
            raise ValueError(f"not a PID: {pid!r}")
        return Pid(head, 0, pid)
    host, slash, serial = head.rpartition("/")
    if not slash or not serial.isdigit() or not local:
        raise ValueError(f"not a PID: {pid!r}")
    if local[0] == "~" and serial == "0":   # spawned here from another node: the node knows where
        return Pid(host, 0, pid)
    return Pid(host, int(serial), local)
