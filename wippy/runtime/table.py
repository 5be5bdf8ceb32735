"""The process table of one host OS process: spawn, deliver, exit, monitors and links.

Every operation of S4 ends here, whether it came from a local process (through the public
``wippy.process`` API) or as a frame from another OS process (``dispatch``). Frames for a local
destination skip the socket; their payloads are still copied so processes never share mutable
state.

The table itself keeps the path of a message (``send``, the dispatch of frames) and hands the
rest to two parts it owns, whose methods it binds as its own (``rt.spawn``, ``rt.exit``, ...,
no call more): starting processes (:attr:`Runtime.spawner`, :mod:`.spawn`) and how they end
and who hears of it (:attr:`Runtime.watches`, :mod:`.watches`: exits, monitors, links,
terminate and cancel).

What a spawned process runs comes from the table of runners its host hands the runtime (entry
kind -> runner, see ``codeload``): the runtime itself knows neither Lua nor workflows.

Security (S9): every operation a process starts is checked in the runtime (here, in
:mod:`.spawn` and in :mod:`.watches`) against the context the running task acts under (the
runtime's :class:`~wippy.runtime.guard.Guard`: the process's, narrowed while it runs code an
agent wrote), where the action starts. A spawned process inherits its spawner's context
(narrowed by the author of the entry it runs), carried in the SPAWN frame when it starts on
another OS process. With no context (the operator) a check costs one attribute test.

Mailboxes are bounded (:mod:`wippy.core.flow`): a local send checks the destination's room, a
remote one its window in the mesh; what processes read is credited back to the OS processes
that sent it by :attr:`Runtime.credits` (:mod:`.credits`), which also holds the senders that
wait for room (:meth:`Runtime.wait_send`).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..core import wire
from ..core.flow import full_message
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import LINK, MONITOR
from ..errors import InvalidMessage, MailboxFull, NodeError, ProcessNotFound, WippyError
from ..registry.entry import FUNCTION_KINDS
from ..security import context as _security
from ..security.book import BOOK
from . import codeload, scheduler
from .guard import Guard
from .credits import Credits
from .early import EarlyFrames
from .payload import ATOMS as _ATOMS, copy as _copy, private as _private
from .proc import Process
from .spawn import EXEC, SPAWN, Spawner
from .watches import Watches

__all__ = ["Runtime", "get", "MONITOR", "LINK", "SPAWN", "EXEC"]

log = logging.getLogger("wippy.runtime")

_NO_ORIGIN = wire.NO_ORIGIN
_Op = wire.Op
_MSG = _Op.MSG
_plain = wire.plain
_RESERVED = wire.RESERVED_PREFIX
_dumps = wire.dumps
_WF_PREFIX = "{wf/0|"     # workflow PIDs route to the node (see node.workflows)


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
        self.names: dict[str, str] = {}         # name -> pid (node-wide, kept by the node)
        self.subscriptions: list[Any] = []     # wippy.events.Subscription, host-local
        self.exits = 0            # counted by the watches, reported by the host
        self.spawns = 0           # counted by the spawner, reported by the host
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
        # exits, monitors, links, terminate and cancel (:mod:`.watches`)
        self.watches = w = Watches(self)
        self.exit, self.kill, self.monitor, self.link = w.exit, w.kill, w.monitor, w.link
        self.terminate, self.cancel, self.host_down = w.terminate, w.cancel, w.host_down
        # spawn and create (:mod:`.spawn`)
        self.spawner = sp = Spawner(self, w)
        self.spawn, self.spawn_on, self.create = sp.spawn, sp.spawn_on, sp.create
        self.adopt_pid = sp.adopt_pid
        self._dispatch: dict[int, Callable[[tuple], None]] = {
            _Op.MSG: self._on_msg, _Op.SPAWN: sp.on_spawn, _Op.MONITOR: w.on_monitor,
            _Op.UNMONITOR: w.on_unmonitor, _Op.LINK: w.on_link, _Op.UNLINK: w.on_unlink,
            _Op.EXIT: w.on_exit, _Op.LINK_DOWN: w.on_link_down,
            _Op.TERMINATE: w.on_terminate, _Op.CANCEL: w.on_cancel,
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

    def emit_quiet(self, pid: str, frame: tuple) -> None:
        """:meth:`emit`, for a watcher that may be gone: nobody is left to tell then."""
        try:
            self.emit(pid, frame)
        except WippyError:
            pass

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

    def function(self, entry_id: str) -> tuple[Callable[..., Any], bool]:
        """(callable, is_coroutine_function) of function entry ``entry_id`` (``funcs.call``)."""
        return codeload.resolve(self.store, entry_id, None, self.runners, FUNCTION_KINDS)

    def author(self, entry_id: str) -> _security.Context | None:
        """The context entry ``entry_id`` was written under (None: the operator's); ask after
        :meth:`function`."""
        return codeload.author_of(self.store, entry_id)

    def start_task(self, proc: Process, coro: Any) -> Any:
        """``coroutine.spawn``: another task of the same process, stopped when main ends."""
        task = self.sched.start(coro, proc, self.watches.task_done)
        self.guard.inherit(self.sched.current, task)
        if proc.tasks is None:
            proc.tasks = [task]
        else:
            proc.tasks = [t for t in proc.tasks if not t.finished]
            proc.tasks.append(task)
        return task

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

    def replay(self, frames: list[tuple[tuple, int]]) -> None:
        """Dispatch ``[(frame, origin)]`` kept for a process just created (:mod:`.early`), each
        as from the OS process that sent it."""
        outer = self._origin
        for frame, origin in frames:
            self._origin = origin
            self.dispatch(frame)
        self._origin = outer

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


_RUNTIME: Runtime | None = None


def get() -> Runtime:
    if _RUNTIME is None:
        raise RuntimeError("no wippy runtime in this OS process (call this from a wippy process)")
    return _RUNTIME
