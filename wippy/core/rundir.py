"""Where a node keeps its sockets (run directory) and its durable data (data directory).

Run directory: ``$XDG_RUNTIME_DIR/wippy/<hash>/`` when ``XDG_RUNTIME_DIR`` is set, else
``/tmp/wippy-$UID/<hash>/``, where ``<hash>`` is 8 hex digits of a hash of APP's real path
(and of the node's name, for a node of a cluster).
It holds a lock file (``flock``) so two nodes never share it: a second ipc bind to the same
path would silently steal the first node's sockets. A lock left by a killed node is free as
soon as the node is gone (its children never hold the lock's descriptor), so a restart takes
it over; we still retry for up to ``TAKEOVER_S`` in case the old node is still dying.

Trust (S9): the same OS user is trusted, nobody else. Everything that reads from the node's
sockets unpickles what it gets, so a directory another user could write into would be code
execution as its owner. Every level we create (the per-user directory and the per-node one)
is made with mode 0700 and checked before every use, by the node and by every program that
connects: a real directory (not a symlink), owned by us, with no access for group or others.
Anything else is refused with an error that says what is wrong and what to do. Socket files
are checked the same way before connecting (:func:`check_socket`).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import time
from typing import Any

from ..errors import NodeError, TrustError

__all__ = ["run_dir_for", "data_dir_for", "cluster_node", "RunDir", "read_node_info", "user_run_root",
           "check_private_dir", "check_socket", "TrustError"]

TAKEOVER_S = 5.0


def user_run_root() -> str:
    """The per-user directory every node's run directory lives in."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "wippy")
    return f"/tmp/wippy-{os.getuid()}"


def cluster_node() -> str | None:
    """The node's name from the environment when it names a cluster (``WIPPY_NODE`` with
    ``WIPPY_CLUSTER``): alone, ``WIPPY_NODE`` only names the node in log lines."""
    if os.environ.get("WIPPY_CLUSTER"):
        return os.environ.get("WIPPY_NODE") or None
    return None


def run_dir_for(app_dir: str, node: str | None = None) -> str:
    """The run directory of the node running ``app_dir``; a cluster node's name (``node``,
    else :func:`cluster_node`) takes part in it, so nodes of one application on one machine
    each have their own."""
    node = node or cluster_node()
    key = os.path.realpath(app_dir) + ("" if node is None else "\0" + node)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return os.path.join(user_run_root(), digest)


def data_dir_for(app_dir: str, override: str | None = None, node: str | None = None) -> str:
    """The node's data directory: ``override``, else ``WIPPY_DATA_DIR``, else
    ``APP/.wippy/data`` (``APP/.wippy/nodes/NODE/data`` for a named node of a cluster: the
    nodes of one application on one machine keep their registries apart)."""
    node = node or cluster_node()
    default = (os.path.join(os.path.realpath(app_dir), ".wippy", "data") if node is None else
               os.path.join(os.path.realpath(app_dir), ".wippy", "nodes", node, "data"))
    return override or os.environ.get("WIPPY_DATA_DIR") or default


def _describe_owner(uid: int) -> str:
    try:
        import pwd
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def check_private_dir(path: str) -> None:
    """Refuse ``path`` unless it is a real directory owned by us with mode 0700 (or
    stricter). Raises :class:`TrustError` naming the problem."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise TrustError(f"run directory {path} does not exist") from None
    me = os.geteuid()
    if stat.S_ISLNK(st.st_mode):
        raise TrustError(f"run directory {path} is a symlink (to {os.path.realpath(path)}); "
                         "refusing to use it: remove it and try again")
    if not stat.S_ISDIR(st.st_mode):
        raise TrustError(f"run directory {path} is not a directory; remove it and try again")
    if st.st_uid != me:
        raise TrustError(f"run directory {path} belongs to {_describe_owner(st.st_uid)}, not to you "
                         f"({_describe_owner(me)}); another user could control it, so it is refused. "
                         "Remove it, or set XDG_RUNTIME_DIR to a private directory")
    if st.st_mode & 0o077:
        raise TrustError(f"run directory {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be "
                         "private (0700): other users could reach the node's sockets. "
                         f"Run `chmod 700 {path}` or remove it")


def _ensure_private_dir(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise TrustError(f"cannot create run directory {path}: {os.path.dirname(path)} does not "
                         "exist (check XDG_RUNTIME_DIR)") from None
    check_private_dir(path)


def check_socket(path: str) -> None:
    """Refuse a socket file that is not ours (or not a socket), and one whose directory is not
    private. A path that does not exist yet is fine: only we can create files in a private
    directory, and zmq connects when it appears."""
    check_private_dir(os.path.dirname(path))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise TrustError(f"{path} is not a socket; refusing to connect")
    if st.st_uid != os.geteuid():
        raise TrustError(f"socket {path} belongs to {_describe_owner(st.st_uid)}, not to you; "
                         "refusing to connect")


class RunDir:
    """The locked run directory of one running node."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1

    def acquire(self, info: dict[str, Any]) -> None:
        _ensure_private_dir(os.path.dirname(self.path))
        _ensure_private_dir(self.path)
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
