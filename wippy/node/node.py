"""The node: the root OS process of ``wippy run``, and the control loop that wires its parts
(:mod:`wippy.node.main` boots it).

The parts, each with only what it needs:

* :class:`~wippy.node.control.ControlPlane`: the members and how a message reaches them;
* :class:`~wippy.node.names.NameTable`: process names, the only writer;
* :class:`~wippy.node.hosts.HostSupervisor`: host OS processes (forks, deaths, restarts,
  rescaling, retiring);
* :class:`~wippy.node.services.ServiceManager`: ``process.service`` and ``supervisor`` entries;
* :class:`~wippy.node.workflows.WorkflowManager`: the journal and workflow PIDs;
* :class:`~wippy.node.registry.RegistryKeeper`: the registry's single writer and hot reload;
* :class:`~wippy.node.shutdown.Shutdown`, :class:`~wippy.node.status.StatusCollector`,
  :class:`~wippy.node.procs.ProcessPort`.

:class:`NodeServer` owns them, runs the loop (ROUTER, its own data-plane inbox, the zygote's
pipe, the signal pipe, timers) and dispatches control messages through one table keyed by
:class:`~wippy.core.protocol.Kind` and requests through one keyed by
:class:`~wippy.core.protocol.ReqOp`. ``-x ENTRY`` (run one process on the terminal host and
exit with its result) lives in :mod:`wippy.node.terminal`.
"""
from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import time as _time
from typing import Any, Callable

from .. import cluster
from ..cluster.part import ClusterPart
from ..cluster.registry import open_log
from ..core import osproc, protocol, transport, wire
from ..core.mesh import Mesh
from ..core.protocol import Kind, ReqOp
from ..core.rundir import RunDir, data_dir_for, run_dir_for
from ..core.zygote import Zygote
from ..errors import NodeError
from ..observe.metrics import collector
from ..registry import loader
from ..registry.changes import changed_ids
from ..registry.entry import Kind as EntryKind
from ..registry.store import Store
from ..resources.envvars import resolve_now
from ..runtime import scheduler
from ..security.book import BOOK
from ..security.context import denials, set_strict
from ..supervision.services import State
from .clusterwide import ClusterWide
from .control import ControlPlane
from .hosts import BOOT_TIMEOUT_S, HostProc, HostState, HostSupervisor, wanted_workers
from .http import HttpSupervisor
from .names import NameTable
from .observe import ObserveSupervisor
from .options import NodeOptions
from .peering import for_peers, make_peers, refuse_outside_cluster
from .procs import NODE_PID, ProcessPort
from .registry import RegistryKeeper
from .requests import Handler, NodeRequests
from .resources import ResourceHub
from .services import ServiceManager
from .shutdown import HOST_STOP_TIMEOUT_S, Shutdown
from .published import StatusPublisher
from .status import StatusCollector, boot_progress
from .terminal import Terminal
from .workflows import WorkflowManager

__all__ = ["NodeServer", "NODE_PID"]

log = logging.getLogger("wippy.node")

SIGNAL_REPEAT_S = 0.2      # a repeat within this is the same signal (sent to us and our group)
LOADS_EVERY_S = 0.25       # how often changed placement loads are broadcast
POLL_MAX_MS = 100          # the loop wakes at least this often
BOOT_PROGRESS_S = 2.0      # a start slower than this says what it waits for, this often


