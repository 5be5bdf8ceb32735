"""The one place a Lua module asks whether the calling process may take a guarded action
(running a command, reading a file, evaluating code...): :func:`check`, called by the module
right before the action, with Wippy's action name and the resource.

Today every action is allowed: the permission system (S9: policies, actors, scopes) is being
built beside this package and plugs in here, by setting :data:`checker` (a callable that raises
``wippy.PermissionDenied``). A module never decides permissions itself.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["check", "checker"]

#: ``checker(pid, action, resource, meta)``: raises PermissionDenied to refuse; None allows all.
checker: Callable[[str, str, str, dict[str, Any] | None], None] | None = None


def check(pid: str, action: str, resource: str, meta: dict[str, Any] | None = None) -> None:
    """Raise ``PermissionDenied`` when process ``pid`` may not take ``action`` on
    ``resource`` (e.g. ``exec.run`` on ``app:exec``, ``fs.read`` on ``app:data``)."""
    if checker is not None:
        checker(pid, action, resource, meta)
