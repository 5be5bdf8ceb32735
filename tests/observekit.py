"""Helpers for the observer's tests: an application with something to see (a busy service that
records its own metrics, an HTTP service, workflows, a registry entry to change), a node
serving it with the observer on a free port, and an HTTP client for the observer."""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

import wippy
from conftest import wait_until, write_app
from httpkit import Reply, fetch, free_port

TOKEN = "observe-s3cret"

FILES = {
    "_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: processes, kind: process.host, host: {workers: 2}}
          - {name: flows, kind: process.host}
          - {name: counter, kind: process.service, process: counter_proc, host: processes,
             lifecycle: {auto_start: true, restart: {initial_delay: 10ms}}}
          - {name: counter_proc, kind: process.py, source: file://work.py, method: counter}
          - {name: double, kind: function.py, source: file://work.py, method: double}
          - {name: quick, kind: workflow.py, source: file://work.py, method: quick, host: flows}
          - {name: waiter, kind: workflow.py, source: file://work.py, method: waiter, host: flows}
          - {name: settings, kind: registry.entry, data: {rate: 5, mode: calm}}
          - {name: gw, kind: http.service, addr: ":8080", lifecycle: {auto_start: true}}
          - {name: api, kind: http.router, meta: {server: gw}, prefix: /, middleware: [metrics]}
          - {name: hello, kind: function.py, source: file://work.py, method: hello}
          - {name: hello.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /hello, func: hello}
    """,
    "work.py": """
        from wippy import funcs, http, process, time
        from wippy.observe.metrics import collector


        async def counter():
            # a busy service: messages to itself, and metrics of its own for /metrics
            m = collector()
            n = 0
            inbox = process.inbox()
            while True:
                process.send(process.pid(), "tick", n)
                await inbox.receive()
                n += 1
                m.counter_inc("jobs_done_total", {"kind": "demo"})
                m.gauge_set("queue_depth", n % 5)
                m.histogram("job_seconds", 0.02)
                await time.sleep(0.02)


        def double(x):
            return 2 * x


        async def quick(x):
            return await funcs.call("app:double", x)


        async def waiter(n):
            got = []
            inbox = process.inbox()
            while len(got) < n:
                got.append((await inbox.receive()).payload)
            return got


        async def hello():
            http.response().write_json({"hello": "observer"})
    """,
}


class Observed:
    """A node with its observer: ``node``, the observer's ``port``, the HTTP service's."""

    def __init__(self, node: wippy.Node, http_port: int, log_path: str) -> None:
        self.node = node
        addr = node.observe_addr
        assert addr is not None
        self.port = int(addr.rpartition(":")[2])
        self.http_port = http_port
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path: str, **kw: Any) -> Reply:
        return fetch(self.port, "GET", path, **kw)

    def post(self, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        hdrs = {**({"X-Wippy-Token": token} if token else {}), **(headers or {})}
        return fetch(self.port, "POST", path, body if body is not None else {}, headers=hdrs)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()


def observed(root: str, monkeypatch: pytest.MonkeyPatch, token: str | None = TOKEN) -> Iterator[Observed]:
    """Boot the application above in ``root`` with the observer on 127.0.0.1:0 (and its HTTP
    service on a free port); stop it after."""
    app = write_app(os.path.join(root, "app"), FILES)
    http_port = free_port()
    monkeypatch.setenv("WIPPY_HTTP_ADDR", f"127.0.0.1:{http_port}")
    log_path = os.path.join(root, "node.log")
    with open(log_path, "w") as fh:
        node = wippy.Node(app, log_level="INFO", stderr=fh, stop_timeout=3,
                          observe="127.0.0.1:0", observe_token=token)
        with node:
            yield Observed(node, http_port, log_path)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples ``name`` with ``labels`` (and any others) in a Prometheus
    exposition, or None when there is none."""
    from prometheus_client.parser import text_string_to_metric_families
    found = [float(s.value) for fam in text_string_to_metric_families(text) for s in fam.samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found) if found else None


def wait_json(ob: Observed, path: str, pred: Any, timeout: float = 20, what: str = "") -> Any:
    """GET ``path`` until ``pred(json)`` holds; the JSON."""
    def ok() -> Any:
        r = ob.get(path)
        return r.json() if r.status == 200 and pred(r.json()) else None
    return wait_until(ok, timeout, interval=0.1, what=what or path)
