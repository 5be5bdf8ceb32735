"""The node's supervision of the observer's OS process (wippy.node.observe): the decisions
with fakes for the zygote, the timers, the clock and the address; then the reservation of a
real address."""
from __future__ import annotations

import os
import signal
import socket
from typing import Any

import pytest

from wippy.core import protocol
from wippy.errors import NodeError
from wippy.node.observe import OBSERVE_ROLE, ObserveState, ObserveSupervisor, reserve


class FakeSocket:
    def __init__(self, port: int) -> None:
        self.port = port
        self.closed = False

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        self.closed = True


class Fakes:
    def __init__(self) -> None:
        self.forks: list[dict[str, Any]] = []
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []
        self.reserved: list[tuple[str, int]] = []
        self.serial = 20
        self.now = 50.0

    def new_serial(self) -> int:
        self.serial += 1
        return self.serial

    def reserve(self, host: str, port: int) -> FakeSocket:
        self.reserved.append((host, port))
        return FakeSocket(port or 43210)

    def sup(self, addr: str | None = "127.0.0.1:0", token: str | None = "t") -> ObserveSupervisor:
        return ObserveSupervisor(addr, token, self.forks.append, self.new_serial,
                                 lambda d, fn, *a: self.timers.append((d, fn, a)),
                                 {"rundir": "/r", "data_dir": "/d"}, clock=lambda: self.now,
                                 reserve=self.reserve)


def test_without_an_address_there_is_no_observer() -> None:
    f = Fakes()
    sup = f.sup(None)
    sup.start()
    assert f.forks == [] and sup.address is None and sup.row() is None
    assert not sup.on_started(1, 2) and not sup.on_exited(1, 0) and not sup.live()
    assert not sup.on_ready(b"x", protocol.Ready(1, 2))


def test_port_zero_becomes_the_reserved_port_before_the_fork() -> None:
    f = Fakes()
    sup = f.sup("127.0.0.1:0")
    sup.start()
    assert f.reserved == [("127.0.0.1", 0)]
    spec = f.forks[0]
    assert (spec["role"], spec["host"], spec["port"], spec["token"]) == (OBSERVE_ROLE, "127.0.0.1", 43210, "t")
    assert spec["rundir"] == "/r" and spec["data_dir"] == "/d"
    assert sup.address == "127.0.0.1:43210" and sup.url == "http://127.0.0.1:43210/"


def test_the_observer_is_ready_when_it_says_so_and_restarted_when_it_dies() -> None:
    f = Fakes()
    sup = f.sup()
    sup.start()
    serial = f.forks[0]["serial"]
    assert sup.on_started(serial, 4000) and sup.starting()
    assert sup.on_ready(b"o21", protocol.Ready(serial, 4000))
    assert not sup.starting() and sup.row()["state"] == ObserveState.READY.value
    sup.booting = False
    assert sup.on_exited(serial, signal.SIGKILL)
    delay, fn, args = f.timers[-1]
    assert delay == 0.0 and sup.restarts == 1
    fn(*args)
    assert len(f.forks) == 2 and f.forks[1]["serial"] != serial
    assert f.forks[1]["port"] == 43210 and len(f.reserved) == 1     # the same reserved port
    # a second death within the window backs off
    sup.on_exited(f.forks[1]["serial"], signal.SIGKILL)
    assert f.timers[-1][0] > 0


def test_a_failure_before_ready_during_boot_is_a_boot_error() -> None:
    f = Fakes()
    sup = f.sup()
    sup.start()
    serial = f.forks[0]["serial"]
    sup.on_started(serial, 4000)
    assert sup.on_exited(serial, 5 << 8)
    assert sup.boot_error is not None and "failed to start" in sup.boot_error
    assert f.timers == [] and not sup.live()


def test_at_stop_it_gets_sigterm_and_is_not_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    f = Fakes()
    sup = f.sup()
    sup.start()
    serial = f.forks[0]["serial"]
    sup.on_started(serial, 4000)
    sup.on_ready(b"o", protocol.Ready(serial, 4000))
    sup.stop_all()
    assert sent == [(4000, signal.SIGTERM)]
    delay, fn, args = f.timers[-1]
    fn(*args)                                   # past the grace: SIGKILL
    assert sent[-1] == (4000, signal.SIGKILL)
    assert sup.on_exited(serial, signal.SIGKILL)
    assert not sup.live() and len(f.forks) == 1
    sup.close()


@pytest.mark.integration
def test_a_taken_address_is_refused_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NodeError, match=f"127.0.0.1:{port}: address already in use"):
            reserve("127.0.0.1", port)


@pytest.mark.integration
def test_a_reserved_port_is_kept_from_others_but_shared_with_the_server() -> None:
    hold = reserve("127.0.0.1", 0)
    try:
        port = hold.getsockname()[1]
        other = socket.socket()
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))         # nobody else takes it ...
        other.close()
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        server.bind(("127.0.0.1", port))            # ... but a server that shares ports does
        server.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = server.accept()               # and gets the connections
            conn.close()
        server.close()
    finally:
        hold.close()
