"""Starting processes, for one OS process's runtime (its ``spawner``): the spawner's side of a
spawn (checks, the PID, the SPAWN frame) and the creating side (:meth:`Spawner.create`).

A spawn returns the child's PID at once (S4: it is addressable when ``spawn`` returns). On this
OS process the child is created before ``spawn`` returns; on another, the PID is chosen here
(``spawner.counter``) and the SPAWN frame follows, ahead of anything the spawner sends to it;
on another node the PID routes through the node (:mod:`.remote`); a workflow entry starts a
durable workflow, owned by the node. What a child runs comes from the host's table of runners
(:mod:`.codeload`); it acts under its spawner's context, narrowed by the author of its entry.

This is a part of the table (:class:`~wippy.runtime.table.Runtime`) of its own because it is
the one place that turns an entry into a running process, and none of it is on the path of a
message. The table binds :meth:`Spawner.spawn` and :meth:`Spawner.create` as its own ``spawn``
and ``create``, so a spawn costs no call more than it did inside the table.

Rejected: a mixin class of the table, as for :mod:`.watches`; :class:`Table` names what this
part uses of the runtime that owns it.
"""
from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Mapping, Protocol

from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import LINK, MONITOR, STARTED_ACK
from ..errors import InvalidMessage
from ..security import context as _security
from . import codeload
from . import contexts as _contexts
from . import remote as _remote
from .credits import Credits
from .early import EarlyFrames
from .guard import Guard
from .proc import Process
from .scheduler import Scheduler
from .watches import Watches

__all__ = ["Spawner", "Table", "SPAWN", "EXEC"]

_Op = wire.Op
_INHERIT: Any = object()  # spawn: the child acts as the spawner does
SPAWN, EXEC = "process.spawn", "process.exec"


class Table(Protocol):
    """What :class:`Spawner` uses of the runtime that owns it."""

    mesh: Mesh
    sched: Scheduler
    serial: int
    host_id: str
    procs: dict[str, Process]
    store: Any
    runners: Mapping[str, codeload.Runner]
    guard: Guard
    credits: Credits
    early: EarlyFrames
    counter: int                     # the last local id handed out (shared with funcs, remote)
    spawns: int                      # counted here, reported by the host
    ctl_notify: Callable[..., None]

    def replay(self, frames: list[tuple[tuple, int]]) -> None: ...


