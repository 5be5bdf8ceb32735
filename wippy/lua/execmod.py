"""Wippy's Lua ``exec`` module: a view of :mod:`wippy.exec` (``exec.native`` executors).

Objects carry their Python handle as the first field: ``Executor`` is taken by funcs'
executors, so the class here is ``ExecExecutor``; ``ExecProcess``; ``ExecStream`` (a command's
stdout or stderr). ``proc:wait()``, ``proc:write_stdin()`` and ``stream:read()`` are blocking
calls (they wait for the command); the rest return at once.
"""
from __future__ import annotations

from typing import Any

from .. import exec as _exec
from .api import ApiError, New, blocking, function, method, text
from .ctx import Ctx
from .engine import from_lua, is_lua_table

__all__: list[str] = []


@function("exec")
def get(id: Any = None) -> Any:
    return New((b"ExecExecutor", _exec.get("" if id is None else text(id, "resource id"))))


def _executor(e: Any) -> _exec.Executor:
    if not isinstance(e, _exec.Executor):
        raise ApiError("INVALID", "an executor expected")
    return e


def _proc(p: Any) -> _exec.Process:
    if not isinstance(p, _exec.Process):
        raise ApiError("INVALID", "a process expected")
    return p


@method("ExecExecutor", "exec")
def _exec_cmd(e: Any, _b: Any, _c: Any, cmd: Any = None, options: Any = None) -> Any:
    if type(cmd) is not bytes or not cmd:
        raise ApiError("INVALID", "command is required")
    opts: dict[str, Any] = {}
    if options is not None:
        if not is_lua_table(options):
            raise ApiError("INVALID", "options must be a table")
        opts = dict(from_lua(options) or {})
    return New((b"ExecProcess", _executor(e).exec(text(cmd, "command"), opts)))


@method("ExecExecutor", "release")
def _release(e: Any, *_: Any) -> bool:
    return _executor(e).release()


@method("ExecProcess", "start")
def _start(p: Any, *_: Any) -> bool:
    return _proc(p).start()


@blocking(None, "wait", method_of="ExecProcess")
async def _wait(ctx: Ctx, p: Any, *_: Any) -> tuple:
    return (True, await _proc(p).wait())


@blocking(None, "write_stdin", method_of="ExecProcess")
async def _write_stdin(ctx: Ctx, p: Any, _a: Any, _b: Any, data: Any = None) -> tuple:
    if type(data) is not bytes:
        raise ApiError("INVALID", "data must be a string")
    return (True, await _proc(p).write_stdin(data))


@method("ExecProcess", "signal")
def _signal(p: Any, _b: Any, _c: Any, signum: Any = None) -> bool:
    if type(signum) is not int:
        raise ApiError("INVALID", "signal must be an integer")
    return _proc(p).signal(signum)


@method("ExecProcess", "close")
def _close(p: Any, _b: Any, _c: Any, force: Any = None) -> bool:
    return _proc(p).close(bool(force))


@method("ExecProcess", "stdout_stream")
def _stdout(p: Any, *_: Any) -> Any:
    return New((b"ExecStream", _proc(p).stdout_stream()))


@method("ExecProcess", "stderr_stream")
def _stderr(p: Any, *_: Any) -> Any:
    return New((b"ExecStream", _proc(p).stderr_stream()))


@blocking(None, "read", method_of="ExecStream")
async def _read(ctx: Ctx, s: Any, _a: Any, _b: Any, size: Any = None) -> tuple:
    if size is not None and type(size) is not int:
        raise ApiError("INVALID", "size must be an integer")
    if not isinstance(s, _exec.Stream):
        raise ApiError("INVALID", "a stream expected")
    return (True, await s.read(size or 0))


@method("ExecStream", "close")
def _stream_close(s: Any, *_: Any) -> bool:
    if not isinstance(s, _exec.Stream):
        raise ApiError("INVALID", "a stream expected")
    return s.close()
