"""The main loop of a host OS process.

Forked by the zygote; creates its own zmq context and LMDB reader after fork (S2), binds its
inbox, says ``ready`` to the node over the control DEALER, then loops:

    run ready tasks -> settle flow-control credits -> flush buffered sends
    -> poll(inbox, control, timeout = next timer) -> drain the inbox -> fire due timers

A turn's drain is bounded by frames, bytes and time (``DRAIN_*``), so a flood on the inbox
delays the timers and tasks of this host's processes by a few milliseconds, never by the
length of the flood; what is left waits in the socket for the next turn. Credits for the
messages processes read (:mod:`wippy.core.flow`) are settled after tasks ran, at most every
``SETTLE_S`` and at the latest ``SETTLE_IDLE_S`` after, so a sender waiting for room hears of
it soon without a round trip paying for it.

Node-to-host traffic (topology, names, host deaths, stop) is reliable and ordered (the
control DEALER until the welcome, then ``Op.CTL`` frames on the inbox), never a PUB: a name
registration must be visible everywhere before ``register`` returns, and a missed host death
would leave monitors waiting forever, so nothing here may be dropped by a slow joiner. The
messages are :mod:`wippy.core.protocol`'s, dispatched through one table keyed by their kind.
"""
from __future__ import annotations

import gc
import logging
import math
import os
import signal
import sys
import time as _time
from typing import Any

from .. import logs
from ..core import protocol, transport, wire
from ..core.mesh import Mesh
from ..core.protocol import Kind, ReqOp
from ..errors import InvalidMessage, NodeError, Terminated, from_wire
from ..registry import public_entry
from ..registry.entry import set_app_root
from ..registry.store import Store
from ..runtime import codeload, scheduler, threads
from ..runtime.proc import CANCEL, Event
from ..observe.metrics import collector
from ..runtime.table import Runtime
from ..security.context import denials, set_strict
from .runners import RUNNERS

__all__ = ["host_main", "HostSpec", "tune_gc", "GC_THRESHOLDS"]

log = logging.getLogger("wippy.host")

