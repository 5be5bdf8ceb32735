"""The node's supervision of HTTP server processes (wippy.node.http): the decisions alone, with
fakes for the zygote, the control plane and the clock; then a real server killed and restarted."""
from __future__ import annotations

import os
import signal
from typing import Any, Iterator

import pytest

from conftest import wait_until, write_app
from httpkit import Served, serve
from wippy.core import protocol
from wippy.http.server import ServerExit
from wippy.node.http import IMPLICIT_HOST, HttpSupervisor, addr_overrides, handler_host

SERVICE = {"id": "app:gw", "kind": "http.service", "meta": {},
           "data": {"addr": ":8080", "lifecycle": {"auto_start": True}}}


class Fakes:
    def __init__(self) -> None:
        self.forks: list[dict[str, Any]] = []
        self.welcomed: list[int] = []
        self.down: list[tuple[int, str]] = []
        self.sent: list[tuple[int, tuple]] = []
        self.hosts: list[str] = []
        self.timers: list[tuple[float, Any, tuple]] = []
        self.serial = 10
        self.now = 100.0

    def new_serial(self) -> int:
        self.serial += 1
        return self.serial

    def sup(self, env: dict[str, str] | None = None) -> HttpSupervisor:
        return HttpSupervisor(self.forks.append, lambda ident, s: self.welcomed.append(s),
                              lambda s, r: self.down.append((s, r)),
                              lambda s, m: self.sent.append((s, m)), self.hosts.append,
                              self.new_serial, lambda d, fn, *a: self.timers.append((d, fn, a)),
                              {"rundir": "/r"}, clock=lambda: self.now, env=env or {})


def _exit_status(code: int) -> int:
    return code << 8          # a wait status for "exited with code"


def test_addresses_are_overridden_for_all_or_by_entry() -> None:
    assert addr_overrides("127.0.0.1:9000") == {"*": "127.0.0.1:9000"}
    assert addr_overrides("app:a=:1, app:b=127.0.0.1:2") == {"app:a": ":1", "app:b": "127.0.0.1:2"}
    assert addr_overrides(None) == {}


def test_handlers_run_on_the_named_host_else_the_first_else_an_implicit_one() -> None:
    hosts = {"app:z": {"kind": "process.host"}, "app:b": {"kind": "process.host"}}
    named = {**SERVICE, "data": {**SERVICE["data"], "handlers": {"host": "app:z"}}}
    assert handler_host(named, hosts) == "app:z"
    assert handler_host(SERVICE, hosts) == "app:b"
    assert handler_host(SERVICE, {}) == IMPLICIT_HOST


def test_a_server_is_forked_welcomed_and_restarted_when_it_dies() -> None:
    f = Fakes()
    sup = f.sup({"WIPPY_HTTP_ADDR": "127.0.0.1:9"})
    sup.load({"app:gw": SERVICE})
    assert f.hosts == [IMPLICIT_HOST]
    sup.start_all()
    spec = f.forks[0]
    assert (spec["role"], spec["addr"], spec["handler_host"]) == ("http", "127.0.0.1:9", IMPLICIT_HOST)
    sup.on_started(spec["serial"], 4242)
    assert sup.on_ready(b"s11", protocol.Ready(spec["serial"], 4242))
    assert f.welcomed == [spec["serial"]] and not sup.starting()
    sup.booting = False
    assert sup.on_exited(spec["serial"], signal.SIGKILL)
    assert f.down and f.down[0][0] == spec["serial"]
    delay, fn, args = f.timers[-1]
    assert delay == 0.0
    fn(*args)
    assert len(f.forks) == 2 and f.forks[1]["serial"] != spec["serial"]
    assert sup.restarts["app:gw"] == 1


def test_a_port_in_use_at_boot_is_a_boot_error_naming_the_entry() -> None:
    f = Fakes()
    sup = f.sup({"WIPPY_HTTP_ADDR": "127.0.0.1:9"})
    sup.load({"app:gw": SERVICE})
    sup.start_all()
    sup.on_exited(f.forks[0]["serial"], _exit_status(ServerExit.ADDR_IN_USE))
    assert sup.boot_error == ("http.service app:gw: field 'addr': cannot listen on "
                              "127.0.0.1:9: address already in use")
    assert f.timers == []           # not retried at boot: the node stops with the error


def test_a_changed_service_is_stopped_and_started_on_the_new_entry() -> None:
    f = Fakes()
    sup = f.sup()
    sup.load({"app:gw": SERVICE, "app:p": {"kind": "process.host"}})
    sup.start_all()
    first = f.forks[0]["serial"]
    sup.on_started(first, 1)
    sup.on_ready(b"x", protocol.Ready(first, 1))
    changed = {**SERVICE, "data": {**SERVICE["data"], "addr": ":9090"}}
    sup.changed("app:gw", changed, {"app:gw": changed, "app:p": {"kind": "process.host"}})
    assert f.sent and f.sent[0][0] == first and f.sent[0][1][0] == protocol.Kind.STOP
    assert f.forks[1]["addr"] == ":9090" and f.forks[1]["handler_host"] == "app:p"
    sup.on_exited(first, 0)
    assert len(f.forks) == 2        # a retired server is not restarted
    sup.changed("app:gw", None, {})
    assert sup.entries == {}


INDEX = """
version: "1.0"
namespace: app
entries:
  - name: gw
    kind: http.service
    addr: ":8080"
    lifecycle: {auto_start: true}
  - {name: api, kind: http.router, meta: {server: gw}}
  - name: hi
    kind: function.lua
    method: h
    modules: [http]
    source: |
      return {h = function() require("http").response():write("hi") end}
  - {name: hi.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /hi, func: hi}
"""


@pytest.fixture
def served(app_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    write_app(app_dir, {"_index.yaml": INDEX})
    yield from serve(app_dir, monkeypatch)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_killed_server_process_is_restarted_and_serves_again(served: Served) -> None:
    assert served.get("/hi").body == b"hi"
    row = served.node.ps()["node"]["http"][0]
    os.kill(row["os_pid"], signal.SIGKILL)

    def restarted() -> Any:
        rows = served.node.ps()["node"]["http"]
        return rows and rows[0]["os_pid"] != row["os_pid"] and rows[0]["state"] == "ready"
    wait_until(restarted, 15, what="the server to come back")
    wait_until(lambda: _ok(served), 15, what="the new server to answer")
    assert served.node.ps()["node"]["http"][0]["restarts"] == 1


def _ok(served: Served) -> bool:
    try:
        return served.get("/hi").body == b"hi"
    except OSError:
        return False
