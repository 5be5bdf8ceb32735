"""The node: the root OS process of ``wippy run``.

Order of birth matters (S2): the node loads and validates the application (pure Python, no
threads), forks the zygote, and only then takes the run-directory lock, opens LMDB, creates its
zmq context and binds the control ROUTER. Hosts are forked by the zygote on request.

What the node does, all from one single-threaded loop:
* OS-level supervision: forks each ``process.host``'s workers, reaps them (via the zygote),
  announces deaths to every host (so monitors and links fire) and restarts the host at once;
  repeated deaths of the same slot within a second back off from 10 ms to 1 s (S5's implicit
  root: never gives up).
* the control plane: host and client hellos, the name registry (a registration is acked by
  every live host before ``register`` returns), placement loads, ``ps``, ``stop``.
* ``process.service`` entries with ``auto_start``: started in dependency order, registered
  under their entry id, restarted after failures with Wippy's backoff.
* ``-x ENTRY``: runs one process on the terminal host and exits with its result (S4).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time as _time
from dataclasses import dataclass, field
from typing import Any

from ..core import osproc, transport, wire
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.rundir import RunDir, data_dir_for, run_dir_for
from ..core.zygote import Zygote
from ..errors import ConfigError, NodeError, WippyError, from_wire
from ..registry import loader
from ..registry.changes import changed_ids
from ..registry.store import Store
from ..runtime import scheduler
from ..supervision import services
from .hosts import BOOT_TIMEOUT_S, HostControl, HostProc
from .registry import RegistryKeeper
from .services import ServiceManager
from .workflows import WorkflowManager

__all__ = ["NodeOptions", "run_node", "NODE_PID"]

log = logging.getLogger("wippy.node")

NODE_PID = make_pid("node", 0, "0")
FORCE_GRACE_S = 2.0        # after stop_timeout, how long hosts get before SIGKILL
STOP_POLL_S = 0.01         # how often an orderly stop checks whether a level has exited
SIGNAL_REPEAT_S = 0.2      # a repeat within this is the same signal (sent to us and our group)
LOADS_EVERY_S = 0.25
ACK_TIMEOUT_S = 2.0        # a host that does not ack a name in time is presumed dying
TERMINAL_HOST = "wippy:terminal"


@dataclass
class NodeOptions:
    app_dir: str
    data_dir: str | None = None
    exec_entry: str | None = None
    exec_args: list[str] = field(default_factory=list)
    exec_host: str | None = None
    log_level: str = "WARNING"
    ready_fd: int | None = None
    stop_timeout: float | None = None
    watch: bool = True          # hot reload: watch the application's files


def run_node(opts: NodeOptions) -> int:
    """Boot, run until stopped, return the process exit code."""
    logging.basicConfig(level=opts.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s node %(message)s")
    try:
        app = loader.load_app(opts.app_dir)
    except ConfigError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        print(f"wippy: {len(exc.issues)} error(s); nothing started", file=sys.stderr)
        return 1
    for warning in app.warnings:
        print(warning, file=sys.stderr)
    if opts.exec_entry is not None and opts.exec_entry not in app.entries:
        print(f"wippy: unknown entry '{opts.exec_entry}'", file=sys.stderr)
        return 1

    from ..host.loop import host_main
    zygote = Zygote(_host_child(host_main))
    zygote.start()          # before any context, env or thread exists in this process
    try:
        node = Node(opts, app, zygote)
    except NodeError as exc:
        zygote.close()
        print(f"wippy: {exc}", file=sys.stderr)
        return 1
    try:
        return node.run()
    except NodeError as exc:
        print(f"wippy: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()


def _host_child(host_main: Any) -> Any:
    def child(spec: dict[str, Any]) -> int:
        return host_main(spec)
    return child


class Node(HostControl):
    def __init__(self, opts: NodeOptions, app: loader.LoadedApp, zygote: Zygote) -> None:
        self.opts = opts
        self.app = app
        self.zygote = zygote
        self.app_dir = app.app_dir
        self.sched = scheduler.get()
        self.rundir = RunDir(run_dir_for(self.app_dir))
        self.rundir.acquire({"pid": os.getpid(), "app_dir": self.app_dir, "started": _time.time()})
        osproc.set_subreaper()
        self.data_dir = data_dir_for(self.app_dir, opts.data_dir)
        self.store = Store(os.path.join(self.data_dir, "registry"))
        self.registry = RegistryKeeper(self.store, app, self._on_registry_change,
                                       self.sched.call_later, watch=opts.watch)
        self.host_workers: dict[str, int] = {}
        self.ctx = transport.new_context()
        self.router = transport.bind_router(self.ctx, os.path.join(self.rundir.path, "ctl"))
        self.mesh = Mesh(self.ctx, self.rundir.path, 0)
        self.next_serial = 1
        self.hosts: dict[int, HostProc] = {}
        self.by_ident: dict[bytes, int] = {}
        self.slot_deaths: dict[tuple[str, int], list[float]] = {}
        self.clients: dict[bytes, int] = {}
        self.names: dict[str, str] = {}
        self.acks: dict[int, dict[str, Any]] = {}
        self.ack_seq = 0
        self.loads: dict[int, int] = {}
        self.loads_dirty = False
        self.ps_pending: dict[int, dict[str, Any]] = {}
        self.ps_seq = 0
        self.spawn_counter = 0
        self.services = ServiceManager(self)
        self.workflows = WorkflowManager(self, os.path.join(self.data_dir, "journal"))
        self.exec_pid: str | None = None
        self.stopping = False
        self.exit_code: int | None = None
        self.force_at = 0.0
        self.signals = 0
        self._pending_signals: list[tuple[int, float]] = []
        self._last_signal = 0.0
        self.booted = False
        self.wake_r = -1
        self.started = _time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        self.wake_r = wake_r
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)

        for e in self.store.entries().values():
            if e["kind"] == "process.host":
                self._set_host_workers(e)
        self.loop(wake_r, until=lambda: all(h.state != "forking" for h in self.hosts.values()),
                  timeout=BOOT_TIMEOUT_S, what="hosts to start")
        self.booted = True
        self._start_services()
        self.workflows.boot()
        self.loop(wake_r, until=lambda: not self.services.booting or self.stopping)
        if self.opts.exec_entry is not None:
            self._start_exec()
        self._announce_ready()
        self.sched.call_later(LOADS_EVERY_S, self._broadcast_loads)
        self.loop(wake_r, until=lambda: self.stopping and not self._live_hosts())
        self.zygote.close()
        return self.exit_code if self.exit_code is not None else 0

    def loop(self, wake_r: int, until: Any, timeout: float | None = None, what: str = "") -> None:
        poller = transport.Poller()
        poller.register(self.router, transport.POLLIN)
        poller.register(self.mesh.inbox, transport.POLLIN)
        poller.register(self.zygote.fd, transport.POLLIN)
        poller.register(wake_r, transport.POLLIN)
        deadline = None if timeout is None else _time.monotonic() + timeout
        while not until():
            if deadline is not None and _time.monotonic() > deadline:
                raise NodeError(f"timed out after {timeout:.0f} s waiting for {what}")
            if self.stopping and _time.monotonic() >= self.force_at:
                self._kill_hosts()
            delay = self.sched.next_delay()
            timeout_ms = 100 if delay is None else max(0, min(100, int(delay * 1000) + 1))
            for sock, _ in poller.poll(timeout_ms):
                if sock is self.router:
                    self._drain_router()
                elif sock is self.mesh.inbox:
                    self._drain_inbox()
                elif sock == self.zygote.fd:
                    for ev in self.zygote.events():
                        self._on_zygote(ev)
                    if self.zygote.eof:
                        poller.unregister(self.zygote.fd)
                        self._zygote_died()
                elif sock == wake_r:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    osproc.reap_all()
                    self._handle_signals()
            self.sched.fire_due()
            self.workflows.flush()      # group commit: one transaction for this turn's writes
            self.mesh.flush()   # after the timers: control messages to hosts travel on it now

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Only record it: the handler may run in the middle of a timer-heap operation, so it
        # must not touch the scheduler. The wakeup fd wakes the loop, which acts (_signals).
        self._pending_signals.append((signum, _time.monotonic()))

    def _handle_signals(self) -> None:
        while self._pending_signals:
            signum, at = self._pending_signals.pop(0)
            if self.signals and at - self._last_signal < SIGNAL_REPEAT_S:
                continue        # the same Ctrl-C delivered twice (to us and to our group)
            self.signals += 1
            self._last_signal = at
            if self.signals == 1:
                self.begin_stop(0, f"signal {signal.Signals(signum).name}")
            else:
                log.warning("second signal: killing the hosts now")
                self._kill_hosts()

    def begin_stop(self, code: int, reason: str) -> None:
        """Orderly stop: services in reverse dependency order (CANCEL, ``stop_timeout``,
        terminate), then every host (CANCEL to what is left, then kill). A second signal, or
        the overall deadline, kills the hosts at once."""
        if self.stopping:
            return
        log.info("stopping (%s)", reason)
        self.stopping = True
        self.exit_code = code
        levels = self.services.stop_levels()
        total = sum(max([s.spec.stop_timeout for s in lv] or [0]) for lv in levels)
        self.host_stop_timeout = self.opts.stop_timeout if self.opts.stop_timeout is not None else 10.0
        self.force_at = _time.monotonic() + total + self.host_stop_timeout + FORCE_GRACE_S
        self._stop_levels = levels
        self._stop_next_level()

    def _stop_next_level(self) -> None:
        if not self._stop_levels:
            for svc in self.services.svcs.values():
                svc.state = services.State.STOPPED
            for hp in self._live_hosts():
                self._to_host(hp, ("stop", self.host_stop_timeout))
            return
        level = self._stop_levels.pop(0)
        timeout = min([s.spec.stop_timeout for s in level] + [self.opts.stop_timeout or 1e9])
        for svc in level:
            if svc.pid is not None:
                self._cancel(svc.pid, "node stopping")
        self.sched.call_later(STOP_POLL_S, self._check_level, level, _time.monotonic() + timeout)

    def _check_level(self, level: list[Any], deadline: float) -> None:
        running = [s for s in level if s.pid is not None]
        if running and _time.monotonic() < deadline:
            self.sched.call_later(STOP_POLL_S, self._check_level, level, deadline)
            return
        for svc in running:
            log.warning("service %s did not stop within its stop_timeout; terminating it", svc.spec.id)
            self.terminate_pid(svc.pid)
        self._stop_next_level()

    def _announce_ready(self) -> None:
        n_hosts = len({h.host_id for h in self.hosts.values()})
        n_os = len(self._live_hosts())
        running = sum(1 for s in self.services.svcs.values() if s.state == services.State.RUNNING)
        print(f"wippy: node ready (pid {os.getpid()}): {n_hosts} host(s) in {n_os} OS process(es), "
              f"{running} service(s); run dir {self.rundir.path}", file=sys.stderr, flush=True)
        if self.opts.ready_fd is not None:
            import json
            os.write(self.opts.ready_fd, (json.dumps({"run_dir": self.rundir.path,
                                                       "pid": os.getpid()}) + "\n").encode())
            os.close(self.opts.ready_fd)

    def close(self) -> None:
        self.zygote.close()
        self.workflows.close()
        try:
            self.ctx.destroy(linger=0)
        finally:
            self.store.close()
            self.rundir.release()

    # -- hosts ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self.registry.version

    def terminate_pid(self, pid: str) -> None:
        p = parse_pid(pid)
        try:
            self.mesh.send(p.serial, wire.dumps((wire.Op.TERMINATE, p.local, NODE_PID)))
        except Exception:  # noqa: BLE001 - its host is gone; the EXIT comes from the host death
            pass

    def _cancel(self, pid: str, reason: str) -> None:
        p = parse_pid(pid)
        try:
            self.mesh.send(p.serial, wire.dumps((wire.Op.CANCEL, p.local, NODE_PID, reason, True)))
        except Exception:  # noqa: BLE001
            pass


    # -- control plane -------------------------------------------------------------------
    def _send_to(self, ident: bytes, msg: tuple) -> None:
        serial = self.by_ident.get(ident)
        if serial is not None and self._host_data(serial, msg):
            return
        try:
            self.router.send_multipart([ident, wire.dumps(msg)], transport.NOBLOCK)
        except transport.ZMQError:
            pass   # that peer is gone; its death is handled through the zygote

    def _send_router(self, ident: bytes, msg: tuple) -> None:
        try:
            self.router.send_multipart([ident, wire.dumps(msg)], transport.NOBLOCK)
        except transport.ZMQError:
            pass

    def _host_data(self, serial: int, msg: tuple, data: bytes | None = None) -> bool:
        """Send a control message to a ready host through its data-plane inbox, so that the
        host waits on one socket only (S11: every extra polled item costs each round trip).
        One PUSH pipe per host keeps these in order among themselves. False: not ready yet."""
        hp = self.hosts.get(serial)
        if hp is None or hp.state != "ready":
            return False
        try:
            self.mesh.send(serial, data or wire.dumps((wire.Op.CTL, msg)))
        except WippyError:
            pass   # host down: its death is handled through the zygote
        return True

    def _to_host(self, hp: HostProc, msg: tuple) -> None:
        self._send_to(hp.ident, msg)

    def _broadcast(self, msg: tuple, skip: int | None = None) -> None:
        data = wire.dumps((wire.Op.CTL, msg))
        for hp in self.hosts.values():
            if hp.state == "ready" and hp.serial != skip:
                self._host_data(hp.serial, msg, data)
        data = wire.dumps(msg)
        for ident in self.clients:
            try:
                self.router.send_multipart([ident, data], transport.NOBLOCK)
            except transport.ZMQError:
                pass

    def _drain_router(self) -> None:
        while True:
            try:
                ident, data = self.router.recv_multipart(transport.NOBLOCK)
            except transport.Again:
                return
            except ValueError:
                continue
            try:
                msg = wire.loads(data)
                self._on_ctl(ident, msg)
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the node
                log.warning("bad control message from %r: %s", ident, exc)

    def _on_ctl(self, ident: bytes, msg: tuple) -> None:
        kind = msg[0]
        if kind == "ready":
            self._on_ready(ident, msg[1], msg[2])
        elif kind == "req":
            _, req, op, *args = msg
            self._on_request(ident, req, op, args)
        elif kind == "ack":
            ack = self.acks.get(msg[1])
            if ack is not None:
                ack["waiting"].discard(self.by_ident.get(ident, -1))
                self._check_acks()
        elif kind == "release":
            _, pid, names = msg
            for name in names:
                if self.names.get(name) == pid:
                    del self.names[name]
                    self._broadcast(("name", name, None, None))
        elif kind == "event":
            self._broadcast(("event", *msg[1:]))
        elif kind == "load":
            self.loads[msg[1]] = msg[2]
            self.loads_dirty = True
        elif kind == "ps_reply":
            self._on_ps_reply(msg[1], msg[2])
        elif kind == "stopped":
            pass
        elif kind == "started":
            self.services.started(msg[1])
        elif kind == "hello":
            self._on_hello(ident)
        elif kind == "bye":
            serial = self.clients.pop(ident, None)
            if serial is not None:
                self.mesh.host_down(serial)
        else:
            log.warning("unknown control message %r", kind)

    def _reply(self, ident: bytes, req: int, ok: bool, value: Any) -> None:
        self._send_to(ident, ("reply", req, ok, value))

    def _on_request(self, ident: bytes, req: int, op: str, args: list) -> None:
        if op.startswith("wf_") and self.workflows.request(ident, req, op, args):
            return
        if op == "register":
            name, pid = args
            holder = self.names.get(name)
            if holder is not None and holder != pid:
                self._reply(ident, req, False, {"kind": "ALREADY_EXISTS",
                                                "message": f"name '{name}' is registered to {holder}"})
                return
            self.names[name] = pid
            self._announce_name(name, pid, (ident, req))
        elif op == "unregister":
            name = args[0]
            self.names.pop(name, None)
            self._broadcast(("name", name, None, None))
            self._reply(ident, req, True, True)
        elif op == "lookup":
            self._reply(ident, req, True, self.names.get(args[0]))
        elif op == "ps":
            self._start_ps(ident, req)
        elif op == "stop":
            self._reply(ident, req, True, True)
            self.begin_stop(0, "stop requested")
        elif op == "registry_apply":
            from_process = ident in self.by_ident    # a host: the caller is a process
            self._registry_request(ident, req, lambda: self.registry.apply(
                args[0], "process" if from_process else "api", python=not from_process))
        elif op == "registry_rollback":
            self._registry_request(ident, req, lambda: self.registry.rollback(int(args[0])))
        elif op == "exit":
            self._reply(ident, req, True, True)
            self.begin_stop(int(args[0]), "system.exit")
        elif op == "supervisor_states":
            self._reply(ident, req, True, self.services.states())
        elif op == "info":
            self._reply(ident, req, True, {"pid": os.getpid(), "app_dir": self.app_dir,
                                           "data_dir": self.data_dir, "node_pid": NODE_PID,
                                           "version": self.version})
        else:
            self._reply(ident, req, False, {"kind": "INVALID", "message": f"unknown request '{op}'"})

    def _registry_request(self, ident: bytes, req: int, fn: Any) -> None:
        from ..errors import WippyError
        try:
            version = fn()
        except WippyError as exc:
            self._reply(ident, req, False, {"kind": exc.kind, "message": str(exc)})
        else:
            self._reply(ident, req, True, version)

    def _on_registry_change(self, version: int, changes: dict[str, list], source: str) -> None:
        """A version was committed: tell every host and client, then carry out the effects."""
        events = changed_ids(changes)
        self._broadcast(("registry", version, events))
        if not self.booted:
            return
        for kind, eid, entry in events:
            ekind = (entry or {}).get("kind") or self._known_kind(eid)
            if ekind == "process.host":
                self._set_host_workers(entry, eid)
            elif ekind == "process.service":
                self.services.changed(eid, entry)
            elif ekind == "supervisor" and entry is not None:
                self.services._add_sup(entry)
                self.services._link_children()
        self.services.code_changed({eid for _, eid, _ in events})

    def _known_kind(self, eid: str) -> str | None:
        if eid in self.services.svcs:
            return "process.service"
        if eid in self.host_workers:
            return "process.host"
        return None

    def _announce_name(self, name: str, pid: str, reply_to: tuple[bytes, int] | None) -> None:
        self.ack_seq += 1
        waiting = {h.serial for h in self.hosts.values() if h.state == "ready"}
        self.acks[self.ack_seq] = {"waiting": waiting, "reply": reply_to,
                                   "deadline": _time.monotonic() + ACK_TIMEOUT_S}
        self._broadcast(("name", name, pid, self.ack_seq))
        self.sched.call_later(ACK_TIMEOUT_S, self._expire_ack, self.ack_seq)
        self._check_acks()

    def _check_acks(self) -> None:
        for seq in [s for s, a in self.acks.items() if not a["waiting"]]:
            ack = self.acks.pop(seq)
            if ack["reply"] is not None:
                self._reply(*ack["reply"], True, True)

    def _expire_ack(self, seq: int) -> None:
        ack = self.acks.get(seq)
        if ack is not None:
            log.warning("hosts %s did not acknowledge a name in %.0f s", sorted(ack["waiting"]), ACK_TIMEOUT_S)
            ack["waiting"].clear()
            self._check_acks()

    def _on_hello(self, ident: bytes) -> None:
        serial = self.next_serial
        self.next_serial += 1
        self.clients[ident] = serial
        self._send_to(ident, ("welcome", {"serial": serial, "topology": self.topology(),
                                          "loads": dict(self.loads), "names": dict(self.names),
                                          "node_pid": NODE_PID, "store": self.store.path,
                                          "dead": [h.serial for h in self.hosts.values() if h.state == "dead"]}))

    def _broadcast_loads(self) -> None:
        if self.loads_dirty:
            self.loads_dirty = False
            self.mesh.set_loads(self.loads)
            self._broadcast(("loads", dict(self.loads)))
        if not self.stopping:
            self.sched.call_later(LOADS_EVERY_S, self._broadcast_loads)

    # -- ps ------------------------------------------------------------------------------
    def _start_ps(self, ident: bytes, req: int) -> None:
        self.ps_seq += 1
        live = [h for h in self.hosts.values() if h.state == "ready"]
        self.ps_pending[self.ps_seq] = {"reply": (ident, req), "waiting": {h.serial for h in live},
                                        "hosts": {}}
        for hp in live:
            self._to_host(hp, ("ps", self.ps_seq))
        self.sched.call_later(2.0, self._finish_ps, self.ps_seq)
        if not live:
            self._finish_ps(self.ps_seq)

    def _on_ps_reply(self, seq: int, data: dict[str, Any]) -> None:
        pend = self.ps_pending.get(seq)
        if pend is None:
            return
        pend["hosts"][data["serial"]] = data
        pend["waiting"].discard(data["serial"])
        if not pend["waiting"]:
            self._finish_ps(seq)

    def _finish_ps(self, seq: int) -> None:
        pend = self.ps_pending.pop(seq, None)
        if pend is None:
            return
        hosts = []
        for hp in sorted(self.hosts.values(), key=lambda h: h.serial):
            if hp.state == "dead":
                continue
            row: dict[str, Any] = {"serial": hp.serial, "host": hp.host_id, "slot": hp.slot,
                                   "os_pid": hp.os_pid, "state": hp.state, "cpu": None, "rss": None,
                                   "restarts": max(0, len(self.slot_deaths.get((hp.host_id, hp.slot), [])))}
            if hp.ps is not None:
                try:
                    with hp.ps.oneshot():
                        row["cpu"] = hp.ps.cpu_percent()
                        row["rss"] = hp.ps.memory_info().rss
                except Exception:  # noqa: BLE001
                    pass
            row.update({k: v for k, v in pend["hosts"].get(hp.serial, {}).items()
                        if k in ("processes", "spawns", "exits", "last_failure")})
            names_of: dict[str, list[str]] = {}
            for name, pid in self.names.items():
                names_of.setdefault(pid, []).append(name)
            for p in row.get("processes", []):
                p["names"] = sorted(set(p.get("names", [])) | set(names_of.get(p["pid"], [])))
            hosts.append(row)
        svcs = [{"id": s.spec.id, "state": s.state.value, "pid": s.pid, "host": s.spec.host,
                 "restarts": s.restarts, "last_error": s.last_error, "supervisor": s.parent}
                for s in self.services.svcs.values()]
        self._reply(*pend["reply"], True, {
            "node": {"pid": os.getpid(), "app_dir": self.app_dir, "run_dir": self.rundir.path,
                     "uptime": _time.monotonic() - self.started, "registry_version": self.version},
            "hosts": hosts, "services": svcs, "supervisors": self.services.tree()})

    # -- spawning on behalf of the node --------------------------------------------------
    def spawn(self, entry_id: str, host_id: str, args: list, monitor: bool = True,
              ack: bool = False) -> str:
        serial = self.mesh.pick(host_id)
        self.spawn_counter += 1
        local = f"0.{self.spawn_counter}"
        flags = (1 if monitor else 0) | (4 if ack else 0)
        self.mesh.send(serial, wire.dumps((wire.Op.SPAWN, local, NODE_PID, entry_id,
                                           wire.plain(list(args)), flags, None)))
        return make_pid(host_id, serial, local)

    def _drain_inbox(self) -> None:
        while True:
            try:
                data = self.mesh.inbox.recv(transport.NOBLOCK)
            except transport.Again:
                return
            try:
                frames = wire.unpack(data)
            except Exception:  # noqa: BLE001 - a bad message is dropped, not fatal
                continue
            for frame in frames:
                if frame[0] == wire.Op.EXIT:
                    if not self.workflows.on_exit(frame[2], frame[4]):
                        self._on_exit(frame[2], frame[3], frame[4])
                elif frame[0] == wire.Op.SPAWN:
                    self.workflows.on_spawn(frame)
                elif frame[1] != "0":
                    self.workflows.on_frame(frame)

    def _on_exit(self, pid: str, value: Any, error: dict | None) -> None:
        if pid == self.exec_pid:
            self._finish_exec(value, error)
            return
        self.services.on_exit(pid, value, error)

    # -- services ------------------------------------------------------------------------
    def _start_services(self) -> None:
        self.services.load(self.store.entries())
        self.services.start_all()

    # -- -x ------------------------------------------------------------------------------
    def _start_exec(self) -> None:
        host_id = self.opts.exec_host
        if host_id is None:
            terms = [e.id for e in self.app.entries.values() if e.kind == "terminal.host"]
            host_id = terms[0] if terms else TERMINAL_HOST
        if not any(h.host_id == host_id and h.state == "ready" for h in self.hosts.values()):
            self.fork_host(host_id, 0, terminal=True)
            self.loop(self.wake_r, timeout=BOOT_TIMEOUT_S, what=f"terminal host {host_id}",
                      until=lambda: any(h.host_id == host_id and h.state == "ready"
                                        for h in self.hosts.values()))
        self.exec_pid = self.spawn(self.opts.exec_entry or "", host_id, list(self.opts.exec_args))

    def _finish_exec(self, value: Any, error: dict | None) -> None:
        self.exec_pid = None
        if error is not None:
            print(f"wippy: {self.opts.exec_entry}: {from_wire(error)}", file=sys.stderr)
            code = 1
        elif isinstance(value, str):
            sys.stdout.write(value if value.endswith("\n") else value + "\n")
            sys.stdout.flush()
            code = 0
        elif isinstance(value, bool):
            code = 0 if value else 1
        elif isinstance(value, (int, float)):
            code = int(value)
        else:
            code = 0
        self.begin_stop(code, "exec finished")
