"""Lua's ``system`` module (Wippy's names): memory and GC statistics, runtime and process
facts, and the node's supervisor (``system.supervisor.*`` and ``system.exit`` block:
``blocking.py``). ``os.platform`` is set by the prelude.

What Wippy reports about its Go runtime is reported here about what plays its part: memory
``alloc``/``heap_alloc`` are the calling process's Lua state (what its ``max_memory`` counts),
``sys``/``heap_sys`` the host OS process's resident memory, ``heap_objects`` and ``num_gc``
Python's collector on that OS process; ``runtime.goroutines`` counts the processes of the host
OS process. ``memory.set_limit`` may lower the calling process's own ``max_memory``, never
raise it (S6's limits are set by the entry and its host, not by the code they bound);
``gc.set_percent`` and ``runtime.max_procs`` keep their value, as Wippy's API shows it, without
a runtime to tune.
"""
from __future__ import annotations

import gc
import os
import socket
from typing import Any

from ..runtime import table as _runtime
from .api import ApiError, current_ctx, function, lua_value, subtable

__all__: list[str] = []

for _sub in ("memory", "gc", "runtime", "process", "supervisor", "hosts"):
    subtable("system", _sub, f"system.{_sub}")

_TUNABLES = {"gc_percent": 100, "max_procs": os.cpu_count() or 1}

MODULES = {   # name -> (description, classes): system.modules()
    "time": ("Time, durations, timers", ["time", "nondeterministic"]),
    "json": ("JSON encoding, decoding and schema validation", ["encoding", "deterministic"]),
    "logger": ("Structured logging", ["io"]),
    "registry": ("The registry: entries, snapshots, versions", ["storage"]),
    "events": ("The node's event bus", ["process"]),
    "funcs": ("Function calls", ["process", "workflow"]),
    "uuid": ("UUID generation and parsing", ["nondeterministic"]),
    "env": ("Environment variables", ["io"]),
    "io": ("Terminal input and output", ["io"]),
    "system": ("Runtime and system information", ["nondeterministic"]),
    "workflow": ("Durable workflow steps", ["workflow"]),
    "ctx": ("Context values of a call", ["nondeterministic"]),
}


def _state_bytes() -> int:
    return int(current_ctx().state.memory_used())


@function("system")
def modules() -> Any:
    return lua_value([{"name": n, "description": d, "class": c}
                      for n, (d, c) in sorted(MODULES.items())])


@function("system.memory")
def stats() -> Any:
    import psutil   # only here: the statistics are asked for rarely
    used = _state_bytes()
    rss = psutil.Process().memory_info().rss
    return lua_value({
        "alloc": used, "total_alloc": used, "sys": rss, "heap_alloc": used, "heap_sys": rss,
        "heap_idle": 0, "heap_in_use": used, "heap_released": 0,
        "heap_objects": len(gc.get_objects()), "stack_in_use": 0, "stack_sys": 0,
        "mspan_in_use": 0, "mspan_sys": 0,
        "num_gc": sum(s.get("collections", 0) for s in gc.get_stats()), "next_gc": 0,
    })


@function("system.memory")
def allocated() -> int:
    return _state_bytes()


@function("system.memory")
def heap_objects() -> int:
    return len(gc.get_objects())


@function("system.memory")
def get_limit() -> int:
    return current_ctx().state.max_memory or -1


@function("system.memory")
def set_limit(limit: Any = None) -> int:
    if type(limit) is float and limit.is_integer():
        limit = int(limit)
    if type(limit) is not int or (limit < 0 and limit != -1):
        raise ApiError("INVALID", "memory.set_limit: a limit in bytes (or -1) expected")
    st = current_ctx().state
    prev = st.max_memory or -1
    if limit == -1 or (st.max_memory and limit > st.max_memory):
        raise ApiError("PERMISSION_DENIED", "memory.set_limit: a process may lower its "
                                            "max_memory, not raise it")
    st.max_memory = limit
    st.lua.set_max_memory(limit)
    return prev


@function("system.gc")
def collect() -> bool:
    current_ctx().state.exports[b"collect"]()
    gc.collect(0)
    return True


@function("system.gc")
def get_percent() -> int:
    return _TUNABLES["gc_percent"]


@function("system.gc")
def set_percent(percent: Any = None) -> int:
    if type(percent) is not int:
        raise ApiError("INVALID", "gc.set_percent: an integer expected")
    prev, _TUNABLES["gc_percent"] = _TUNABLES["gc_percent"], percent
    return prev


@function("system.runtime")
def goroutines() -> int:
    return len(_runtime.get().procs)


@function("system.runtime")
def cpu_count() -> int:
    return os.cpu_count() or 1


@function("system.runtime")
def max_procs(n: Any = None) -> int:
    prev = _TUNABLES["max_procs"]
    if n is None:
        return prev
    if type(n) is not int or n <= 0:
        raise ApiError("INVALID", "runtime.max_procs: a positive integer expected")
    _TUNABLES["max_procs"] = n
    return prev


@function("system.process", "pid")
def process_pid() -> int:
    return os.getpid()


@function("system.process")
def hostname() -> bytes:
    return socket.gethostname().encode()


@function("system.process")
def cwd() -> bytes:
    return os.getcwd().encode()


@function("system.hosts", "list")
def hosts_list() -> Any:
    rt = _runtime.get()
    return lua_value([{"id": rt.host_id, "workers": 1, "processes": len(rt.procs),
                       "executed": rt.spawns, "stolen": 0, "queue_depth": len(rt.sched.ready)}])


@function("system.hosts", "processes")
def hosts_processes(host_id: Any = None) -> Any:
    rt = _runtime.get()
    return lua_value([{"pid": p.pid, "host": rt.host_id, "source": p.entry, "state": "running",
                       "steps": 0, "started_at": 0} for p in list(rt.procs.values())
                      if host_id is None or host_id == rt.host_id.encode()])
