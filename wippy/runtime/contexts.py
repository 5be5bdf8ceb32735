"""Context values (Wippy's ``ctx``): a map of plain values that a process or a function call
carries, read with ``funcs.context()`` (Python) or the ``ctx`` module (Lua), and handed on to
the functions it calls.

A function call in this OS process gets its caller's values plus the executor's
(``wippy.funcs.run_frame``). A process spawned with values (Lua's
``process.with_context(...):spawn(...)``) and a function called on another node get them as a
first spawn argument ``{CONTEXT_ARG: values}``, plain data like the others, which
:meth:`wippy.runtime.spawn.Spawner.create` takes off before the entry's code sees its arguments,
on whichever OS process and node runs it. The values belong to the PID and go with its exit.
"""
from __future__ import annotations

from typing import Any

__all__ = ["CONTEXT_ARG", "of", "bind", "take", "carry"]

#: The key of the first spawn argument that carries context values to a process.
CONTEXT_ARG = "\0wippy.context"

_BY_PID: dict[str, dict[str, Any]] = {}


def of(pid: str) -> dict[str, Any] | None:
    """The values of process ``pid`` (None: it has none). Not a copy: do not change it."""
    return _BY_PID.get(pid)


def bind(pid: str, values: dict[str, Any] | None) -> None:
    """Give process ``pid`` its values; None or an empty map removes them."""
    if values:
        _BY_PID[pid] = dict(values)
    else:
        _BY_PID.pop(pid, None)


def take(args: Any) -> tuple[Any, dict[str, Any] | None]:
    """(the arguments for the entry's code, the context values) of a spawn's arguments."""
    if args and type(args[0]) is dict and len(args[0]) == 1 and CONTEXT_ARG in args[0]:
        values = args[0][CONTEXT_ARG]
        return args[1:], values if isinstance(values, dict) else None
    return args, None


def carry(values: dict[str, Any] | None, args: list) -> list:
    """Spawn arguments ``args`` that carry ``values`` to the process they start."""
    return [{CONTEXT_ARG: values}, *args] if values else args
