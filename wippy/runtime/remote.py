"""Spawning on another node's host, and calling a function there (S12): the spawner's side.

``process.spawn(entry, "n2@app:procs", ...)`` starts ``entry`` on host ``app:procs`` of node
``n2``; ``funcs.call("n2@app:fn", ...)`` runs function ``app:fn`` on node ``n2`` (on the
host of the same id as the caller's) and waits for its result. Both return or wait at once,
on the spawner's OS process, as a local spawn does (S4: a PID is addressable when ``spawn``
returns).

The PID is ``{n2@app:procs/0|~TOKEN-N}``: this OS process names the child before node ``n2``
has chosen the OS process that runs it. ``~TOKEN-N`` is unique without asking anyone (TOKEN:
random, drawn once per OS process; N: its spawn counter), serial 0 routes it to ``n2``'s
node, which picks the least loaded OS process of the host when the SPAWN arrives and hands it
every frame for that id from then on (:mod:`wippy.cluster.children`). On ``n2`` the child's
PID is ``{app:procs/0|~TOKEN-N}``; its own frames go straight to their destinations.

Rejected: the remote node publishing its hosts and their serials (in the database, pushed to
every host of every node) so that the spawner could name the real OS process, as a local spawn
does. Messages would skip one node hop on ``n2``, but every host would have to hold a copy of
every other node's topology, and a spawn on a stale copy (a restarted host) would fail
although the host is up. Messages from other nodes pass ``n2``'s node anyway; only processes
on ``n2`` itself pay a hop to reach a child spawned from elsewhere.

No code crosses nodes (S12): shipped code (a cloudpickled function) is refused at the spawn;
arguments, results and errors are plain data. The spawner's node checks the security policy
(``process.spawn``/``process.host``, ``funcs.call``) under the spawner's actor; the child runs
under the spawner's context, carried as data in the SPAWN frame, narrowed on ``n2`` by the
author of the entry it runs, as on one node.
"""
from __future__ import annotations

import os
from typing import Any

from ..core import wire
from ..core.protocol import MONITOR
from ..errors import InvalidMessage, exit_error
from . import contexts as _contexts
from . import scheduler as _sched

__all__ = ["split_host", "own_node", "token", "qualified", "alias", "refuse_code", "named", "call", "MARK"]

MARK = "~"      # the first character of the local id of a child spawned from another node


def split_host(host_id: str) -> tuple[str, str] | None:
    """``("n2", "app:procs")`` for ``"n2@app:procs"``; None for a host without a node. Raises
    InvalidMessage for a malformed one (``"@app:procs"``, ``"n2@"``)."""
    if "@" not in host_id:
        return None
    node, _, host = host_id.partition("@")
    if not node or not host or "@" in host or any(c in host_id for c in "{}|/"):
        raise InvalidMessage(f"host '{host_id}' is not 'node@namespace:name'")
    return node, host


def own_node() -> str | None:
    """This node's name in its cluster (the node names it to its hosts in ``WIPPY_NODE``): a
    host named with it is a host of this node."""
    return os.environ.get("WIPPY_NODE") or None


def token(serial: int) -> str:
    """The prefix of the local ids an OS process gives its children on other nodes: random,
    drawn once per OS process (after the fork: hosts forked from one zygote differ)."""
    return f"{MARK}{os.urandom(4).hex()}{serial}-"


def qualified(node: str, host_id: str, local: str) -> str:
    """The PID of a child on ``node``'s host ``host_id`` as its spawner's node names it."""
    return "{" + node + "@" + host_id + "/0|" + local + "}"


def alias(rt: Any) -> str:
    """A new local id for a child on another node (``~TOKEN-N``): unique without asking."""
    tok = getattr(rt, "_remote_token", None)
    if tok is None:
        tok = rt._remote_token = token(rt.serial)
    rt.counter += 1
    return f"{tok}{rt.counter}"


def refuse_code(entry_id: str, host_id: str) -> InvalidMessage:
    """The error of a spawn of shipped code on another node."""
    return InvalidMessage(f"spawn of {entry_id} on {host_id}: shipped code (a Python function) "
                          "does not cross nodes; spawn a registry entry there instead")


def named(error: dict[str, Any], what: str, node: str) -> dict[str, Any]:
    """A wire error from node ``node`` about ``what``, its message naming the node."""
    message = str(error.get("message", ""))
    if f"node {node}" in message:
        return error
    return {**error, "message": f"{what} on node {node}: {message}"}


async def call(rt: Any, caller: Any, node: str, entry_id: str, args: list,
               values: dict[str, Any] | None, security: Any) -> Any:
    """Run function ``entry_id`` on node ``node`` (on the host of the caller's host id) with
    plain-data ``args`` and context ``values`` under ``security`` (a Context or None), and
    return its result; raises its error, or the node's death, as an error naming the node.
    The caller checked the policy. When the caller stops waiting (it was killed), the remote
    call is terminated."""
    # the caller's PID on this OS process (a workflow's own PID routes through the node)
    me = "{" + rt.host_id + "/" + str(rt.serial) + "|" + caller.local + "}"
    try:
        args = wire.plain(list(args))
    except InvalidMessage as exc:
        raise InvalidMessage(f"call of {entry_id} on node {node}: arguments: {exc}") from None
    if values:
        try:
            args = _contexts.carry(wire.plain(values), args)
        except InvalidMessage as exc:
            raise InvalidMessage(f"call of {entry_id} on node {node}: context values: "
                                 f"{exc}") from None
    pid = rt.spawn_on(node, rt.host_id, me, entry_id, args, MONITOR, security)
    w = rt.sched.new_wait()
    if caller.exec_waits is None:
        caller.exec_waits = {}
    caller.exec_waits[pid] = w
    done = False
    try:
        value, error = await _sched.suspend()
        done = True
    finally:
        if not done:
            caller.exec_waits.pop(pid, None)
            rt.emit_quiet(pid, (wire.Op.TERMINATE, pid, me))
    if error is not None:
        raise exit_error(named(error, f"function {entry_id}", node))
    return value

