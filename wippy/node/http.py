"""The node's HTTP servers: one OS process per running ``http.service`` entry (S13).

The node owns them as it owns hosts: it forks each through the zygote (role ``http``), welcomes
it into the mesh when it says READY (it then receives topology, host deaths and registry
versions like a host), restarts it when it dies (the implicit root's backoff: at once, then
10 ms doubling to 1 s), and stops it first when the node stops, so the requests in flight
drain while the hosts that run their handlers are still up. A server that exits with
``ServerExit.ADDR_IN_USE`` before it was ever ready fails the boot with an error naming the
entry and its address; later (a restart, a hot-reloaded entry) it is logged and retried.

Where handlers run: the service's ``handlers.host``, else the first ``process.host`` by id,
else an implicit host ``wippy:http`` (one worker) that the node starts for it (Wippy's
http-hello-world declares no host at all). ``WIPPY_HTTP_ADDR`` overrides listen addresses
(``127.0.0.1:8080`` for every service, or ``app:gateway=127.0.0.1:8080,...``): tests and
benchmarks run an application unchanged on a port of their choosing.

Changes: an ``http.service`` entry that changes is restarted on the new one; routers and
endpoints are the server's own business (it rebuilds its routes on each registry version).
This module never touches a socket: the node hands it what it needs.
"""
from __future__ import annotations

import enum
import logging
import os
import signal
import time as _time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..core import osproc, protocol
from ..errors import WippyError
from ..http.server import STATS_SYSTEM, ServerExit, server_main
from ..registry.entry import Kind
from ..supervision.backoff import host_restart_delay

__all__ = ["HttpSupervisor", "ServerProc", "ServerState", "HTTP_ROLE", "IMPLICIT_HOST",
           "http_server_main", "handler_host", "addr_overrides", "STATS_SYSTEM",
           "MAX_IN_FLIGHT", "MAX_BODY", "TIMEOUT_S"]

log = logging.getLogger("wippy.node")

HTTP_ROLE = "http"                 # the zygote role of a server process
IMPLICIT_HOST = "wippy:http"       # runs handlers when the application declares no host
MAX_IN_FLIGHT = 1024               # requests in flight per server before 503 (handlers.max_in_flight)
MAX_BODY = 32 * 1024 * 1024        # request body bytes before 413 (handlers.max_body)
TIMEOUT_S = 60.0                   # a handler's time to answer before 504 (timeouts.write)
KILL_GRACE_S = 2.0                 # after a stop's timeout, how long before SIGKILL
ADDR_ENV = "WIPPY_HTTP_ADDR"


def http_server_main(spec: dict[str, Any]) -> int:
    """The zygote's main for role ``http`` (runs in the forked child)."""
    return server_main(spec)


class ServerState(str, enum.Enum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    DEAD = "dead"


@dataclass
class ServerProc:
    """One server OS process (``serial`` is never reused)."""

    serial: int
    service_id: str
    addr: str
    os_pid: int = 0
    state: ServerState = ServerState.STARTING
    retired: bool = False           # stopped on purpose (entry changed or deleted, node stop)
    stats: dict[str, Any] = field(default_factory=dict)


def addr_overrides(value: str | None) -> dict[str, str]:
    """``WIPPY_HTTP_ADDR``: ``HOST:PORT`` (key ``*``) or ``id=HOST:PORT,...``."""
    out: dict[str, str] = {}
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        sid, eq, addr = part.partition("=")
        if eq:
            out[sid.strip()] = addr.strip()
        else:
            out["*"] = part
    return out


def handler_host(service: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]) -> str:
    """Where the handlers of ``service`` (a stored entry) run (see the module docstring)."""
    named = ((service.get("data") or {}).get("handlers") or {}).get("host")
    if named:
        return str(named)
    hosts = sorted(eid for eid, e in entries.items() if e.get("kind") == Kind.PROCESS_HOST.value)
    return hosts[0] if hosts else IMPLICIT_HOST


