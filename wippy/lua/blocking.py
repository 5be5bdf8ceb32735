"""The blocking half of Wippy's Lua API: calls during which a Lua process waits (``receive``,
``send`` on a full channel, ``channel.select``, ``time.sleep``, ``process.exec``,
``funcs.call``, ``workflow.start``...). Lua yields ``(REQ.x, args...)``; the driver awaits the
handler registered here with :func:`~.api.blocking` and resumes Lua with what it returns. Each
handler does its work with wippy's Python API, awaiting like any Python process.
"""
from __future__ import annotations

import sys
from typing import Any

from .. import channel as _channel
from .. import funcs as _funcs
from .. import process as _process
from .. import registry as _registry
from .. import security as _security
from .. import system as _system
from .. import time as _wtime
from .. import workflow as _workflow
from ..errors import ChannelClosed
from ..runtime.threads import to_thread
from . import engine, funcmod, regmod, timemod
from .api import (
    ApiError,
    LuaRef,
    New,
    Raise,
    blocking,
    receive_result,
    received,
    req_numbers,
    text,
)
from .ctx import Ctx
from .engine import from_lua, to_lua

__all__ = ["RECEIVE"]

RECEIVE = 0                # ch:receive(): the driver handles it inline


@blocking(None, "receive", method_of="Channel")
async def _recv(ctx: Ctx, ch: Any, topic: Any, _: Any) -> tuple:
    try:
        return receive_result(ctx, await ch.receive(), topic)
    except ChannelClosed:
        return (True, None, False)


assert req_numbers()["@Channel.receive"] == RECEIVE   # the first blocking call registered


def _outgoing(ctx: Ctx, value: Any) -> Any:
    t = type(value)
    if t is bytes or t is int or t is float or t is bool or value is None:
        return value
    return ctx.park(value)


@blocking(None, "send", method_of="Channel")
async def _send(ctx: Ctx, ch: Any, topic: Any, _: Any, value: Any = None) -> tuple:
    v = _outgoing(ctx, value)
    try:
        await ch.send(v)
    except ChannelClosed:
        if type(v) is LuaRef:
            ctx.slots.pop(v.id, None)
        raise Raise("INVALID", "send on a closed channel") from None
    return (True, True)


@blocking("channel", "select")
async def _select(ctx: Ctx, cases: Any) -> tuple:
    if not engine.is_lua_table(cases):
        raise Raise("INVALID", "channel.select: a table of cases expected")
    n = len(cases)
    spec = []                                # (case table, channel object, is_send, value)
    for i in range(1, n + 1):
        c = cases[i]
        chobj: Any = c[1] if engine.is_lua_table(c) else None
        handle = chobj[1] if engine.is_lua_table(chobj) else None
        if not isinstance(handle, _channel.Channel):
            raise Raise("INVALID", f"channel.select: case {i} is not a channel case")
        spec.append((chobj, handle, bool(c[2]), c[3]))
    ops = [h.case_send(_outgoing(ctx, v)) if is_send else h.case_receive()
           for _, h, is_send, v in spec]
    try:
        res = await _channel.select(*ops, default=cases[b"default"] is True)
    except ChannelClosed:
        res = None
    lua = ctx.state.lua
    out: Any = None
    kept = None
    if res is None:
        out = (3, b"INVALID", b"send on a closed channel")
    elif res.default:
        out = (True, lua.table_from({b"default": True, b"ok": True}))
    else:
        for (chobj, handle, is_send, value), (_, ch, sent) in zip(spec, ops):
            if ch is not res.channel:
                continue
            if is_send:
                if sent is res.value:
                    kept = sent
                    out = (True, lua.table_from({b"channel": chobj, b"value": value, b"ok": True}))
                    break
            else:
                got = {b"channel": chobj, b"ok": bool(res.ok)}
                if res.ok:
                    got[b"value"] = received(ctx, res.value, chobj[2])
                out = (True, lua.table_from(got))
                break
    for _, _, sent in ops:                   # values parked for send cases that did not fire
        if type(sent) is LuaRef and sent is not kept:
            ctx.slots.pop(sent.id, None)
    return out or (False, b"INTERNAL", b"select: no case matched")


@blocking("time", "sleep")
async def _sleep(ctx: Ctx, d: Any) -> tuple:
    await _wtime.sleep(timemod.seconds(d))
    return (True,)