LOAD_REPORT_S = 0.25     # how often a host tells the node its process count (for placement)
NODE_STOPPING = "node stopping"   # the reason of a whole node's stop
# One turn's drain of the inbox stops after any of these, so timers and tasks still run:
DRAIN_FRAMES = 4096      # frames dispatched
DRAIN_BYTES = 4 << 20    # bytes received
DRAIN_S = 0.005          # seconds spent
SETTLE_S = 0.002         # credits of read messages go back at most this often (flow control)
SETTLE_IDLE_S = 0.02     # and at the latest this long after the turn that read them
SETTLE_IDLE_MS = int(SETTLE_IDLE_S * 1000)
LOAD_REPORT_MS = int(LOAD_REPORT_S * 1000)
# The cyclic collector's thresholds in a host (Python's default: 700, 10, 10). Measured on
# 20k spawns at once: ~90k spawns/s with the default, ~105k/s with these after gc.freeze(),
# ~115k/s with the collector off; a collection of 10k young objects takes ~1 ms.
GC_THRESHOLDS = (10_000, 10, 10)

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
        self.on_ctl = protocol.dispatcher({
            Kind.REPLY: self._on_reply, Kind.NAME: self._on_name, Kind.TOPOLOGY: self._on_topology,
            Kind.LOADS: self._on_loads, Kind.HOST_DOWN: self._on_host_down,
            Kind.REGISTRY: self._on_registry, Kind.EVENT: self._on_event, Kind.PS: self._on_ps,
            Kind.STOP: self._on_stop,
        }, log, f"host {spec['host_id']}/{self.serial}")
        self.rt.on_control(self.on_ctl)       # node -> host control, once this host is ready
        self.sched = scheduler.get()
        self.req_seq = 0
        self.ctl_out: list[bytes] | None = None     # the turn's messages to the node (loop)
        self.req_waits: dict[int, scheduler.Wait] = {}
        self.stopping = False
        self.stop_kill_reason = ""
        self.stop_deadline = 0.0
        self.reported_load = -1
        self.next_report = 0.0

    # -- control plane -------------------------------------------------------------------
    def send_ctl(self, message: tuple) -> None:
        """To the node over the control DEALER: at once before the loop runs, else at the end
        of this loop turn, with every other message of the turn in one batch (``wire``'s: the
        requests of many workflows' steps cost one zmq send, not one each)."""
        if self.ctl_out is None:
            self.ctl.send(wire.dumps(message))
        else:
            self.ctl_out.append(wire.dumps(message))

    def flush_ctl(self) -> None:
        """Send what this turn said to the node (see :meth:`send_ctl`)."""
        out = self.ctl_out
        if out:
            self.ctl_out = []
            self.ctl.send(out[0] if len(out) == 1 else wire.pack_batch(out))

    def notify(self, what: str, *args: Any) -> None:
        """What the runtime tells the node (``started``, ``release``, ``event``)."""
        self.send_ctl(protocol.notification(what, *args))

    async def request(self, op: ReqOp | str, *args: Any) -> Any:
        """Ask the node something and wait for its answer (from inside a process)."""
        try:
            code = protocol.request_op(op)
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from None
        self.req_seq += 1
        req = self.req_seq
        self.req_waits[req] = self.sched.new_wait()
        self.send_ctl(protocol.request(req, code, args, self.rt.caller()))
        ok, value = await scheduler.suspend()
        if not ok:
            raise from_wire(value)
        return value

    def _on_reply(self, f: protocol.Reply) -> None:
        w = self.req_waits.pop(f.req, None)
        if w is not None:
            self.sched.wake(w, (f.ok, f.value))

    def _on_name(self, f: protocol.Name) -> None:
        if f.pid is None:
            self.rt.names.pop(f.name, None)
        else:
            self.rt.names[f.name] = f.pid
        if f.ack is not None:
            self.send_ctl(protocol.ack(f.ack))

    def _on_topology(self, f: protocol.Topology) -> None:
        self.mesh.set_topology(f.topology)

    def _on_loads(self, f: protocol.Loads) -> None:
        self.mesh.set_loads(f.loads)

    def _on_host_down(self, f: protocol.HostDown) -> None:
        self.rt.host_down(f.serial, f.reason)

    def _on_registry(self, f: protocol.Registry) -> None:
        codeload.invalidate([eid for _, eid, _ in f.events])
        for ekind, eid, entry in f.events:
            self.rt.publish("registry", ekind, eid, None if entry is None else public_entry(entry))

    def _on_event(self, f: protocol.Event) -> None:
        self.rt.publish(f.system, f.kind, f.path, f.data)

    def _on_ps(self, f: protocol.Ps) -> None:
        self.send_ctl(protocol.ps_reply(f.seq, self.ps(f.processes)))

    def _on_stop(self, f: protocol.Stop) -> None:
        self.begin_stop(f.timeout, f.reason)

    def ps(self, processes: bool = True) -> dict[str, Any]:
        """This host's part of the node's status: counters (cumulative: readers take rates
        between two answers), mailbox depths and, when asked, every process."""
        rt = self.rt
        depths = [(p.mailbox_depth(), p) for p in rt.procs.values()]
        out = {"serial": self.serial, "host": self.spec["host_id"], "os_pid": os.getpid(),
               "count": len(depths), "spawns": rt.spawns, "exits": rt.exits,
               "msgs_in": rt.msgs_in + rt.msgs_local, "msgs_out": rt.msgs_out + rt.msgs_local,
               "mailbox_total": sum(d for d, _ in depths),
               "mailbox_max": max((d for d, _ in depths), default=0),
               "last_failure": rt.last_failure, "denied": denials()}
        if len(collector()):
            out["metrics"] = collector().snapshot()     # what user code recorded (/metrics)
        if processes:
            out["processes"] = [{"pid": p.pid, "entry": p.entry, "mailbox": d,
                                 "names": list(p.names or ())} for d, p in depths]
        return out

    def begin_stop(self, timeout: float, reason: str = NODE_STOPPING) -> None:
        """CANCEL every process that listens to its events; end the others at once; after
        ``timeout`` end whatever is left. ``reason`` is the CANCEL's and the exit's.

        A process that never asked for ``events()`` cannot see a CANCEL, so waiting
        ``stop_timeout`` for it would only delay every shutdown.
        """
        if self.stopping:
            return
        self.stopping = True
        self.stop_kill_reason = ("killed at node stop" if reason == NODE_STOPPING
                                 else f"killed: {reason}") + " (stop_timeout passed)"
        self.stop_deadline = scheduler.monotonic() + timeout
        for proc in list(self.rt.procs.values()):
            if proc.events_requested():
                proc.post_event(Event(CANCEL, None, None, reason))
            else:
                self.rt.exit(proc, None, Terminated(reason))

    # -- loop ----------------------------------------------------------------------------
    def run(self) -> None:
        self.send_ctl(protocol.ready(self.serial, os.getpid()))
        welcome = self._wait_welcome()
        self.mesh.set_topology(welcome.topology)
        self.mesh.set_loads(welcome.loads)
        self.rt.names.update(welcome.names)
        for serial in welcome.dead:
            self.mesh.dead_serials.add(serial)
        self.ctl_out = []

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
        POLLIN = int(transport.POLLIN)     # plain ints: an IntFlag costs a call per use
        EVENTS = int(transport.EVENTS)
        monotonic = scheduler.monotonic
        credits = rt.credits
        poller = None
        thread_fd = -1
        rcvtimeo = None
        settle_at = 0.0
        settle_due = False

        def drain(frames: int, nbytes: int) -> None:
            """Dispatch what the inbox holds, within this turn's budget."""
            deadline = monotonic() + DRAIN_S
            while frames < DRAIN_FRAMES and nbytes < DRAIN_BYTES and monotonic() < deadline:
                if not inbox.getsockopt(EVENTS) & POLLIN:  # type: ignore[operator]  # EVENTS is an int option
                    return
                data = recv(NB)
                nbytes += len(data)
                frames += dispatch_bytes(data)

        while True:
            if credits.out:         # owed for what the last drain found (messages for
                credits.emit()      # processes that are gone, limits): ahead of what runs now
            if sched.run_ready() and (credits.owing or credits.waits):
                settle_due = True
            now = monotonic()
            if settle_due and now >= settle_at:
                settle_due = False
                settle_at = now + SETTLE_S
                credits.settle()
            elif credits.out:
                credits.emit()
            if now >= self.next_report:
                self._report_load(now)
            if self.ctl_out:        # ahead of the data frames, as if sent when they were made
                self.flush_ctl()
            flush_out = mesh.flush() if mesh.backlog else False
            if self.stopping and (not rt.procs or now >= self.stop_deadline):
                for proc in list(rt.procs.values()):
                    rt.exit(proc, None, Terminated(self.stop_kill_reason))
                sched.run_ready()
                break
            if sched.ready:
                timeout = 0
            else:
                delay = sched.next_delay()
                if flush_out or self.stopping:
                    delay = 0.005 if delay is None else min(delay, 0.005)
                if delay is None:   # idle; with credits owed, wake to give them back (not
                    # at once: a round trip per message would pay for it)
                    timeout = SETTLE_IDLE_MS if settle_due else LOAD_REPORT_MS
                else:
                    if settle_due and delay > SETTLE_IDLE_S:
                        delay = SETTLE_IDLE_S
                    timeout = min(math.ceil(delay * 1000), LOAD_REPORT_MS)
            if poller is None and threads.active():
                poller = transport.Poller()
                poller.register(inbox, POLLIN)
                thread_fd = threads.wakeup_fd()
                poller.register(thread_fd, POLLIN)
            if poller is None:
                if timeout == 0:
                    drain(0, 0)
                else:
                    if timeout != rcvtimeo:
                        inbox.rcvtimeo = rcvtimeo = timeout
                    try:
                        data = recv()
                    except Again:
                        pass
                    else:
                        # drain what queued meanwhile in this turn (one EVENTS check when
                        # nothing did): a turn costs a flush, which must not be paid per message
                        frames = dispatch_bytes(data)
                        if inbox.getsockopt(EVENTS) & POLLIN:  # type: ignore[operator]  # EVENTS is an int option
                            drain(frames, len(data))
            else:
                for sock, _ in poller.poll(timeout):
                    if sock == thread_fd:
                        threads.drain()
                    else:
                        drain(0, 0)
            sched.fire_due()
        self._flush_stdio()
        credits.emit()
        mesh.flush()
        self.flush_ctl()
        self.ctl_out = None
        self.send_ctl(protocol.stopped(self.serial))

    def _report_load(self, now: float) -> None:
        self.next_report = now + LOAD_REPORT_S
        n = len(self.rt.procs)
        if n != self.reported_load:
            self.reported_load = n
            self.send_ctl(protocol.load(self.serial, n))
        if self.spec.get("terminal"):
            self._flush_stdio()

    def _wait_welcome(self) -> protocol.Welcome:
        deadline = _time.monotonic() + 30
        while _time.monotonic() < deadline:
            if self.ctl.poll(1000):
                msg = wire.loads(self.ctl.recv())
                if msg[0] == Kind.WELCOME:
                    welcome = protocol.parse(msg)
                    assert isinstance(welcome, protocol.Welcome)
                    return welcome
                self.on_ctl(msg)
        raise NodeError("the node did not answer this host's ready message within 30 s")

    @staticmethod
    def _flush_stdio() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


