"""An attached program (S7): ``wippy.connect`` and what ``wippy.Node`` builds on.

A :class:`Connection` is a small member of the node: it gets a serial from the node, binds its
own inbox (its mailbox is ``conn.pid``), connects to hosts directly for sends and spawns, and
reads the registry from LMDB. It is synchronous and single-threaded: work arrives only while a
call waits (``receive``, ``exec``, ...), so a connection must be used from one thread. What
arrives, and the requests to the node, go through its :class:`~wippy.client.link.Link`.

``submit``, ``map`` and ``gather`` fan work out (:mod:`wippy.client.futures`).

Its mailbox is bounded like a process's (:mod:`wippy.core.flow`): what it has not
``receive``d counts against its senders' windows, and each read gives credits back, a quarter
of the limit at a time. Several connections to one node may live in one program (they share
the read-only registry environment: LMDB opens a file once per OS process).
"""
from __future__ import annotations

import os
import time as _time
from typing import Any, Callable, Iterable

from ..core import protocol, transport, wire
from ..core.mesh import Mesh
from ..core.pid import make_pid, parse_pid
from ..core.protocol import MONITOR, ReqOp
from ..core.rundir import run_dir_for
from ..errors import (
    InvalidMessage,
    MailboxFull,
    NodeError,
    ProcessNotFound,
    Timeout,
    WippyError,
    exit_error,
)
from ..registry.store import Store
from ..runtime.proc import Event, Message
from ..runtime.remote import qualified, refuse_code, split_host, token
from .attach import hello
from .futures import Future, dumps_function, fn_name, gather, map_work, submit, work_host
from .inbox import Inbox
from .link import Link
from .registry import RegistryView

__all__ = ["Connection", "connect"]


