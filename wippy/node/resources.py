"""The node's part of S13's resources: what every process of the node must share, kept in one
place and reached by message (a REQUEST ``ReqOp.RESOURCE``, answered on the control plane).

* ``store.memory`` entries: one :class:`~wippy.resources.kv.MemoryKV` each;
* ``env.storage.memory`` entries: one dict each (a value set in one host is seen by all);
* memory queues (``queue.queue`` on ``queue.driver.memory``): one
  :class:`~wippy.resources.mqueue.MemoryQueue` each, and their ``queue.consumer`` entries:
  each message taken for a consumer is spawned as a process of the consumer's entry on its
  host (the host runs the handler function in it, :mod:`wippy.resources.consumer`); the
  process's EXIT settles the message: a normal exit acks it unless the value is ``false``, an
  error exit (the handler raised, the process was killed, its host died) nacks it, and a
  nacked message comes back after its redelivery delay. A handler may settle early through
  ``queue.message():ack()`` (single-shot: whichever comes first wins);
* queues on ``queue.driver.sql``: only when to start their consumers' deliveries
  (:mod:`.sqlqueues`); the messages are rows, claimed and settled by the delivery processes.

Why the node: it outlives every host, already answers requests from all of them, and a dict
operation costs it microseconds. Rejected: a service process on a host (one more supervised
thing whose death would lose the data and the deliveries in flight, and a placement rule to
invent), and a store per host (not shared, which is what store.memory promises).

A resource is made on first use from its registry entry (the node's LMDB), and follows the
entry's changes: an edited store keeps its data (a new ``max_size`` applies to new keys), a
deleted one is dropped; a queue keeps its messages; a consumer's new concurrency, function or
host applies to the next delivery, and the deliveries in flight finish where they run.
"""
from __future__ import annotations

import logging
import time as _time
from typing import Any, Callable, Mapping

from ..core.pid import parse_pid
from ..errors import ProcessNotFound, ResourceError, WippyError
from ..registry.entry import Kind
from ..resources.kv import MemoryKV
from ..resources.mqueue import MemoryQueue, QueuedMessage
from ..security.lifecycle import service_context
from .control import Reply
from .memops import STORE_OPS, env_op, max_size, store_op
from .sqlqueues import SQL_SLOT, SqlDispatch

__all__ = ["ResourceHub", "SPAWN_RETRY_S", "SWEEP_EVERY_S"]

log = logging.getLogger("wippy.node.resources")

SPAWN_RETRY_S = 0.1     # a consumer whose host has no ready worker tries again this often
SWEEP_EVERY_S = 60.0    # expired keys of memory stores are dropped at least this often



class _Consumer:
    __slots__ = ("id", "queue", "func", "host", "concurrency", "running", "waiting_host",
                 "security")

    def __init__(self, entry: dict[str, Any], default_host: str) -> None:
        data = entry.get("data") or {}
        self.id: str = entry["id"]
        self.queue: str = data["queue"]
        self.func: str = data["func"]
        self.host: str = data.get("host") or default_host
        self.concurrency: int = int(data.get("concurrency") or 1)
        self.running: dict[str, str] = {}       # pid -> message id
        self.waiting_host = False
        self.security = service_context(entry)  # lifecycle.security, as for a service


