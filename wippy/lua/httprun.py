"""How a host runs a ``function.lua`` endpoint handler for one HTTP request.

A handler's Lua state lives as long as the coroutines it started with ``coroutine.spawn``
(Wippy's http-async-task example answers first and keeps working): :func:`run_handler` sends
the response when the function returns and releases the state only after they end, where a
plain function call (``funcs.call``) releases it at once. The compiled chunk is kept per
function until a registry version changes the function's source.
"""
from __future__ import annotations

from typing import Any

from ..http.call import HttpCall
from ..http.endpoint import wait_tasks
from ..runtime import scheduler
from ..runtime import table as _runtime
from . import statepool, watchdog
from .chunks import compile_entry
from .ctx import Ctx
from .driver import _finish as finish_result
from .driver import drive

__all__ = ["run_handler"]

# func id -> (store version, (source, source hash), compiled chunk): one compile per change
_CODE: dict[str, tuple[int | None, tuple[Any, Any], bytes]] = {}


def _code(rt: Any, entry: dict[str, Any]) -> bytes:
    hit = _CODE.get(entry["id"])
    key = ((entry.get("data") or {}).get("source"), entry.get("source_hash"))
    if hit is not None and hit[1] == key:     # the same source: no registry read
        return hit[2]
    version = rt.store.version() if rt.store is not None else None
    if hit is not None and hit[0] == version:
        return hit[2]
    code, _ = compile_entry(entry)
    _CODE[entry["id"]] = (version, key, code)
    return code


async def run_handler(entry: dict[str, Any], call: HttpCall) -> None:
    """Run ``function.lua`` ``entry`` as the handler of ``call`` in the current process: send
    the response when it returns, then wait for the coroutines it started. Raises what the
    function raised (or returned as an error)."""
    rt = _runtime.get()
    proc = rt.current()
    code = _code(rt, entry)
    watchdog.enable_watchdog()
    ctx = Ctx(rt, proc, entry, ())
    state = ctx.state
    try:
        method_name = ((entry.get("data") or {}).get("method") or "main").encode()
        co = state.exports[b"main"].coroutine(code, ctx.entry_id.encode(), method_name)
        finish_result(ctx, await drive(ctx, co))
        call.finish()
        await wait_tasks(proc, scheduler.get().current)
    finally:
        ctx.slots.clear()
        ctx.objects.clear()
        statepool.release(state)


