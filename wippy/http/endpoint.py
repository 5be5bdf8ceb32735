"""What a host runs for an ``http.endpoint``: the runner the host's table names for the kind.

The server dispatches each request as a SPAWN of the matched endpoint entry on a host; the
process runs :func:`endpoint_runner`'s callable with the request frame. It binds an
:class:`~wippy.http.call.HttpCall` to the process (``http.request()`` / ``http.response()``
find it there), calls the endpoint's function in this process, sends the response when the
function returns, and keeps the process alive while coroutines the handler started still run
(Wippy's http-async-task example answers at once and keeps working). A handler that raises is
logged with an error id, which the client gets in its 500; a process ended from outside (the
server's timeout, a host stop) answers nothing more.

Each request is a process of its own, as in Wippy, because handlers use their process: they
``receive`` replies on their inbox (the shop example), spawn, link and monitor. Lua functions
run through the Lua runner the host passes in (``run_lua``), which keeps the function's Lua
state until those coroutines end; Python functions are called in the process itself.

Rejected: a pool of long-lived handler processes, each taking many requests (one inbox shared
by concurrent requests would hand one request's reply to another).
"""
from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable

from .. import funcs
from .. import time as _wtime
from ..registry.entry import Kind
from ..runtime import codeload
from ..runtime import table as _runtime
from ..runtime.scheduler import Task
from . import call as _call
from . import frames

__all__ = ["endpoint_runner", "LuaHandler", "wait_tasks", "TASK_POLL_S"]

#: Runs a ``function.lua`` handler entry for a call; returns once its coroutines ended.
LuaHandler = Callable[[dict[str, Any], _call.HttpCall], Awaitable[None]]

TASK_POLL_S = 0.02      # how often a finished handler checks whether its coroutines ended

# func id -> (registry version, kind, the Lua entry or the Python (callable, is_coro)): what a
# request runs, found with one registry read per request (the version) instead of the three
# or four the general lookups make, and without decoding a Lua handler's entry each time
_HANDLERS: dict[str, tuple[int, str | None, Any]] = {}


async def wait_tasks(proc: Any, me: Task | None) -> None:
    """Until every task of ``proc`` but ``me`` has finished (coroutines a handler started)."""
    while proc.tasks and any(not t.finished and t is not me for t in proc.tasks):
        await _wtime.sleep(TASK_POLL_S)


_LUA = Kind.FUNCTION_LUA.value


def _handler(rt: Any, func_id: str) -> tuple[str | None, Any]:
    """(kind, the Lua entry or the Python (callable, is_coro)) of handler ``func_id`` at the
    registry's current version: a request made after a change runs the new code."""
    store = rt.store
    version = store.version() if store is not None else None
    hit = _HANDLERS.get(func_id)
    if hit is not None and version is not None and hit[0] == version:
        return hit[1], hit[2]
    kind = codeload.kind_of(store, func_id)
    target: Any
    if kind == _LUA:
        target = store.get(func_id)
    else:
        target = codeload.resolve(store, func_id, None, rt.runners, funcs.CALLABLE_KINDS)
    if version is not None and target is not None:
        _HANDLERS[func_id] = (version, kind, target)
    return kind, target


def endpoint_runner(run_lua: LuaHandler) -> Callable[[dict[str, Any]], Callable[..., Any]]:
    """The runner of ``http.endpoint`` entries, with ``run_lua`` for Lua functions."""

    def runner(entry: dict[str, Any]) -> Callable[..., Any]:
        endpoint_id = entry["id"]

        async def run(frame: Any = None, *_: Any) -> None:
            req = frames.parse_request(frame)
            rt = _runtime.get()
            proc = rt.current()
            me = rt.sched.current
            call = _call.HttpCall(req, proc.pid, rt.mesh)
            _call.bind(proc.pid, call)
            try:
                # the function runs in this process (it exists for this request alone), not in
                # a function call's frame: http.request() finds the request by this PID. The
                # checks of funcs.call apply, and code an agent wrote acts as its author too.
                rt.check("funcs.call", req.func)
                kind, target = _handler(rt, req.func)
                rt.guard.narrow(rt.author(req.func))
                if kind == _LUA:
                    await run_lua(target, call)
                else:
                    result = target[0]()
                    if inspect.isawaitable(result):
                        await result
                    call.finish()
                    await wait_tasks(proc, me)
            except GeneratorExit:
                raise           # ended from outside: the finally below answers if need be
            except BaseException as exc:  # noqa: BLE001 - the handler's failure is the client's 500
                call.fail(exc, req.func)
            finally:
                _call.unbind(proc.pid)
                if not call.finished:
                    call.fail(f"the handler's process {proc.pid} ended before it answered",
                              endpoint_id)
        return run
    return runner
