"""``${env:NAME}`` placeholders outside resource entries: an ``http.service``'s ``addr`` is
resolved by the node when it starts the server (through the application's env variables and
storages, or the OS environment when it declares none), the registry keeps the raw text, and a placeholder
that resolves to nothing is a boot error naming the service and the field."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import wippy
from conftest import wait_until, write_app
from httpkit import fetch, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _app(app_dir: str, addr: str, extra: str = "") -> str:
    return write_app(app_dir, {"src/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: processes, kind: process.host, host: {{workers: 1}}}}
          - {{name: gw, kind: http.service, addr: "{addr}", lifecycle: {{auto_start: true}}}}
          - {{name: api, kind: http.router, meta: {{server: gw}}}}
          - {{name: hello, kind: function.py, source: file://h.py, method: hello}}
          - {{name: hello.ep, kind: http.endpoint, meta: {{router: api}}, method: GET,
             path: /hello, func: hello}}
          {extra}
    """, "src/h.py": """
        from wippy import http

        def hello():
            http.response().write("hello")
    """})


def test_an_http_service_addr_placeholder_resolves_through_an_env_variable(app_dir: str) -> None:
    port = free_port()
    _app(app_dir, "${env:LISTEN|127.0.0.1:1}", f"""
          - {{name: conf, kind: env.storage.static, values: {{LISTEN: "127.0.0.1:{port}"}}}}
          - {{name: listen, kind: env.variable, variable: LISTEN, storage: app:conf}}
    """)
    with wippy.Node(app_dir, stop_timeout=5) as node:
        reply = wait_until(lambda: _try(port), 20, what="the server on the resolved address")
        assert reply.status == 200 and reply.body == b"hello"
        assert node.registry.get("app:gw")["data"]["addr"] == "${env:LISTEN|127.0.0.1:1}"


def test_without_env_variables_an_addr_placeholder_reads_the_os_environment(
        app_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("WIPPY_T_LISTEN", f"127.0.0.1:{port}")
    _app(app_dir, "${env:WIPPY_T_LISTEN}")
    with wippy.Node(app_dir, stop_timeout=5):
        assert wait_until(lambda: _try(port), 20, what="the server").body == b"hello"


def _try(port: int) -> object:
    try:
        return fetch(port, "GET", "/hello", timeout=2)
    except OSError:
        return None


def test_an_addr_placeholder_with_no_value_is_a_boot_error_naming_the_field(app_dir: str) -> None:
    _app(app_dir, "${env:WIPPY_T_NO_SUCH_ADDR}")
    env = {k: v for k, v in os.environ.items() if k not in ("WIPPY_T_NO_SUCH_ADDR",
                                                             "WIPPY_HTTP_ADDR")}
    proc = subprocess.run([sys.executable, "-m", "wippy", "run", app_dir], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    assert "http.service app:gw: " in proc.stderr
    assert "field 'addr': ${env:WIPPY_T_NO_SUCH_ADDR}: " in proc.stderr, proc.stderr
