"""Lua process benchmarks (S11): spawn rate, memory per idle Lua process, message handling in
Lua vs Python processes, and the Python <-> Lua round trip.

    python -m benchmarks.lua_cases [--quick] [--json FILE]

Self-contained: writes a small application (hosts ``lb:a``, ``lb:b``, ``lb:mem``) to a
temporary directory and drives it with ``wippy.Node``. Every timing is taken inside the node
(``time.perf_counter_ns`` in the measuring process), so the external client is not counted.
Targets (S11): Lua spawn >= 20k/s, <= 40 KB per idle Lua process.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from typing import Any

import psutil

from ._harness import Ctx, Unit

INDEX = """
version: "1.0"
namespace: lb
entries:
  - {name: a, kind: process.host}
  - {name: b, kind: process.host}
  - {name: mem, kind: process.host}
  - {name: lua_noop, kind: process.lua, source: "return {main = function() return nil end}", method: main}
  - {name: lua_idle, kind: process.lua, source: file://bench.lua, method: idle}
  - {name: lua_echo, kind: process.lua, source: file://bench.lua, method: echo}
  - {name: lua_pinger, kind: process.lua, source: file://bench.lua, method: pinger, modules: [time]}
  - {name: lua_sink, kind: process.lua, source: file://bench.lua, method: sink}
  - {name: lua_spawner, kind: process.lua, source: file://bench.lua, method: spawner, modules: [time]}
  - {name: py_noop, kind: process.py, source: file://bench.py, method: noop}
  - {name: py_idle, kind: process.py, source: file://bench.py, method: idle}
  - {name: py_echo, kind: process.py, source: file://bench.py, method: echo}
  - {name: py_pinger, kind: process.py, source: file://bench.py, method: pinger}
  - {name: py_sink, kind: process.py, source: file://bench.py, method: sink}
  - {name: py_spawner, kind: process.py, source: file://bench.py, method: spawner}
  - {name: fleet, kind: process.py, source: file://bench.py, method: fleet}
  - {name: stream, kind: process.py, source: file://bench.py, method: stream}
  - {name: probe, kind: process.py, source: file://bench.py, method: probe}
"""

LUA = """
local function idle()
  local inbox = process.inbox()
  local msg = inbox:receive()
  process.send(msg:from(), "pong", nil)
  inbox:receive()
end

local function echo()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return "stopped" end
    process.send(msg:from(), msg:topic(), msg:payload():data())
  end
end

-- the clock of a Lua process is time.now() (ns); only the pinger and spawner need it
local function pinger(peer, rounds, warmup)
  local time = require("time")
  local inbox = process.inbox()
  local samples = {}
  local payload = {n = 1, s = "hello"}
  for i = 1, warmup + rounds do
    local t0 = time.now():unix_nano()
    process.send(peer, "ping", payload)
    inbox:receive()
    if i > warmup then samples[#samples + 1] = time.now():unix_nano() - t0 end
  end
  process.send(peer, "stop")
  return samples
end

local function sink(count, origin)
  local inbox = process.inbox()
  for i = 1, count do inbox:receive() end
  process.send(origin, "done", count)
end

local function spawner(entry, host, count)
  local time = require("time")
  local events = process.events()
  local t0 = time.now():unix_nano()
  for i = 1, count do process.spawn_monitored(entry, host) end
  local failed = 0
  for i = 1, count do
    local ev = events:receive()
    if ev.result.error then failed = failed + 1 end
  end
  return {elapsed_ns = time.now():unix_nano() - t0, count = count, failed = failed}
end

return {idle = idle, echo = echo, pinger = pinger, sink = sink, spawner = spawner}
"""

PY = '''
import gc, os, time
from wippy import process

async def noop():
    return None

async def idle():
    inbox = process.inbox()
    msg = await inbox.receive()
    process.send(msg.sender, "pong", None)
    await inbox.receive()

async def echo():
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        if msg.topic == "stop":
            return "stopped"
        process.send(msg.sender, msg.topic, msg.payload)

async def pinger(peer, rounds, warmup):
    inbox = process.inbox()
    samples = []
    payload = {"n": 1, "s": "hello"}
    for i in range(warmup + rounds):
        t0 = time.perf_counter_ns()
        process.send(peer, "ping", payload)
        await inbox.receive()
        if i >= warmup:
            samples.append(time.perf_counter_ns() - t0)
    process.send(peer, "stop")
    return samples

async def sink(count, origin):
    inbox = process.inbox()
    for _ in range(count):
        await inbox.receive()
    process.send(origin, "done", count)

async def spawner(entry, host, count):
    events = process.events()
    t0 = time.perf_counter_ns()
    for _ in range(count):
        process.spawn_monitored(entry, host)
    failed = 0
    for _ in range(count):
        ev = await events.receive()
        failed += ev.result.error is not None
    return {"elapsed_ns": time.perf_counter_ns() - t0, "count": count, "failed": failed}

async def fleet(entry, host, count):
    pids = [process.spawn(entry, host) for _ in range(count)]
    for pid in pids:
        process.send(pid, "ping", None)
    inbox = process.inbox()
    for _ in range(count):
        await inbox.receive()
    return len(pids)

async def stream(sink_entry, host, count):
    me = process.pid()
    sink = process.spawn(sink_entry, host, count, me)
    payload = {"n": 1, "s": "hello"}
    t0 = time.perf_counter_ns()
    for i in range(count):
        process.send(sink, "m", payload)
    await process.inbox().receive()
    return time.perf_counter_ns() - t0

async def probe():
    gc.collect()
    return os.getpid()
'''


def write_app(root: str) -> str:
    os.makedirs(root, exist_ok=True)
    for name, text in (("_index.yaml", INDEX), ("bench.lua", LUA), ("bench.py", PY)):
        with open(os.path.join(root, name), "w") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    return root


def host_os_pid(node: Any, host_id: str) -> int:
    for h in node.ps()["hosts"]:
        if h.get("host") == host_id:
            return h["os_pid"]
    raise RuntimeError(f"no host {host_id}")


def p50_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def run(quick: bool) -> list[dict]:
    rounds = 2000 if quick else 10000
    spawns = 5000 if quick else 20000
    idle = 2000 if quick else 10000
    stream_n = 20000 if quick else 100000
    rows: list[dict] = []

    def add(case: str, system: str, metric: str, value: float, unit: str, **info: Any) -> None:
        rows.append({"case": case, "system": system, "metric": metric, "value": value,
                     "unit": unit, **info})
        print(f"{case:10} {system:22} {metric:14} {value:12.1f} {unit}", flush=True)

    import wippy
    app = write_app(tempfile.mkdtemp(prefix="wlb-", dir="/tmp"))
    try:
        with wippy.Node(app, data_dir=os.path.join(app, ".data")) as node:
            # spawn to exit: a spawner on lb:a, children on lb:a (same OS process) and lb:b
            for spawner in ("lb:py_spawner", "lb:lua_spawner"):
                for child, host in (("lb:lua_noop", "lb:a"), ("lb:lua_noop", "lb:b"),
                                    ("lb:py_noop", "lb:a")):
                    node.exec(spawner, "lb:a", child, host, 500, timeout=120)      # warm-up
                    out = node.exec(spawner, "lb:a", child, host, spawns, timeout=300)
                    assert out["failed"] == 0, out
                    add("spawn", f"{spawner.split(':')[1]}->{child.split(':')[1]}",
                        "same_host" if host == "lb:a" else "other_host",
                        out["count"] / (out["elapsed_ns"] / 1e9), "spawn/s", n=out["count"])

            # memory: idle processes on lb:mem, RSS / USS delta of its OS process
            mem = psutil.Process(host_os_pid(node, "lb:mem"))
            for entry in ("lb:py_idle", "lb:lua_idle"):
                node.exec("lb:fleet", "lb:a", entry, "lb:mem", 200, timeout=60)
                node.exec("lb:probe", "lb:mem", timeout=30)
                m0 = mem.memory_full_info()
                node.exec("lb:fleet", "lb:a", entry, "lb:mem", idle, timeout=600)
                node.exec("lb:probe", "lb:mem", timeout=30)
                m1 = mem.memory_full_info()
                add("memory", entry.split(":")[1], "rss_per_proc", (m1.rss - m0.rss) / idle, "B",
                    n=idle)
                add("memory", entry.split(":")[1], "uss_per_proc", (m1.uss - m0.uss) / idle, "B",
                    n=idle)

            # round trips between lb:a and lb:b, every pairing of languages
            for pinger in ("lb:py_pinger", "lb:lua_pinger"):
                for echo in ("lb:py_echo", "lb:lua_echo"):
                    peer = node.spawn(echo, "lb:b")
                    samples = node.exec(pinger, "lb:a", peer, rounds, 500, timeout=300)
                    add("roundtrip", f"{pinger.split(':')[1]}<->{echo.split(':')[1]}", "p50",
                        p50_us(samples), "us", n=len(samples))

            # message handling: a Python sender streams to a Lua or Python sink on lb:b
            for sink in ("lb:py_sink", "lb:lua_sink"):
                node.exec("lb:stream", "lb:a", sink, "lb:b", 2000, timeout=120)
                ns = node.exec("lb:stream", "lb:a", sink, "lb:b", stream_n, timeout=600)
                add("oneway", f"py->{sink.split(':')[1]}", "rate", stream_n / (ns / 1e9),
                    "msg/s", n=stream_n)
    finally:
        shutil.rmtree(app, ignore_errors=True)
    return rows


def run_unit(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """The ``lua`` case of ``python -m benchmarks``: spawn to exit of a Lua process on the
    spawner's own OS process (a fresh Lua state each, no pool) and memory per idle Lua process,
    beside the same for Python processes in the same node (S11: >= 20k/s, <= 40 KB)."""
    import wippy

    spawns = 5_000 if ctx.quick else 20_000
    idle = 2_000 if ctx.quick else 10_000
    app = write_app(tempfile.mkdtemp(prefix="wlb-", dir="/tmp"))
    try:
        with wippy.Node(app, data_dir=os.path.join(app, ".data")) as node:
            if node.process is not None:
                ctx.place(node.process.pid, "node")
            ctx.place(host_os_pid(node, "lb:a"), "host lb:a", 0)
            ctx.place(host_os_pid(node, "lb:mem"), "host lb:mem", 1)
            for entry, system in (("lb:lua_noop", "wippy-lua"), ("lb:py_noop", "wippy")):
                with ctx.attempt("lua", system):
                    node.exec("lb:py_spawner", "lb:a", entry, "lb:a", 500, timeout=120)
                    out = node.exec("lb:py_spawner", "lb:a", entry, "lb:a", spawns, timeout=300)
                    if out["failed"]:
                        raise RuntimeError(f"{out['failed']} of {spawns} {entry} failed")
                    ctx.add("lua", system, "spawn_rate", out["count"] / (out["elapsed_ns"] / 1e9),
                            "spawn/s", n=out["count"], what=f"spawn_monitored({entry}) on the "
                            "spawner's OS process x n, then every EXIT received")
            mem = psutil.Process(host_os_pid(node, "lb:mem"))
            for entry, system in (("lb:lua_idle", "wippy-lua"), ("lb:py_idle", "wippy")):
                with ctx.attempt("lua", system):
                    node.exec("lb:fleet", "lb:a", entry, "lb:mem", 200, timeout=60)
                    node.exec("lb:probe", "lb:mem", timeout=30)
                    m0 = mem.memory_full_info()
                    node.exec("lb:fleet", "lb:a", entry, "lb:mem", idle, timeout=600)
                    node.exec("lb:probe", "lb:mem", timeout=30)
                    m1 = mem.memory_full_info()
                    ctx.add("lua", system, "idle_rss_per_proc", (m1.rss - m0.rss) / idle, "B",
                            n=idle, what=f"RSS delta of the host OS process per idle {entry}")
                    ctx.add("lua", system, "idle_uss_per_proc", (m1.uss - m0.uss) / idle, "B",
                            n=idle)
    finally:
        shutil.rmtree(app, ignore_errors=True)


UNITS: list[Unit] = [
    Unit("wippy.lua", "wippy", ("lua",), ("wippy-lua", "wippy"), run_unit, 300, 900),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = run(args.quick)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"time": t0, "cpus": os.cpu_count(), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
