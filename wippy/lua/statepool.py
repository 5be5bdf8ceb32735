"""The pool of idle Lua states of one OS process: a process takes a state with its limits
(:func:`acquire`) and gives it back when it ends (:func:`release`). A pooled state keeps its
sandbox and compiled prelude; only a fresh per-process layer is made (``new_process``), which
saves building a runtime per spawn. Killed or non-reusable states are dropped.
"""
from __future__ import annotations

from typing import Any

from .engine import LuaState

__all__ = ["acquire", "release", "pool_size", "POOL_MAX"]

POOL_MAX = 64            # idle Lua states kept per OS process for the next spawns
_pool: list[LuaState] = []


def acquire(prelude: bytes, dispatch: Any, max_memory: int | None, max_cpu: float | None,
            label: str) -> LuaState:
    """A Lua state for one process: a pooled one (with a fresh per-process layer) or a new one."""
    st = _pool.pop() if _pool else LuaState(prelude, dispatch)
    st.max_memory = max_memory
    st.max_cpu = max_cpu
    st.cpu = 0.0
    st.killed = None
    st.label = label
    st.lua.set_max_memory(max_memory or 0)
    st.exports[b"new_process"]()
    return st


def release(st: LuaState) -> None:
    """Give back the state of a process that ended; killed states are dropped."""
    st.ctx = None
    if st.killed is None and st.reusable and len(_pool) < POOL_MAX:
        _pool.append(st)


def pool_size() -> int:
    """How many idle states the pool holds."""
    return len(_pool)
