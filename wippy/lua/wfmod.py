"""Lua's ``workflow`` module (S8), over :mod:`wippy.workflow`: ``version``, ``idempotency_key``,
``uuid``, ``random`` here; ``workflow.start`` is a blocking call (``blocking.py``).

A ``workflow.lua`` entry runs under the same replay as a ``workflow.py`` one (the host's table
of runners wraps its main), and every Lua API call that its own code makes goes through the
same journal, by the same Python function: ``funcs.call`` (``wippy.funcs.call``: an activity),
``time.sleep`` (``wippy.time.sleep``: a durable timer), ``time.now`` and ``time.after``
(``timemod.py``), ``uuid.v1/v4/v7`` (``modules.py``) and this module. Inside an activity (a
function called by the workflow) nothing is journaled.
"""
from __future__ import annotations

from typing import Any

from .. import workflow as _wf
from .api import function, text

__all__: list[str] = []


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
