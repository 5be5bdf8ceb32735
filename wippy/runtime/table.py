"""The process table of one host OS process: spawn, deliver, exit, monitors and links.

Every operation of S4 ends here, whether it came from a local process (through the public
``wippy.process`` API) or as a frame from another OS process (``dispatch``). Frames for a local
destination skip the socket; their payloads are still copied so processes never share mutable
state.

What a spawned process runs comes from the table of runners its host hands the runtime (entry
kind -> runner, see ``codeload``): the runtime itself knows neither Lua nor workflows.

Security (S9): every operation a process starts is checked here against the context the
running task acts under (the runtime's :class:`~wippy.runtime.guard.Guard`: the process's,
narrowed while it runs code an agent wrote), where the action starts. A spawned process inherits its spawner's context
(narrowed by the author of the entry it runs), carried in the SPAWN frame when it starts on
another OS process. With no context (the operator) a check costs one attribute test.

Mailboxes are bounded (:mod:`wippy.core.flow`): a local send checks the destination's room, a
remote one its window in the mesh; what processes read is credited back to the OS processes
that sent it by :attr:`Runtime.credits` (:mod:`.credits`), which also holds the senders that
wait for room (:meth:`Runtime.wait_send`).
"""
from __future__ import annotations

import inspect
import logging
import os
import traceback
from typing import Any, Callable, Mapping

from ..core import wire
from ..core.flow import full_message
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import LINK, MONITOR, STARTED_ACK
from ..errors import (
    Cancelled,
    InvalidMessage,
    LinkFailed,
    MailboxFull,
    NodeError,
    ProcessNotFound,
    Terminated,
    WippyError,
    exit_error,
    to_wire,
)
from ..registry.entry import FUNCTION_KINDS
from ..security import context as _security
from ..security.book import BOOK
from . import codeload, scheduler
from . import contexts as _contexts
from . import remote as _remote
from .guard import Guard
from .credits import Credits
from .early import EarlyFrames
from .payload import ATOMS as _ATOMS, copy as _copy, private as _private
from .proc import CANCEL, EXIT, LINK_DOWN, Event, Process, Result

__all__ = ["Runtime", "get", "MONITOR", "LINK"]

log = logging.getLogger("wippy.runtime")

_NO_ORIGIN = wire.NO_ORIGIN
_Op = wire.Op
_MSG = _Op.MSG
_plain = wire.plain
_RESERVED = wire.RESERVED_PREFIX
_dumps = wire.dumps
_WF_PREFIX = "{wf/0|"     # workflow PIDs route to the node (see node.workflows)
_INHERIT: Any = object()  # spawn: the child acts as the spawner does
SPAWN, EXEC = "process.spawn", "process.exec"