class HttpSupervisor:
    """The node's HTTP server processes.

    ``fork(spec)`` asks the zygote for a child; ``welcome(ident, serial)`` admits a ready
    server to the mesh; ``server_down(serial, reason)`` tells every member one is gone;
    ``send(serial, message)`` reaches a welcomed server; ``start_host(host_id)`` starts the
    implicit handler host; ``new_serial()``, ``call_later`` and ``clock`` are the node's."""

    def __init__(self, fork: Callable[[dict[str, Any]], None],
                 welcome: Callable[[bytes, int], None],
                 server_down: Callable[[int, str], None], send: Callable[[int, tuple], None],
                 start_host: Callable[[str], None], new_serial: Callable[[], int],
                 call_later: Callable[..., Any], spec_base: dict[str, Any],
                 clock: Callable[[], float] = _time.monotonic,
                 env: Mapping[str, str] = os.environ,
                 resolve: Callable[[str, str], str] | None = None) -> None:
        self._fork = fork
        self._welcome = welcome
        self._server_down = server_down
        self._send = send
        self._start_host = start_host
        self._new_serial = new_serial
        self._call_later = call_later
        self._spec_base = spec_base
        self._clock = clock
        self._overrides = addr_overrides(env.get(ADDR_ENV))
        self._resolve = resolve        # ${env:...} in addr (text, where) -> text
        self.entries: dict[str, dict[str, Any]] = {}      # running service id -> stored entry
        self.servers: dict[int, ServerProc] = {}
        self._all: Mapping[str, Mapping[str, Any]] = {}
        self._deaths: dict[str, tuple[float, ...]] = {}
        self.restarts: dict[str, int] = {}
        self.booting = True
        self.stopping = False
        self.boot_error: str | None = None

    # -- views ---------------------------------------------------------------------------
    def live(self) -> list[ServerProc]:
        return [s for s in self.servers.values() if s.state is not ServerState.DEAD]

    def starting(self) -> bool:
        return any(s.state is ServerState.STARTING for s in self.servers.values())

    def is_server(self, serial: int) -> bool:
        return serial in self.servers

    def rows(self) -> list[dict[str, Any]]:
        """What ``wippy ps`` shows of each live server."""
        return [{"service": s.service_id, "serial": s.serial, "os_pid": s.os_pid,
                 "addr": s.addr, "state": s.state.value,
                 "restarts": self.restarts.get(s.service_id, 0), **s.stats}
                for s in sorted(self.live(), key=lambda s: s.serial)]

    # -- starting ------------------------------------------------------------------------
    def load(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Take the registry at boot: which services start, and start the implicit handler
        host if one of them needs it (before the node waits for its hosts)."""
        self._all = entries
        for eid, e in sorted(entries.items()):
            if e.get("kind") == Kind.HTTP_SERVICE.value and _auto_start(e):
                self.entries[eid] = dict(e)
                if handler_host(e, entries) == IMPLICIT_HOST:
                    self._start_host(IMPLICIT_HOST)

    def start_all(self) -> None:
        for eid in sorted(self.entries):
            self._start(eid)

    def _addr(self, eid: str, entry: Mapping[str, Any]) -> str:
        """The address to listen on; raises WippyError when a placeholder in it resolves to
        nothing."""
        addr = self._overrides.get(eid) or self._overrides.get("*") or \
            str((entry.get("data") or {}).get("addr"))
        if "${" in addr and self._resolve is not None:
            addr = str(self._resolve(addr, "field 'addr'"))
        return addr

    def _start(self, eid: str) -> None:
        entry = self.entries[eid]
        data = entry.get("data") or {}
        handlers = data.get("handlers") or {}
        try:
            addr = self._addr(eid, entry)
        except WippyError as exc:
            message = f"http.service {eid}: {exc}"
            if self.booting:
                self.boot_error = self.boot_error or message
            else:
                log.error("%s", message)
            return
        sp = ServerProc(self._new_serial(), eid, addr)
        self.servers[sp.serial] = sp
        self._fork({**self._spec_base, "role": HTTP_ROLE, "serial": sp.serial,
                    "service_id": eid, "addr": addr,
                    "handler_host": handler_host(entry, self._all),
                    "max_in_flight": int(handlers.get("max_in_flight") or MAX_IN_FLIGHT),
                    "max_body": int(handlers.get("max_body") or MAX_BODY),
                    "timeout": float((data.get("timeouts") or {}).get("write") or TIMEOUT_S)})

    # -- what the zygote and the servers report ------------------------------------------
    def on_started(self, serial: int, os_pid: int) -> None:
        sp = self.servers.get(serial)
        if sp is not None:
            sp.os_pid = os_pid
            if sp.state is ServerState.STOPPING:
                self._kill(sp)      # stopped before it could even start

    def on_ready(self, ident: bytes, f: protocol.Ready) -> bool:
        """True when ``f`` came from a server (welcomed unless it was stopped meanwhile)."""
        sp = self.servers.get(f.serial)
        if sp is None:
            return False
        if sp.state is not ServerState.STARTING:
            return True
        sp.state = ServerState.READY
        sp.os_pid = f.os_pid
        self._welcome(ident, sp.serial)
        log.info("http %s: listening on %s (os pid %d)", sp.service_id, sp.addr, sp.os_pid)
        return True

    def on_stats(self, f: protocol.Event) -> bool:
        """True when ``f`` is a server's statistics (kept for ``ps``, not broadcast)."""
        if f.system != STATS_SYSTEM:
            return False
        data = f.data if isinstance(f.data, dict) else {}
        sp = self.servers.get(int(data.get("serial", -1)))
        if sp is not None:
            sp.stats = {k: v for k, v in data.items() if k in ("in_flight", "routes", "metrics")}
        return True

    def on_exited(self, serial: int, status: int) -> bool:
        """True when ``serial`` was a server. Records a boot error (``boot_error``) when one
        could not start during the node's boot."""
        sp = self.servers.get(serial)
        if sp is None:
            return False
        if sp.state is ServerState.DEAD:
            return True
        was_ready = sp.state is not ServerState.STARTING
        sp.state = ServerState.DEAD
        reason = _describe(status, sp)
        self._server_down(serial, reason)
        if sp.retired or self.stopping:
            return True
        if not was_ready and self.booting:
            self.boot_error = f"http.service {sp.service_id}: {reason}"
            return True
        log.error("http %s (os pid %d) died: %s", sp.service_id, sp.os_pid, reason)
        self._schedule_restart(sp.service_id)
        return True

    def _schedule_restart(self, eid: str) -> None:
        self._deaths[eid], delay = host_restart_delay(self._deaths.get(eid, ()), self._clock())
        self.restarts[eid] = self.restarts.get(eid, 0) + 1
        self._call_later(delay, self._restart, eid)

    def _restart(self, eid: str) -> None:
        if self.stopping or eid not in self.entries:
            return
        if any(s.service_id == eid and not s.retired for s in self.live()):
            return
        self._start(eid)

    # -- changes -------------------------------------------------------------------------
    def changed(self, eid: str, entry: dict[str, Any] | None,
                entries: Mapping[str, Mapping[str, Any]]) -> None:
        """An ``http.service`` entry was created, changed or deleted: restart it on the new
        entry (or stop it)."""
        self._all = entries
        for sp in self.live():
            if sp.service_id == eid:
                self._retire(sp, f"entry {eid} changed")
        self.entries.pop(eid, None)
        if entry is not None and _auto_start(entry):
            self.entries[eid] = dict(entry)
            if handler_host(entry, entries) == IMPLICIT_HOST:
                self._start_host(IMPLICIT_HOST)
            self._start(eid)

    def _retire(self, sp: ServerProc, reason: str, timeout: float = 10.0) -> None:
        sp.retired = True
        if sp.state is ServerState.READY:
            sp.state = ServerState.STOPPING
            self._send(sp.serial, protocol.stop(timeout, reason))
            self._call_later(timeout + KILL_GRACE_S, self._kill_if_alive, sp.serial)
        else:
            sp.state = ServerState.STOPPING
            self._kill(sp)

    # -- the node stopping ---------------------------------------------------------------
    def stop_all(self, timeout: float, reason: str) -> None:
        """Every server stops accepting and drains its requests within ``timeout``."""
        if self.stopping:
            return
        self.stopping = True
        for sp in self.live():
            self._retire(sp, reason, timeout)

    def kill_all(self) -> None:
        for sp in self.live():
            self._kill(sp)

    def _kill_if_alive(self, serial: int) -> None:
        sp = self.servers.get(serial)
        if sp is not None and sp.state is not ServerState.DEAD:
            log.warning("http %s did not stop in time; killing it", sp.service_id)
            self._kill(sp)

    @staticmethod
    def _kill(sp: ServerProc) -> None:
        if sp.os_pid:
            try:
                os.kill(sp.os_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _auto_start(entry: Mapping[str, Any]) -> bool:
    return bool(((entry.get("data") or {}).get("lifecycle") or {}).get("auto_start"))


def _describe(status: int, sp: ServerProc) -> str:
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == ServerExit.ADDR_IN_USE:
            return f"field 'addr': cannot listen on {sp.addr}: address already in use"
        if code == ServerExit.BIND_FAILED:
            return f"field 'addr': cannot listen on {sp.addr} (see the message above)"
    return osproc.describe_status(status)