class Spawner:
    """Spawn and create of the processes of one runtime; ``watches`` records what a spawner
    monitors or links."""

    def __init__(self, rt: Table, watches: Watches) -> None:
        self._rt = rt
        self._watches = watches
        self._mesh = rt.mesh
        self._sched = rt.sched
        self._serial = rt.serial
        self._procs = rt.procs
        self._guard = rt.guard
        self._credits = rt.credits
        self._early = rt.early

    def spawn(self, spawner: str | None, entry_id: str, host_id: str, args: tuple | list,
              flags: int = 0, code: bytes | None = None, *, action: str = SPAWN,
              security: Any = _INHERIT) -> str:
        """Start ``entry_id`` (or shipped ``code``) on ``host_id``; returns its PID at once.
        ``action``: what the caller is checked for (``process.spawn`` or ``process.exec``, with
        ``process.host`` on the host). The child acts as the caller does, unless ``security``
        gives it another context (a Context or None), which needs ``process.security``."""
        remote = _remote.split_host(host_id)     # "n2@app:procs": a host of node n2
        if remote is not None and remote[0] == _remote.own_node():
            host_id, remote = remote[1], None       # this node's own name: a local spawn
        ctx = self._guard.security()
        if ctx is not None:     # a host's policy names its id, whichever node runs it
            self._check_spawn(ctx, action, entry_id, host_id if remote is None else remote[1],
                              flags)
        if security is not _INHERIT:
            if ctx is not None:
                ctx.check("process.security", "security")
            ctx = security
        if remote is not None and code is not None:
            raise _remote.refuse_code(entry_id, host_id)
        try:
            plain_args: list = wire.plain(list(args))
        except InvalidMessage as exc:
            raise InvalidMessage(f"spawn of {entry_id} on {host_id}: arguments: {exc}") from None
        if code is None and codeload.kind_of(self._rt.store, entry_id) in codeload.WORKFLOW_KINDS:
            if ctx is not None:
                ctx.check("workflow.start", entry_id)
            return self._spawn_workflow(spawner, entry_id, plain_args, flags, ctx)
        if remote is not None:
            return self.spawn_on(remote[0], remote[1], spawner, entry_id, plain_args, flags, ctx)
        rt = self._rt
        serial = self._mesh.pick(host_id)
        rt.counter += 1
        if serial == self._serial:
            local = str(rt.counter)
            pid = make_pid(host_id, serial, local)
        else:
            local = f"{self._serial}.{rt.counter}"
            pid = make_pid(host_id, serial, local)
        if spawner is not None and flags:
            sp = parse_pid(spawner)
            caller = self._procs.get(sp.local) if sp.serial == self._serial else None
            if caller is not None:
                self._watches.watch(caller, pid, flags, serial)
        if serial == self._serial:
            self.create(local, pid, spawner, entry_id, plain_args, flags, code, ctx)
        elif ctx is None:
            self._mesh.send(serial, wire.dumps((_Op.SPAWN, local, spawner, entry_id, plain_args, flags, code)))
        else:
            self._mesh.send(serial, wire.dumps((_Op.SPAWN, local, spawner, entry_id, plain_args,
                                                flags, code, ctx.wire)))
        return pid

    def spawn_on(self, node: str, host_id: str, spawner: str | None, entry_id: str,
                 args: list, flags: int, ctx: _security.Context | None) -> str:
        """Start ``entry_id`` on host ``host_id`` of node ``node`` with plain ``args`` under
        ``ctx`` (already checked); returns its PID at once (:mod:`.remote`). The SPAWN goes to
        this node, which relays it."""
        pid = _remote.qualified(node, host_id, _remote.alias(self._rt))
        if spawner is not None and flags:
            sp = parse_pid(spawner)
            caller = self._procs.get(sp.local) if sp.serial == self._serial else None
            if caller is not None:
                self._watches.watch(caller, pid, flags, 0)
        frame: tuple = (_Op.SPAWN, pid, spawner, entry_id, args, flags, None)
        if ctx is not None:
            frame += (ctx.wire,)
        self._mesh.send(0, wire.dumps(frame))
        return pid

    @staticmethod
    def _check_spawn(ctx: _security.Context, action: str, entry_id: str, host_id: str,
                     flags: int) -> None:
        """Wippy's checks of a spawn: the action on the entry, ``process.host`` on the host,
        and ``process.spawn.monitored`` / ``.linked`` for those variants."""
        ctx.check(action, entry_id)
        ctx.check("process.host", host_id)
        if action == SPAWN and flags:
            if flags & MONITOR:
                ctx.check("process.spawn.monitored", entry_id)
            if flags & LINK:
                ctx.check("process.spawn.linked", entry_id)

    def _spawn_workflow(self, spawner: str | None, entry_id: str, args: list, flags: int,
                        ctx: _security.Context | None = None) -> str:
        """``spawn`` of a workflow entry starts a durable workflow: the node owns it (its PID
        routes to the node), so the SPAWN goes there, on the data plane, ahead of anything
        this process sends to the new PID. Its input is the one argument (or the list)."""
        wf_id = os.urandom(6).hex()
        pid = make_pid("wf", 0, wf_id)
        if spawner is not None and flags & MONITOR:
            sp = parse_pid(spawner)
            caller = self._procs.get(sp.local) if sp.serial == self._serial else None
            if caller is not None:
                if caller.watching is None:
                    caller.watching = set()
                caller.watching.add(pid)
        frame: tuple = (_Op.SPAWN, wf_id, spawner, entry_id, args, flags, None)
        if ctx is not None:
            frame += (ctx.wire,)       # the workflow runs under it, resumed or not
        self._mesh.send(0, wire.dumps(frame))
        return pid

    def on_spawn(self, f: tuple) -> None:
        """A SPAWN frame for this OS process: create the process it names."""
        # (SPAWN, local, spawner, entry, args, flags, code[, security]): frames of spawners
        # under the operator (and of older versions) have no security item
        _, local, spawner, entry_id, args, flags, code = f[:7]
        serial = self._serial
        if local[0] == _remote.MARK:    # spawned from another node: its PID routes to the node
            serial = 0
        else:
            self._early.spawned(local)
        refused: BaseException | None = None
        try:
            ctx = _security.from_wire(f[7]) if len(f) > 7 else None
        except ValueError as exc:      # never run it unchecked: it fails on its first step
            ctx, refused = None, InvalidMessage(f"spawn of {entry_id} refused: {exc}")
        self.create(local, make_pid(self._rt.host_id, serial, local), spawner, entry_id, args,
                    flags, code, ctx, refused)

    def create(self, local: str, pid: str, spawner: str | None, entry_id: str, args: list,
               flags: int, code: bytes | None, security: _security.Context | None = None,
               refused: BaseException | None = None) -> Process:
        """Create process ``local`` (PID ``pid``) on this OS process and start its main task;
        a bad entry (or ``refused``) is its exit reason, on its first step."""
        rt = self._rt
        proc = Process(local, pid, entry_id, self._credits.limit_of(entry_id))
        guard = self._guard
        guard.created(proc, security)
        self._procs[local] = proc
        rt.spawns += 1
        if spawner is not None:
            if flags & MONITOR:
                proc.add_monitor(spawner)
            if flags & LINK:
                proc.add_link(spawner)
        args, values = _contexts.take(args)     # a spawner's context values (runtime/contexts)
        if values:
            _contexts.bind(pid, values)
        try:
            if refused is not None:
                raise refused
            fn, is_coro = codeload.resolve(rt.store, entry_id, code, rt.runners)
            if code is None:        # code an agent wrote runs with no more than its authority
                author = codeload.author_of(rt.store, entry_id)
                if author is not None:
                    guard.created(proc, _security.narrowed(security, author))
            coro = fn(*args) if is_coro else _call_sync(fn, args)
        except BaseException as exc:  # noqa: BLE001 - a bad entry is this process's exit reason
            coro = _fail(exc)   # exit on its first step, not inside spawn: an exec waiting on
                                # this PID must be registered before the EXIT is sent
        proc.main = self._sched.start(coro, proc, self._watches.task_done)
        if flags & STARTED_ACK:
            self._sched.start(self._ack_started(pid), None, None)   # runs right after main's step
        early = self._early.claim(local)
        if early:
            rt.replay(early)
        return proc

    def adopt_pid(self, proc: Process, pid: str) -> None:
        """A workflow process takes its workflow's stable PID (routed through the node): what
        it sends carries that PID, so replies are journaled as signals."""
        values = _contexts.of(proc.pid)
        if values is not None:
            _contexts.bind(proc.pid, None)
            _contexts.bind(pid, values)
        proc.pid = pid

    async def _ack_started(self, pid: str) -> None:
        self._rt.ctl_notify("started", pid)


async def _fail(exc: BaseException) -> Any:
    raise exc


async def _call_sync(fn: Callable[..., Any], args: list) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
