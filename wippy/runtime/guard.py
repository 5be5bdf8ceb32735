"""Who the running task acts as, and the check of what it does (S9), for one OS process's
runtime.

A process acts under its context (``Process.security``: None for the operator), set when the
runtime creates it. While a task runs code an agent wrote (``funcs.call`` of a stamped
function) or a call under another actor (an executor's ``with_actor``), it acts as an override
kept here, per task, for that call only: an override on the process itself would leak to the
process's other tasks, and restoring it when calls overlap would widen them.

Until some process of this OS process acts under a context (``secured``), every check is that
one attribute test: an application without actors pays nothing more.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..security import context as _security
from .scheduler import Scheduler

__all__ = ["Guard"]

_NONE: Any = object()


class Guard:
    """The security side of a :class:`~wippy.runtime.table.Runtime` (its ``guard``)."""

    __slots__ = ("sched", "secured", "over")

    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.secured = False
        self.over: dict[Any, Any] = {}       # task -> the context it acts as for now

    def security(self) -> _security.Context | None:
        """The context the running task acts under (None: the operator, or no task)."""
        if not self.secured:
            return None
        task = self.sched.current
        if task is None:
            return None
        if self.over:
            ctx = self.over.get(task, _NONE)
            if ctx is not _NONE:
                return ctx
        proc = task.proc
        return None if proc is None else proc.security

    def check(self, action: str, resource: str, meta: Mapping[str, Any] | None = None) -> None:
        """Raise PermissionDenied unless the running task may ``action`` ``resource``."""
        ctx = self.security()
        if ctx is not None:
            ctx.check(action, resource, meta)

    def caller(self) -> dict[str, Any] | None:
        """The running process as a request names it to the node: its PID, its entry and the
        context it acts under (the node checks registry changes and workflow starts with it)."""
        task = self.sched.current
        proc = task.proc if task is not None else None
        if proc is None:
            return None
        ctx = self.security()
        return {"pid": proc.pid, "entry": proc.entry, "security": None if ctx is None else ctx.wire}

    def created(self, proc: Any, ctx: _security.Context | None) -> None:
        """A process now acts under ``ctx``."""
        if ctx is not None:
            proc.security = ctx
            self.secured = True

    def narrow(self, author: _security.Context | None, task: Any = None) -> None:
        """The running task (or ``task``) now also acts as ``author``: inside a call of
        authored code, for the call; otherwise for the rest of its process's life."""
        if author is None:
            return
        task = task if task is not None else self.sched.current
        if task is None:
            return
        self.secured = True
        if task in self.over:
            self.over[task] = _security.narrowed(self.over[task], author)
        elif task.proc is not None:
            task.proc.security = _security.narrowed(task.proc.security, author)

    def act_as(self, ctx: _security.Context | None) -> Any:
        """The running task acts as ``ctx`` until :meth:`act_as_done` with what this returned
        (a call of authored code, an executor's ``with_actor``)."""
        task = self.sched.current
        if task is None:
            raise RuntimeError("this wippy call must be made from inside a wippy process")
        self.secured = True
        before = self.over.get(task, _NONE)
        self.over[task] = ctx
        return task, before

    def act_as_done(self, token: Any) -> None:
        task, before = token
        if before is _NONE:
            self.over.pop(task, None)
        else:
            self.over[task] = before

    def inherit(self, parent: Any, task: Any) -> None:
        """``task`` was started by ``parent`` (``coroutine.spawn``, ``funcs.async``): inside a
        call of authored code it stays narrowed as its parent is."""
        if self.over and parent in self.over:
            self.over[task] = self.over[parent]
