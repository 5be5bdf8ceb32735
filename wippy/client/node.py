"""``wippy.Node``: boot ``wippy run APP`` as a child process and attach to it.

The node starts through exec (never a fork of the caller, who may run threads); its ready
message arrives on a pipe, then the program connects as any :class:`~wippy.client.Connection`
does. On exit the node is stopped and every OS process it started is reaped.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time as _time
from typing import Any

from ..core.protocol import ReqOp
from ..errors import NodeError
from .connection import Connection

__all__ = ["Node"]


class Node(Connection):
    """Boot a node for ``app_dir`` in a child process; use as a context manager.

    ``__enter__`` returns once the hosts and ``auto_start`` services are ready; ``__exit__``
    (or :meth:`stop`) stops the node and reaps every OS process it started. ``observe``
    (``HOST:PORT``, port 0 for any free one) serves the web observer, whose bound address is
    :attr:`observe_addr` once the node is ready; ``observe_token`` allows its operator
    actions (it reaches the node through the environment, not its command line).
    ``cluster`` (a PostgreSQL DSN, passed through the environment too) makes it node ``node``
    of that cluster (docs/cluster.md), with leases of ``lease_ttl`` seconds.
    """

    def __init__(self, app_dir: str, *, data_dir: str | None = None, log_level: str = "WARNING",
                 stop_timeout: float | None = None, boot_timeout: float = 60.0,
                 stdout: Any = None, stderr: Any = None, strict: bool = False,
                 observe: str | None = None, observe_token: str | None = None,
                 cluster: str | None = None, node: str | None = None,
                 lease_ttl: float | None = None) -> None:
        super().__init__()
        self.app_dir = os.path.realpath(app_dir)
        self._args = ["--log-level", log_level] + (["--strict"] if strict else [])
        if observe is not None:
            self._args += ["--observe", observe]
        # the token goes through the environment, never the command line (ps shows that)
        env: dict[str, str] = {}
        if observe_token:
            env["WIPPY_OBSERVE_TOKEN"] = observe_token
        if cluster:
            env["WIPPY_CLUSTER"] = cluster
            if node:
                self._args += ["--node", node]
            if lease_ttl is not None:
                self._args += ["--lease-ttl", str(lease_ttl)]
        self._env = {**os.environ, **env} if env else None
        #: what the node said when it was ready: ``run_dir``, ``pid`` and ``observe`` (the
        #: observer's HOST:PORT, port 0 resolved; None without an observer)
        self.ready_info: dict[str, Any] = {}
        if data_dir:
            self._args += ["--data-dir", data_dir]
        if stop_timeout is not None:
            self._args += ["--stop-timeout", str(stop_timeout)]
        self._boot_timeout = boot_timeout
        self._stdout, self._stderr = stdout, stderr
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        r, w = os.pipe()
        cmd = [sys.executable, "-m", "wippy", "run", self.app_dir, "--ready-fd", str(w), *self._args]
        self.process = subprocess.Popen(cmd, pass_fds=(w,), stdin=subprocess.DEVNULL,
                                        stdout=self._stdout, stderr=self._stderr, env=self._env)
        os.close(w)
        try:
            line = self._read_ready(r)
        finally:
            os.close(r)
        info = json.loads(line)
        self.ready_info = info
        self._attach(info["run_dir"])
        return self

    def _read_ready(self, fd: int) -> str:
        buf = b""
        deadline = _time.monotonic() + self._boot_timeout
        while b"\n" not in buf:
            left = deadline - _time.monotonic()
            if left <= 0:
                self._kill()
                raise NodeError(f"the node for {self.app_dir} was not ready within {self._boot_timeout} s")
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.process.wait(10) if self.process else None
                    raise NodeError(f"the node for {self.app_dir} exited with code {code} before it "
                                    "was ready (its errors are on stderr)")
                buf += chunk
        return buf.decode()

    @property
    def observe_addr(self) -> str | None:
        """The web observer's ``HOST:PORT`` (``observe=`` given at start), else None."""
        return self.ready_info.get("observe")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the node (CANCEL, stop_timeout, kill) and reap it; returns its exit code."""
        proc = self.process
        if proc is None:
            return None
        if not self._closed:
            try:
                self._request(ReqOp.STOP, timeout=5.0)
            except Exception:  # noqa: BLE001 - fall back to a signal
                proc.send_signal(signal.SIGTERM)
            self.close()
        elif proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            code = proc.wait(10)
        self.process = None
        return code

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()   # its hosts die with it (parent-death signals)
            self.process.wait(10)

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
