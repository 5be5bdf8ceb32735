"""The main loop of a host OS process.

Forked by the zygote; creates its own zmq context and LMDB reader after fork (S2), binds its
inbox, says ``ready`` to the node over the control DEALER, then loops:

    run ready tasks -> flush buffered sends -> poll(inbox, control, timeout = next timer)
    -> drain sockets -> fire due timers

Node-to-host traffic (topology, names, host deaths, stop) uses the reliable, ordered control
socket rather than a PUB: a name registration must be visible everywhere before ``register``
returns, and a missed host death would leave monitors waiting forever, so nothing here may be
dropped by a slow joiner.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import sys
import time as _time
from typing import Any

from ..core import transport, wire
from ..core.mesh import Mesh
from ..errors import NodeError, from_wire
from ..registry import public_entry
from ..registry.entry import set_app_root
from ..registry.store import Store
from ..runtime import codeload, scheduler, threads
from ..runtime.proc import CANCEL, Event
from ..runtime.table import Runtime, Terminated
from .runners import RUNNERS

__all__ = ["host_main", "HostSpec"]

log = logging.getLogger("wippy.host")

LOAD_REPORT_S = 0.25     # how often a host tells the node its process count (for placement)
DRAIN_BATCH = 4096       # frames taken from a socket per loop turn, so timers and tasks still run

HostSpec = dict   # serial, host_id, rundir, store, terminal, stdout_to_stderr, log_level


class Host:
    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.serial: int = spec["serial"]
        self.ctx = transport.new_context()
        self.mesh = Mesh(self.ctx, spec["rundir"], self.serial)
        self.ctl = transport.connect_dealer(self.ctx, os.path.join(spec["rundir"], "ctl"),
                                            f"h{self.serial}".encode())
        self.store = Store(spec["store"], readonly=True)
        self.rt = Runtime(self.mesh, spec["host_id"], self.store, ctl_request=self.request,
                          runners=RUNNERS)
        self.rt.ctl_notify = self.notify
        self.rt.on_control(self.on_ctl)       # node -> host control, once this host is ready
        self.sched = scheduler.get()
        self.req_seq = 0
        self.req_waits: dict[int, scheduler.Wait] = {}
        self.stopping = False
        self.stop_deadline = 0.0
        self.reported_load = -1
        self.next_report = 0.0

    # -- control plane -------------------------------------------------------------------
    def notify(self, *msg: Any) -> None:
        self.ctl.send(wire.dumps(msg))

    async def request(self, op: str, *args: Any) -> Any:
        """Ask the node something and wait for its answer (from inside a process)."""
        self.req_seq += 1
        req = self.req_seq
        self.req_waits[req] = self.sched.new_wait()
        self.notify("req", req, op, *args)
        ok, value = await scheduler.suspend()
        if not ok:
            raise from_wire(value)
        return value

    def on_ctl(self, msg: tuple) -> None:
        kind = msg[0]
        rt = self.rt
        if kind == "reply":
            w = self.req_waits.pop(msg[1], None)
            if w is not None:
                self.sched.wake(w, (msg[2], msg[3]))
        elif kind == "name":
            _, name, pid, ack = msg
            if pid is None:
                rt.names.pop(name, None)
            else:
                rt.names[name] = pid
            if ack is not None:
                self.notify("ack", ack)
        elif kind == "topology":
            self.mesh.set_topology(msg[1])
        elif kind == "loads":
            self.mesh.set_loads(msg[1])
        elif kind == "host_down":
            rt.host_down(msg[1], msg[2])
        elif kind == "registry":
            _, version, events = msg
            codeload.invalidate([eid for _, eid, _ in events])
            for ekind, eid, entry in events:
                rt.publish("registry", ekind, eid, None if entry is None else public_entry(entry))
        elif kind == "event":
            rt.publish(*msg[1:])
        elif kind == "ps":
            self.notify("ps_reply", msg[1], self.ps())
        elif kind == "stop":
            self.begin_stop(msg[1])
        else:
            log.warning("host %s: unknown control message %r", self.serial, kind)

    def ps(self) -> dict[str, Any]:
        procs = [{"pid": p.pid, "entry": p.entry, "mailbox": p.mailbox_depth(),
                  "names": list(p.names or ())} for p in self.rt.procs.values()]
        return {"serial": self.serial, "host": self.spec["host_id"], "os_pid": os.getpid(),
                "processes": procs, "spawns": self.rt.spawns, "exits": self.rt.exits,
                "last_failure": self.rt.last_failure}

    def begin_stop(self, timeout: float) -> None:
        """CANCEL every process that listens to its events; end the others at once; after
        ``timeout`` end whatever is left.

        A process that never asked for ``events()`` cannot see a CANCEL, so waiting
        ``stop_timeout`` for it would only delay every shutdown.
        """
        if self.stopping:
            return
        self.stopping = True
        self.stop_deadline = scheduler.monotonic() + timeout
        for proc in list(self.rt.procs.values()):
            if proc.events_requested():
                proc.post_event(Event(CANCEL, None, None, "node stopping"))
            else:
                self.rt.exit(proc, None, Terminated("node stopping"))

    # -- loop ----------------------------------------------------------------------------
    def run(self) -> None:
        self.notify("ready", self.serial, os.getpid())
        welcome = self._wait_welcome()
        self.mesh.set_topology(welcome["topology"])
        self.mesh.set_loads(welcome["loads"])
        self.rt.names.update(welcome["names"])
        for serial in welcome["dead"]:
            self.mesh.dead_serials.add(serial)

        # The loop waits on the inbox alone: node-to-host control arrives there too (Op.CTL),
        # so a blocking recv with RCVTIMEO is the whole wait (one poll(2) in libzmq, as cheap
        # as pyzmq's own ping-pong). The to_thread pipe joins a zmq.Poller only once a process
        # has used to_thread. Draining checks ZMQ_EVENTS instead of reading until zmq.Again:
        # pyzmq's Again exception costs ~9 us per wake, more than the message itself (S11).
        inbox = self.mesh.inbox
        sched, rt, mesh = self.sched, self.rt, self.mesh
        dispatch_bytes = rt.dispatch_bytes
        recv = inbox.recv
        Again = transport.Again
        NB = int(transport.NOBLOCK)
        POLLIN = transport.POLLIN
        EVENTS = transport.EVENTS
        poller = None
        thread_fd = -1
        rcvtimeo = None
        while True:
            sched.run_ready()
            flush_out = mesh.flush() if mesh.backlog else False
            now = scheduler.monotonic()
            if now >= self.next_report:
                self._report_load(now)
            if self.stopping and (not rt.procs or now >= self.stop_deadline):
                for proc in list(rt.procs.values()):
                    rt.exit(proc, None, Terminated("killed at node stop (stop_timeout passed)"))
                sched.run_ready()
                break
            if sched.ready:
                timeout = 0
            else:
                delay = sched.next_delay()
                if flush_out or self.stopping:
                    delay = 0.005 if delay is None else min(delay, 0.005)
                timeout = -1 if delay is None else math.ceil(delay * 1000)
                if timeout < 0 or timeout > LOAD_REPORT_S * 1000:
                    timeout = int(LOAD_REPORT_S * 1000)
            if poller is None and threads.active():
                poller = transport.Poller()
                poller.register(inbox, POLLIN)
                thread_fd = threads.wakeup_fd()
                poller.register(thread_fd, POLLIN)
            if poller is None:
                if timeout == 0:
                    for _ in range(DRAIN_BATCH):
                        if not inbox.getsockopt(EVENTS) & POLLIN:
                            break
                        dispatch_bytes(recv(NB))
                else:
                    if timeout != rcvtimeo:
                        inbox.rcvtimeo = rcvtimeo = timeout
                    try:
                        data = recv()
                    except Again:
                        pass
                    else:
                        dispatch_bytes(data)
                        # drain what queued meanwhile in this turn (one EVENTS check when
                        # nothing did): a turn costs a flush, which must not be paid per message
                        for _ in range(DRAIN_BATCH):
                            if not inbox.getsockopt(EVENTS) & POLLIN:
                                break
                            dispatch_bytes(recv(NB))
            else:
                for sock, _ in poller.poll(timeout):
                    if sock == thread_fd:
                        threads.drain()
                    else:
                        for _ in range(DRAIN_BATCH):
                            dispatch_bytes(recv(NB))
                            if not inbox.getsockopt(EVENTS) & POLLIN:
                                break
            sched.fire_due()
        self._flush_stdio()
        mesh.flush()
        self.notify("stopped", self.serial)

    def _report_load(self, now: float) -> None:
        self.next_report = now + LOAD_REPORT_S
        n = len(self.rt.procs)
        if n != self.reported_load:
            self.reported_load = n
            self.notify("load", self.serial, n)
        if self.spec.get("terminal"):
            self._flush_stdio()

    def _wait_welcome(self) -> dict[str, Any]:
        deadline = _time.monotonic() + 30
        while _time.monotonic() < deadline:
            if self.ctl.poll(1000):
                msg = wire.loads(self.ctl.recv())
                if msg[0] == "welcome":
                    return msg[1]
                self.on_ctl(msg)
        raise NodeError("the node did not answer this host's ready message within 30 s")

    @staticmethod
    def _flush_stdio() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


def host_main(spec: HostSpec) -> int:
    """Body of a host OS process (called in the forked child; the caller ``os._exit``s)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the node turns Ctrl-C into an ordered stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # likewise: the node stops us in order
    if spec.get("stdout_to_stderr"):
        os.dup2(2, 1)
    logging.basicConfig(level=spec.get("log_level", "WARNING"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s {spec['host_id']}/{spec['serial']} %(message)s")
    sys.path.insert(0, spec.get("app_dir", "."))
    set_app_root(spec.get("app_dir", "."))
    host = Host(spec)
    try:
        host.run()
    finally:
        host.ctx.destroy(linger=200)
    return 0
