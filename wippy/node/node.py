"""The node: the root OS process of ``wippy run``, and the control loop that drives its parts
(:mod:`wippy.node.main` boots it).

The parts, each with only what it needs (made and wired by :func:`~wippy.node.assembly.assemble`):

* :class:`~wippy.node.control.ControlPlane`: the members and how a message reaches them;
* :class:`~wippy.node.ctlhandlers.ControlHandlers`: what each control message from a member does;
* :class:`~wippy.node.names.NameTable`: process names, the only writer;
* :class:`~wippy.node.hosts.HostSupervisor`: host OS processes (forks, deaths, restarts,
  rescaling, retiring);
* :class:`~wippy.node.services.ServiceManager`: ``process.service`` and ``supervisor`` entries;
* :class:`~wippy.node.workflows.WorkflowManager`: the journal and workflow PIDs;
* :class:`~wippy.node.registry.RegistryKeeper`: the registry's single writer and hot reload,
  and :class:`~wippy.node.regeffects.RegistryEffects`: what a committed version does here;
* :class:`~wippy.node.shutdown.Shutdown`, :class:`~wippy.node.status.StatusCollector`,
  :class:`~wippy.node.procs.ProcessPort`.

:class:`NodeServer` boots them in order and runs the loop (ROUTER, its own data-plane inbox, the
zygote's pipe, the signal pipe, timers); it is what the parts tell when a host dies
(:class:`~wippy.node.hosts.HostEvents`), and it routes the frames of its inbox. ``-x ENTRY`` (run
one process on the terminal host and exit with its result) lives in :mod:`wippy.node.terminal`.
"""
from __future__ import annotations

import logging
import os
import sys
import time as _time
from typing import Any, Callable

from ..core import protocol, transport, wire
from ..core.zygote import Zygote
from ..errors import NodeError
from ..observe.metrics import collector
from ..registry import loader
from ..registry.entry import Kind as EntryKind
from ..security.context import denials
from ..supervision.services import State
from .assembly import assemble
from .hosts import BOOT_TIMEOUT_S, HostProc, HostState, wanted_workers
from .options import NodeOptions
from .peering import for_peers, refuse_outside_cluster
from .procs import NODE_PID
from .signals import SignalCatcher
from .status import boot_progress

__all__ = ["NodeServer", "NODE_PID"]

log = logging.getLogger("wippy.node")

POLL_MAX_MS = 100          # the loop wakes at least this often
BOOT_PROGRESS_S = 2.0      # a start slower than this says what it waits for, this often