def _running_process() -> tuple[str, str] | None:
    """The PID and entry of the process running now (a log line names its source)."""
    task = scheduler.get().current
    proc = task.proc if task is not None else None
    return None if proc is None else (proc.pid, proc.entry)


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a host's lifetime (S11's spawn rate).

    What the host inherited from the zygote (frozen there before the fork) and built at boot
    (the runtime, its sockets) lives as long as it does: ``gc.freeze`` keeps it out of every
    later collection. No collection runs first: a full one walks the inherited heap, which
    costs a restarted host ~50 ms and copies its pages. Processes are freed by reference
    counting (the runtime breaks its own cycles at exit), so collections find little; a larger
    first threshold runs them less often without letting much garbage wait.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def host_main(spec: HostSpec) -> int:
    """Body of a host OS process (called in the forked child; the caller ``os._exit``s)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the node turns Ctrl-C into an ordered stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # likewise: the node stops us in order
    if spec.get("stdout_to_stderr"):
        os.dup2(2, 1)
    logs.setup(spec.get("log_level", "WARNING"), spec.get("log_format", "text"),
               f"{spec['host_id']}/{spec['serial']}", _running_process)
    sys.path.insert(0, spec.get("app_dir", "."))
    set_app_root(spec.get("app_dir", "."))
    set_strict(bool(spec.get("strict")))
    host = Host(spec)
    tune_gc()
    try:
        host.run()
    finally:
        host.ctx.destroy(linger=200)
    return 0
