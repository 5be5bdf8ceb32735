"""``wippy run APP -x ENTRY ARGS...``: one process on the terminal host, and the node's exit
code from its result (S4).

Once the application is up, ENTRY runs on the single ``terminal.host`` (or ``--host ID``;
with none defined, an implicit ``wippy:terminal`` host) with the words after it as string
arguments. When it ends the node stops: an error is printed on stderr (exit 1), a string on
stdout (exit 0), a number is the exit code, true/None exit 0, false exits 1.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Protocol

from ..core.pid import parse_pid
from ..errors import from_wire
from ..registry import loader
from ..registry.entry import Kind as EntryKind

__all__ = ["Terminal", "TERMINAL_HOST"]

TERMINAL_HOST = "wippy:terminal"


class _Options(Protocol):
    exec_entry: str | None
    exec_args: list[str]
    exec_host: str | None


class _Spawner(Protocol):
    def spawn(self, entry_id: str, host_id: str, args: list[Any], monitor: bool = True,
              ack: bool = False) -> str: ...


class _Hosts(Protocol):
    def has_ready(self, host_id: str) -> bool: ...

    def fork(self, host_id: str, slot: int, terminal: bool = False) -> Any: ...


def exit_code_of(value: Any) -> int:
    """The process exit code for a ``main`` result (an error is handled by the caller)."""
    if isinstance(value, bool):
        return 0 if value else 1
    if isinstance(value, (int, float)):
        return int(value)
    return 0


class Terminal:
    """The ``-x`` process: started once the node is up; its exit stops the node."""

    def __init__(self, opts: _Options, app: loader.LoadedApp, procs: _Spawner, hosts: _Hosts,
                 stop_node: Callable[[int, str], None]) -> None:
        self._opts = opts
        self._procs = procs
        self._hosts = hosts
        self._stop_node = stop_node
        self.wanted = opts.exec_entry is not None
        terms = [e.id for e in app.entries.values() if e.kind == EntryKind.TERMINAL_HOST.value]
        self.host_id = opts.exec_host or (terms[0] if terms else TERMINAL_HOST)
        self.pid: str | None = None

    def start_host(self) -> str | None:
        """Fork the terminal host unless one is ready; returns its id when the caller must
        wait for it."""
        if self._hosts.has_ready(self.host_id):
            return None
        self._hosts.fork(self.host_id, 0, terminal=True)
        return self.host_id

    def spawn(self) -> None:
        self.pid = self._procs.spawn(self._opts.exec_entry or "", self.host_id,
                                     list(self._opts.exec_args))

    def on_exit(self, pid: str, value: Any, error: dict[str, Any] | None) -> bool:
        """True when ``pid`` was the ``-x`` process (the node is then stopping)."""
        if pid != self.pid:
            return False
        self.pid = None
        if error is not None:
            print(f"wippy: {self._opts.exec_entry}: {from_wire(error)}", file=sys.stderr)
            code = 1
        elif isinstance(value, str):
            sys.stdout.write(value if value.endswith("\n") else value + "\n")
            sys.stdout.flush()
            code = 0
        else:
            code = exit_code_of(value)
        self._stop_node(code, "exec finished")
        return True

    def host_down(self, serial: int, reason: str) -> None:
        """OS process ``serial`` died: if it ran the ``-x`` process, the node fails."""
        if self.pid is not None and parse_pid(self.pid).serial == serial:
            print(f"wippy: {self._opts.exec_entry} failed: its host died ({reason})", file=sys.stderr)
            self._stop_node(1, "exec host died")