class Connection:
    """An attached program: spawn, send, receive, exec, call, registry, ps."""

    def __init__(self) -> None:
        self._ctx: Any = None
        self.run_dir = ""
        self.pid = ""
        self._closed = True
        self._app_dir: str | None = None      # asked of the node when a function is shipped

    def _attach(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self._ctx, self._ctl, welcome = hello(run_dir)
        assert welcome.serial is not None and welcome.node_pid is not None and welcome.store is not None
        self.serial: int = welcome.serial
        self._mesh = Mesh(self._ctx, run_dir, self.serial)
        self._mesh.set_topology(welcome.topology)
        self._mesh.set_loads(welcome.loads)
        self._mesh.dead_serials.update(welcome.dead)
        self._names: dict[str, str] = dict(welcome.names)
        self.node_pid: str = welcome.node_pid
        self._store = Store(welcome.store, readonly=True)
        self.registry = RegistryView(self._store, self._request)
        self.pid = make_pid("client", self.serial, "0")
        self._inbox = Inbox(self._mesh, self.pid)
        self._counter = 0
        self._token: str | None = None     # ids of children on other nodes (runtime.remote)
        self._link = Link(self._ctl, self._mesh, self._inbox, self._names)
        self._closed = False

    # -- the node's sockets (wippy.client.link) ------------------------------------------
    def _pump(self, timeout: float) -> None:
        """Handle whatever arrives within ``timeout`` seconds (at least one poll)."""
        self._link.pump(timeout)

    def _request(self, op: ReqOp | str, *args: Any, timeout: float = 10.0) -> Any:
        self._check()
        return self._link.request(op, *args, timeout=timeout)

    def _check(self) -> None:
        if self._closed:
            raise NodeError("this connection is closed")

    # -- API -----------------------------------------------------------------------------
    def spawn(self, id: str, host: str, *args: Any, monitor: bool = False) -> str:
        """Start entry ``id`` on ``host``; returns the PID at once."""
        return self._spawn(id, host, args, MONITOR if monitor else 0, None)

    def spawn_function(self, fn: Callable[..., Any], host: str, *args: Any, monitor: bool = False) -> str:
        """Ship a plain function or closure (cloudpickled; a module the hosts cannot import
        goes by value, see :mod:`wippy.futures`) and run it as a process on ``host``."""
        return self._spawn(fn_name(fn), host, args, MONITOR if monitor else 0, self._dumps(fn))

    def _dumps(self, fn: Callable[..., Any]) -> bytes:
        if self._app_dir is None:
            try:
                self._app_dir = str(self._request(ReqOp.INFO).get("app_dir") or "")
            except WippyError:
                self._app_dir = ""
        return dumps_function(fn, self._app_dir or None)

    def _spawn(self, id: str, host: str, args: tuple, flags: int, code: bytes | None) -> str:
        self._check()
        self._pump(0)
        from ..runtime import codeload
        if code is None and codeload.kind_of(self._store, id) in codeload.WORKFLOW_KINDS:
            self._counter += 1
            wf = f"{self.serial:x}{os.urandom(5).hex()}"
            pid = make_pid("wf", 0, wf)
            if flags:
                self._inbox.watch.add(pid)
            self._mesh.send(0, wire.dumps((wire.Op.SPAWN, wf, self.pid, id,
                                           wire.plain(list(args)), flags, None)))
            self._mesh.flush()
            return pid
        remote = split_host(host)       # "n2@app:procs": a host of another node
        if remote is not None:
            if code is not None:
                raise refuse_code(id, host)
            if self._token is None:
                self._token = token(self.serial)
            self._counter += 1
            pid = qualified(remote[0], remote[1], f"{self._token}{self._counter}")
            serial, local = 0, pid      # the node relays it (wippy.runtime.remote)
        else:
            serial = self._mesh.pick(host)
            self._counter += 1
            local = f"{self.serial}.{self._counter}"
            pid = make_pid(host, serial, local)
        if flags:
            self._inbox.watch.add(pid)
        self._mesh.send(serial, wire.dumps((wire.Op.SPAWN, local, self.pid, id,
                                            wire.plain(list(args)), flags, code)))
        self._mesh.flush()
        return pid

    def _resolve(self, dest: str) -> str:
        if dest[:1] == "{":
            return dest
        pid = self._names.get(dest) or self._request(ReqOp.LOOKUP, dest)
        if pid is None:
            raise ProcessNotFound(f"no process registered as '{dest}'")
        return pid

    def send(self, dest: str, topic: str, payload: Any = None) -> None:
        """Fire-and-forget a message to a PID or a registered name. Raises ProcessNotFound,
        InvalidMessage, MailboxFull (``wait_send`` waits for room instead)."""
        self._check()
        wire.check_topic(topic)
        self._pump(0)           # names and host deaths the node announced since the last call
        pid = self._resolve(dest)
        try:
            p = parse_pid(pid)
        except ValueError:
            raise ProcessNotFound(f"process {pid} not found") from None
        if self._mesh.known_dead(pid, p.serial):
            raise ProcessNotFound(f"process {pid} not found")
        name = None if dest[:1] == "{" else dest
        try:
            data = wire.dumps((wire.Op.MSG, p.local, self.pid, topic, wire.plain(payload), name))
        except InvalidMessage as exc:
            raise InvalidMessage(f"send to {dest} (topic '{topic}'): {exc}") from None
        self._mesh.send_msg(p.serial, pid, data)
        self._mesh.flush()

    def wait_send(self, dest: str, topic: str, payload: Any = None,
                  timeout: float | None = None) -> None:
        """:meth:`send`, waiting while ``dest``'s mailbox is full; raises MailboxFull only
        after ``timeout`` seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        while True:
            try:
                self.send(dest, topic, payload)
                return
            except MailboxFull:
                if deadline is not None and _time.monotonic() >= deadline:
                    raise
            self._pump(0.01)

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next message to ``self.pid``; None after ``timeout`` seconds (None: forever)."""
        self._check()
        deadline = None if timeout is None else _time.monotonic() + timeout
        while not self._inbox.mailbox:
            left = 0.1 if deadline is None else deadline - _time.monotonic()
            if left <= 0:
                return None
            self._pump(min(left, 0.1))
        return self._inbox.take_message()

    def events(self, timeout: float | None = None) -> Event | None:
        """The next lifecycle event (EXIT of a monitored spawn, LINK_DOWN), or None."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        while not self._inbox.events:
            left = 0.1 if deadline is None else deadline - _time.monotonic()
            if left <= 0:
                return None
            self._pump(min(left, 0.1))
        return self._inbox.events.popleft()

    def wait_exit(self, pid: str, timeout: float | None = None) -> Any:
        """Wait for monitored ``pid`` to end: its result, or raise its error."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        while pid not in self._inbox.exits:
            left = 0.1 if deadline is None else deadline - _time.monotonic()
            if left <= 0:
                raise Timeout(f"process {pid} did not finish within {timeout} s")
            self._pump(min(left, 0.1))
        value, error = self._inbox.exits[pid]
        self._inbox.take_exit(pid)
        if error is not None:
            raise exit_error(error)
        return value

    def exec(self, id: str, host: str, *args: Any, timeout: float | None = None) -> Any:
        """Spawn ``id`` on ``host``, wait for it, return its result (raise ProcessFailed)."""
        return self.wait_exit(self.spawn(id, host, *args, monitor=True), timeout)

    def run(self, fn: Callable[..., Any], host: str, *args: Any, timeout: float | None = None) -> Any:
        """Run a plain function on ``host`` and return its result."""
        return self.wait_exit(self.spawn_function(fn, host, *args, monitor=True), timeout)

    def call(self, id: str, *args: Any, host: str | None = None, timeout: float | None = None) -> Any:
        """Call function entry ``id`` on a host (the first ``process.host`` by default)."""
        if host is None:
            live = sorted(h for h, s in self._mesh.topology.items() if s)
            if not live:
                raise NodeError("no running host to call a function on")
            host = live[0]
        return self.exec(id, host, *args, timeout=timeout)

    # -- fan-out (wippy.futures) ---------------------------------------------------------
    def submit(self, work: Callable[..., Any] | str, *args: Any, host: str | None = None) -> Future:
        """Start ``work`` (a plain function, shipped, or an entry id: function, process or
        workflow) with ``args`` on ``host`` (default: the host with the most OS processes);
        returns a :class:`~wippy.futures.Future` at once. Never blocks."""
        return submit(self, work, args, host or work_host(self._mesh.topology))

    def map(self, work: Callable[..., Any] | str, items: Iterable[Any], *, host: str | None = None,
            timeout: float | None = None) -> list[Any]:
        """``work(item)`` for every item, spread over ``host``'s OS processes; the results in
        order. Blocks until all are done or ``timeout`` seconds pass (:class:`wippy.Timeout`);
        raises the first error, in order. A function is pickled once for all items."""
        return map_work(self, work, items, host or work_host(self._mesh.topology), timeout)

    def gather(self, futures: Iterable[Future], timeout: float | None = None) -> list[Any]:
        """Every future's result in order (see :func:`wippy.futures.gather`)."""
        return gather(futures, timeout)

    def terminate(self, pid: str) -> None:
        """End process ``pid`` at once (its monitors get an error exit)."""
        self._check()
        p = parse_pid(self._resolve(pid))
        self._mesh.send(p.serial, wire.dumps((wire.Op.TERMINATE, p.local, self.pid)))
        self._mesh.flush()

    def _poll_exit(self, pid: str) -> tuple[Any, Any] | None:
        """(value, error) of monitored ``pid`` if it has ended (taken: asked once)."""
        return self._inbox.take_exit(pid)

    def ps(self) -> dict[str, Any]:
        """Hosts (OS pid, CPU, RSS, processes) and services of the node."""
        return self.status(processes=True)

    def status(self, processes: bool = True) -> dict[str, Any]:
        """The node's status: ``node`` (pid, uptime, registry version), ``hosts`` (state, OS
        pid, CPU, RSS, process count, cumulative ``msgs_in``/``msgs_out``/``spawns``/``exits``,
        ``mailbox_total``/``mailbox_max``, restarts, last failure; ``processes`` when asked),
        ``services``, ``supervisors``, ``workflows`` (running, steps) and ``clock`` (the node's
        monotonic seconds): two statuses give rates (``wippy.node.status.rates``)."""
        return self._request(ReqOp.PS, processes, timeout=10.0)

    def monitor(self, pid: str) -> None:
        """Get an EXIT (``events()``, ``wait_exit``) when ``pid`` ends."""
        self._check()
        target = self._resolve(pid)
        p = parse_pid(target)
        self._inbox.watch.add(target)
        self._mesh.send(p.serial, wire.dumps((wire.Op.MONITOR, p.local, self.pid)))
        self._mesh.flush()

    def workflow_start(self, id: str, input: Any = None, name: str | None = None) -> str:
        """Start durable workflow ``id`` with ``input``; returns its PID. A ``name`` makes the
        start idempotent (the existing workflow's PID comes back)."""
        return self._request(ReqOp.WF_START, id, input, name)

    def workflow_result(self, pid: str, timeout: float | None = None) -> Any:
        """Wait for workflow ``pid`` to finish (or have finished): its result, or raise."""
        self.monitor(pid)
        return self.wait_exit(pid, timeout)

    def workflow_cancel(self, pid: str) -> None:
        self._request(ReqOp.WF_CANCEL, parse_pid(pid).local)

    def supervisor_states(self) -> list[dict[str, Any]]:
        """Every service's state, in Wippy's ``system.supervisor.states()`` shape."""
        return self._request(ReqOp.SUPERVISOR_STATES)

    def lookup(self, name: str) -> str | None:
        return self._request(ReqOp.LOOKUP, name)

    def close(self) -> None:
        """Detach from the node (the node keeps running)."""
        if self._closed:
            return
        self._closed = True
        self._inbox.credit_unread()      # what we never read is read now
        self._mesh.flush()
        try:
            self._ctl.send(wire.dumps(protocol.bye()))
        except transport.ZMQError:
            pass
        self._store.close()
        self._ctx.destroy(linger=100)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def connect(run_dir: str) -> Connection:
    """Attach to a running node by its run directory (or its application directory)."""
    if not os.path.exists(os.path.join(run_dir, "ctl")) and os.path.isdir(run_dir):
        candidate = run_dir_for(run_dir)
        if os.path.exists(os.path.join(candidate, "ctl")):
            run_dir = candidate
    conn = Connection()
    conn._attach(run_dir)
    return conn


