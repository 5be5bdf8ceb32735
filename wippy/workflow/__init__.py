"""``wippy.workflow``: durable workflows (S8), for ``workflow.py`` entries.

A workflow is ordinary ``async def main(input)`` code. Every nondeterministic step is
journaled by the node (LMDB, group commit) before its effect is visible to the code:
``funcs.call`` results (activities), ``time.sleep`` (a durable timer with its due time),
``time.after`` (its due time), ``time.now()``, ``workflow.uuid()``, ``workflow.random()``,
``workflow.version()``, child workflow starts. Messages sent to the workflow's PID (signals) are
journaled by the node on arrival. When the OS process running a workflow dies, the node starts
it again (on its host, once it is back; or after the node itself restarts) and the code is
replayed: recorded steps return their recorded results without running again, and a step that
differs from the journal raises :class:`NondeterminismError`. An activity interrupted before its
result was journaled runs again, with the same :func:`idempotency_key`.

The workflow's PID (``{wf/0|<id>}``) is stable across restarts: messages to it and monitors of
it go through the node, which keeps the recorded result, so a monitor added after completion
still gets the EXIT with it.

One journal for both languages. Python and Lua workflows journal the same steps under the same
names (``call``, ``timer``, ``after``, ``now``, ``uuid``, ``random``, ``version``, ``child``)
with the same units, so one journal means the same thing whichever language wrote it:

* Time is integer nanoseconds in the journal: instants (``now``, the due time of ``timer`` and
  ``after``) since the epoch, durations (their keys) as such. That is Wippy's Lua time (and
  Go's), exact where float seconds are not; Python's API keeps float seconds (``time.now()``)
  and converts at its edge, exactly (``ns / 10**9``).
* Journals written before this rule (step format 1) hold Python's time values as float seconds
  and lack Python's ``time.after``; they keep replaying (see :mod:`wippy.workflow.replay`).

The pieces: the pure replay decision (``replay.py``), the context that applies it and talks to
the node (``context.py``), the runner a host wraps a workflow entry's main in (``runner.py``),
and the journal's LMDB layout (``journal.py``, written by the node only). The API modules reach
a running workflow only through :class:`wippy.runtime.durable.Durable`.
"""
from __future__ import annotations

import random as _random
import uuid as _uuid
from typing import Any

from ..errors import WippyError
from ..runtime import durable as _durable
from ..runtime import table as _rt
from .replay import NondeterminismError

__all__ = ["start", "idempotency_key", "uuid", "random", "version", "current",
           "NondeterminismError"]


def current() -> _durable.Durable | None:
    """The workflow the calling process runs (its ``wf_id``), or None outside a workflow."""
    return _durable.attached()


def _journal() -> _durable.Durable | None:
    """The journal of the calling workflow code; None inside an activity, which journals
    nothing of its own (its value is plain then)."""
    if _durable.attached() is None:
        raise WippyError("this call belongs inside a workflow")
    return _durable.current()


def idempotency_key() -> str | None:
    """Inside an activity called by a workflow: a key that stays the same when the activity
    runs again after a crash (``<workflow id>:<step>``)."""
    wf = _durable.attached()
    return wf.activity_key if wf is not None else None


def _new_uuid() -> str:
    return str(_uuid.uuid4())


def uuid() -> str:
    """A UUID, journaled (the same one on replay)."""
    wf = _journal()
    return _new_uuid() if wf is None else wf.uuid(_new_uuid)


def random() -> float:
    """A random float in [0, 1), journaled."""
    wf = _journal()
    return _random.random() if wf is None else wf.random()


def version(change_id: str, min_version: int, max_version: int) -> int:
    """Temporal's versioning: new runs record ``max_version``; replays get what was recorded
    (raising NondeterminismError when that is below ``min_version``)."""
    wf = _journal()
    return max_version if wf is None else wf.version(change_id, min_version, max_version)


async def start(entry_id: str, input: Any = None, name: str | None = None) -> str:
    """Start workflow ``entry_id`` with ``input``; returns its PID. With a ``name`` the start
    is idempotent: the existing workflow's PID comes back, before or after completion.

    Inside a workflow this starts a child workflow, as a journaled step: a replay gets the
    recorded PID back. Without a ``name`` the child is named ``<workflow id>:<step>``, so a
    start interrupted before its step was journaled finds the same child when it runs again."""
    rt = _rt.get()
    wf = _durable.current()
    if wf is None:
        return await rt.ctl_request("wf_start", entry_id, input, name)

    async def start_child(child_name: str) -> str:
        return await rt.ctl_request("wf_start", entry_id, input, child_name)
    return await wf.child(entry_id, name, start_child)
