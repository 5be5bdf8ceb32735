"""How the node's parts are made and wired to each other (:func:`assemble`), in the one order
that works: the run directory and the store first, then the sockets, then each part once what
it needs exists.

Each part gets only what it needs: another part (through the part's own Protocol), or a
callable. What only the node itself knows (whether it has booted, how it stops, what it does
when a host dies) comes through :class:`NodeHooks`. Where two parts need each other (the HTTP
servers are welcomed by the control handlers, which hand READY to the HTTP servers first), one
of them gets a callable that reaches the other once both exist; none of those callables runs
before :func:`assemble` returns.

Rejected: making the parts in the node's constructor: the wiring and the loop that drives the
parts are two concerns, and the wiring reads best as one function, top to bottom.
"""
from __future__ import annotations

import itertools
import os
import time as _time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .. import cluster
from ..cluster.part import ClusterPart
from ..cluster.peers import Peers
from ..cluster.registry import open_log
from ..core import osproc, transport
from ..core.mesh import Mesh
from ..core.protocol import ReqOp
from ..core.rundir import RunDir, data_dir_for, run_dir_for
from ..core.zygote import Zygote
from ..registry import loader
from ..registry.store import Store
from ..resources.envvars import resolve_now
from ..runtime import scheduler
from ..security.book import BOOK
from ..security.context import set_strict
from .clusterwide import ClusterWide
from .control import ControlPlane
from .ctlhandlers import ControlHandlers
from .hosts import HostEvents, HostProc, HostSupervisor
from .http import HttpSupervisor
from .names import NameTable
from .observe import ObserveSupervisor
from .options import NodeOptions
from .peering import make_peers
from .procs import ProcessPort
from .published import StatusPublisher
from .regeffects import RegistryEffects
from .registry import RegistryKeeper
from .requests import Handler, NodeRequests
from .resources import ResourceHub
from .services import ServiceManager
from .shutdown import HOST_STOP_TIMEOUT_S, Shutdown
from .status import StatusCollector
from .terminal import Terminal
from .workflows import WorkflowManager

__all__ = ["Parts", "NodeHooks", "assemble"]


class NodeHooks(HostEvents, Protocol):
    """What the parts ask of the node itself."""

    booted: bool        # the hosts have started and the services with them

    def begin_stop(self, code: int, reason: str) -> None:
        """Stop the node in order with exit ``code``."""

    def info(self) -> dict[str, Any]:
        """The node's identity (the ``info`` request)."""

    def node_info(self) -> dict[str, Any]:
        """What only the node knows, for its status."""


@dataclass(frozen=True)
class Parts:
    """The node's parts, made by :func:`assemble` (see :mod:`wippy.node.node` for each)."""

    sched: scheduler.Scheduler
    rundir: RunDir
    data_dir: str
    store: Store
    registry: RegistryKeeper
    ctx: Any
    mesh: Mesh
    control: ControlPlane
    procs: ProcessPort
    hosts: HostSupervisor
    names: NameTable
    services: ServiceManager
    peers: Peers | None
    workflows: WorkflowManager
    cluster: ClusterPart | None
    clusterwide: ClusterWide | None
    shutdown: Shutdown
    status: StatusCollector
    published: StatusPublisher | None
    terminal: Terminal
    resources: ResourceHub
    http: HttpSupervisor
    observe: ObserveSupervisor
    handlers: ControlHandlers
    effects: RegistryEffects