class ResourceHub:
    """Memory stores, memory env storages, memory queues and their consumers.

    ``spawn(entry_id, host_id, args)`` starts a monitored process (the node's ProcessPort);
    ``entry(id)`` / ``entries()`` read the registry; ``call_later`` and ``clock`` are the
    node's."""

    def __init__(self, spawn: Callable[..., str], entry: Callable[[str], dict[str, Any] | None],
                 entries: Callable[[], Mapping[str, dict[str, Any]]],
                 call_later: Callable[..., Any], clock: Callable[[], float] = _time.monotonic) -> None:
        self._spawn = spawn
        self._entry = entry
        self._entries = entries
        self._call_later = call_later
        self._clock = clock
        self.stores: dict[str, MemoryKV] = {}
        self.env: dict[str, dict[str, str]] = {}
        self.queues: dict[str, MemoryQueue] = {}
        self.consumers: dict[str, _Consumer] = {}
        self._by_pid: dict[str, _Consumer] = {}
        self._pump_at: dict[str, Any] = {}       # queue id -> its pending wake-up timer
        self.sqlq = SqlDispatch(self._start, entry, call_later, clock, self._pump)
        self.started = False
        self.stopping = False

    # -- boot and registry changes -------------------------------------------------------
    def boot(self) -> None:
        """Start the consumers (after the hosts are ready) and the periodic sweep."""
        self.started = True
        for eid, e in sorted(self._entries().items()):
            if e.get("kind") == Kind.QUEUE_CONSUMER.value:
                self._consumer_changed(eid, e)
        self._call_later(SWEEP_EVERY_S, self._sweep)

    def stop(self) -> None:
        """The node stops: no more deliveries."""
        self.stopping = True

    def registry_changed(self, events: list[tuple[str, str, dict[str, Any] | None]]) -> None:
        """A committed version's ``(kind, id, entry)`` events."""
        for _, eid, entry in events:
            kind = (entry or {}).get("kind")
            if eid in self.stores and kind != Kind.STORE_MEMORY.value:
                del self.stores[eid]
            elif kind == Kind.STORE_MEMORY.value and eid in self.stores:
                self.stores[eid].max_size = max_size(entry)
            if eid in self.env and kind != Kind.ENV_STORAGE_MEMORY.value:
                del self.env[eid]
            if eid in self.sqlq.queues and not self.sqlq.is_sql(eid):
                self.sqlq.forget(eid)
            if eid in self.queues:
                if kind != Kind.QUEUE_QUEUE.value or self.sqlq.is_sql(eid):
                    self._drop_queue(eid)
                else:
                    self._configure_queue(self.queues[eid], entry)
            if kind == Kind.QUEUE_CONSUMER.value or eid in self.consumers:
                if self.started:
                    self._consumer_changed(eid, entry)

    def _consumer_changed(self, eid: str, entry: dict[str, Any] | None) -> None:
        old = self.consumers.pop(eid, None)
        auto = ((entry or {}).get("data") or {}).get("lifecycle", {}).get("auto_start", True)
        if entry is None or entry.get("kind") != Kind.QUEUE_CONSUMER.value or not auto:
            return                          # its deliveries in flight still settle (by pid)
        c = _Consumer(entry, self._default_host())
        if old is not None:
            c.running = old.running
            for pid in c.running:
                self._by_pid[pid] = c
        self.consumers[eid] = c
        self._pump(c.queue)

    def _default_host(self) -> str:
        hosts = sorted(eid for eid, e in self._entries().items()
                       if e.get("kind") == Kind.PROCESS_HOST.value)
        return hosts[0] if hosts else ""

    # -- requests ------------------------------------------------------------------------
    def on_request(self, args: tuple[Any, ...], reply: Reply) -> None:
        """``(family, op, *args)``: answer through ``reply``."""
        try:
            family, op, rest = args[0], args[1], args[2:]
            if family == "store" and op in STORE_OPS:
                reply.ok(self._store_op(op, *rest))
            elif family == "env":
                reply.ok(self._env_op(op, *rest))
            elif family == "queue":
                reply.ok(self._queue_op(op, *rest))
            else:
                reply.error("INVALID", f"unknown resource request {family}.{op}")
        except WippyError as exc:
            reply.fail(exc)
        except (TypeError, ValueError, IndexError) as exc:
            reply.error("INVALID", f"bad resource request: {exc}")

    def _resource(self, rid: str, kind: Kind, what: str) -> dict[str, Any]:
        entry = self._entry(rid)
        if entry is None:
            raise ResourceError("NOT_FOUND", f"{what} {rid} not found")
        if entry.get("kind") != kind.value:
            raise ResourceError("INVALID", f"{rid} is a {entry.get('kind')}, not a {kind.value}")
        return entry

    # store.memory
    def store(self, rid: str) -> MemoryKV:
        kv = self.stores.get(rid)
        if kv is None:
            entry = self._resource(rid, Kind.STORE_MEMORY, "store")
            kv = self.stores[rid] = MemoryKV(max_size(entry))
        return kv

    def _store_op(self, op: str, rid: str, *a: Any) -> Any:
        return store_op(self.store(rid), op, self._clock(), *a)

    # env.storage.memory
    async def local_request(self, family: str, op: str, *a: Any) -> Any:
        """``request`` for the node's own use of the env resolver: answered here, never waits."""
        if family != "env":
            raise ResourceError("INVALID", f"unknown resource request {family}.{op}")
        return self._env_op(op, *a)

    def _env_op(self, op: str, rid: str, *a: Any) -> Any:
        values = self.env.get(rid)
        if values is None:
            self._resource(rid, Kind.ENV_STORAGE_MEMORY, "env storage")
            values = self.env[rid] = {}
        return env_op(values, op, *a)

    # queues
    def queue(self, rid: str) -> MemoryQueue:
        q = self.queues.get(rid)
        if q is None:
            entry = self._resource(rid, Kind.QUEUE_QUEUE, "queue")
            if self.sqlq.is_sql(rid):
                raise ResourceError("INVALID", f"queue {rid} is on a queue.driver.sql: its "
                                               "messages are rows, written by the hosts")
            q = self.queues[rid] = MemoryQueue(rid)
            self._configure_queue(q, entry)
        return q

    def _configure_queue(self, q: MemoryQueue, entry: dict[str, Any] | None) -> None:
        data = (entry or {}).get("data") or {}
        memory = (data.get("driver_options") or {}).get("memory") or {}
        try:
            q.max_length = int(memory.get("max_length") or 0) or q.max_length
        except (TypeError, ValueError):
            pass
        dead = data.get("dead_letter") or {}
        q.max_attempts = dead.get("max_attempts") if dead.get("queue") else None

    def _drop_queue(self, rid: str) -> None:
        self.queues.pop(rid, None)
        timer = self._pump_at.pop(rid, None)
        if timer is not None:
            timer.cancel()

    def _queue_op(self, op: str, rid: str, *a: Any) -> Any:
        if op == "publish":
            q = self.queue(rid)
            msg_id = q.publish(a[0], a[1] if len(a) > 1 and isinstance(a[1], dict) else None)
            self._pump(rid)
            return msg_id
        if op == "settle":
            return self._settle(rid, str(a[0]), bool(a[1]), None)
        if op == "poke":
            self.sqlq.poke(rid)
            self._pump(rid)
            return True
        if op == "info":
            count = sum(1 for c in self.consumers.values() if c.queue == rid)
            if self.sqlq.is_sql(rid):
                return {"consumer_count": count}        # the host adds the table's counts
            return {**self.queue(rid).stats(), "consumer_count": count}
        raise ResourceError("INVALID", f"unknown queue request {op}")

    # -- deliveries ----------------------------------------------------------------------
    def _pump(self, rid: str) -> None:
        """Hand ready messages of queue ``rid`` to its consumers with room."""
        if self.stopping or not self.started:
            return
        consumers = [c for c in self.consumers.values() if c.queue == rid]
        if not consumers:
            return
        if self.sqlq.is_sql(rid):
            self.sqlq.pump(rid, consumers)
            return
        try:
            q = self.queue(rid)
        except ResourceError:
            return
        now = self._clock()
        moved = True
        while moved:                        # one message per consumer per round: fair
            moved = False
            for c in consumers:
                if len(c.running) >= c.concurrency or c.waiting_host:
                    continue
                msg = q.take(now)
                if msg is None:
                    break
                if self._deliver(c, q, msg):
                    moved = True
        due = q.next_due()
        if due is not None and rid not in self._pump_at:
            self._pump_at[rid] = self._call_later(max(0.0, due - now), self._wake, rid)

    def _wake(self, rid: str) -> None:
        self._pump_at.pop(rid, None)
        self._pump(rid)

    def _deliver(self, c: _Consumer, q: MemoryQueue, msg: QueuedMessage) -> bool:
        delivery = {"id": msg.id, "queue": q.name, "body": msg.body, "headers": msg.headers,
                    "attempts": msg.attempts, "func": c.func}
        if self._start(c, delivery, msg.id) is None:
            q.in_flight.pop(msg.id, None)
            msg.attempts -= 1
            q.restore(msg)
            return False
        return True

    def _start(self, c: _Consumer, delivery: dict[str, Any], msg_id: str = SQL_SLOT) -> str | None:
        """Spawn one delivery of consumer ``c``; None when its host has no ready worker (the
        consumer then waits, and is pumped again after SPAWN_RETRY_S)."""
        try:
            pid = self._spawn(c.id, c.host, [delivery], security=c.security)
        except ProcessNotFound as exc:
            if not c.waiting_host:
                c.waiting_host = True
                log.debug("consumer %s waits for its host: %s", c.id, exc)
                self._call_later(SPAWN_RETRY_S, self._host_retry, c.id)
            return None
        c.running[pid] = msg_id
        self._by_pid[pid] = c
        return pid

    def _host_retry(self, cid: str) -> None:
        c = self.consumers.get(cid)
        if c is not None:
            c.waiting_host = False
            self._pump(c.queue)

    def _settle(self, rid: str, msg_id: str, ack: bool, why: str | None) -> bool:
        q = self.queues.get(rid)
        if q is None:
            return False
        if ack:
            done = q.ack(msg_id)
        else:
            msg = q.in_flight.get(msg_id)
            if msg is None:
                return False
            attempts = msg.attempts
            dead = q.nack(msg_id, self._clock())
            done = True
            if why:
                log.warning("queue %s: message %s failed (attempt %d): %s; %s", rid, msg_id,
                            attempts, why, "dead-lettered" if dead else "it will be redelivered")
            if dead is not None:
                self._dead_letter(rid, dead)
        self._pump(rid)
        return done

    def _dead_letter(self, rid: str, msg: QueuedMessage) -> None:
        entry = self._entry(rid) or {}
        target = str(((entry.get("data") or {}).get("dead_letter") or {}).get("queue") or "")
        try:
            dlq = self.queue(target)
            dlq.publish(msg.body, {**msg.headers, "x_dead_letter_queue": rid,
                                   "x_dead_letter_attempts": msg.attempts})
            self._pump(target)
        except (ResourceError, TypeError) as exc:
            log.warning("queue %s: message %s could not be dead-lettered to %s: %s",
                        rid, msg.id, target, exc)

    def on_exit(self, pid: str, value: Any, error: dict[str, Any] | None) -> bool:
        """A process the node spawned ended: True when it was a delivery (now settled)."""
        c = self._by_pid.pop(pid, None)
        if c is None:
            return False
        msg_id = c.running.pop(pid, None)
        if msg_id is None:
            return True
        if msg_id == SQL_SLOT:
            if not self.stopping:           # a delivery stopped with the node failed nothing
                self.sqlq.exited(c.queue, pid, value, error)
                self._pump(c.queue)
            return True
        if error is None and value is not False:
            self._settle(c.queue, msg_id, True, None)
        else:
            why = (error or {}).get("message") if error else "the handler returned false"
            self._settle(c.queue, msg_id, False, f"{c.func}: {why}")
        return True

    def host_down(self, serial: int, reason: str) -> None:
        """Every delivery running on OS process ``serial`` failed."""
        for pid in [p for p in self._by_pid if parse_pid(p).serial == serial]:
            self.on_exit(pid, None, {"kind": "HOST_DOWN", "message": f"host died: {reason}"})

    # -- upkeep --------------------------------------------------------------------------
    def _sweep(self) -> None:
        now = self._clock()
        for kv in self.stores.values():
            kv.sweep(now)
        if not self.stopping:
            self._call_later(SWEEP_EVERY_S, self._sweep)

    def stats(self) -> dict[str, Any]:
        """Queues with their counts, stores with their sizes (for the node's status)."""
        return {"queues": {rid: q.stats() for rid, q in sorted(self.queues.items())},
                "stores": {rid: len(kv) for rid, kv in sorted(self.stores.items())}}