class NodeServer:
    """The node's parts and the loop that drives them (see the module docstring)."""

    def __init__(self, opts: NodeOptions, app: loader.LoadedApp, zygote: Zygote) -> None:
        """Take the run directory, open the stores, bind the sockets (after the zygote's fork).
        Raises NodeError when another node holds the run directory."""
        self.opts = opts
        self.app = app
        self.zygote = zygote
        self.app_dir = app.app_dir
        self.sched = scheduler.get()
        call_later = self.sched.call_later
        self.rundir = RunDir(run_dir_for(self.app_dir, opts.node))
        self.rundir.acquire({"pid": os.getpid(), "app_dir": self.app_dir, "started": _time.time()})
        osproc.set_subreaper()
        self.data_dir = data_dir_for(self.app_dir, opts.data_dir, opts.node)
        self.store = Store(os.path.join(self.data_dir, "registry"))
        BOOK.attach(self.store.entries, self.store.get)     # the node checks registry changes
        set_strict(opts.strict)
        name, ttl = opts.node or cluster.default_node(), opts.lease_ttl or cluster.DEFAULT_TTL_S
        versions = open_log(opts.cluster, name) if opts.cluster else None   # the cluster's order
        self.registry = RegistryKeeper(self.store, app, self._on_registry_change, call_later,
                                       watch=opts.watch, cluster=versions)
        self.ctx = transport.new_context()
        self.mesh = Mesh(self.ctx, self.rundir.path, 0)
        self.control = ControlPlane(transport.bind_router(self.ctx, os.path.join(self.rundir.path, "ctl")),
                                    self.mesh)
        self.procs = ProcessPort(self.mesh)
        self._serials = itertools.count(1)     # one sequence for hosts and programs (mesh ids)
        stop_timeout = opts.stop_timeout if opts.stop_timeout is not None else HOST_STOP_TIMEOUT_S
        self.hosts = HostSupervisor(self._fork, self.control.send_host, self, call_later,
                                    self._new_serial, stop_timeout=stop_timeout)
        self.names = NameTable(self.control.broadcast, self.hosts.ready_serials, call_later)
        stopping: Callable[[], bool] = lambda: self.shutdown.active  # noqa: E731
        self.services = ServiceManager(self.procs, self.names, self.hosts, call_later, stopping,
                                       self.begin_stop)
        self.peers = make_peers(opts, name, self.ctx, self.data_dir, self.mesh, call_later,
                                lambda eid: self.store.get(eid) is not None)
        peer = (self.peers.endpoint, self.peers.public.decode()) if self.peers else (None, None)
        shared = cluster.join(opts.cluster, name, ttl, *peer) if opts.cluster else None
        if self.peers is not None and shared is not None:
            self.peers.attach(shared[0].db, ttl)
        self.workflows = WorkflowManager(shared[0] if shared else os.path.join(self.data_dir, "journal"),
                                         self.procs, self.store.get, call_later, stopping)
        self.cluster = None if shared is None else ClusterPart(
            shared[1], shared[0], self.workflows, call_later, lambda: self.booted,
            lambda why: self.begin_stop(1, why), listener=cluster.Listener(shared[0].db.dsn))
        if self.cluster is not None:
            self.cluster.start()
        self.clusterwide = None if self.cluster is None else ClusterWide(
            self.cluster, self.names, self.services)
        self.shutdown = Shutdown(self.services, self.procs, self.hosts, call_later,
                                 _time.monotonic, opts.stop_timeout)
        wf = self.workflows
        self.status = StatusCollector(self.hosts, self.control.send_host, call_later,
                                      self._node_info, self.names.by_pid, self.services.rows,
                                      self.services.tree, lambda: {
                                          "running": len(wf.inc) + len(wf.waiting_host),
                                          "steps": wf.steps, "commits": wf.commits})
        part = self.cluster
        self.published = None if part is None else StatusPublisher(
            self.status.start, part.membership.publish, call_later, part.every,
            lambda: not part.stopped)
        self.terminal = Terminal(opts, app, self.procs, self.hosts, self.begin_stop)
        self.resources = ResourceHub(self.procs.spawn, self.store.get, self.store.entries,
                                     call_later)
        self.http = HttpSupervisor(
            self.zygote.fork_host, self._welcome_server, self._member_down,
            self.control.send_host, lambda h: self.hosts.set_workers(h, 1), self._new_serial,
            call_later, {"rundir": self.rundir.path, "store": self.store.path,
                         "app_dir": self.app_dir, "log_level": opts.log_level},
            resolve=lambda text, where: resolve_now(self.store, text,
                                                    self.resources.local_request, where))
        self.observe = ObserveSupervisor(
            opts.observe, opts.observe_token, self.zygote.fork_host, self._new_serial, call_later,
            {"rundir": self.rundir.path, "data_dir": self.data_dir, "log_level": opts.log_level,
             "log_format": opts.log_format, "cluster": opts.cluster})
        self.loads: dict[int, int] = {}
        self.loads_dirty = False
        self.booted = False
        self.ready = False
        self.started = _time.monotonic()
        self._signals = 0
        self._pending_signals: list[tuple[int, float]] = []
        self._last_signal = 0.0
        self._wake_r = -1
        self._dispatch = protocol.sender_dispatcher({
            Kind.READY: self._on_ready, Kind.HELLO: self._on_hello, Kind.BYE: self._on_bye,
            Kind.REQUEST: self._on_request, Kind.ACK: self._on_ack,
            Kind.RELEASE: self._on_release, Kind.EVENT: self._on_event, Kind.LOAD: self._on_load,
            Kind.PS_REPLY: self._on_ps_reply, Kind.STARTED: self._on_started,
            Kind.STOPPED: self._on_stopped,
        }, log, "node")
        self._requests: dict[ReqOp, Handler] = {
            **NodeRequests(self.names, self.registry, self.status.start, self.services.states,
                           self.begin_stop, self._info).table(),
            **self.workflows.requests(),
            ReqOp.RESOURCE: self.resources.on_request,
        }
        self._registry_effects: dict[str, Callable[[str, dict[str, Any] | None], None]] = {
            EntryKind.PROCESS_HOST.value: self._host_entry_changed,
            EntryKind.PROCESS_SERVICE.value: self.services.changed,
            EntryKind.SUPERVISOR.value: self._supervisor_entry_changed,
            EntryKind.HTTP_SERVICE.value: lambda eid, e: self.http.changed(
                eid, e, self.store.entries()),
        }

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        """Boot everything, serve until stopped; returns the exit code."""
        wake_r, wake_w = os.pipe()
        self._wake_r = wake_r
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)

        self.sched.call_later(BOOT_PROGRESS_S, self._boot_progress)
        self.observe.start()        # watches the boot; an address in use stops it here
        for e in self.store.entries().values():
            if e["kind"] == EntryKind.PROCESS_HOST.value:
                self.hosts.set_workers(e["id"], wanted_workers(e))
        self.http.load(self.store.entries())
        self.loop(until=lambda: all(h.state is not HostState.STARTING for h in self.hosts.live()),
                  timeout=BOOT_TIMEOUT_S, what="hosts to start")
        self.booted = True
        self.hosts.booting = False
        self.services.load(self.store.entries())
        self.services.start_all()
        self.workflows.boot()
        self.resources.boot()
        self.loop(until=lambda: not self.services.booting or self.shutdown.active)
        self.http.start_all()
        self.loop(until=lambda: not (self.http.starting() or self.observe.starting())
                  or self.shutdown.active, timeout=BOOT_TIMEOUT_S, what="HTTP servers and the observer to listen")
        for error in (self.http.boot_error, self.observe.boot_error):
            if error is not None:
                raise NodeError(error)
        self.http.booting = self.observe.booting = False
        if self.terminal.wanted and not self.shutdown.active:
            host_id = self.terminal.start_host()
            if host_id is not None:
                self.loop(timeout=BOOT_TIMEOUT_S, what=f"terminal host {host_id}",
                          until=lambda: self.hosts.has_ready(host_id))
            self.terminal.spawn()
        self._announce_ready()
        self.ready = True
        self.sched.call_later(LOADS_EVERY_S, self._broadcast_loads)
        self.loop(until=lambda: self.shutdown.active and not self.hosts.live()
                  and not self.http.live() and not self.observe.live())
        self.zygote.close()
        code = self.shutdown.exit_code
        return code if code is not None else 0

    def loop(self, until: Callable[[], bool], timeout: float | None = None, what: str = "") -> None:
        """Serve until ``until()``; raises NodeError after ``timeout`` seconds."""
        poller = transport.Poller()
        router = self.control.router
        poller.register(router, transport.POLLIN)
        poller.register(self.mesh.inbox, transport.POLLIN)
        poller.register(self.zygote.fd, transport.POLLIN)
        poller.register(self._wake_r, transport.POLLIN)
        poller.register(self.workflows.fd, transport.POLLIN)   # a journal commit ended
        if self.peers is not None:
            self.peers.register(poller)
        deadline = None if timeout is None else _time.monotonic() + timeout
        woken: dict[int, Callable[[], None]] = {}     # database listeners' sockets
        watched: tuple[int | None, ...] = (None, None)
        while not until():
            if self.cluster is not None:
                fds = (self.cluster.wake_fd(), self.registry.wake_fd())
                if fds != watched:
                    watched = self._watch_listeners(poller, woken, fds)
            if deadline is not None and _time.monotonic() > deadline:
                raise NodeError(f"timed out after {timeout:.0f} s waiting for {what}")
            delay = self.sched.next_delay()
            timeout_ms = POLL_MAX_MS if delay is None else max(0, min(POLL_MAX_MS, int(delay * 1000) + 1))
            for sock, _ in poller.poll(timeout_ms):
                if sock is router:
                    self._drain_router()
                elif sock is self.mesh.inbox:
                    self._drain_inbox()
                elif sock == self.zygote.fd:
                    self._drain_zygote(poller)
                elif sock == self._wake_r:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    osproc.reap_all()
                    self._handle_signals()
                elif sock == self.workflows.fd:
                    pass                # the flush below collects the ended commit
                elif sock in woken:
                    woken[sock]()
                elif self.peers is not None:
                    self.peers.on_ready(sock)
            self.sched.fire_due()
            self.workflows.flush(wait=False)    # group commit, pipelined (node/groupcommit.py)
            if self.peers is not None:
                self.peers.flush()      # this turn's frames to other nodes, a batch each
            self.mesh.flush()   # after the timers: control messages to hosts travel on it now

    def _watch_listeners(self, poller: Any, woken: dict[int, Callable[[], None]],
                         fds: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Keep the poller on the sockets of the cluster's LISTEN connections, which change
        when they reconnect: a notification wakes the loop at once, and an idle node reads
        nothing (rejected: reading them on a fast timer, which costs an idle node CPU and
        every notification up to a period). ``fds``: the listeners' sockets now, cluster's
        then registry's; returns them."""
        assert self.cluster is not None
        want = {fd: fn for fd, fn in zip(fds, (self.cluster.woken, self.registry.woken))
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
        self.http.stop_all(self.shutdown.host_timeout, reason)
        self.observe.stop_all()
        self.resources.stop()
        self.shutdown.begin(code, reason)

    def close(self) -> None:
        self.zygote.close()
        self.observe.close()
        if self.cluster is not None:
            self.cluster.leave()
        if self.peers is not None:
            self.peers.close()
        self.workflows.close()
        self.registry.close()
        try:
            self.ctx.destroy(linger=0)
        finally:
            self.store.close()
            self.rundir.release()

    def _announce_ready(self) -> None:
        n_hosts = len({h.host_id for h in self.hosts.hosts.values()})
        running = sum(1 for s in self.services.svcs.values() if s.state == State.RUNNING)
        ready = (f"node ready (pid {os.getpid()}): {n_hosts} host(s) in "
                 f"{len(self.hosts.live())} OS process(es), {running} service(s); run dir "
                 f"{self.rundir.path}")
        if self.opts.log_format == "json":
            log.info("%s", ready)           # every line of stderr is one JSON object
        else:
            print(f"wippy: {ready}", file=sys.stderr, flush=True)
        if self.opts.ready_fd is not None:
            import json
            os.write(self.opts.ready_fd, (json.dumps({"run_dir": self.rundir.path,
                                                       "pid": os.getpid(),
                                                       "observe": self.observe.address}) + "\n").encode())
            os.close(self.opts.ready_fd)

    def _boot_progress(self) -> None:
        if self.ready or self.shutdown.active:
            return
        log.info("%s", boot_progress(
            [(f"{h.host_id}/{h.serial}", h.state.value) for h in self.hosts.live()],
            (sum(1 for s in self.services.svcs.values() if s.state == State.RUNNING),
             len(self.services.svcs)), _time.monotonic() - self.started))
        self.sched.call_later(BOOT_PROGRESS_S, self._boot_progress)

    def _info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "app_dir": self.app_dir, "data_dir": self.data_dir,
                "node_pid": NODE_PID, "version": self.registry.version}

    def _node_info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "app_dir": self.app_dir, "run_dir": self.rundir.path,
                "uptime": _time.monotonic() - self.started,
                "registry_version": self.registry.version, "denied": denials(),
                "strict": self.opts.strict, "http": self.http.rows(), "observe": self.observe.row(),
                "metrics": collector().snapshot(),     # what the node's own parts recorded
                "cluster": None if self.cluster is None else {
                    **self.cluster.info(), "peers": self.peers.info() if self.peers else None,
                    **(self.clusterwide.info() if self.clusterwide else {}),
                    "registry": self.registry.cluster_info()}}

    # -- signals -------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        # Only record it: the handler may run in the middle of a timer-heap operation, so it
        # must not touch the scheduler. The wakeup fd wakes the loop, which acts.
        self._pending_signals.append((signum, _time.monotonic()))

    def _handle_signals(self) -> None:
        while self._pending_signals:
            signum, at = self._pending_signals.pop(0)
            if self._signals and at - self._last_signal < SIGNAL_REPEAT_S:
                continue        # the same Ctrl-C delivered twice (to us and to our group)
            self._signals += 1
            self._last_signal = at
            if self._signals == 1:
                self.begin_stop(0, f"signal {signal.Signals(signum).name}")
            else:
                log.warning("second signal: killing the hosts now")
                self.http.kill_all()
                self.observe.kill_all()
                self.shutdown.kill()

    # -- host events (HostSupervisor -> node) --------------------------------------------
    def _new_serial(self) -> int:
        return next(self._serials)

    def _fork(self, hp: HostProc) -> None:
        self.zygote.fork_host({
            "serial": hp.serial, "host_id": hp.host_id, "rundir": self.rundir.path,
            "store": self.store.path, "terminal": hp.terminal, "app_dir": self.app_dir,
            "stdout_to_stderr": self.opts.exec_entry is not None and not hp.terminal,
            "log_level": self.opts.log_level, "log_format": self.opts.log_format,
            "strict": self.opts.strict,
        })

    def topology_changed(self) -> None:
        topo = self.hosts.topology()
        self.mesh.set_topology(topo)
        self.control.broadcast(protocol.topology(topo))

    def host_retiring(self, hp: HostProc) -> None:
        self.services.host_retiring(hp.serial)
        self.workflows.host_retiring(hp.serial)

    def host_failed(self, hp: HostProc, reason: str) -> bool:
        return self.services.host_failed(hp.host_id, reason)

    def host_down(self, hp: HostProc, reason: str) -> None:
        serial = hp.serial
        self.store.reader_check()
        self.mesh.host_down(serial)
        self.control.leave_host(serial)
        self.loads.pop(serial, None)
        self.names.host_down(serial)
        self.status.host_gone(serial)
        self.control.broadcast(protocol.host_down(serial, reason))
        self.topology_changed()
        if self.shutdown.active:
            return
        if self.peers is not None:
            held = self.names.by_pid()
            for pid in self.peers.host_down(serial, reason):
                self.names.release(pid, held.get(pid, ()))
        self.services.host_died(serial, reason, hp.host_id)
        self.workflows.host_down(serial)
        self.resources.host_down(serial, reason)
        if hp.retired and self.hosts.has_ready(hp.host_id):
            self.services.host_ready(hp.host_id)        # they move to a remaining worker
            self.workflows.host_ready(hp.host_id)
        self.terminal.host_down(serial, reason)

    def _welcome_server(self, ident: bytes, serial: int) -> None:
        """An HTTP server is listening: it joins the mesh as a host does."""
        topo = self.hosts.topology()
        self.control.send_router(ident, protocol.welcome(topo, dict(self.loads),
                                                         self.names.snapshot(),
                                                         self.hosts.dead_serials()))
        self.control.join_host(ident, serial)

    def _member_down(self, serial: int, reason: str) -> None:
        """An OS process that hosts no processes (an HTTP server) is gone."""
        self.mesh.host_down(serial)
        self.control.leave_host(serial)
        self.control.broadcast(protocol.host_down(serial, reason))

    def _drain_zygote(self, poller: Any) -> None:
        for ev in self.zygote.events():
            if ev[0] == "started":
                if self.observe.on_started(ev[1], ev[2]):
                    pass
                elif not self.http.is_server(ev[1]):
                    self.hosts.on_started(ev[1], ev[2])
                else:
                    self.http.on_started(ev[1], ev[2])
            elif ev[0] == "exited":
                if not (self.observe.on_exited(ev[1], ev[3]) or self.http.on_exited(ev[1], ev[3])):
                    self.hosts.on_exited(ev[1], ev[3])
        if self.zygote.eof:
            poller.unregister(self.zygote.fd)
            log.error("the zygote (os pid %d) died; every host died with it; stopping", self.zygote.pid)
            self.hosts.zygote_died()
            self.begin_stop(1, "zygote died")

    # -- control messages ----------------------------------------------------------------
    def _drain_router(self) -> None:
        for ident, msg in self.control.receive():
            try:
                self._dispatch(ident, msg)
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the node
                log.warning("control message from %r failed: %s", ident, exc)

    def _on_ready(self, ident: bytes, f: protocol.Ready) -> None:
        if self.http.on_ready(ident, f) or self.observe.on_ready(ident, f):
            return
        hp = self.hosts.on_ready(f.serial, f.os_pid)
        if hp is None:
            return
        topo = self.hosts.topology()
        self.mesh.set_topology(topo)
        self.control.send_router(ident, protocol.welcome(topo, dict(self.loads), self.names.snapshot(),
                                                         self.hosts.dead_serials()))
        self.control.join_host(ident, hp.serial)
        self.control.broadcast(protocol.topology(topo), skip=hp.serial)
        self.status.watch(hp.serial, hp.os_pid)
        if self.booted:
            self.services.host_ready(hp.host_id)
            self.workflows.host_ready(hp.host_id)

    def _on_hello(self, ident: bytes, f: protocol.Hello) -> None:
        serial = self._new_serial()
        self.control.join_client(ident, serial)
        self.control.send_router(ident, protocol.welcome(
            self.hosts.topology(), dict(self.loads), self.names.snapshot(),
            self.hosts.dead_serials(), serial=serial, node_pid=NODE_PID, store=self.store.path))

    def _on_bye(self, ident: bytes, f: protocol.Bye) -> None:
        serial = self.control.leave_client(ident)
        if serial is not None:
            self.mesh.host_down(serial)

    def _on_ack(self, ident: bytes, f: protocol.Ack) -> None:
        serial = self.control.host_serial(ident)
        if serial is not None:
            self.names.ack(serial, f.seq)

    def _on_release(self, ident: bytes, f: protocol.Release) -> None:
        self.names.release(f.pid, f.names)

    def _on_event(self, ident: bytes, f: protocol.Event) -> None:
        if self.http.on_stats(f):
            return
        self.control.broadcast(protocol.event(*f))

    def _on_load(self, ident: bytes, f: protocol.Load) -> None:
        self.loads[f.serial] = f.procs
        self.loads_dirty = True

    def _on_ps_reply(self, ident: bytes, f: protocol.PsReply) -> None:
        self.status.on_reply(f)

    def _on_started(self, ident: bytes, f: protocol.Started) -> None:
        self.services.started(f.pid)

    def _on_stopped(self, ident: bytes, f: protocol.Stopped) -> None:
        log.debug("host %d has stopped its processes", f.serial)

    def _broadcast_loads(self) -> None:
        if self.loads_dirty:
            self.loads_dirty = False
            self.mesh.set_loads(self.loads)
            self.control.broadcast(protocol.loads(dict(self.loads)))
        if not self.shutdown.active:
            self.sched.call_later(LOADS_EVERY_S, self._broadcast_loads)

    # -- requests ------------------------------------------------------------------------
    def _on_request(self, ident: bytes, f: protocol.Request) -> None:
        reply = self.control.reply_to(ident, f.req, f.caller)
        handler = self._requests.get(f.op)    # type: ignore[call-overload]  # an unknown op: int
        if handler is None:
            reply.error("INVALID", f"unknown request '{f.op}'")
            return
        handler(f.args, reply)

    # -- registry changes ----------------------------------------------------------------
    def _on_registry_change(self, version: int, changes: dict[str, list], source: str) -> None:
        """A version was committed: tell every member, then carry out its effects."""
        events = changed_ids(changes)
        self.control.broadcast(protocol.registry(version, events))
        if not self.booted:
            return
        self.resources.registry_changed(events)
        for _, eid, entry in events:
            kind = (entry or {}).get("kind") or self._known_kind(eid)
            effect = self._registry_effects.get(kind or "")
            if effect is not None:
                effect(eid, entry)
        self.services.code_changed({eid for _, eid, _ in events})

    def _known_kind(self, eid: str) -> str | None:
        """The kind of a deleted entry that the node was running."""
        if eid in self.services.svcs:
            return EntryKind.PROCESS_SERVICE.value
        if eid in self.hosts.workers:
            return EntryKind.PROCESS_HOST.value
        if eid in self.http.entries:
            return EntryKind.HTTP_SERVICE.value
        return None

    def _host_entry_changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        self.hosts.set_workers(eid, wanted_workers(entry))

    def _supervisor_entry_changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        if entry is not None:
            self.services.supervisor_changed(entry)

    # -- the node's own inbox (data plane) -----------------------------------------------
    def _drain_inbox(self) -> None:
        inbox = self.mesh.inbox
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
                if self.peers is not None and for_peers(frame):
                    self.peers.relay(frame)
                elif op == wire.Op.EXIT:
                    if not self.workflows.on_exit(frame[2], frame[4]):
                        self._on_exit(frame[2], frame[3], frame[4])
                elif op == wire.Op.SPAWN:
                    if for_peers(frame):        # on another node's host, outside a cluster
                        refuse_outside_cluster(frame, self.mesh)
                    else:
                        self.workflows.on_spawn(frame)
                elif frame[1] != "0":
                    self.workflows.on_frame(frame)

    def _on_exit(self, pid: str, value: Any, error: dict | None) -> None:
        if self.resources.on_exit(pid, value, error):
            return
        if not self.terminal.on_exit(pid, value, error):
            self.services.on_exit(pid, value, error)
