"""``wippy.funcs``: call function entries (``call``) or start them (``async_``).

A function call has a context of its own, as in Wippy: the function runs as a short-lived
process of its own (a *frame*) on the caller's host OS process, with its own PID, inbox, events
and options, so what one call starts, monitors or receives never reaches the caller or the
next call. The caller waits for the frame's end like ``exec`` (the frame's EXIT wakes it and is
never posted to its events); when the caller stops waiting (it was killed), the frame ends too.
``call`` runs ``function.*`` entries and, as Wippy does, ``process.*`` entries (their ``main``
run as a function). ``call("n2@app:fn", ...)`` runs ``app:fn`` on node ``n2`` of the cluster
instead, in a process of its own there, with plain-data arguments, result and context values
(:mod:`wippy.runtime.remote`). ``async_`` runs the call in
another task of the caller and returns a :class:`Future`. (``async`` is a Python keyword, hence ``async_``; ``getattr(funcs, "async")``
works too.)

Context values (Wippy's ``ctx``: request ids and the like, plain data) belong to a process or a
frame (:mod:`wippy.runtime.contexts`): a frame inherits its caller's and adds the ``context``
given to :func:`call`; :func:`context` reads the calling code's.

:func:`call` is the one path for calling a function entry, from Python and from Lua (whose
``funcs.call``, ``executor:call`` and ``funcs.async`` come here): the entry is resolved through
the host's table of runners, and inside a workflow the call is an activity, journaled by the
workflow's journal (:mod:`wippy.runtime.durable`). Calling needs ``funcs.call`` on the entry.
The frame acts under the caller's security context (S9), narrowed by the entry's author: a
function an agent wrote runs with its author's authority as well as the caller's, whoever calls
it; :func:`call_as` (Wippy's executor ``with_actor``/``with_scope``) runs it under another
context instead of the caller's, which needs ``funcs.security``.

Rejected: running the function in the caller's task and process (the previous design: cheap,
but the function's spawns, monitors, messages and options were the caller's, and leaked from
one call into the next); a real ``spawn`` + ``exec`` (every value and error would take the wire
form, losing a Lua error's ``retryable`` and ``details``, and placement could move the call to
another OS process of the host).
"""
from __future__ import annotations

import inspect
from typing import Any

from .core.pid import make_pid
from .errors import EntryNotFound, InvalidMessage, ProcessFailed, Terminated, WippyError, exit_error
from .registry.entry import FUNCTION_KINDS, Kind
from .runtime import codeload as _codeload
from .runtime import contexts as _contexts
from .runtime import durable as _durable
from .runtime import remote as _remote
from .runtime import scheduler as _sched
from .runtime import table as _rt
from .runtime.proc import Process
from .security import context as _security

__all__ = ["call", "call_as", "async_", "Future", "context", "CALLABLE_KINDS", "run_frame",
           "bind_context", "check_id"]

_CALLER: Any = object()      # run_frame's default: the frame acts as its caller does

#: What ``call`` runs: functions, and processes (their main as a function, as Wippy does).
CALLABLE_KINDS = FUNCTION_KINDS | frozenset({Kind.PROCESS_LUA.value, Kind.PROCESS_PY.value})



def context(pid: str | None = None) -> dict[str, Any]:
    """The context values of the calling process or function call (or of ``pid``): a copy."""
    if pid is None:
        pid = _rt.get().current().pid
    return dict(_contexts.of(pid) or {})


def bind_context(pid: str, values: dict[str, Any] | None) -> None:
    """Give process ``pid`` its context values (a process spawned with a context); None or
    an empty map removes them. Called by the code runners, not by application code."""
    _contexts.bind(pid, values)


def check_id(id: Any) -> str:
    """``id`` if it names an entry (``namespace:name``, or ``node@namespace:name`` for one on
    another node of the cluster); raises InvalidMessage (kind INVALID)."""
    if not isinstance(id, str) or not id:
        raise InvalidMessage("function id is empty")
    node, at, rest = id.partition("@")
    ns, sep, name = (rest if at else id).rpartition(":")
    if not sep or not ns or not name or (at and (not node or "@" in rest)):
        raise InvalidMessage(f"function id '{id}' must be 'namespace:name' or "
                             "'node@namespace:name'")
    return id


async def call(id: str, *args: Any, context: dict[str, Any] | None = None) -> Any:
    """Run function entry ``id`` with ``args`` in a frame of its own and return its result
    (raises its error). ``context``: values added to the caller's for this call. Inside a
    workflow this is an activity: its result is journaled (see wippy.workflow)."""
    return await _call(id, args, context, _CALLER)


async def call_as(ctx: _security.Context | None, id: str, *args: Any,
                  context: dict[str, Any] | None = None) -> Any:
    """Call function ``id`` under another security context (Wippy's executor
    ``with_actor``/``with_scope``): needs ``funcs.security``; the call and what it starts act
    as ``ctx`` instead of the caller, still narrowed by the author of what it runs."""
    _rt.get().check("funcs.security", "security")
    return await _call(id, args, context, ctx)


async def _call(id: str, args: tuple | list, values: dict[str, Any] | None, acting: Any) -> Any:
    check_id(id)
    wf = _durable.current()
    if wf is not None:
        return await wf.activity(id, lambda: _run(id, args, values, acting))
    return await _run(id, args, values, acting)


class _Outcome:
    __slots__ = ("value", "error", "done")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False


