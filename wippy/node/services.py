"""The node's process-level supervision: ``process.service`` and ``supervisor`` entries.

Two regimes (S5):

* A service that no ``supervisor`` names follows Wippy's rule: a normal return is Exited and
  stays down; an error exit is Failed and retried with exponential backoff
  (:func:`wippy.services.backoff_delay`), up to ``max_attempts``; running longer than
  ``stable_threshold`` resets the count.
* Children of a ``supervisor`` follow Erlang (:mod:`wippy.node.supervisors`, which this
  manager owns and serves as its :class:`~wippy.node.supervisors.Children`).

Either way a service whose host died comes back as soon as the host is back, with no backoff
and not counted. In a cluster a ``lifecycle.singleton`` service (outside supervisors) starts
only on the node that holds its claim (:mod:`.singletons`); the others keep it stopped until
a round hands it to them, and its entry id is a cluster-wide name. A service runs under the
context its entry gives it (``lifecycle.security``, and its author's when an agent created or changed it: :mod:`wippy.security.lifecycle`),
carried in the SPAWN; what it spawns inherits it. The decisions are the pure functions of :mod:`wippy.supervision` and
:mod:`wippy.services`; this module only applies them, scheduling every delay as a timer.

Siblings stopped for a one_for_all / rest_for_one restart are terminated at once (Erlang's
``brutal_kill``); the orderly CANCEL + ``stop_timeout`` is for node shutdown, which stops
services in reverse dependency order. The boot starts them level by level (:mod:`.startup`).

The manager sees the rest of the node through narrow interfaces: :class:`Spawner` (start and
end processes), :class:`NameWriter` (a running service is registered under its entry id),
:class:`HostEntries` (a supervisor may own host entries; all three in :mod:`.svc`), a
timer, and two callables (is the node stopping; stop it).
"""
from __future__ import annotations

import logging
import random
import time as _time
from typing import Any, Callable, Mapping

from ..core.pid import parse_pid
from ..errors import exit_error
from ..security.lifecycle import service_context
from ..supervision import services
from ..supervision.services import State
from . import singletons
from .startup import Startup
from .supervisors import Sup, SupervisorTree
from .svc import HostEntries, NameWriter, Spawner, Svc

__all__ = ["ServiceManager"]

log = logging.getLogger("wippy.supervisor")


