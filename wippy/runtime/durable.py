"""The journal a process runs under, as the API modules see it: the narrow interface between
the public API (``wippy.time``, ``wippy.funcs``, ``wippy.workflow``, Lua's modules) and durable
workflows (S8).

A process that runs a workflow carries a :class:`Durable` (``Process.workflow``): the workflow's
replay context, which ``wippy.workflow.context`` implements. An API call that produces a
nondeterministic value asks :func:`current` first; inside the workflow's own code it routes the
step through the journal, anywhere else (and inside an activity) it runs as usual. So the API
modules know this protocol, never the workflow's internals, and the runtime knows neither.

Time crosses this interface as integer nanoseconds, the journal's unit (see ``wippy.workflow``):
Python converts to and from float seconds at its edge, Lua uses nanoseconds natively.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol

from . import scheduler

__all__ = ["Durable", "current", "attached", "NS"]

#: Nanoseconds per second, an int: ``ns / NS`` is the correctly rounded float of seconds.
NS = 10**9


class Durable(Protocol):
    """What a workflow's journal offers the code it runs. Each method journals one step: a
    replay returns the recorded value (raising ``NondeterminismError`` when the code asks for a
    different step than the journal has)."""

    wf_id: str
    in_activity: bool                # an activity (a function the workflow called) is running
    activity_key: str | None         # that activity's idempotency key

    def now(self) -> int:
        """The wall-clock time, nanoseconds since the epoch."""

    def uuid(self, make: Callable[[], str]) -> str:
        """A UUID made by ``make``."""

    def random(self) -> float:
        """A random float in [0, 1)."""

    def version(self, change_id: str, min_version: int, max_version: int) -> int:
        """Temporal's versioning: ``max_version`` on a new run, the recorded one on replay."""

    async def timer(self, ns: int) -> int:
        """A durable timer of ``ns``: its due time (ns since the epoch), journaled before this
        returns. The caller waits until then."""

    def after(self, ns: int) -> int:
        """``time.after``: the due time of a timer of ``ns``, journaled in the background (the
        call cannot block)."""

    async def activity(self, func_id: str, run: Callable[[], Awaitable[Any]]) -> Any:
        """``funcs.call``: ``await run()`` once, its result (or error) journaled before the
        code sees it; a replay returns (or raises) the recorded one without running it."""

    async def child(self, entry_id: str, name: str | None,
                    start: Callable[[str], Awaitable[str]]) -> str:
        """``workflow.start`` of a child workflow: ``await start(name)`` (``name`` made
        stable across replays when None), its PID journaled."""


def attached() -> Durable | None:
    """The journal of the calling process, or None when it runs no workflow."""
    task = scheduler.get().current
    if task is None:
        return None
    proc = task.proc
    return None if proc is None else proc.workflow


def current() -> Durable | None:
    """The journal the calling code's nondeterministic steps go to: None outside a workflow
    and inside an activity (a function the workflow called journals nothing of its own)."""
    task = scheduler.get().current
    if task is None:
        return None
    proc = task.proc
    if proc is None:
        return None
    wf = proc.workflow
    if wf is None or wf.in_activity:
        return None
    return wf
