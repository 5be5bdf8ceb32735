"""The node's web observer (``wippy run --observe HOST:PORT``): one OS process, forked through
the zygote (role ``observe``) and supervised as an HTTP server is (:mod:`wippy.node.http`).

The node checks and reserves the address before the fork: an address in use is a boot error
naming it, and port 0 becomes a real port the node knows (it is in the ready information
``wippy.Node`` reads). The reservation is a socket bound with ``SO_REUSEPORT`` and never
listening, held for the node's life: the observer's server (Granian, which binds with
``SO_REUSEPORT``) shares the port, nobody else can take it between a death and the restart,
and a socket that does not listen receives no connections.

The observer says READY over the control ROUTER when it serves (it is not welcomed into the
mesh: it attaches to the node as a program does, through HELLO, and only reads). It is
restarted when it dies (at once, then backing off from 10 ms to 1 s, the implicit root's
rule), and stopped first when the node stops (SIGTERM, then SIGKILL after ``KILL_GRACE_S``).
A failure before it was ever ready, while the node boots, fails the boot.

The token that allows the page's operator actions travels in the fork spec (a private pipe),
never on a command line. This module never touches zmq: the node hands it what it needs.
"""
from __future__ import annotations

import enum
import errno
import logging
import os
import signal
import socket
import time as _time
from dataclasses import dataclass
from typing import Any, Callable

from ..core import osproc, protocol
from ..errors import NodeError
from ..supervision.backoff import host_restart_delay

__all__ = ["ObserveSupervisor", "ObserveState", "OBSERVE_ROLE", "TOKEN_ENV", "parse_observe",
           "observe_main", "KILL_GRACE_S"]

log = logging.getLogger("wippy.node")

OBSERVE_ROLE = "observe"            # the zygote role of the observer's process
TOKEN_ENV = "WIPPY_OBSERVE_TOKEN"   # the operator's token, when not given as --observe-token
DEFAULT_HOST = "127.0.0.1"          # an address without a host listens here, never everywhere
KILL_GRACE_S = 2.0                  # after SIGTERM, how long before SIGKILL


def observe_main(spec: dict[str, Any]) -> int:
    """The zygote's main for role ``observe`` (runs in the forked child)."""
    from ..observe.server import observe_main as main
    return main(spec)


def parse_observe(addr: str) -> tuple[str, int]:
    """``PORT``, ``:PORT``, ``HOST:PORT`` or ``[V6]:PORT`` as (host, port); no host means
    127.0.0.1 (exposing the observer is the operator's explicit choice). Raises ValueError."""
    text = str(addr).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--observe {addr!r}: expected HOST:PORT or PORT") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"--observe {addr!r}: port {number} is out of range")
    return host, number


