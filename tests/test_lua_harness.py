"""An in-process host for Lua tests: wippy's real Runtime and scheduler, a fake mesh and
registry, no sockets and no OS processes. Other ``test_lua_*`` modules import :class:`Host`.

Frames that leave the host (to the fake "client" PID on serial 2) are captured: EXIT frames of
monitored spawns and messages sent to the client.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

import pytest

from wippy.core import wire
from wippy.errors import ProcessNotFound, Terminated, exit_error
from wippy.host.runners import RUNNERS
from wippy.lua import engine
from wippy.runtime import codeload, scheduler
from wippy.runtime import table as runtime

CLIENT = "{client/2|0}"
HOST = "app:h"


class FakeMesh:
    serial = 1
    backlog = False

    def __init__(self, owner: "Host") -> None:
        self.owner = owner
        self.host_of = {1: HOST}

    def pick(self, host_id: str) -> int:
        if host_id not in self.owner.hosts:
            raise ProcessNotFound(f"host {host_id} not found")
        return 1

    def send(self, serial: int, data: bytes) -> None:
        assert serial == 2, f"frame for serial {serial}"
        self.owner.on_frame(wire.loads(data))

    def send_msg(self, serial: int, pid: str, data: bytes) -> None:
        self.send(serial, data)

    def known_dead(self, pid: str, serial: int) -> bool:
        return serial != 2          # only the client lives elsewhere

    def note_dead(self, pid: str) -> None:
        pass

    def host_down(self, serial: int) -> None:
        pass

    def flush(self) -> bool:
        return False


class FakeStore:
    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self._entries = entries

    def get(self, entry_id: str) -> dict[str, Any] | None:
        e = self._entries.get(entry_id)
        return None if e is None else dict(e)

    def entries(self) -> dict[str, dict[str, Any]]:
        return dict(self._entries)

    def version(self) -> int:
        return 0

    def history(self) -> list:
        return [{"version": 0, "source": "files"}]

    def changeset(self, version: int) -> dict[str, Any] | None:
        return {"version": 0, "source": "files"} if version == 0 else None

    def snapshot_at(self, version: int) -> dict[str, dict[str, Any]]:
        return self.entries()


def lua_entry(id: str, source: str, kind: str = "process.lua", method: str = "main",
              modules: list[str] | None = None, imports: dict[str, str] | None = None,
              limits: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict:
    data: dict[str, Any] = {"source": source, "modules": modules or [], "imports": imports or {}}
    if kind != "library.lua":
        data["method"] = method
    if limits:
        data["limits"] = limits
    return {"id": id, "kind": kind, "meta": meta or {}, "data": data, "base_dir": "/"}


class Host:
    """One in-process host running Lua (and Python) processes."""

    def __init__(self, entries: list[dict[str, Any]], hosts: dict[str, dict] | None = None) -> None:
        scheduler._SCHED = None
        codeload.invalidate()
        engine._watchdog = object()      # never SIGKILL the test runner
        self.hosts = {HOST: {"id": HOST, "kind": "process.host", "meta": {}, "data": {}}}
        self.hosts.update(hosts or {})
        all_entries = {e["id"]: e for e in entries}
        all_entries.update(self.hosts)
        self.store = FakeStore(all_entries)
        self.rt = runtime.Runtime(FakeMesh(self), HOST, self.store, ctl_request=self._ctl,
                                  runners=RUNNERS)
        self.rt.ctl_notify = self._notify
        self.sched = scheduler.get()
        self.exits: dict[str, tuple[Any, Any]] = {}
        self.mailbox: deque[tuple[str, Any, Any]] = deque()

    async def _ctl(self, op: str, *args: Any) -> Any:
        if op == "register":
            name, pid = args
            holder = self.rt.names.get(name)
            if holder is not None and holder != pid:
                from wippy.errors import from_wire
                raise from_wire({"kind": "ALREADY_EXISTS", "message": f"name '{name}' is taken"})
            self.rt.names[name] = pid
            return True
        if op == "unregister":
            self.rt.names.pop(args[0], None)
            return True
        raise AssertionError(op)

    def _notify(self, *msg: Any) -> None:
        if msg[0] == "event":                 # the node would broadcast it to every host
            self.rt.publish(*msg[1:])
        elif msg[0] == "release":
            for name in msg[2]:
                if self.rt.names.get(name) == msg[1]:
                    del self.rt.names[name]

    def on_frame(self, f: tuple) -> None:
        if f[0] == wire.Op.EXIT:
            self.exits[f[2]] = (f[3], f[4])
        elif f[0] == wire.Op.MSG:
            self.mailbox.append((f[3], f[2], f[4]))

    # -- driving -----------------------------------------------------------------------------
    def step(self) -> None:
        self.sched.run_ready()
        self.sched.fire_due()

    def run_until(self, pred: Any, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            got = pred()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s")
            d = self.sched.next_delay()
            if d is None or d > 0:
                time.sleep(min(0.002, d or 0.002))

    def spawn(self, entry_id: str, *args: Any, host: str = HOST) -> str:
        return self.rt.spawn(CLIENT, entry_id, host, list(args), runtime.MONITOR)

    def wait_exit(self, pid: str, timeout: float = 5.0) -> Any:
        self.run_until(lambda: pid in self.exits, timeout)
        value, error = self.exits.pop(pid)
        if error is not None:
            raise exit_error(error)
        return value

    def exec(self, entry_id: str, *args: Any, timeout: float = 5.0, host: str = HOST) -> Any:
        return self.wait_exit(self.spawn(entry_id, *args, host=host), timeout)

    def send(self, dest: str, topic: str, payload: Any = None) -> None:
        self.rt.send(CLIENT, dest, topic, payload)

    def receive(self, timeout: float = 5.0) -> tuple[str, Any, Any]:
        self.run_until(lambda: self.mailbox, timeout)
        return self.mailbox.popleft()

    def close(self) -> None:
        for proc in list(self.rt.procs.values()):
            self.rt.exit(proc, None, Terminated("test over"))
        self.sched.run_ready()
        runtime._RUNTIME = None
        scheduler._SCHED = None
        codeload.invalidate()


def make_host(*entries: dict[str, Any], **kw: Any) -> Host:
    return Host(list(entries), **kw)


@pytest.fixture
def host_factory():
    made: list[Host] = []

    def make(*entries: dict[str, Any], **kw: Any) -> Host:
        h = Host(list(entries), **kw)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


def test_harness_runs_a_lua_process_to_its_result(host_factory):
    h = host_factory(lua_entry("t:one", "local function main(a, b) return a + b end "
                                        "return {main = main}"))
    assert h.exec("t:one", 2, 40) == 42
