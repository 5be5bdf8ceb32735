"""``wippy.coroutine.spawn``: run another task inside the current process (Wippy's
``coroutine.spawn``). Tasks share the process's mailbox; all stop when ``main`` returns, and an
uncaught error in any of them ends the process."""
from __future__ import annotations

from typing import Any, Callable, Coroutine

from .runtime import table as _rt

__all__ = ["spawn"]


def spawn(fn: Callable[..., Coroutine[Any, Any, Any]] | Coroutine[Any, Any, Any], *args: Any) -> None:
    """Start ``fn(*args)`` (an async function, or a coroutine object) as a task of this process."""
    coro = fn(*args) if callable(fn) else fn
    rt = _rt.get()
    rt.start_task(rt.current(), coro)
