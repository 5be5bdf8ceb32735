"""Helpers of the cluster tests: a fresh database per test on the module's throwaway
PostgreSQL, killing a whole node (its OS process tree) with SIGKILL, and a relay to the
database that a test can cut."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import uuid
from typing import Any, Iterator

import psutil
import psycopg


def fresh_database(dsn: str) -> str:
    """A new empty database on the server of ``dsn``; its DSN."""
    name = "wc_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    parts["dbname"] = name
    return psycopg.conninfo.make_conninfo(**parts)


def query(dsn: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description is not None else []


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process under it, all at once (a machine's death, as far as
    one machine can show it); returns the pids killed."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    psutil.wait_procs(procs[1:], timeout=10)
    return [p.pid for p in procs]


class Proxy:
    """A TCP relay to the database that a test can cut (every connection closed, new ones
    refused) and restore, on the same port: a node behind it loses the database while the
    others keep it."""

    def __init__(self, dsn: str) -> None:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
        self.target = (parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432))
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        parts["port"] = str(self.port)
        self.dsn = psycopg.conninfo.make_conninfo(**parts)

    def _listen(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(16)
        self.port = srv.getsockname()[1]
        self._listener = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)   # wakes the thread in accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.cut()


@contextlib.contextmanager
def running(app: str, dsn: str, names: tuple[str, ...] = ("n1", "n2"),
            ttl: float = 1.0) -> Iterator[list[Any]]:
    """Nodes of ``app`` in the cluster at ``dsn``, started in order, stopped after."""
    import wippy
    nodes = [wippy.Node(app, cluster=dsn, node=n, lease_ttl=ttl, stop_timeout=5) for n in names]
    started: list[Any] = []
    try:
        for n in nodes:
            n.start()
            started.append(n)
        yield nodes
    finally:
        for n in started:
            n.stop()


def under(node: Any, ospid: int) -> bool:
    """Whether OS process ``ospid`` belongs to ``node``'s process tree."""
    assert node.process is not None
    return ospid in {p.pid for p in psutil.Process(node.process.pid).children(recursive=True)}
