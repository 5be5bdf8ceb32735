"""Lua's side of durable workflows (S8): the ``workflow`` module and the journaling of the
values a ``workflow.lua`` entry reads from the outside world.

A ``workflow.lua`` entry runs under :func:`wippy.workflow.runner` (codeload), so its process has
a :class:`~wippy.workflow.WorkflowContext` and every Lua API call made by the workflow's code is
journaled where Python makes the value: ``funcs.call`` (driver ``_call``: an activity),
``time.sleep`` (``wippy.time.sleep``: a durable timer), ``time.now`` (timemod), ``uuid.v1/v4/v7``
(modules), ``time.after`` (a journaled due time, timemod), ``workflow.start`` (driver: a child
workflow), and what this module offers. Inside an activity (a function called by the workflow)
nothing is journaled.
"""
from __future__ import annotations

from typing import Any, Callable

from .. import workflow as _wf
from .api import function, text

__all__ = ["journaled", "in_workflow"]


def in_workflow() -> _wf.WorkflowContext | None:
    """The workflow context when the calling code is a workflow's own code (not an activity)."""
    wf = _wf.current()
    return wf if wf is not None and not wf.in_activity else None


def journaled(op: str, make: Callable[[], Any]) -> Any:
    """``make()``, journaled as step ``op`` inside a workflow (the recorded value on replay)."""
    wf = in_workflow()
    if wf is None:
        return make()
    return wf.record_sync(op, None, make())


@function("workflow")
def version(change_id: Any, min_version: Any, max_version: Any) -> int:
    return _wf.version(text(change_id, "change id"), int(min_version), int(max_version))


@function("workflow")
def idempotency_key() -> Any:
    key = _wf.idempotency_key()
    return None if key is None else key.encode()


@function("workflow")
def uuid() -> bytes:
    return _wf.uuid().encode()


@function("workflow")
def random() -> float:
    return _wf.random()