class ServiceManager:
    """``process.service`` and ``supervisor`` entries of the node.

    ``call_later(delay, fn, *args)`` returns a handle with ``cancel()``; ``stopping()`` tells
    whether the node is stopping; ``stop_node(code, reason)`` stops it (a top-level supervisor
    escalating); ``clock()`` is monotonic seconds."""

    def __init__(self, procs: Spawner, names: NameWriter, hosts: HostEntries,
                 call_later: Callable[..., Any], stopping: Callable[[], bool],
                 stop_node: Callable[[int, str], None],
                 clock: Callable[[], float] = _time.monotonic) -> None:
        self._procs = procs
        self._names = names
        self._hosts = hosts
        self._call_later = call_later
        self._stopping = stopping
        self._clock = clock
        self.svcs: dict[str, Svc] = {}
        self.supervisors = SupervisorTree(self, stop_node, clock)
        self.doomed: set[str] = set()          # PIDs we terminated on purpose: their EXIT is ours
        self._startup = Startup(self.svcs, lambda svc: self.start(svc, counted=False, ack=True),
                                call_later)
        # in a cluster: claim singleton ``id`` for this node, True when it holds it
        self.singleton: Callable[[str], bool] | None = None

    @property
    def sups(self) -> dict[str, Sup]:
        return self.supervisors.sups

    # -- building from the registry ------------------------------------------------------
    def load(self, entries: Mapping[str, dict[str, Any]]) -> None:
        """Take the services and supervisors of a registry snapshot (at boot)."""
        for e in entries.values():
            if e["kind"] == "supervisor":
                self.supervisors.add(e)
        for e in entries.values():
            if e["kind"] == "process.service":
                self.svcs[e["id"]] = Svc(services.service_spec(e), security=service_context(e))
        self._link_children()

    def _link_children(self) -> None:
        for sid, (parent, rtype) in self.supervisors.link().items():
            self.svcs[sid].parent, self.svcs[sid].restart_type = parent, rtype

    # -- start ---------------------------------------------------------------------------
    def start_all(self) -> None:
        """Boot: auto-start services and every supervisor's children, in dependency order
        (:mod:`.startup`): a level starts once every service of the one before has taken its
        first step (or failed to within ``start_timeout``); within a level all start at once,
        a supervisor's children in their list order."""
        self._startup.begin(self.supervisors.start_order())

    @property
    def booting(self) -> bool:
        """True from :meth:`start_all` until the last level has started."""
        return self._startup.booting

    def started(self, pid: str) -> None:
        """A service's process has taken its first step (the host said so)."""
        self._startup.started(pid)

    def start(self, svc: Svc, counted: bool = True, ack: bool = False,
              claimed: bool = False) -> None:
        """Start ``svc`` now (``counted``: as a restart); when its host has no ready worker,
        as soon as one is. In a cluster a singleton starts only once this node holds its
        claim (``claimed``: just given)."""
        svc.timer = None
        if self._stopping() or svc.deleted:
            return
        if svc.parent is not None and not self.supervisors.running(svc.parent):
            return
        if not claimed and self._elsewhere(svc):
            return
        spec = svc.spec
        try:
            pid = self._procs.spawn(spec.process, spec.host, spec.input, ack=ack,
                                    security=svc.security)
        except Exception as exc:  # noqa: BLE001 - no live host right now: start when it is back
            self._set(svc, State.STARTING)
            svc.waiting_host = True
            svc.last_error = str(exc)
            return
        if counted:
            svc.restarts += 1
            log.info("service %s restarted as %s (restart %d)", spec.id, pid, svc.restarts)
        svc.pid = pid
        self._set(svc, State.RUNNING)
        svc.started_at = self._clock()
        if spec.singleton:             # in a cluster its name is cluster-wide
            self._names.assign(spec.id, pid, shared=True)
        else:
            self._names.assign(spec.id, pid)

    def _elsewhere(self, svc: Svc) -> bool:
        """A singleton this node may not run now: it stays stopped until a round hands it
        over (:mod:`.singletons`)."""
        if self.singleton is None or not singletons.is_singleton(svc):
            return False
        why = singletons.ask(self.singleton, svc)
        svc.elsewhere = why is not None
        if why is not None:
            svc.last_error = why
            self._set(svc, State.STOPPED)
        return svc.elsewhere

    def wanted_singletons(self) -> list[str]:
        """The singletons this node would run (claimed for it each round)."""
        return singletons.wanted(self.svcs.values())

    def singletons_held(self, held: set[str]) -> None:
        """A claim round's answer: start the singletons this node holds now and waited for;
        stop those it no longer holds (another node took them while its lease lapsed, or it
        fenced itself: ``held`` empty)."""
        start, lose = singletons.plan(list(self.svcs.values()), held, self._stopping())
        for svc in lose:
            if svc.pid is not None:
                log.warning("singleton service %s (%s) stops here: this node no longer holds "
                            "it", svc.spec.id, svc.pid)
            self.stop_service(svc.spec.id)
            svc.waiting_host, svc.elsewhere, svc.last_error = False, True, singletons.LOST
        for svc in start:
            svc.elsewhere = False
            log.info("singleton service %s starts on this node", svc.spec.id)
            self.start(svc, counted=False, claimed=True)

    def _set(self, svc: Svc, state: State) -> None:
        svc.state = state
        svc.last_update = _time.time()

    def host_ready(self, host_id: str) -> None:
        """A worker of ``host_id`` is ready: start the services that waited for one."""
        for svc in self.svcs.values():
            if svc.waiting_host and svc.spec.host == host_id and not self._stopping():
                svc.waiting_host = False
                self.start(svc, counted=svc.started_at > 0)     # back after its host died

    def host_died(self, serial: int, reason: str, host_id: str) -> None:
        """Services on a dead host come back when it does: not a failure of theirs."""
        for svc in self.svcs.values():
            if svc.pid is not None and parse_pid(svc.pid).serial == serial:
                svc.pid = None
                svc.restart_pending = False
                self._set(svc, State.STARTING)
                svc.waiting_host = True
                svc.last_error = f"host {host_id}/{serial} died: {reason}"

    def host_retiring(self, serial: int) -> None:
        """OS process ``serial`` is being stopped for good: its services start again on
        another worker as soon as they have exited, at once and not counted."""
        for svc in self.svcs.values():
            if svc.pid is not None and parse_pid(svc.pid).serial == serial:
                svc.restart_pending = True

    # -- exits ---------------------------------------------------------------------------
    def on_exit(self, pid: str, value: Any, error: dict | None) -> bool:
        """A process the node monitors ended; True when it was (or had been) a service's."""
        self.started(pid)                      # an exit also ends waiting for its start
        if pid in self.doomed:
            self.doomed.discard(pid)
            return True
        for svc in self.svcs.values():
            if svc.pid == pid:
                self._exited(svc, error)
                return True
        return False

    def _exited(self, svc: Svc, error: dict | None) -> None:
        if svc.pid is not None:
            self._names.release(svc.pid, (svc.spec.id,))
        svc.pid = None
        if self._stopping():
            self._set(svc, State.STOPPED)
            return
        if svc.deleted:
            self.svcs.pop(svc.spec.id, None)
            return
        if svc.restart_pending:
            svc.restart_pending = False
            svc.attempts = 0
            self.start(svc, counted=False)
            log.info("service %s started again as %s (new code or another worker)", svc.spec.id,
                     svc.pid)
            return
        if error is not None and error.get("kind") == "HOST_DOWN":
            return          # restarted when its host is back (host_died marked it)
        failed = error is not None
        if failed:
            svc.last_error = str(exit_error(error))
        if self._clock() - svc.started_at >= svc.spec.stable_threshold:
            svc.attempts = 0
        if svc.parent is not None:
            self.supervisors.child_ended(svc.parent, svc.spec.id, failed, svc.last_error)
            return
        if not services.should_restart(svc.spec.restart, failed, svc.attempts):
            self._set(svc, State.FAILED if failed else State.EXITED)
            if failed:
                log.warning("service %s failed and will not be restarted: %s", svc.spec.id, svc.last_error)
            return
        self._schedule(svc)

    def _schedule(self, svc: Svc) -> None:
        delay = services.backoff_delay(svc.spec.restart, svc.attempts, random.random())
        svc.attempts += 1
        self._set(svc, State.FAILED)
        log.warning("service %s failed (%s); restart %d in %.2f s", svc.spec.id, svc.last_error,
                    svc.attempts, delay)
        svc.timer = self._call_later(delay, self.start, svc)

    # -- what supervisors do to their children (SupervisorTree's Children) ---------------
    def host_failed(self, host_id: str, reason: str) -> bool:
        """A worker of a host entry died. True when a supervisor took charge (it decides
        about the restart); False for the implicit root (restart without limit)."""
        return self.supervisors.host_failed(host_id, reason)

    def is_service(self, cid: str) -> bool:
        return cid in self.svcs

    def restart_service(self, cid: str, first: bool) -> None:
        svc = self.svcs[cid]
        if svc.timer is not None:
            svc.timer.cancel()
        if first:
            self._schedule(svc)        # the child's own backoff delays its restart
        else:
            self.start(svc, counted=True)

    def stop_service(self, cid: str) -> None:
        svc = self.svcs[cid]
        if svc.timer is not None:
            svc.timer.cancel()
            svc.timer = None
        if svc.pid is not None:
            self.doomed.add(svc.pid)
            self._procs.terminate(svc.pid)
            self._names.release(svc.pid, (cid,))
            svc.pid = None
        self._set(svc, State.STOPPED)

    def service_done(self, cid: str, failed: bool) -> None:
        self._set(self.svcs[cid], State.FAILED if failed else State.EXITED)

    def restart_host(self, host_id: str, counted: bool) -> None:
        self._hosts.restart_entry(host_id, counted)

    def stop_host(self, host_id: str) -> None:
        self._hosts.stop_entry(host_id)

    # -- hot reload ----------------------------------------------------------------------
    def supervisor_changed(self, entry: dict[str, Any]) -> None:
        """A ``supervisor`` entry was created or updated (its children are linked again)."""
        self.supervisors.add(entry)
        self._link_children()

    def changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        """A ``process.service`` entry was created, updated or (``entry`` None) deleted."""
        svc = self.svcs.get(eid)
        if entry is None:                     # deleted
            if svc is not None:
                svc.deleted = True
                if svc.pid is None:
                    del self.svcs[eid]
                else:
                    self._procs.terminate(svc.pid)
            return
        spec = services.service_spec(entry)
        if svc is None:
            svc = self.svcs[eid] = Svc(spec, security=service_context(entry))
            self._link_children()
            if spec.auto_start or svc.parent is not None:
                self.start(svc, counted=False)
            return
        svc.spec = spec
        svc.security = service_context(entry)
        self.restart_for_reload(svc)

    def restart_for_reload(self, svc: Svc) -> None:
        """Hot reload: stop the running instance; the new one starts when it has exited."""
        if svc.pid is not None:
            svc.restart_pending = True
            self._procs.terminate(svc.pid)
        elif svc.spec.auto_start or svc.state != State.STOPPED:
            self.start(svc, counted=False)

    def code_changed(self, touched: set[str]) -> None:
        """Entries ``touched`` changed: restart the services whose process is one of them."""
        for svc in self.svcs.values():
            if svc.spec.process in touched and svc.spec.id not in touched:
                self.restart_for_reload(svc)

    # -- stop ----------------------------------------------------------------------------
    def stop_levels(self) -> list[list[Svc]]:
        """Running services grouped for shutdown: reverse dependency order."""
        running = {s.spec.id: s.spec.depends_on for s in self.svcs.values() if s.pid is not None}
        return [[self.svcs[i] for i in level] for level in reversed(services.start_levels(running))]

    def mark_stopped(self) -> None:
        """The node has stopped every service."""
        for svc in self.svcs.values():
            svc.state = State.STOPPED

    # -- views ---------------------------------------------------------------------------
    def states(self) -> list[dict[str, Any]]:
        """Wippy's ``system.supervisor.states()`` shape."""
        out = []
        for s in self.svcs.values():
            desired = "running" if (s.spec.auto_start or s.parent) and not self._stopping() else "stopped"
            out.append({"id": s.spec.id, "status": s.state.value.lower(), "desired": desired,
                        "retry_count": s.attempts, "last_update": int(s.last_update * 1e9),
                        "started_at": int(s.started_at * 1e9) if s.started_at else 0,
                        "details": s.last_error or ""})
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per service for ``ps``."""
        return [{"id": s.spec.id, "state": s.state.value, "pid": s.pid, "host": s.spec.host,
                 "restarts": s.restarts, "last_error": s.last_error, "supervisor": s.parent}
                for s in self.svcs.values()]

    def tree(self) -> list[dict[str, Any]]:
        """Every supervisor with its children, for ``ps``."""
        return self.supervisors.tree()
