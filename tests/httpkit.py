"""Helpers for the HTTP tests: a free port, a real HTTP client, a node serving an app."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
from typing import Any, Iterator

import pytest

import wippy

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "wippy_examples")


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice of an ephemeral one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reply:
    """One HTTP answer: ``status``, lower-cased ``headers``, ``body`` (bytes)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.body[:200]!r}>"


def fetch(port: int, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None, timeout: float = 10.0) -> Reply:
    """One request to 127.0.0.1:``port`` on a new connection (a dict body is sent as JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


class Served:
    """A node serving an application: its ``port``, the ``node`` and its log file."""

    def __init__(self, node: wippy.Node, port: int, log_path: str) -> None:
        self.node = node
        self.port = port
        self.log_path = log_path

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def get(self, path: str, **kw: Any) -> Reply:
        return fetch(self.port, "GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return fetch(self.port, "POST", path, body, **kw)


def serve(app: str, monkeypatch: pytest.MonkeyPatch, log_level: str = "INFO",
          stop_timeout: float | None = 5.0) -> Iterator[Served]:
    """Boot ``app`` with every http.service on a free port of 127.0.0.1; stop it after."""
    port = free_port()
    monkeypatch.setenv("WIPPY_HTTP_ADDR", f"127.0.0.1:{port}")
    log_path = os.path.join(app, "node.log")
    with open(log_path, "w") as fh:
        node = wippy.Node(app, log_level=log_level, stderr=fh, stop_timeout=stop_timeout)
        with node:
            yield Served(node, port, log_path)


def copy_example(name: str, dest_root: str) -> str:
    """A fresh copy of Wippy's example ``name`` (as a user would check it out)."""
    dest = os.path.join(dest_root, name)
    shutil.copytree(os.path.join(EXAMPLES, name), dest)
    return dest