class NodeServer:
    """The node's parts and the loop that drives them (see the module docstring)."""

    def __init__(self, opts: NodeOptions, app: loader.LoadedApp, zygote: Zygote) -> None:
        """Take the run directory, open the stores, bind the sockets (after the zygote's fork)
        and make the parts (:func:`~wippy.node.assembly.assemble`). Raises NodeError when
        another node holds the run directory."""
        self.opts = opts
        self.app = app
        self.zygote = zygote
        self.app_dir = app.app_dir
        self.booted = False
        self.ready = False
        self.parts = assemble(opts, app, zygote, self)
        self.started = _time.monotonic()
        self.signals = SignalCatcher(lambda why: self.begin_stop(0, why), self._kill_now)

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        """Boot everything, serve until stopped; returns the exit code."""
        p = self.parts
        self.signals.install()
        p.sched.call_later(BOOT_PROGRESS_S, self._boot_progress)
        p.observe.start()        # watches the boot; an address in use stops it here
        for e in p.store.entries().values():
            if e["kind"] == EntryKind.PROCESS_HOST.value:
                p.hosts.set_workers(e["id"], wanted_workers(e))
        p.http.load(p.store.entries())
        self.loop(until=lambda: all(h.state is not HostState.STARTING for h in p.hosts.live()),
                  timeout=BOOT_TIMEOUT_S, what="hosts to start")
        self.booted = True
        p.hosts.booting = False
        p.services.load(p.store.entries())
        p.services.start_all()
        p.workflows.boot()
        p.resources.boot()
        self.loop(until=lambda: not p.services.booting or p.shutdown.active)
        p.http.start_all()
        self.loop(until=lambda: not (p.http.starting() or p.observe.starting())
                  or p.shutdown.active, timeout=BOOT_TIMEOUT_S, what="HTTP servers and the observer to listen")
        for error in (p.http.boot_error, p.observe.boot_error):
            if error is not None:
                raise NodeError(error)
        p.http.booting = p.observe.booting = False
        if p.terminal.wanted and not p.shutdown.active:
            host_id = p.terminal.start_host()
            if host_id is not None:
                self.loop(timeout=BOOT_TIMEOUT_S, what=f"terminal host {host_id}",
                          until=lambda: p.hosts.has_ready(host_id))
            p.terminal.spawn()
        self._announce_ready()
        self.ready = True
        p.handlers.start_loads()
        self.loop(until=lambda: p.shutdown.active and not p.hosts.live()
                  and not p.http.live() and not p.observe.live())
        self.zygote.close()
        code = p.shutdown.exit_code
        return code if code is not None else 0

    def loop(self, until: Callable[[], bool], timeout: float | None = None, what: str = "") -> None:
        """Serve until ``until()``; raises NodeError after ``timeout`` seconds."""
        p = self.parts
        sched, mesh, workflows, peers, cluster = p.sched, p.mesh, p.workflows, p.peers, p.cluster
        poller = transport.Poller()
        router = p.control.router
        inbox = mesh.inbox
        drain_router = p.handlers.drain
        wake_fd, on_wake = self.signals.wake_fd, self.signals.on_wake
        poller.register(router, transport.POLLIN)
        poller.register(inbox, transport.POLLIN)
        poller.register(self.zygote.fd, transport.POLLIN)
        poller.register(wake_fd, transport.POLLIN)
        poller.register(workflows.fd, transport.POLLIN)   # a journal commit ended
        if peers is not None:
            peers.register(poller)
        deadline = None if timeout is None else _time.monotonic() + timeout
        woken: dict[int, Callable[[], None]] = {}     # database listeners' sockets
        watched: tuple[int | None, ...] = (None, None)
        while not until():
            if cluster is not None:
                fds = (cluster.wake_fd(), p.registry.wake_fd())
                if fds != watched:
                    watched = self._watch_listeners(poller, woken, fds)
            if deadline is not None and _time.monotonic() > deadline:
                raise NodeError(f"timed out after {timeout:.0f} s waiting for {what}")
            delay = sched.next_delay()
            timeout_ms = POLL_MAX_MS if delay is None else max(0, min(POLL_MAX_MS, int(delay * 1000) + 1))
            for sock, _ in poller.poll(timeout_ms):
                if sock is router:
                    drain_router()
                elif sock is inbox:
                    self._drain_inbox()
                elif sock == self.zygote.fd:
                    self._drain_zygote(poller)
                elif sock == wake_fd:
                    on_wake()       # a signal: reap, then stop or kill
                elif sock == workflows.fd:
                    pass                # the flush below collects the ended commit
                elif sock in woken:
                    woken[sock]()
                elif peers is not None:
                    peers.on_ready(sock)
            sched.fire_due()
            workflows.flush(wait=False)    # group commit, pipelined (node/groupcommit.py)
            if peers is not None:
                peers.flush()      # this turn's frames to other nodes, a batch each
            mesh.flush()   # after the timers: control messages to hosts travel on it now

    def _watch_listeners(self, poller: Any, woken: dict[int, Callable[[], None]],
                         fds: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Keep the poller on the sockets of the cluster's LISTEN connections, which change
        when they reconnect: a notification wakes the loop at once, and an idle node reads
        nothing (rejected: reading them on a fast timer, which costs an idle node CPU and
        every notification up to a period). ``fds``: the listeners' sockets now, cluster's
        then registry's; returns them."""
        cluster = self.parts.cluster
        assert cluster is not None
        want = {fd: fn for fd, fn in zip(fds, (cluster.woken, self.parts.registry.woken))
                if fd is not None}
        for fd in woken.keys() - want.keys():
            poller.unregister(fd)
        for fd in want.keys() - woken.keys():
            poller.register(fd, transport.POLLIN)
        woken.clear()
        woken.update(want)
        return fds

    def begin_stop(self, code: int, reason: str) -> None:
        """Orderly stop with exit ``code`` (see :mod:`wippy.node.shutdown`); HTTP servers
        stop accepting first and drain while the hosts still run their handlers."""
        p = self.parts
        p.http.stop_all(p.shutdown.host_timeout, reason)
        p.observe.stop_all()
        p.resources.stop()
        p.shutdown.begin(code, reason)

    def close(self) -> None:
        p = self.parts
        self.zygote.close()
        p.observe.close()
        if p.cluster is not None:
            p.cluster.leave()
        if p.peers is not None:
            p.peers.close()
        p.workflows.close()
        p.registry.close()
        try:
            p.ctx.destroy(linger=0)
        finally:
            p.store.close()
            p.rundir.release()

    def _announce_ready(self) -> None:
        p = self.parts
        n_hosts = len({h.host_id for h in p.hosts.hosts.values()})
        running = sum(1 for s in p.services.svcs.values() if s.state == State.RUNNING)
        ready = (f"node ready (pid {os.getpid()}): {n_hosts} host(s) in "
                 f"{len(p.hosts.live())} OS process(es), {running} service(s); run dir "
                 f"{p.rundir.path}")
        if self.opts.log_format == "json":
            log.info("%s", ready)           # every line of stderr is one JSON object
        else:
            print(f"wippy: {ready}", file=sys.stderr, flush=True)
        if self.opts.ready_fd is not None:
            import json
            os.write(self.opts.ready_fd, (json.dumps({"run_dir": p.rundir.path,
                                                       "pid": os.getpid(),
                                                       "observe": p.observe.address}) + "\n").encode())
            os.close(self.opts.ready_fd)

    def _boot_progress(self) -> None:
        p = self.parts
        if self.ready or p.shutdown.active:
            return
        log.info("%s", boot_progress(
            [(f"{h.host_id}/{h.serial}", h.state.value) for h in p.hosts.live()],
            (sum(1 for s in p.services.svcs.values() if s.state == State.RUNNING),
             len(p.services.svcs)), _time.monotonic() - self.started))
        p.sched.call_later(BOOT_PROGRESS_S, self._boot_progress)

    def info(self) -> dict[str, Any]:
        """The node's identity (the ``info`` request)."""
        p = self.parts
        return {"pid": os.getpid(), "app_dir": self.app_dir, "data_dir": p.data_dir,
                "node_pid": NODE_PID, "version": p.registry.version}

    def node_info(self) -> dict[str, Any]:
        """What only the node knows, for its status."""
        p = self.parts
        return {"pid": os.getpid(), "app_dir": self.app_dir, "run_dir": p.rundir.path,
                "uptime": _time.monotonic() - self.started,
                "registry_version": p.registry.version, "denied": denials(),
                "strict": self.opts.strict, "http": p.http.rows(), "observe": p.observe.row(),
                "metrics": collector().snapshot(),     # what the node's own parts recorded
                "cluster": None if p.cluster is None else {
                    **p.cluster.info(), "peers": p.peers.info() if p.peers else None,
                    **(p.clusterwide.info() if p.clusterwide else {}),
                    "registry": p.registry.cluster_info()}}

    def _kill_now(self) -> None:
        """A second signal: every OS process the node started dies now."""
        self.parts.http.kill_all()
        self.parts.observe.kill_all()
        self.parts.shutdown.kill()

    # -- host events (HostSupervisor -> node) --------------------------------------------
    def topology_changed(self) -> None:
        topo = self.parts.hosts.topology()
        self.parts.mesh.set_topology(topo)
        self.parts.control.broadcast(protocol.topology(topo))

    def host_retiring(self, hp: HostProc) -> None:
        self.parts.services.host_retiring(hp.serial)
        self.parts.workflows.host_retiring(hp.serial)

    def host_failed(self, hp: HostProc, reason: str) -> bool:
        return self.parts.services.host_failed(hp.host_id, reason)

    def host_down(self, hp: HostProc, reason: str) -> None:
        p = self.parts
        serial = hp.serial
        p.store.reader_check()
        p.mesh.host_down(serial)
        p.control.leave_host(serial)
        p.handlers.host_gone(serial)
        p.names.host_down(serial)
        p.status.host_gone(serial)
        p.control.broadcast(protocol.host_down(serial, reason))
        self.topology_changed()
        if p.shutdown.active:
            return
        if p.peers is not None:
            held = p.names.by_pid()
            for pid in p.peers.host_down(serial, reason):
                p.names.release(pid, held.get(pid, ()))
        p.services.host_died(serial, reason, hp.host_id)
        p.workflows.host_down(serial)
        p.resources.host_down(serial, reason)
        if hp.retired and p.hosts.has_ready(hp.host_id):
            p.services.host_ready(hp.host_id)        # they move to a remaining worker
            p.workflows.host_ready(hp.host_id)
        p.terminal.host_down(serial, reason)

    def _drain_zygote(self, poller: Any) -> None:
        p = self.parts
        for ev in self.zygote.events():
            if ev[0] == "started":
                if p.observe.on_started(ev[1], ev[2]):
                    pass
                elif not p.http.is_server(ev[1]):
                    p.hosts.on_started(ev[1], ev[2])
                else:
                    p.http.on_started(ev[1], ev[2])
            elif ev[0] == "exited":
                if not (p.observe.on_exited(ev[1], ev[3]) or p.http.on_exited(ev[1], ev[3])):
                    p.hosts.on_exited(ev[1], ev[3])
        if self.zygote.eof:
            poller.unregister(self.zygote.fd)
            log.error("the zygote (os pid %d) died; every host died with it; stopping", self.zygote.pid)
            p.hosts.zygote_died()
            self.begin_stop(1, "zygote died")

    # -- the node's own inbox (data plane) -----------------------------------------------
    def _drain_inbox(self) -> None:
        p = self.parts
        inbox, peers, workflows = p.mesh.inbox, p.peers, p.workflows
        while True:
            try:
                data = inbox.recv(transport.NOBLOCK)
            except transport.Again:
                return
            try:
                frames = wire.unpack(data)
            except Exception:  # noqa: BLE001 - a bad message is dropped, not fatal
                continue
            for frame in frames:
                op = frame[0]
                if peers is not None and for_peers(frame):
                    peers.relay(frame)
                elif op == wire.Op.EXIT:
                    if not workflows.on_exit(frame[2], frame[4]):
                        self._on_exit(frame[2], frame[3], frame[4])
                elif op == wire.Op.SPAWN:
                    if for_peers(frame):        # on another node's host, outside a cluster
                        refuse_outside_cluster(frame, p.mesh)
                    else:
                        workflows.on_spawn(frame)
                elif frame[1] != "0":
                    workflows.on_frame(frame)

    def _on_exit(self, pid: str, value: Any, error: dict | None) -> None:
        p = self.parts
        if p.resources.on_exit(pid, value, error):
            return
        if not p.terminal.on_exit(pid, value, error):
            p.services.on_exit(pid, value, error)