@blocking("workflow", "start")
async def _workflow_start(ctx: Ctx, entry_id: Any, input: Any = None, opts: Any = None) -> tuple:
    name = None
    if opts is not None:
        if not engine.is_lua_table(opts):
            raise ApiError("INVALID", "workflow.start: options must be a table {name = ...}")
        if opts[b"name"] is not None:
            name = text(opts[b"name"], "name")
    pid = await _workflow.start(text(entry_id, "workflow id"), from_lua(input), name)
    return (True, pid.encode())


@blocking("process", "exec")
async def _exec(ctx: Ctx, id: Any, host: Any, *args: Any) -> tuple:
    plain = [from_lua(a) for a in args]
    value = await _process.exec(text(id, "entry id"), text(host, "host"), *plain)
    return (True, to_lua(ctx.state, value))


@blocking("process", "wait_send")
async def _wait_send(ctx: Ctx, dest: Any, topic: Any, *payload: Any) -> tuple:
    """process.send that waits for room in a full mailbox instead of failing (S4's backpressure
    for coroutines that opt in; Python's ``process.wait_send``)."""
    data = engine.message_payload(payload)
    await _process.wait_send(text(dest, "destination"), text(topic, "topic"), data)
    return (True, True)


@blocking("process.registry", "register")
async def _register(ctx: Ctx, name: Any, pid: Any = None, scope: Any = None) -> tuple:
    n = text(name, "name")
    if not n or n[:1] == "\0":
        raise ApiError("INVALID", "invalid name")
    await _process.registry.register(n, None if pid is None else text(pid, "pid"))
    return (True, True)


@blocking("process.registry", "unregister")
async def _unregister(ctx: Ctx, name: Any, scope: Any = None) -> tuple:
    return (True, await _process.registry.unregister(text(name, "name")))


async def _call_with(ctx: Ctx, values: dict[str, Any] | None, fid: Any, args: tuple) -> tuple:
    # the one path for a function call (an activity inside a workflow): wippy.funcs.call
    value = await _funcs.call(text(fid, "function id"), *[from_lua(a) for a in args],
                              context=values)
    return (True, to_lua(ctx.state, value))


@blocking("funcs", "call")
async def _call(ctx: Ctx, fid: Any = None, *args: Any) -> tuple:
    return await _call_with(ctx, None, fid, args)


@blocking(None, "call", method_of="Executor")
async def _executor_call(ctx: Ctx, values: Any, actor: Any, scope: Any, fid: Any = None,
                         *args: Any) -> tuple:
    ctx_values = funcmod.context_values(values) or None
    if actor is None and scope is None:
        return await _call_with(ctx, ctx_values, fid, args)
    # with_actor / with_scope: the call acts as them (funcs.security), see secmod
    value = await _funcs.call_as(_security.spawn_context(actor, scope), text(fid, "function id"),
                                 *[from_lua(a) for a in args], context=ctx_values)
    return (True, to_lua(ctx.state, value))


@blocking(None, "apply", method_of="Changes")
async def _changes_apply(ctx: Ctx, ch: Any, _a: Any, _b: Any) -> Any:
    return New((b"Version", int(await ch.apply())))


@blocking("system.supervisor", "states")
async def _supervisor_states(ctx: Ctx) -> Any:
    return (True, to_lua(ctx.state, await _system.supervisor.states()))


@blocking("system.supervisor", "state")
async def _supervisor_state(ctx: Ctx, service_id: Any = None) -> Any:
    return (True, to_lua(ctx.state, await _system.supervisor.state(text(service_id, "service id"))))


@blocking("system", "exit")
async def _system_exit(ctx: Ctx, code: Any = 0) -> Any:
    return (True, await _system.exit(int(code or 0)))


@blocking("registry", "apply_version")
async def _apply_version(ctx: Ctx, v: Any = None) -> Any:
    await _registry.apply_version(regmod.version_arg(v))
    return (True, True)


@blocking("io", "readline")
async def _readline(ctx: Ctx) -> tuple:
    line = await to_thread(sys.stdin.buffer.readline)
    if not line:
        return (False, b"CANCELED", b"end of input")
    return (True, line.rstrip(b"\n").rstrip(b"\r"))


@blocking("io", "read")
async def _read(ctx: Ctx, n: Any = None) -> tuple:
    size = int(n) if isinstance(n, (int, float)) and n > 0 else 1024
    data = await to_thread(getattr(sys.stdin.buffer, "read1"), size)
    if not data:
        return (False, b"CANCELED", b"end of input")
    return (True, data)