class Runtime:
    """All processes of this OS process. One per host OS process; also used by tests."""

    def __init__(self, mesh: Mesh, host_id: str, store: Any = None,
                 ctl_request: Callable[..., Any] | None = None,
                 runners: codeload.Runners | None = None) -> None:
        self.mesh = mesh
        self.serial = mesh.serial
        self.host_id = host_id
        self.prefix = make_pid(host_id, mesh.serial, "")[:-1]   # "{host/serial|": PIDs of ours
        self._plen = len(self.prefix)
        self.store = store
        # (op, *args) -> awaitable reply, from the node
        self.ctl_request: Callable[..., Any] = ctl_request if ctl_request is not None else _no_node
        # entry kind -> runner: what this host can run (the host's table; none: shipped code only)
        self.runners: Mapping[str, codeload.Runner] = runners if runners is not None else {}
        self.ctl_notify: Callable[..., None] = lambda *a: None
        self.sched = scheduler.get()
        self.procs: dict[str, Process] = {}
        self.counter = 0
        self.remote_watch: dict[str, set[tuple[str, int]]] = {}   # remote pid -> {(local, kind)}
        self.names: dict[str, str] = {}         # name -> pid (node-wide, kept by the node)
        self.subscriptions: list[Any] = []     # wippy.events.Subscription, host-local
        self.exits = 0
        self.spawns = 0
        # messages (``wippy top``'s rates): one integer increment on each path
        self.msgs_in = 0          # arrived from another OS process
        self.msgs_out = 0         # sent to another OS process
        self.msgs_local = 0       # sent and delivered within this one
        self.last_failure: str | None = None
        # who the running task acts as (S9): ``rt.security()``, ``rt.check(action, resource)``
        self.guard = guard = Guard(self.sched)
        self.security, self.check, self.caller = guard.security, guard.check, guard.caller
        self.narrow, self.act_as, self.act_as_done = guard.narrow, guard.act_as, guard.act_as_done
        if store is not None:
            BOOK.attach(store.entries, store.get)
        # flow control (core/flow.py): the origin (serial) and average frame size of the
        # zmq message being dispatched, and what this OS process owes and waits for
        self._origin = _NO_ORIGIN
        self._frame_size = 0
        self.credits = Credits(mesh, self.sched, self.prefix, self.procs,
                               store.get if store is not None else lambda eid: None, host_id)
        # frames for processes whose SPAWN is still on its way (:mod:`.early`)
        self.early = EarlyFrames(self.sched, self.credits)
        self._dispatch: dict[int, Callable[[tuple], None]] = {
            _Op.MSG: self._on_msg, _Op.SPAWN: self._on_spawn, _Op.MONITOR: self._on_monitor,
            _Op.UNMONITOR: self._on_unmonitor, _Op.LINK: self._on_link, _Op.UNLINK: self._on_unlink,
            _Op.EXIT: self._on_exit, _Op.LINK_DOWN: self._on_link_down,
            _Op.TERMINATE: self._on_terminate, _Op.CANCEL: self._on_cancel,
            _Op.CREDIT: self.credits.on_credit,
        }
        global _RUNTIME
        _RUNTIME = self

    # -- helpers -------------------------------------------------------------------------
    def current(self) -> Process:
        task = self.sched.current
        if task is None or task.proc is None:
            raise RuntimeError("this wippy call must be made from inside a wippy process")
        return task.proc

    def resolve(self, dest: str) -> str:
        """PID for a PID or a registered name; raises ProcessNotFound."""
        if dest[:1] == "{":
            return dest
        pid = self.names.get(dest)
        if pid is None:
            raise ProcessNotFound(f"no process registered as '{dest}'")
        return pid

    def emit(self, pid: str, frame: tuple) -> None:
        """Send a control frame about ``pid`` to the OS process that owns it."""
        p = parse_pid(pid)
        if p.serial == self.serial:
            self.dispatch(frame)
        else:
            self.mesh.send(p.serial, wire.dumps(frame))

    # -- messages ------------------------------------------------------------------------
    def send(self, sender: str | None, dest: str, topic: str, payload: Any) -> None:
        """Deliver or queue a message; never blocks. Raises ProcessNotFound, InvalidMessage,
        MailboxFull (the destination has no room: nothing was sent)."""
        if type(topic) is not str or topic.startswith(_RESERVED):
            wire.check_topic(topic)         # raises, naming the problem
        ctx = None
        if self.guard.secured:      # the hot path: the check's fast path inlined
            ctx = self.security()
            if ctx is not None:
                done = ctx.allowed.get("process.send")
                if done is None or dest not in done:
                    ctx.check("process.send", dest)
        name = None
        if not dest.startswith("{"):
            name = dest
            dest = self.resolve(dest)
        if ctx is not None and dest.startswith(_WF_PREFIX):   # the node checks workflow.signal
            self._signal(ctx, sender, dest, topic, payload)
            return
        copied = False
        if type(payload) not in _ATOMS:
            try:
                if dest.startswith(self.prefix):    # checked and copied in one pass
                    payload, copied = _private(payload)
                else:
                    payload = _plain(payload)
            except InvalidMessage as exc:
                raise InvalidMessage(f"send to {name or dest} (topic '{topic}'): {exc}") from None
        if dest.startswith(self.prefix):            # same OS process: no socket, still a copy
            local = dest[self._plen:-1]
            proc = self.procs.get(local)
            if proc is not None:
                if proc.delivered >= proc.full_at and not proc.has_room():
                    raise MailboxFull(full_message(dest, proc.mailbox_depth(), 0, proc.limit,
                                                   local=True))
                if proc.owed is not None:
                    self.credits.uncounted(proc)
                proc.deliver(topic, sender, payload if copied else _copy(payload))
                self.msgs_local += 1
                return
            if self.early.not_yet_created(local):
                self.early.keep(local, (_Op.MSG, local, sender, topic, payload, name))
                return
            raise ProcessNotFound(f"process {dest} not found")
        try:
            p = parse_pid(dest)
        except ValueError:
            raise ProcessNotFound(f"process {dest} not found") from None
        mesh = self.mesh
        if mesh.known_dead(dest, p.serial):
            raise ProcessNotFound(f"process {dest} not found")
        mesh.send_msg(p.serial, dest, _dumps((_MSG, p.local, sender, topic, payload, name)))
        self.msgs_out += 1

    async def wait_send(self, sender: str | None, dest: str, topic: str, payload: Any) -> None:
        """:meth:`send`, waiting while the destination's mailbox has no room (a coroutine's
        opt-in backpressure). Raises what send raises, but MailboxFull."""
        while True:
            try:
                self.send(sender, dest, topic, payload)
                return
            except MailboxFull:
                pass
            await self.credits.wait(self.resolve(dest))

    def _signal(self, ctx: _security.Context, sender: str | None, dest: str, topic: str,
                payload: Any) -> None:
        """A message from a process under ``ctx`` to a workflow: the frame carries the context,
        since only the node knows which workflow entry a PID runs (``workflow.signal``)."""
        p = parse_pid(dest)
        if type(payload) not in _ATOMS:
            payload = _plain(payload)
        self.mesh.send(p.serial, _dumps((_MSG, p.local, sender, topic, payload, None, ctx.wire)))

    def _on_msg(self, f: tuple) -> None:
        _, local, sender, topic, payload, name = f
        self.msgs_in += 1
        proc = self.procs.get(local)
        origin = self._origin
        if proc is not None:
            if origin > 0:              # counted by its sender: credited once it is read
                self.credits.arrived(proc, origin, self._frame_size)
            elif proc.owed is not None:
                self.credits.uncounted(proc)
            proc.deliver(topic, sender, payload)
            return
        if self.early.not_yet_created(local):
            self.early.keep(local, f, origin)
            return
        self.credits.dropped(origin, local)     # nobody here will read it
        if name is not None and self.names.get(name, "") not in ("", make_pid(self.host_id, self.serial, local)):
            # addressed by a name that has moved on (a restarted service): follow it
            try:
                self.send(sender, name, topic, payload)
            except WippyError:
                pass

    # -- spawn ---------------------------------------------------------------------------
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
        ctx = self.security()
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
        if code is None and codeload.kind_of(self.store, entry_id) in codeload.WORKFLOW_KINDS:
            if ctx is not None:
                ctx.check("workflow.start", entry_id)
            return self._spawn_workflow(spawner, entry_id, plain_args, flags, ctx)
        if remote is not None:
            return self.spawn_on(remote[0], remote[1], spawner, entry_id, plain_args, flags, ctx)
        serial = self.mesh.pick(host_id)
        self.counter += 1
        if serial == self.serial:
            local = str(self.counter)
            pid = make_pid(host_id, serial, local)
        else:
            local = f"{self.serial}.{self.counter}"
            pid = make_pid(host_id, serial, local)
        if spawner is not None and flags:
            sp = parse_pid(spawner)
            caller = self.procs.get(sp.local) if sp.serial == self.serial else None
            if caller is not None:
                self._watch(caller, pid, flags, serial)
        if serial == self.serial:
            self.create(local, pid, spawner, entry_id, plain_args, flags, code, ctx)
        elif ctx is None:
            self.mesh.send(serial, wire.dumps((_Op.SPAWN, local, spawner, entry_id, plain_args, flags, code)))
        else:
            self.mesh.send(serial, wire.dumps((_Op.SPAWN, local, spawner, entry_id, plain_args,
                                               flags, code, ctx.wire)))
        return pid

    def spawn_on(self, node: str, host_id: str, spawner: str | None, entry_id: str,
                 args: list, flags: int, ctx: _security.Context | None) -> str:
        """Start ``entry_id`` on host ``host_id`` of node ``node`` with plain ``args`` under
        ``ctx`` (already checked); returns its PID at once (:mod:`.remote`). The SPAWN goes to
        this node, which relays it."""
        pid = _remote.qualified(node, host_id, _remote.alias(self))
        if spawner is not None and flags:
            sp = parse_pid(spawner)
            caller = self.procs.get(sp.local) if sp.serial == self.serial else None
            if caller is not None:
                self._watch(caller, pid, flags, 0)
        frame: tuple = (_Op.SPAWN, pid, spawner, entry_id, args, flags, None)
        if ctx is not None:
            frame += (ctx.wire,)
        self.mesh.send(0, wire.dumps(frame))
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
            caller = self.procs.get(sp.local) if sp.serial == self.serial else None
            if caller is not None:
                if caller.watching is None:
                    caller.watching = set()
                caller.watching.add(pid)
        frame: tuple = (_Op.SPAWN, wf_id, spawner, entry_id, args, flags, None)
        if ctx is not None:
            frame += (ctx.wire,)       # the workflow runs under it, resumed or not
        self.mesh.send(0, wire.dumps(frame))
        return pid

    def _watch(self, caller: Process, target: str, flags: int, serial: int | None = None) -> None:
        if flags & MONITOR:
            if caller.watching is None:
                caller.watching = set()
            caller.watching.add(target)
        if flags & LINK:
            caller.add_link(target)
        if (parse_pid(target).serial if serial is None else serial) != self.serial:
            self.remote_watch.setdefault(target, set()).update(
                (caller.local, k) for k in (MONITOR, LINK) if flags & k)

    def _on_spawn(self, f: tuple) -> None:
        # (SPAWN, local, spawner, entry, args, flags, code[, security]): frames of spawners
        # under the operator (and of older versions) have no security item
        _, local, spawner, entry_id, args, flags, code = f[:7]
        serial = self.serial
        if local[0] == _remote.MARK:    # spawned from another node: its PID routes to the node
            serial = 0
        else:
            self.early.spawned(local)
        refused: BaseException | None = None
        try:
            ctx = _security.from_wire(f[7]) if len(f) > 7 else None
        except ValueError as exc:      # never run it unchecked: it fails on its first step
            ctx, refused = None, InvalidMessage(f"spawn of {entry_id} refused: {exc}")
        self.create(local, make_pid(self.host_id, serial, local), spawner, entry_id, args,
                    flags, code, ctx, refused)

    def create(self, local: str, pid: str, spawner: str | None, entry_id: str, args: list,
               flags: int, code: bytes | None, security: _security.Context | None = None,
               refused: BaseException | None = None) -> Process:
        proc = Process(local, pid, entry_id, self.credits.limit_of(entry_id))
        self.guard.created(proc, security)
        self.procs[local] = proc
        self.spawns += 1
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
            fn, is_coro = codeload.resolve(self.store, entry_id, code, self.runners)
            if code is None:        # code an agent wrote runs with no more than its authority
                author = codeload.author_of(self.store, entry_id)
                if author is not None:
                    self.guard.created(proc, _security.narrowed(security, author))
            coro = fn(*args) if is_coro else _call_sync(fn, args)
        except BaseException as exc:  # noqa: BLE001 - a bad entry is this process's exit reason
            coro = _fail(exc)   # exit on its first step, not inside spawn: an exec waiting on
                                # this PID must be registered before the EXIT is sent
        proc.main = self.sched.start(coro, proc, self._task_done)
        if flags & STARTED_ACK:
            self.sched.start(self._ack_started(pid), None, None)   # runs right after main's step
        early = self.early.claim(local)
        if early:
            outer = self._origin
            for frame, origin in early:
                self._origin = origin
                self.dispatch(frame)
            self._origin = outer
        return proc

    def function(self, entry_id: str) -> tuple[Callable[..., Any], bool]:
        """(callable, is_coroutine_function) of function entry ``entry_id`` (``funcs.call``)."""
        return codeload.resolve(self.store, entry_id, None, self.runners, FUNCTION_KINDS)

    def author(self, entry_id: str) -> _security.Context | None:
        """The context entry ``entry_id`` was written under (None: the operator's); ask after
        :meth:`function`."""
        return codeload.author_of(self.store, entry_id)

    def adopt_pid(self, proc: Process, pid: str) -> None:
        """A workflow process takes its workflow's stable PID (routed through the node): what
        it sends carries that PID, so replies are journaled as signals."""
        values = _contexts.of(proc.pid)
        if values is not None:
            _contexts.bind(proc.pid, None)
            _contexts.bind(pid, values)
        proc.pid = pid

    async def _ack_started(self, pid: str) -> None:
        self.ctl_notify("started", pid)

    def start_task(self, proc: Process, coro: Any) -> Any:
        """``coroutine.spawn``: another task of the same process, stopped when main ends."""
        task = self.sched.start(coro, proc, self._task_done)
        self.guard.inherit(self.sched.current, task)
        if proc.tasks is None:
            proc.tasks = [task]
        else:
            proc.tasks = [t for t in proc.tasks if not t.finished]
            proc.tasks.append(task)
        return task

    def _task_done(self, task: Any, value: Any, exc: BaseException | None) -> None:
        proc = task.proc
        if proc.exited:
            return
        if task is proc.main or exc is not None:
            self.exit(proc, value if task is proc.main else None, exc)

    # -- exit ----------------------------------------------------------------------------
    def exit(self, proc: Process, value: Any, exc: BaseException | None) -> None:
        """End ``proc``: stop its tasks and timers, release names, tell monitors and links."""
        if proc.exited:
            return
        proc.exited = True
        self.procs.pop(proc.local, None)
        _contexts.bind(proc.pid, None)
        self.exits += 1
        error = None
        if exc is not None:
            error = to_wire(exc)
            if not isinstance(exc, (Terminated, LinkFailed, Cancelled)):
                self.last_failure = f"{proc.pid} {proc.entry}: {error['message']}"
                if not proc.monitors:
                    tb = "".join(traceback.format_exception(exc)) if not isinstance(exc, WippyError) else ""
                    log.warning("process %s (%s) failed: %s\n%s", proc.pid, proc.entry, error["message"], tb)
        else:
            try:
                value = wire.plain(value)
            except InvalidMessage as bad:
                value, error = None, to_wire(InvalidMessage(f"result: {bad}"))
        current = self.sched.current
        if proc.tasks:
            for t in proc.tasks:
                if t is not current:
                    self.sched.kill(t)
        if proc.main is not None and proc.main is not current:
            self.sched.kill(proc.main)
        # Process.main <-> Task.proc is a reference cycle: break it, so the process is freed
        # by reference counting when its last task is done, not left to the cyclic collector
        # (which then ran every ~70 spawns and cost a third of a spawn's time, S11).
        proc.main = None
        proc.tasks = None
        if proc.timers:
            for h in proc.timers:
                h.cancel()
        self.credits.gone(proc)                # what it held counts as read
        if proc.names:
            self.ctl_notify("release", proc.pid, proc.names)
        if proc.monitors:
            for w in proc.monitors:
                local = parse_pid(w).local
                try:
                    self.emit(w, (_Op.EXIT, local, proc.pid, value, error))
                except InvalidMessage as bad:   # a result too large to travel
                    self._emit_quiet(w, (_Op.EXIT, local, proc.pid, None, to_wire(bad)))
                except WippyError:
                    pass
        if error is not None and proc.links:
            for peer in proc.links:
                self._emit_quiet(peer, (_Op.LINK_DOWN, parse_pid(peer).local, proc.pid, error))

    def _emit_quiet(self, pid: str, frame: tuple) -> None:
        try:
            self.emit(pid, frame)
        except WippyError:
            pass   # the watcher's OS process is gone; nobody is left to tell

    def _on_exit(self, f: tuple) -> None:
        _, local, from_pid, value, error = f
        if not from_pid.startswith(self.prefix):
            self.mesh.note_dead(from_pid)
            self.credits.wake(from_pid)
            watchers = self.remote_watch.get(from_pid)
            if watchers is not None:
                watchers.discard((local, MONITOR))
                if not watchers:
                    del self.remote_watch[from_pid]
        proc = self.procs.get(local)
        if proc is None:
            return
        if proc.watching:
            proc.watching.discard(from_pid)
        if proc.exec_waits:
            w = proc.exec_waits.pop(from_pid, None)
            if w is not None:
                self.sched.wake(w, (value, error))
                return
        proc.post_event(Event(EXIT, from_pid, Result(value, exit_error(error) if error else None)))

    def _on_link_down(self, f: tuple) -> None:
        _, local, from_pid, error = f
        if parse_pid(from_pid).serial != self.serial:
            self.mesh.note_dead(from_pid)
            self.credits.wake(from_pid)
        proc = self.procs.get(local)
        if proc is None or not proc.links or from_pid not in proc.links:
            return
        proc.links.discard(from_pid)
        err = exit_error(error)
        if proc.trap_links:
            proc.post_event(Event(LINK_DOWN, from_pid, Result(None, err)))
        else:
            self.kill(proc, LinkFailed(f"linked process {from_pid} failed: {err}"))

    def kill(self, proc: Process, exc: BaseException) -> None:
        task = self.sched.current
        if task is not None and task.proc is proc:
            raise exc   # a process ending itself unwinds through its own stack
        self.exit(proc, None, exc)

    # -- monitor / link / terminate / cancel ---------------------------------------------
    def monitor(self, caller: Process, dest: str, on: bool = True) -> None:
        self.check("process.monitor" if on else "process.unmonitor", dest)
        pid = self.resolve(dest)
        if on:
            self._watch(caller, pid, MONITOR)
        elif caller.watching:
            caller.watching.discard(pid)
        op = _Op.MONITOR if on else _Op.UNMONITOR
        self.emit(pid, (op, parse_pid(pid).local, caller.pid))

    def link(self, caller: Process, dest: str, on: bool = True) -> None:
        self.check("process.link" if on else "process.unlink", dest)
        pid = self.resolve(dest)
        if on:
            self._watch(caller, pid, LINK)
        elif caller.links:
            caller.links.discard(pid)
        self.emit(pid, (_Op.LINK if on else _Op.UNLINK, parse_pid(pid).local, caller.pid))

    def _gone(self, local: str, watcher: str, kind: int) -> None:
        """Monitor/link of a process that is not there: answer at once (Erlang's noproc)."""
        me = make_pid(self.host_id, 0 if local[0] == _remote.MARK else self.serial, local)
        err = {"kind": "NOT_FOUND", "message": f"process {me} not found"}
        if kind == MONITOR:
            self._emit_quiet(watcher, (_Op.EXIT, parse_pid(watcher).local, me, None, err))
        else:
            self._emit_quiet(watcher, (_Op.LINK_DOWN, parse_pid(watcher).local, me, err))

    def _on_monitor(self, f: tuple) -> None:
        _, local, watcher = f
        proc = self.procs.get(local)
        if proc is not None:
            proc.add_monitor(watcher)
        elif self.early.not_yet_created(local):
            self.early.keep(local, f)
        else:
            self._gone(local, watcher, MONITOR)

    def _on_unmonitor(self, f: tuple) -> None:
        proc = self.procs.get(f[1])
        if proc is not None and proc.monitors:
            proc.monitors.discard(f[2])

    def _on_link(self, f: tuple) -> None:
        _, local, peer = f
        proc = self.procs.get(local)
        if proc is not None:
            proc.add_link(peer)
        elif self.early.not_yet_created(local):
            self.early.keep(local, f)
        else:
            self._gone(local, peer, LINK)

    def _on_unlink(self, f: tuple) -> None:
        proc = self.procs.get(f[1])
        if proc is not None and proc.links:
            proc.links.discard(f[2])

    def terminate(self, by: str | None, dest: str) -> None:
        self.check("process.terminate", dest)
        pid = self.resolve(dest)
        p = parse_pid(pid)
        if p.serial == self.serial and p.local not in self.procs and not self.early.not_yet_created(p.local):
            raise ProcessNotFound(f"process {pid} not found")
        self.emit(pid, (_Op.TERMINATE, p.local, by))

    def _on_terminate(self, f: tuple) -> None:
        proc = self.procs.get(f[1])
        if proc is not None:
            self.kill(proc, Terminated(f"terminated by {f[2] or 'the node'}"))
        elif self.early.not_yet_created(f[1]):
            self.early.keep(f[1], f)

    def cancel(self, by: str | None, dest: str, reason: str = "") -> None:
        self.check("process.cancel", dest)
        pid = self.resolve(dest)
        p = parse_pid(pid)
        if p.serial == self.serial and p.local not in self.procs and not self.early.not_yet_created(p.local):
            raise ProcessNotFound(f"process {pid} not found")
        self.emit(pid, (_Op.CANCEL, p.local, by, str(reason)))

    def _on_cancel(self, f: tuple) -> None:
        proc = self.procs.get(f[1])
        if proc is not None:
            if len(f) > 4 and f[4] and not proc.events_requested():
                # a node shutdown: a process that never asked for events() cannot see CANCEL,
                # so waiting its stop_timeout would only delay the stop
                self.exit(proc, None, Terminated("node stopping"))
            else:
                proc.post_event(Event(CANCEL, f[2], None, f[3]))
        elif self.early.not_yet_created(f[1]):
            self.early.keep(f[1], f)

    # -- node-wide events ----------------------------------------------------------------
    def host_down(self, serial: int, reason: str) -> None:
        """An OS process of the node died: everything watching its processes hears of it."""
        self.mesh.host_down(serial)
        self.credits.wake_serial(serial)
        host = self.mesh.host_of.get(serial, "?")
        err = {"kind": "HOST_DOWN", "message": f"host {host}/{serial} died: {reason}"}
        for target in [t for t in self.remote_watch if parse_pid(t).serial == serial]:
            for local, kind in self.remote_watch.pop(target):
                if kind == MONITOR:
                    self._on_exit((_Op.EXIT, local, target, None, err))
                else:
                    self._on_link_down((_Op.LINK_DOWN, local, target, err))
        for name, pid in list(self.names.items()):
            if parse_pid(pid).serial == serial:
                del self.names[name]

    def publish(self, system: str, kind: str, path: str, data: Any) -> None:
        """Hand a bus event to this host's matching subscribers (each gets its own copy)."""
        if not self.subscriptions:
            return
        live = []
        for sub in self.subscriptions:
            if sub.owner.exited:
                continue
            live.append(sub)
            if sub.wants(system, kind):
                ctx = sub.owner.security
                if ctx is not None and system == "registry" and not ctx.allows("registry.get", path):
                    continue        # a registry event carries the entry: only for who may get it
                event = {"system": system, "kind": kind, "path": path}
                if data is not None:
                    event["data"] = _copy(data)
                sub.deliver(event)
        self.subscriptions[:] = live

    def on_control(self, handler: Callable[[Any], None]) -> None:
        """Route ``Op.CTL`` frames (node-to-host control, sent on the data plane once a host is
        ready) to ``handler(message)``."""
        self._dispatch[_Op.CTL] = lambda f: handler(f[1])

    def dispatch(self, frame: tuple) -> None:
        handler = self._dispatch.get(frame[0])
        if handler is None:
            log.warning("dropped a frame with unknown op %r", frame[0])
            return
        handler(frame)

    def dispatch_bytes(self, data: bytes) -> int:
        """Handle one zmq message from the inbox; returns how many frames it held."""
        try:
            origin, frames = wire.unpack_from(data)
        except Exception as exc:  # noqa: BLE001 - a bad frame must not take the host down
            log.warning("dropped an undecodable message (%d bytes): %s", len(data), exc)
            return 1
        handlers = self._dispatch
        self._origin = origin
        self._frame_size = len(data) // (len(frames) or 1)
        try:
            for frame in frames:
                handler = handlers.get(frame[0])
                if handler is None:
                    log.warning("dropped a frame with unknown op %r", frame[0])
                else:
                    handler(frame)
        finally:
            self._origin = _NO_ORIGIN
        return len(frames)


async def _no_node(op: str, *args: Any) -> Any:
    raise NodeError(f"no node to ask for {op}: this runtime runs without one")


async def _fail(exc: BaseException) -> Any:
    raise exc


async def _call_sync(fn: Callable[..., Any], args: list) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


_RUNTIME: Runtime | None = None


def get() -> Runtime:
    if _RUNTIME is None:
        raise RuntimeError("no wippy runtime in this OS process (call this from a wippy process)")
    return _RUNTIME
