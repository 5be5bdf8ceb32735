"""What a host runs for each kind of entry: the table of runners it hands its runtime.

The runtime (process table, scheduler, code cache) sits below Lua and workflows and knows
neither: it looks an entry's kind up in this table and runs what the runner returns. Python
code comes from files (``codeload.python_runner``), Lua from the Lua driver (lupa is imported on
the first Lua entry only), the workflow kinds are their language's runner wrapped in replay
(``wippy.workflow.runner.replayed``), and an ``http.endpoint`` runs its function for one HTTP
request (``wippy.http.endpoint``, with the Lua module's way of running a Lua handler). Every
host, and every test that builds a runtime, takes this one table.

Rejected: the runtime importing Lua and the workflow package inside a function to dodge the
import circle (it still depended on them), and registering runners from the modules that define
them at import time (which runners exist would then depend on what happened to be imported).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..http.call import HttpCall
from ..http.endpoint import endpoint_runner
from ..lua import entry_runner as lua_runner
from ..registry.entry import Kind
from ..resources.consumer import consumer_runner
from ..runtime.codeload import Runner, python_runner
from ..workflow.runner import replayed

__all__ = ["RUNNERS"]


_run_lua_handler: Any = None


async def _lua_http_handler(entry: dict[str, Any], call: HttpCall) -> None:
    global _run_lua_handler
    if _run_lua_handler is None:    # lupa on the first Lua handler, as for Lua entries (and
        # an import statement per request would cost more than the lookup it saves)
        from ..lua.httprun import run_handler
        _run_lua_handler = run_handler
    await _run_lua_handler(entry, call)


#: Entry kind -> runner, for every kind a host can run (``registry.entry.RUNNABLE_KINDS``).
RUNNERS: MappingProxyType[str, Runner] = MappingProxyType({
    Kind.PROCESS_PY.value: python_runner,
    Kind.FUNCTION_PY.value: python_runner,
    Kind.WORKFLOW_PY.value: replayed(python_runner),
    Kind.PROCESS_LUA.value: lua_runner,
    Kind.FUNCTION_LUA.value: lua_runner,
    Kind.WORKFLOW_LUA.value: replayed(lua_runner),
    Kind.HTTP_ENDPOINT.value: endpoint_runner(_lua_http_handler),
    Kind.QUEUE_CONSUMER.value: consumer_runner,
})
