"""The Python side of one Lua process (or function call): :class:`Ctx`, which owns the process's
Lua state (acquired from the pool with the entry's limits) and what the API needs about the
process: its runtime, its PID, the values parked while they sit in a channel, its ``require``
allowlist.
"""
from __future__ import annotations

from typing import Any

from ..errors import EntryNotFound, LimitExceeded
from ..runtime import scheduler
from ..security.context import from_wire
from . import api, engine, limits, statepool
from .api import ApiError, LuaRef
from .chunks import compile_entry, prelude

__all__ = ["Ctx"]

HOST_LIMITS_TTL_S = 1.0     # host entries' limits are cached this long (a registry read per
                            # spawn would cost more than the rest of the spawn)


_host_limits: dict[str, tuple[float, Any]] = {}


def _host_entry_limits(rt: Any) -> dict[str, Any] | None:
    now = scheduler.monotonic()
    hit = _host_limits.get(rt.host_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    stored = rt.store.get(rt.host_id) if rt.store is not None else None
    value = (stored.get("data") or {}).get("limits") if stored else None
    _host_limits[rt.host_id] = (now + HOST_LIMITS_TTL_S, value)
    return value


class Ctx:
    """What the Python side knows about the process (or function call) a Lua state runs."""

    __slots__ = ("state", "rt", "proc", "pid", "entry_id", "entry", "args", "exit_exc",
                 "slots", "next_slot", "objects", "_allow", "_terminal", "collected")

    def __init__(self, rt: Any, proc: Any, entry: dict[str, Any], args: tuple) -> None:
        self.rt = rt
        self.proc = proc
        self.pid = proc.pid
        self.entry = entry
        self.entry_id = entry["id"]
        self.args = args
        self.exit_exc: BaseException | None = None
        self.slots: dict[int, Any] = {}        # Lua values parked while they sit in a channel
        self.next_slot = 0
        self.objects: dict[Any, Any] = {}      # inbox/events/listen channel objects (same each call)
        self._allow: dict[str, tuple[frozenset, dict]] | None = None
        self._terminal: bool | None = None
        self.collected = False
        lim = limits.resolve((entry.get("data") or {}).get("limits"), _host_entry_limits(rt))
        self.state = statepool.acquire(prelude(), api.dispatch, lim.max_memory, lim.max_cpu,
                                    f"{proc.pid} {self.entry_id}")
        self.state.ctx = self

    def new_obj(self, *fields: Any) -> Any:
        return self.state.exports[b"new_obj"](*fields)

    def park(self, value: Any) -> LuaRef:
        self.next_slot += 1
        self.slots[self.next_slot] = value
        return LuaRef(self.next_slot)

    @property
    def terminal(self) -> bool:
        if self._terminal is None:
            rt = self.rt
            stored = rt.store.get(rt.host_id) if rt.store is not None else None
            self._terminal = rt.host_id == "wippy:terminal" or bool(
                stored and stored.get("kind") == "terminal.host")
        return self._terminal

    def allowlist(self, entry_id: str) -> tuple[frozenset, dict]:
        """(modules, imports) of the entry (or library) whose code calls ``require``."""
        if self._allow is None:
            self._allow = {}
        got = self._allow.get(entry_id)
        if got is None:
            e = self.entry if entry_id == self.entry_id else (
                self.rt.store.get(entry_id) if self.rt.store is not None else None)
            if e is None:
                raise EntryNotFound(f"entry {entry_id} not found")
            data = e.get("data") or {}
            got = (frozenset(data.get("modules") or ()), dict(data.get("imports") or {}))
            self._allow[entry_id] = got
        return got

    def library(self, lib_id: str) -> tuple[bytes, str]:
        e = self.rt.store.get(lib_id) if self.rt.store is not None else None
        if e is None:
            raise EntryNotFound(f"library {lib_id} not found")
        if e.get("kind") != "library.lua":
            raise ApiError("INVALID", f"import {lib_id} is a {e.get('kind')}, not a library.lua")
        stamp = e.get("author")
        if isinstance(stamp, dict):     # code an agent wrote: whoever imports it acts as it too
            self.rt.narrow(from_wire(stamp.get("context")))
        code, name = compile_entry(e)
        return code, "@" + name

    def limit_error(self) -> LimitExceeded:
        st = self.state
        why = st.killed
        if why == "memory":
            msg = f"memory limit exceeded (max_memory {limits.describe_bytes(st.max_memory or 0)})"
        elif why == "stack":
            msg = "stack overflow (recursion too deep)"
        elif why == "stuck":
            msg = (f"ran {engine.STUCK_S:g} s inside code that cannot be preempted "
                   "(a sort comparator, gsub callback, __tostring or xpcall handler)")
        else:
            msg = f"CPU time limit exceeded (max_cpu {st.max_cpu:g}s)"
        return LimitExceeded(f"Lua process {self.pid} ({self.entry_id}): {msg}")
