"""Lua processes (S6): ``process.lua``, ``function.lua``, ``workflow.lua`` (S8) and
``library.lua`` entries run sandboxed in ``lupa.lua54``, one Lua state per process, with
Wippy's API and per-process limits.

Modules: ``engine`` (the only importer of lupa: states, the count hook, value conversion),
``driver`` (the task that drives a Lua coroutine), ``ctx`` (a Lua process as the API sees it),
``api`` (how Python functions become the Lua API; the registries of ops and blocking calls),
``chunks`` (the Lua sources and compiled chunks), ``blocking`` (the blocking calls),
``modules``, ``stdmods``, ``regmod``, ``timemod``, ``timers`` and ``wfmod`` (the non-blocking
API), ``statepool`` (idle states reused by the next spawns), ``watchdog`` (kills a host stuck
in a C call),
``limits`` and ``timefmt`` (pure helpers), and the Lua side in ``prelude.lua`` and
``lib/*.lua``. Importing this package does not import lupa: :func:`entry_runner`, the runner the
host's table names for the Lua kinds, imports the driver on first use.
"""
from __future__ import annotations

from typing import Any, Callable

from ..registry.entry import LUA_KINDS, RUNNABLE_KINDS

__all__ = ["entry_runner", "LUA_RUNNABLE"]

#: Kinds a host can run as a process (or call, for functions).
LUA_RUNNABLE = LUA_KINDS & RUNNABLE_KINDS


def entry_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of Lua entries: the async callable that runs a ``process.lua`` /
    ``function.lua`` entry, or the main of a ``workflow.lua`` one (which the host's table of
    runners wraps in replay). Imports the driver, and lupa, on first use."""
    from .driver import entry_runner as runner
    return runner(entry)