def assemble(opts: NodeOptions, app: loader.LoadedApp, zygote: Zygote, node: NodeHooks) -> Parts:
    """Take the run directory, open the stores, bind the sockets (after the zygote's fork) and
    make every part. Raises NodeError when another node holds the run directory."""
    app_dir = app.app_dir
    sched = scheduler.get()
    call_later = sched.call_later
    rundir = RunDir(run_dir_for(app_dir, opts.node))
    rundir.acquire({"pid": os.getpid(), "app_dir": app_dir, "started": _time.time()})
    osproc.set_subreaper()
    data_dir = data_dir_for(app_dir, opts.data_dir, opts.node)
    store = Store(os.path.join(data_dir, "registry"))
    BOOK.attach(store.entries, store.get)     # the node checks registry changes
    set_strict(opts.strict)
    name, ttl = opts.node or cluster.default_node(), opts.lease_ttl or cluster.DEFAULT_TTL_S
    versions = open_log(opts.cluster, name) if opts.cluster else None   # the cluster's order
    registry = RegistryKeeper(store, app, lambda v, c, s: effects.on_change(v, c, s), call_later,
                              watch=opts.watch, cluster=versions)
    ctx = transport.new_context()
    mesh = Mesh(ctx, rundir.path, 0)
    control = ControlPlane(transport.bind_router(ctx, os.path.join(rundir.path, "ctl")), mesh)
    procs = ProcessPort(mesh)
    serials = itertools.count(1)     # one sequence for hosts and programs (mesh ids)
    new_serial: Callable[[], int] = lambda: next(serials)  # noqa: E731

    def fork(hp: HostProc) -> None:
        zygote.fork_host({
            "serial": hp.serial, "host_id": hp.host_id, "rundir": rundir.path,
            "store": store.path, "terminal": hp.terminal, "app_dir": app_dir,
            "stdout_to_stderr": opts.exec_entry is not None and not hp.terminal,
            "log_level": opts.log_level, "log_format": opts.log_format,
            "strict": opts.strict,
        })

    stop_timeout = opts.stop_timeout if opts.stop_timeout is not None else HOST_STOP_TIMEOUT_S
    hosts = HostSupervisor(fork, control.send_host, node, call_later, new_serial,
                           stop_timeout=stop_timeout)
    names = NameTable(control.broadcast, hosts.ready_serials, call_later)
    stopping: Callable[[], bool] = lambda: shutdown.active  # noqa: E731
    services = ServiceManager(procs, names, hosts, call_later, stopping, node.begin_stop)
    peers = make_peers(opts, name, ctx, data_dir, mesh, call_later,
                       lambda eid: store.get(eid) is not None)
    peer = (peers.endpoint, peers.public.decode()) if peers else (None, None)
    shared = cluster.join(opts.cluster, name, ttl, *peer) if opts.cluster else None
    if peers is not None and shared is not None:
        peers.attach(shared[0].db, ttl)
    workflows = WorkflowManager(shared[0] if shared else os.path.join(data_dir, "journal"),
                                procs, store.get, call_later, stopping)
    part = None if shared is None else ClusterPart(
        shared[1], shared[0], workflows, call_later, lambda: node.booted,
        lambda why: node.begin_stop(1, why), listener=cluster.Listener(shared[0].db.dsn))
    if part is not None:
        part.start()
    clusterwide = None if part is None else ClusterWide(part, names, services)
    shutdown = Shutdown(services, procs, hosts, call_later, _time.monotonic, opts.stop_timeout)
    wf = workflows
    status = StatusCollector(hosts, control.send_host, call_later, node.node_info,
                             names.by_pid, services.rows, services.tree, lambda: {
                                 "running": len(wf.inc) + len(wf.waiting_host),
                                 "steps": wf.steps, "commits": wf.commits})
    published = None if part is None else StatusPublisher(
        status.start, part.membership.publish, call_later, part.every, lambda: not part.stopped)
    terminal = Terminal(opts, app, procs, hosts, node.begin_stop)
    resources = ResourceHub(procs.spawn, store.get, store.entries, call_later)
    http = HttpSupervisor(
        zygote.fork_host, lambda ident, serial: handlers.welcome_server(ident, serial),
        lambda serial, reason: handlers.server_down(serial, reason),
        control.send_host, lambda h: hosts.set_workers(h, 1), new_serial,
        call_later, {"rundir": rundir.path, "store": store.path,
                     "app_dir": app_dir, "log_level": opts.log_level},
        resolve=lambda text, where: resolve_now(store, text, resources.local_request, where))
    observe = ObserveSupervisor(
        opts.observe, opts.observe_token, zygote.fork_host, new_serial, call_later,
        {"rundir": rundir.path, "data_dir": data_dir, "log_level": opts.log_level,
         "log_format": opts.log_format, "cluster": opts.cluster})
    requests: dict[ReqOp, Handler] = {
        **NodeRequests(names, registry, status.start, services.states, node.begin_stop,
                       node.info).table(),
        **workflows.requests(),
        ReqOp.RESOURCE: resources.on_request,
    }
    handlers = ControlHandlers(control, mesh, hosts, names, status, services, workflows, http,
                               observe, requests, new_serial, store.path, call_later,
                               lambda: node.booted, stopping)
    effects = RegistryEffects(control.broadcast, lambda: node.booted, resources, services, hosts,
                              http, store.entries)
    return Parts(sched, rundir, data_dir, store, registry, ctx, mesh, control, procs, hosts, names,
                 services, peers, workflows, part, clusterwide, shutdown, status, published,
                 terminal, resources, http, observe, handlers, effects)
