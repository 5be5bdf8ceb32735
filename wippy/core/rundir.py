"""Where a node keeps its sockets (run directory) and its durable data (data directory).

Run directory: ``/tmp/wippy-$UID/<8 hex digits of a hash of APP's real path>/``, mode 0700,
with a lock file (``flock``) so two nodes never share it: a second ipc bind to the same path
would silently steal the first node's sockets. A lock left by a killed node is free as soon as
the node is gone (its children never hold the lock's descriptor), so a restart takes it over;
we still retry for up to ``TAKEOVER_S`` in case the old node is still dying.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from typing import Any

from ..errors import NodeError

__all__ = ["run_dir_for", "data_dir_for", "RunDir", "read_node_info"]

TAKEOVER_S = 5.0


def run_dir_for(app_dir: str) -> str:
    digest = hashlib.sha256(os.path.realpath(app_dir).encode()).hexdigest()[:8]
    return os.path.join(f"/tmp/wippy-{os.getuid()}", digest)


def data_dir_for(app_dir: str, override: str | None = None) -> str:
    return override or os.environ.get("WIPPY_DATA_DIR") or os.path.join(
        os.path.realpath(app_dir), ".wippy", "data")


class RunDir:
    """The locked run directory of one running node."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1

    def acquire(self, info: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)
        fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + TAKEOVER_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = (read_node_info(self.path) or {}).get("pid")
                if time.monotonic() >= deadline or (holder and _alive(holder)):
                    os.close(fd)
                    other = read_node_info(self.path) or {}
                    raise NodeError(f"another node (pid {other.get('pid', '?')}) is running this "
                                    f"application; its run directory is {self.path}") from None
                time.sleep(0.05)
        self._fd = fd
        for name in os.listdir(self.path):      # stale sockets of a dead node
            if name not in ("lock",):
                try:
                    os.unlink(os.path.join(self.path, name))
                except OSError:
                    pass
        tmp = os.path.join(self.path, "node.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(info, fh)
        os.replace(tmp, os.path.join(self.path, "node.json"))

    def release(self) -> None:
        for name in os.listdir(self.path):
            if name != "lock":
                try:
                    os.unlink(os.path.join(self.path, name))
                except OSError:
                    pass
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _alive(pid: int) -> bool:
    """A live, non-zombie process: the lock's holder is a running node, not a dying one."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def read_node_info(path: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(path, "node.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None
