"""The zygote: a small single-threaded child of the node that forks every host OS process
and every HTTP server OS process.

S2 forbids forking a process that already has a zmq context, an LMDB env or threads. The node
needs all three, and must fork again whenever a host dies. So the node forks this zygote first,
before it creates anything, and asks it over a pipe to fork hosts. Forking from a small,
single-threaded image is also faster (it is the floor of host restart latency).

Process tree: node -> zygote -> hosts and servers. Children die with the zygote
(PR_SET_PDEATHSIG), the zygote dies with the node, and the node is a subreaper, so ``kill -9``
of the node leaves nothing.

What a child runs is chosen by its spec's ``role`` from the table of mains the node hands the
zygote (a host by default); the child imports what it needs after the fork, so the zygote's
image stays small (the HTTP server library is imported by the server child alone).

Pipe protocol: 4-byte big-endian length + pickle, both ways. Node -> zygote:
``("fork", spec)``. Zygote -> node: ``("started", serial, os_pid)``,
``("exited", serial, os_pid, wait_status)``.
"""
from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import sys
from typing import Any, Callable, Mapping

from . import osproc

__all__ = ["Zygote", "ChildMain", "HOST_ROLE"]

#: What a forked child runs: its spec in, its exit code out.
ChildMain = Callable[[dict[str, Any]], int]
HOST_ROLE = "host"          # the role of a spec that names none

_LEN = struct.Struct(">I")


def _write(fd: int, msg: tuple) -> None:
    data = pickle.dumps(msg, 5)
    os.write(fd, _LEN.pack(len(data)) + data)


class _Reader:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    def read(self) -> list[tuple]:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            chunk = None
        if chunk == b"":
            self.eof = True
        elif chunk:
            self.buf += chunk
        out = []
        while len(self.buf) >= 4:
            (n,) = _LEN.unpack_from(self.buf)
            if len(self.buf) < 4 + n:
                break
            out.append(pickle.loads(self.buf[4:4 + n]))
            self.buf = self.buf[4 + n:]
        return out


class Zygote:
    """Node-side handle. ``start()`` must run before the node creates contexts or threads."""

    def __init__(self, mains: ChildMain | Mapping[str, ChildMain]) -> None:
        self.mains: Mapping[str, ChildMain] = (
            mains if isinstance(mains, Mapping) else {HOST_ROLE: mains})
        self.pid = 0
        self._cmd_w = -1
        self._evt: _Reader | None = None

    def start(self) -> None:
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(cmd_w)
                os.close(evt_r)
                osproc.set_pdeathsig(parent)
                code = _zygote_loop(cmd_r, evt_w, self.mains)
            finally:
                os._exit(code)
        os.close(cmd_r)
        os.close(evt_w)
        os.set_blocking(evt_r, False)
        self.pid = pid
        self._cmd_w = cmd_w
        self._evt = _Reader(evt_r)

    @property
    def eof(self) -> bool:
        return self._evt is not None and self._evt.eof

    @property
    def fd(self) -> int:
        assert self._evt is not None
        return self._evt.fd

    def fork_host(self, spec: dict[str, Any]) -> None:
        """Fork a child for ``spec`` (its ``role`` picks the main; a host by default)."""
        _write(self._cmd_w, ("fork", spec))

    def events(self) -> list[tuple]:
        assert self._evt is not None
        return self._evt.read()

    def close(self) -> None:
        if self._cmd_w >= 0:
            os.close(self._cmd_w)   # EOF: the zygote kills its hosts and exits
            self._cmd_w = -1


def _zygote_loop(cmd_r: int, evt_w: int, mains: Mapping[str, ChildMain]) -> int:
    # Only the node decides when the zygote ends (pipe EOF, or its parent-death signal): a
    # SIGINT/SIGTERM sent to the whole process group must not orphan the node's bookkeeping.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    me = os.getpid()
    children: dict[int, int] = {}   # os pid -> serial
    reader = _Reader(cmd_r)
    while not reader.eof:
        try:
            ready, _, _ = select.select([cmd_r, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
            for pid, status in osproc.reap_all():
                serial = children.pop(pid, None)
                if serial is not None:
                    _write(evt_w, ("exited", serial, pid, status))
        if cmd_r in ready:
            for msg in reader.read():
                if msg[0] == "fork":
                    spec = msg[1]
                    # what the child inherits stays out of its collections: none of them
                    # walks (and so copies, page by page) the zygote's heap (S11: restart)
                    gc.freeze()
                    pid = os.fork()
                    if pid == 0:
                        code = 1
                        try:
                            signal.set_wakeup_fd(-1)
                            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                            signal.signal(signal.SIGTERM, signal.SIG_DFL)
                            for fd in (cmd_r, evt_w, wake_r, wake_w):
                                os.close(fd)
                            osproc.set_pdeathsig(me)
                            code = mains[spec.get("role", HOST_ROLE)](spec)
                        except BaseException:  # noqa: BLE001 - report, then leave via _exit
                            import traceback
                            traceback.print_exc()
                            code = 70
                        finally:
                            os._exit(code)
                    children[pid] = spec["serial"]
                    _write(evt_w, ("started", spec["serial"], pid))
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return 0
