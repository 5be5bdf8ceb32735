"""How a process ends, and who hears of it: exits, monitors, links, terminate and cancel, for
one OS process's runtime (its ``watches``).

A process ends here (:meth:`Watches.exit`): its tasks and timers stop, its names are released,
its monitors get an EXIT and, when it failed, its links a LINK_DOWN. A frame about a process
(MONITOR, LINK, TERMINATE, CANCEL and their undoing) goes to the OS process that owns it, whose
runtime answers it here; one for a process that is not there is answered at once (Erlang's
``noproc``), or kept when its SPAWN is still on its way (:mod:`.early`). What this OS process
watches on others is kept per remote PID, so that the death of another OS process
(:meth:`Watches.host_down`) reaches every watcher although nobody there is left to tell.

This is a part of the table (:class:`~wippy.runtime.table.Runtime`) of its own because none of
it is on the path of a message: the table keeps ``send`` and the dispatch of frames, and hands
EXIT, LINK_DOWN, MONITOR, LINK, TERMINATE and CANCEL frames straight to the methods here.

Rejected: a mixin class of the table. It would read the table's attributes without saying
which; :class:`Table` names what this part uses of the runtime that owns it.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any, Callable, Protocol

from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import LINK, MONITOR
from ..errors import (
    Cancelled,
    InvalidMessage,
    LinkFailed,
    ProcessNotFound,
    Terminated,
    WippyError,
    exit_error,
    to_wire,
)
from . import contexts as _contexts
from . import remote as _remote
from .credits import Credits
from .early import EarlyFrames
from .proc import CANCEL, EXIT, LINK_DOWN, Event, Process, Result
from .scheduler import Scheduler

__all__ = ["Table", "Watches"]

log = logging.getLogger("wippy.runtime")

_Op = wire.Op


class Table(Protocol):
    """What :class:`Watches` uses of the runtime that owns it."""

    mesh: Mesh
    sched: Scheduler
    serial: int
    host_id: str
    prefix: str                      # "{host/serial|": every local PID starts with it
    procs: dict[str, Process]
    names: dict[str, str]
    credits: Credits
    early: EarlyFrames
    exits: int                       # counted here, reported by the host
    last_failure: str | None
    ctl_notify: Callable[..., None]

    def check(self, action: str, resource: str) -> None: ...
    def resolve(self, dest: str) -> str: ...
    def emit(self, pid: str, frame: tuple) -> None: ...
    def emit_quiet(self, pid: str, frame: tuple) -> None: ...


class Watches:
    """Exits, monitors, links, terminate and cancel of the processes of one runtime."""

    def __init__(self, rt: Table) -> None:
        self._rt = rt
        self._mesh = rt.mesh
        self._sched = rt.sched
        self._serial = rt.serial
        self._prefix = rt.prefix
        self._procs = rt.procs
        self._credits = rt.credits
        self._early = rt.early
        self.remote: dict[str, set[tuple[str, int]]] = {}   # remote pid -> {(local, kind)}

    # -- exit ----------------------------------------------------------------------------
    def task_done(self, task: Any, value: Any, exc: BaseException | None) -> None:
        """The scheduler's callback for a task of a process: its main task's end, or any
        task's error, ends the process."""
        proc = task.proc
        if proc.exited:
            return
        if task is proc.main or exc is not None:
            self.exit(proc, value if task is proc.main else None, exc)

    def exit(self, proc: Process, value: Any, exc: BaseException | None) -> None:
        """End ``proc``: stop its tasks and timers, release names, tell monitors and links."""
        if proc.exited:
            return
        proc.exited = True
        rt = self._rt
        self._procs.pop(proc.local, None)
        _contexts.bind(proc.pid, None)
        rt.exits += 1
        error = None
        if exc is not None:
            error = to_wire(exc)
            if not isinstance(exc, (Terminated, LinkFailed, Cancelled)):
                rt.last_failure = f"{proc.pid} {proc.entry}: {error['message']}"
                if not proc.monitors:
                    tb = "".join(traceback.format_exception(exc)) if not isinstance(exc, WippyError) else ""
                    log.warning("process %s (%s) failed: %s\n%s", proc.pid, proc.entry, error["message"], tb)
        else:
            try:
                value = wire.plain(value)
            except InvalidMessage as bad:
                value, error = None, to_wire(InvalidMessage(f"result: {bad}"))
        sched = self._sched
        current = sched.current
        if proc.tasks:
            for t in proc.tasks:
                if t is not current:
                    sched.kill(t)
        if proc.main is not None and proc.main is not current:
            sched.kill(proc.main)
        # Process.main <-> Task.proc is a reference cycle: break it, so the process is freed
        # by reference counting when its last task is done, not left to the cyclic collector
        # (which then ran every ~70 spawns and cost a third of a spawn's time, S11).
        proc.main = None
        proc.tasks = None
        if proc.timers:
            for h in proc.timers:
                h.cancel()
        self._credits.gone(proc)                # what it held counts as read
        if proc.names:
            rt.ctl_notify("release", proc.pid, proc.names)
        if proc.monitors:
            for w in proc.monitors:
                local = parse_pid(w).local
                try:
                    rt.emit(w, (_Op.EXIT, local, proc.pid, value, error))
                except InvalidMessage as bad:   # a result too large to travel
                    rt.emit_quiet(w, (_Op.EXIT, local, proc.pid, None, to_wire(bad)))
                except WippyError:
                    pass
        if error is not None and proc.links:
            for peer in proc.links:
                rt.emit_quiet(peer, (_Op.LINK_DOWN, parse_pid(peer).local, proc.pid, error))

    def on_exit(self, f: tuple) -> None:
        """EXIT ``(op, local, from_pid, value, error)``: a process ``local`` monitors ended."""
        _, local, from_pid, value, error = f
        if not from_pid.startswith(self._prefix):
            self._mesh.note_dead(from_pid)
            self._credits.wake(from_pid)
            watchers = self.remote.get(from_pid)
            if watchers is not None:
                watchers.discard((local, MONITOR))
                if not watchers:
                    del self.remote[from_pid]
        proc = self._procs.get(local)
        if proc is None:
            return
        if proc.watching:
            proc.watching.discard(from_pid)
        if proc.exec_waits:
            w = proc.exec_waits.pop(from_pid, None)
            if w is not None:
                self._sched.wake(w, (value, error))
                return
        proc.post_event(Event(EXIT, from_pid, Result(value, exit_error(error) if error else None)))

    def on_link_down(self, f: tuple) -> None:
        """LINK_DOWN ``(op, local, from_pid, error)``: a process linked to ``local`` failed."""
        _, local, from_pid, error = f
        if parse_pid(from_pid).serial != self._serial:
            self._mesh.note_dead(from_pid)
            self._credits.wake(from_pid)
        proc = self._procs.get(local)
        if proc is None or not proc.links or from_pid not in proc.links:
            return
        proc.links.discard(from_pid)
        err = exit_error(error)
        if proc.trap_links:
            proc.post_event(Event(LINK_DOWN, from_pid, Result(None, err)))
        else:
            self.kill(proc, LinkFailed(f"linked process {from_pid} failed: {err}"))

    def kill(self, proc: Process, exc: BaseException) -> None:
        """End ``proc`` with ``exc``; raises ``exc`` when ``proc`` is the one running."""
        task = self._sched.current
        if task is not None and task.proc is proc:
            raise exc   # a process ending itself unwinds through its own stack
        self.exit(proc, None, exc)

    # -- monitor / link ------------------------------------------------------------------
    def watch(self, caller: Process, target: str, flags: int, serial: int | None = None) -> None:
        """Note on ``caller``'s side that it monitors and/or links (``flags``) ``target``,
        which runs on OS process ``serial`` (None: the one its PID names)."""
        if flags & MONITOR:
            if caller.watching is None:
                caller.watching = set()
            caller.watching.add(target)
        if flags & LINK:
            caller.add_link(target)
        if (parse_pid(target).serial if serial is None else serial) != self._serial:
            self.remote.setdefault(target, set()).update(
                (caller.local, k) for k in (MONITOR, LINK) if flags & k)

    def monitor(self, caller: Process, dest: str, on: bool = True) -> None:
        """``caller`` starts (or, ``on`` False, stops) monitoring ``dest``. Raises
        ProcessNotFound for an unknown name, and what the security check raises."""
        rt = self._rt
        rt.check("process.monitor" if on else "process.unmonitor", dest)
        pid = rt.resolve(dest)
        if on:
            self.watch(caller, pid, MONITOR)
        elif caller.watching:
            caller.watching.discard(pid)
        op = _Op.MONITOR if on else _Op.UNMONITOR
        rt.emit(pid, (op, parse_pid(pid).local, caller.pid))

    def link(self, caller: Process, dest: str, on: bool = True) -> None:
        """``caller`` links to (or, ``on`` False, unlinks from) ``dest``. Raises as
        :meth:`monitor`."""
        rt = self._rt
        rt.check("process.link" if on else "process.unlink", dest)
        pid = rt.resolve(dest)
        if on:
            self.watch(caller, pid, LINK)
        elif caller.links:
            caller.links.discard(pid)
        rt.emit(pid, (_Op.LINK if on else _Op.UNLINK, parse_pid(pid).local, caller.pid))

    def _gone(self, local: str, watcher: str, kind: int) -> None:
        """Monitor/link of a process that is not there: answer at once (Erlang's noproc)."""
        me = make_pid(self._rt.host_id, 0 if local[0] == _remote.MARK else self._serial, local)
        err = {"kind": "NOT_FOUND", "message": f"process {me} not found"}
        if kind == MONITOR:
            self._rt.emit_quiet(watcher, (_Op.EXIT, parse_pid(watcher).local, me, None, err))
        else:
            self._rt.emit_quiet(watcher, (_Op.LINK_DOWN, parse_pid(watcher).local, me, err))

    def on_monitor(self, f: tuple) -> None:
        self._watched(f, MONITOR)

    def _watched(self, f: tuple, kind: int) -> None:
        """A MONITOR or LINK frame for process ``f[1]`` from ``f[2]``: recorded; kept until
        the process exists when its spawn has not arrived yet; answered when it is gone."""
        _, local, watcher = f
        proc = self._procs.get(local)
        if proc is not None:
            if kind == MONITOR:
                proc.add_monitor(watcher)
            else:
                proc.add_link(watcher)
        elif self._early.not_yet_created(local):
            self._early.keep(local, f)
        else:
            self._gone(local, watcher, kind)

    def on_unmonitor(self, f: tuple) -> None:
        proc = self._procs.get(f[1])
        if proc is not None and proc.monitors:
            proc.monitors.discard(f[2])

    def on_link(self, f: tuple) -> None:
        self._watched(f, LINK)

    def on_unlink(self, f: tuple) -> None:
        proc = self._procs.get(f[1])
        if proc is not None and proc.links:
            proc.links.discard(f[2])

    # -- terminate / cancel --------------------------------------------------------------
    def _target(self, action: str, dest: str) -> tuple[str, str]:
        """(pid, local id) of ``dest`` once ``action`` on it is allowed; raises
        ProcessNotFound for a process of this OS process that is not there."""
        rt = self._rt
        rt.check(action, dest)
        pid = rt.resolve(dest)
        p = parse_pid(pid)
        if p.serial == self._serial and p.local not in self._procs and not self._early.not_yet_created(p.local):
            raise ProcessNotFound(f"process {pid} not found")
        return pid, p.local

    def terminate(self, by: str | None, dest: str) -> None:
        """Kill ``dest`` (``by``: who asks, None for the node); it exits with Terminated."""
        pid, local = self._target("process.terminate", dest)
        self._rt.emit(pid, (_Op.TERMINATE, local, by))

    def on_terminate(self, f: tuple) -> None:
        proc = self._procs.get(f[1])
        if proc is not None:
            self.kill(proc, Terminated(f"terminated by {f[2] or 'the node'}"))
        elif self._early.not_yet_created(f[1]):
            self._early.keep(f[1], f)

    def cancel(self, by: str | None, dest: str, reason: str = "") -> None:
        """Ask ``dest`` to stop: it gets a CANCEL event with ``reason``."""
        pid, local = self._target("process.cancel", dest)
        self._rt.emit(pid, (_Op.CANCEL, local, by, str(reason)))

    def on_cancel(self, f: tuple) -> None:
        proc = self._procs.get(f[1])
        if proc is not None:
            if len(f) > 4 and f[4] and not proc.events_requested():
                # a node shutdown: a process that never asked for events() cannot see CANCEL,
                # so waiting its stop_timeout would only delay the stop
                self.exit(proc, None, Terminated("node stopping"))
            else:
                proc.post_event(Event(CANCEL, f[2], None, f[3]))
        elif self._early.not_yet_created(f[1]):
            self._early.keep(f[1], f)

    # -- node-wide events ----------------------------------------------------------------
    def host_down(self, serial: int, reason: str) -> None:
        """An OS process of the node died: everything watching its processes hears of it."""
        self._mesh.host_down(serial)
        self._credits.wake_serial(serial)
        host = self._mesh.host_of.get(serial, "?")
        err = {"kind": "HOST_DOWN", "message": f"host {host}/{serial} died: {reason}"}
        for target in [t for t in self.remote if parse_pid(t).serial == serial]:
            for local, kind in self.remote.pop(target):
                if kind == MONITOR:
                    self.on_exit((_Op.EXIT, local, target, None, err))
                else:
                    self.on_link_down((_Op.LINK_DOWN, local, target, err))
        names = self._rt.names
        for name, pid in list(names.items()):
            if parse_pid(pid).serial == serial:
                del names[name]
