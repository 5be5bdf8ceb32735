"""The ``http`` case (S11, S13): a hello handler behind wippy's HTTP server against the same
server library answering directly, in one run, with Debian's ``wrk``.

* floor ``floor:granian``: Granian's embedded server (the same library, interface, loop and
  settings as wippy's server process: ASGI, uvloop, one OS process) serving a bare ASGI app
  that answers ``Hello world!`` itself.
* ``wippy-lua`` / ``wippy-py``: an application with one ``http.service``, one router and two
  endpoints whose ``function.lua`` / ``function.py`` handler writes ``Hello world!``; every
  request crosses to a handler process on a host OS process (one worker) and back.

Each system is measured with ``wrk -t1 -cC -dD --latency`` at C = 1 and 64 connections after a
warm-up; metrics: ``rps_cC`` (requests/s), ``p50_ms_cC``, ``p99_ms_cC``, and ``cpu_us_cC``:
the CPU time (user + system, every thread) the system's OS processes spent per request
during the measured run (for wippy: the node and everything under it; the client is not
counted). S11's target is ``rps_c64`` >= 0.5x the floor's. On a machine shared with other
work, requests/s moves with the neighbours' load; CPU per request much less so, which makes
it the figure to compare between two versions. ``wrk`` is installed with apt-get when missing and the harness
runs as root; otherwise a Python client (threads, keep-alive) stands in and the report says
``client: python`` (its figures are far lower: compare ratios only).
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ._harness import Ctx, Unit, short_tmpdir

__all__ = ["UNITS", "hello_app", "parse_wrk"]

_CASE = "http"
CONNECTIONS = (1, 64)

APP_INDEX = """\
version: "1.0"
namespace: bhttp
entries:
  - {name: processes, kind: process.host, host: {workers: 1}}
  - name: gw
    kind: http.service
    addr: "127.0.0.1:8080"
    lifecycle: {auto_start: true}
  - {name: api, kind: http.router, meta: {server: gw}}
  - name: lua_hello
    kind: function.lua
    method: handler
    modules: [http]
    source: |
      local http = require("http")
      local function handler()
        local res = http.response()
        res:set_content_type("text/plain")
        res:write("Hello world!")
      end
      return {handler = handler}
  - {name: py_hello, kind: function.py, source: file://hello.py, method: handler}
  - {name: lua.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /lua, func: lua_hello}
  - {name: py.ep, kind: http.endpoint, meta: {router: api}, method: GET, path: /py, func: py_hello}
"""

HELLO_PY = """\
from wippy import http


def handler():
    res = http.response()
    res.set_content_type("text/plain")
    res.write("Hello world!")
"""


def _sizes(quick: bool) -> dict[str, float]:
    return {"duration": 3, "warmup": 1} if quick else {"duration": 10, "warmup": 3}


def hello_app(root: str) -> str:
    """Write the benchmark's application into ``root``; returns it."""
    Path(root, "_index.yaml").write_text(APP_INDEX)
    Path(root, "hello.py").write_text(HELLO_PY)
    return root


async def _bare_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"12")]})
    await send({"type": "http.response.body", "body": b"Hello world!"})


def _floor_server(port: int) -> None:
    """The floor: Granian embedded, configured as wippy's server process configures it."""
    import asyncio

    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    async def main() -> None:
        srv = Server(_bare_hello, address="127.0.0.1", port=port, interface=Interfaces.ASGINL,
                     http=HTTPModes.auto, websockets=False, backlog=1024, log_enabled=False)
        await asyncio.get_running_loop().create_task(srv.serve())
    uvloop.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _wrk() -> str | None:
    path = shutil.which("wrk")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True,
                       timeout=300)
        path = shutil.which("wrk")
    return path


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _cpu_of(pids: list[int]) -> float:
    """Seconds of CPU (user + system) the OS processes ``pids`` have used so far."""
    import psutil
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _tree(root: int) -> list[int]:
    """``root`` and every live descendant."""
    import psutil
    try:
        return [root] + [p.pid for p in psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return [root]


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s and the 50 %/99 % latencies (ms) from ``wrk --latency`` output."""
    got: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        got["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            got[f"p{pct}_ms"] = float(m.group(1)) * _UNITS_MS[m.group(2)]
    m = re.search(r"^\s*(\d+) requests in ", out, re.M)
    if m:
        got["requests"] = float(m.group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    got["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return got


def _python_client(url: str, conns: int, duration: float) -> dict[str, float]:
    """A stand-in for wrk: ``conns`` threads, one keep-alive connection each."""
    host, _, rest = url.removeprefix("http://").partition("/")
    h, _, p = host.partition(":")
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def worker() -> None:
        c = http.client.HTTPConnection(h, int(p), timeout=10)
        mine: list[float] = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            c.request("GET", "/" + rest)
            c.getresponse().read()
            mine.append(time.perf_counter() - t)
        c.close()
        with lock:
            lat.extend(mine)
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    return {"rps": len(lat) / duration, "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "non_2xx": 0.0}


def _load(ctx: Ctx, system: str, url: str, wrk: str | None, root: int) -> None:
    sz = _sizes(ctx.quick)
    for conns in CONNECTIONS:
        if wrk is not None:
            subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{int(sz['warmup'])}s", url],
                           capture_output=True, timeout=120)
            pids = _tree(root)
            cpu = _cpu_of(pids)
            out = subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{int(sz['duration'])}s",
                                  "--latency", url], capture_output=True, text=True,
                                 timeout=300).stdout
            cpu = _cpu_of(pids) - cpu
            got = parse_wrk(out)
            if got.get("requests"):
                got["cpu_us"] = cpu / got["requests"] * 1e6
        else:
            got = _python_client(url, conns, sz["duration"])
        client = "wrk" if wrk is not None else "python"
        for metric, unit in (("rps", "req/s"), ("p50_ms", "ms"), ("p99_ms", "ms"),
                             ("cpu_us", "us")):
            if metric in got:
                ctx.add(_CASE, system, f"{metric}_c{conns}", got[metric], unit, client=client,
                        connections=conns, non_2xx=got.get("non_2xx", 0.0))


def run_http(ctx: Ctx, cases: tuple[str, ...]) -> None:
    import wippy
    wrk = _wrk()
    ctx.place(os.getpid(), "client (case runner)")
    port = _free_port()
    with ctx.attempt(_CASE, "floor:granian"):
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from benchmarks.http_cases "
                                 "import _floor_server; _floor_server(int(sys.argv[1]))",
                                 str(port)], cwd=str(Path(__file__).resolve().parent.parent))
        try:
            _wait_listening(port)
            ctx.place(proc.pid, "granian (floor)")
            _load(ctx, "floor:granian", f"http://127.0.0.1:{port}/", wrk, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    app = hello_app(short_tmpdir("httpapp-"))
    port = _free_port()
    os.environ["WIPPY_HTTP_ADDR"] = f"127.0.0.1:{port}"
    try:
        with ctx.attempt(_CASE, "wippy"):
            with wippy.Node(app, boot_timeout=120) as node:
                assert node.process is not None
                ctx.record_tree(node.process.pid, "node")
                for system, path in (("wippy-lua", "/lua"), ("wippy-py", "/py")):
                    _load(ctx, system, f"http://127.0.0.1:{port}{path}", wrk,
                          node.process.pid)
    finally:
        os.environ.pop("WIPPY_HTTP_ADDR", None)
        shutil.rmtree(app, ignore_errors=True)


UNITS: list[Unit] = [
    Unit("wippy.http", "wippy", (_CASE,), ("wippy-lua", "wippy-py", "floor:granian"),
         run_http, 240, 900),
]