def _frame(rt: Any, caller: Process, id: str) -> Process:
    """A new process for one function call, on the caller's OS process, watched by the caller.
    It runs under the caller's workflow journal (an activity's idempotency key stays
    readable)."""
    rt.counter += 1
    while str(rt.counter) in rt.procs:      # a local id someone created by hand (tests)
        rt.counter += 1
    local = str(rt.counter)
    frame = Process(local, make_pid(rt.host_id, rt.serial, local), id)
    frame.workflow = caller.workflow
    # the caller's PID on this OS process (a workflow's own PID routes through the node)
    frame.add_monitor(make_pid(rt.host_id, rt.serial, caller.local))
    rt.procs[local] = frame
    return frame


async def _run(id: str, args: tuple | list, values: dict[str, Any] | None, acting: Any) -> Any:
    rt = _rt.get()
    node, at, entry = id.partition("@")
    if not at:
        node, entry = "", id
    elif node == _remote.own_node():        # this node's own name: a local call
        node, id = "", entry
    if acting is _CALLER:
        rt.check("funcs.call", entry)
    elif acting is not None:            # call_as: the call is made by the context it acts as
        acting.check("funcs.call", entry)
    if node:                            # "n2@app:fn": on node n2 (wippy.runtime.remote)
        kind = _codeload.kind_of(rt.store, entry)
        if kind is None:
            raise EntryNotFound(f"entry {entry} not found in the registry")
        if kind not in CALLABLE_KINDS:
            raise InvalidMessage(f"entry {entry} is a {kind}, not one of "
                                 f"{', '.join(sorted(CALLABLE_KINDS))}")
        caller = rt.current()
        merged = {**(_contexts.of(caller.pid) or {}), **(values or {})}
        return await _remote.call(rt, caller, node, entry, list(args), merged or None,
                                  rt.security() if acting is _CALLER else acting)
    fn, is_coro = _codeload.resolve(rt.store, id, None, rt.runners, CALLABLE_KINDS)
    return await run_frame(id, fn, is_coro, args, values, author=rt.author(id), acting=acting)


async def run_frame(label: str, fn: Any, is_coro: bool, args: tuple | list,
                    values: dict[str, Any] | None = None,
                    author: _security.Context | None = None, acting: Any = _CALLER) -> Any:
    """Run ``fn(*args)`` as a function call of the calling process: in a frame of its own
    (named ``label``, an entry id), with the caller's context values plus ``values``; returns
    its result or raises its error. The frame acts as the caller does (or as ``acting``),
    narrowed by ``author``, the context the code was written under. :func:`call` comes here
    for a registry entry; code that is not one (Lua's ``eval_runner``) comes here directly."""
    rt = _rt.get()
    caller = rt.current()
    base = rt.security() if acting is _CALLER else acting
    frame = _frame(rt, caller, label)
    rt.guard.created(frame, _security.narrowed(base, author))
    merged = {**(_contexts.of(caller.pid) or {}), **(values or {})}
    if merged:
        _contexts.bind(frame.pid, merged)
    out = _Outcome()

    async def body() -> None:
        # the value stays a Python object for a caller in this OS process (no wire copy);
        # an error is also raised, so that the frame's links see it
        try:
            if is_coro:
                out.value = await fn(*args)
            else:
                r = fn(*args)
                out.value = (await r) if inspect.isawaitable(r) else r
        except Exception as exc:  # noqa: BLE001 - the call's error belongs to the caller
            out.error = exc
            raise
        out.done = True

    def finished(task: Any, value: Any, exc: BaseException | None) -> None:
        if not frame.exited:
            rt.exit(frame, None, exc)
    frame.main = rt.sched.start(body(), frame, finished)
    w = rt.sched.new_wait()
    if caller.exec_waits is None:
        caller.exec_waits = {}
    caller.exec_waits[frame.pid] = w
    try:
        _, error = await _sched.suspend()
    finally:
        _contexts.bind(frame.pid, None)
        if not frame.exited:                       # the caller was killed while waiting
            caller.exec_waits.pop(frame.pid, None)
            rt.exit(frame, None, Terminated(f"the caller {caller.pid} stopped waiting"))
    if out.error is not None:
        raise out.error
    if out.done:
        return out.value
    raise exit_error(error)     # ended from outside (terminate, a failed link)


class Future:
    """The pending result of :func:`async_`; ``await fut`` or ``await fut.result()``."""

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waits: list[_sched.Wait] = []

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        self._done, self._value, self._error = True, value, error
        sched = _sched.get()
        for w in self._waits:
            sched.wake(w, None)
        self._waits.clear()

    def done(self) -> bool:
        return self._done

    async def result(self) -> Any:
        if not self._done:
            self._waits.append(_sched.get().new_wait())
            await _sched.suspend()
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Any:
        return self.result().__await__()


def async_(id: str, *args: Any) -> Future:
    """Start function ``id`` as another task of this process; returns a :class:`Future`."""
    rt = _rt.get()
    me = rt.current()
    if _durable.current() is not None:
        raise InvalidMessage("funcs.async_ is not journaled inside a workflow: await "
                             "funcs.call (one activity at a time)")
    fut = Future()

    async def run() -> None:
        try:
            value = await call(id, *args)
        except WippyError as exc:
            fut._resolve(None, exc)
        except Exception as exc:  # noqa: BLE001 - the error belongs to whoever awaits
            fut._resolve(None, ProcessFailed(f"{type(exc).__name__}: {exc}"))
        else:
            fut._resolve(value, None)

    rt.start_task(me, run())
    return fut


globals()["async"] = async_