def reserve(host: str, port: int) -> socket.socket:
    """Check that (host, port) is free and hold it (see the module docstring); raises
    NodeError naming the address when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        # without SO_REUSEPORT first: a listener that shares ports must not hide a taken one
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
        hold = socket.socket(family, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.close()
        hold.bind((host, port))
        return hold
    except OSError as exc:
        what = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise NodeError(f"the observer cannot listen on {_fmt(host, port)}: {what}") from None
    finally:
        probe.close()


def _fmt(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ObserveState(str, enum.Enum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    DEAD = "dead"


@dataclass
class _Proc:
    serial: int
    os_pid: int = 0
    state: ObserveState = ObserveState.STARTING


class ObserveSupervisor:
    """The observer's OS process, if ``addr`` asks for one (else every method is a no-op
    that says "not mine").

    ``fork(spec)`` asks the zygote for a child; ``new_serial()``, ``call_later`` and
    ``clock`` are the node's; ``spec_base`` holds what the child needs (run directory, data
    directory, log settings)."""

    def __init__(self, addr: str | None, token: str | None, fork: Callable[[dict[str, Any]], None],
                 new_serial: Callable[[], int], call_later: Callable[..., Any],
                 spec_base: dict[str, Any], clock: Callable[[], float] = _time.monotonic,
                 reserve: Callable[[str, int], Any] = reserve) -> None:
        self.enabled = addr is not None
        self.host, self.port = parse_observe(addr) if addr is not None else (DEFAULT_HOST, 0)
        self._token = token or None
        self._fork = fork
        self._new_serial = new_serial
        self._call_later = call_later
        self._spec_base = spec_base
        self._clock = clock
        self._reserve = reserve
        self._hold: Any = None
        self.proc: _Proc | None = None
        self._deaths: tuple[float, ...] = ()
        self.restarts = 0
        self.booting = True
        self.stopping = False
        self.boot_error: str | None = None

    # -- views ---------------------------------------------------------------------------
    @property
    def address(self) -> str | None:
        """``host:port`` once the port is known (None when there is no observer)."""
        return _fmt(self.host, self.port) if self.enabled and self._hold is not None else None

    @property
    def url(self) -> str | None:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{_fmt(host, self.port)}/" if self.address else None

    def live(self) -> bool:
        return self.proc is not None and self.proc.state is not ObserveState.DEAD

    def starting(self) -> bool:
        return self.proc is not None and self.proc.state is ObserveState.STARTING

    def row(self) -> dict[str, Any] | None:
        """What ``wippy ps --json`` shows under ``node.observe``."""
        if not self.enabled or self.proc is None:
            return None
        return {"addr": self.address, "url": self.url, "os_pid": self.proc.os_pid,
                "state": self.proc.state.value, "restarts": self.restarts,
                "writable": self._token is not None}

    # -- life ----------------------------------------------------------------------------
    def start(self) -> None:
        """Reserve the address and fork the observer (nothing when none was asked for).
        Raises NodeError when the address cannot be had."""
        if not self.enabled or self.stopping:
            return
        if self._hold is None:
            self._hold = self._reserve(self.host, self.port)
            self.port = int(self._hold.getsockname()[1])
        self.proc = _Proc(self._new_serial())
        self._fork({**self._spec_base, "role": OBSERVE_ROLE, "serial": self.proc.serial,
                    "host": self.host, "port": self.port, "token": self._token})

    def on_started(self, serial: int, os_pid: int) -> bool:
        """True when ``serial`` is the observer (the zygote forked it)."""
        p = self.proc
        if p is None or p.serial != serial:
            return False
        p.os_pid = os_pid
        if p.state is ObserveState.STOPPING:
            self._kill()            # stopped before it could even start
        return True

    def on_ready(self, ident: bytes, f: protocol.Ready) -> bool:
        """True when ``f`` came from the observer: it serves."""
        p = self.proc
        if p is None or p.serial != f.serial:
            return False
        if p.state is ObserveState.STARTING:
            p.state = ObserveState.READY
            p.os_pid = f.os_pid
            log.info("observer: %s (os pid %d)%s", self.url, p.os_pid,
                     "" if self._token else "; read-only (no --observe-token)")
        return True

    def on_exited(self, serial: int, status: int) -> bool:
        """True when ``serial`` was the observer; restarts it unless the node stops."""
        p = self.proc
        if p is None or p.serial != serial:
            return False
        if p.state is ObserveState.DEAD:
            return True
        was_ready = p.state is not ObserveState.STARTING
        p.state = ObserveState.DEAD
        if self.stopping:
            return True
        reason = osproc.describe_status(status)
        if not was_ready and self.booting:
            self.boot_error = f"the observer on {self.address} failed to start: {reason}"
            return True
        log.error("observer (os pid %d) died: %s", p.os_pid, reason)
        self._deaths, delay = host_restart_delay(self._deaths, self._clock())
        self.restarts += 1
        self._call_later(delay, self._restart)
        return True

    def _restart(self) -> None:
        if not self.stopping and not self.live():
            self.start()

    def stop_all(self) -> None:
        """The node stops: SIGTERM now, SIGKILL after ``KILL_GRACE_S``."""
        if self.stopping:
            return
        self.stopping = True
        p = self.proc
        if p is not None and p.state is not ObserveState.DEAD:
            p.state = ObserveState.STOPPING
            if p.os_pid:
                _signal(p.os_pid, signal.SIGTERM)
            self._call_later(KILL_GRACE_S, self._kill)

    def kill_all(self) -> None:
        self._kill()

    def close(self) -> None:
        """Let the address go (the node has stopped)."""
        if self._hold is not None:
            self._hold.close()
            self._hold = None

    def _kill(self) -> None:
        p = self.proc
        if p is not None and p.state is not ObserveState.DEAD and p.os_pid:
            _signal(p.os_pid, signal.SIGKILL)


def _signal(os_pid: int, sig: int) -> None:
    try:
        os.kill(os_pid, sig)
    except ProcessLookupError:
        pass
