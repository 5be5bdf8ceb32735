"""``wippy.system``: what the node knows about itself (Wippy's ``system`` module, in part).

``await system.supervisor.states()`` lists every service as Wippy shapes it: ``id``,
``status`` (starting, running, failed, exited, stopped), ``desired``, ``retry_count``,
``last_update`` and ``started_at`` (nanoseconds), ``details`` (the last error).
"""
from __future__ import annotations

import os
from typing import Any

from .errors import EntryNotFound
from .runtime import table as _rt

__all__ = ["supervisor", "process", "exit"]


class _Supervisor:
    async def states(self) -> list[dict[str, Any]]:
        return await _rt.get().ctl_request("supervisor_states")

    async def state(self, service_id: str) -> dict[str, Any]:
        for s in await self.states():
            if s["id"] == service_id:
                return s
        raise EntryNotFound(f"service {service_id} not found")


class _Process:
    @staticmethod
    def pid() -> int:
        """This host's OS process id."""
        return os.getpid()


async def exit(code: int = 0) -> bool:  # noqa: A001 - Wippy's name
    """Stop the whole node with ``code`` (an orderly stop)."""
    await _rt.get().ctl_request("exit", int(code))
    return True


supervisor = _Supervisor()
process = _Process()
