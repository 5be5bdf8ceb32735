"""Resources in the registry (S13): SQL databases, key-value stores, queues, environment
variables and metrics, with Wippy's kinds and module names.

Where each lives:

* SQL (``db.sql.sqlite``, ``db.sql.postgres``): a pool per entry in every host OS process that
  uses it (:mod:`.databases`, :mod:`.pool`, :mod:`.sqldrivers`), swapped when the entry changes.
* ``store.memory``, ``env.storage.memory`` and memory queues with their consumers: in the node,
  shared by every process (:mod:`wippy.node.resources`, over the pure engines :mod:`.kv` and
  :mod:`.mqueue`), reached by a request; a consumer's handler runs on a host, one process per
  message (:mod:`.consumer`).
* ``store.sql``: rows of a table, through the database's pool in each host (:mod:`.sqlstore`).
* Environment variables: read where they are used (:mod:`.envvars`).
* Metrics: counted in each host OS process, reported in its status (:mod:`.metrics`).
* ``fs.directory`` volumes: their open files and scanners (:mod:`.fsfile`), under ``wippy.fs``.

The public modules processes import are ``wippy.sql``, ``wippy.store``, ``wippy.queue``,
``wippy.env`` and ``wippy.metrics``; Lua's ``sql``, ``store``, ``queue``, ``env`` and
``metrics`` modules are thin views of them. See docs/resources.md.
"""
from __future__ import annotations

from typing import Any

from ..core.protocol import ReqOp
from ..errors import PermissionDenied, ResourceError, WippyError
from ..runtime import table as _rt

__all__ = ["request", "runtime_or_none"]


def runtime_or_none() -> Any:
    """This OS process's runtime, or None outside one (a plain program using a resource module
    directly: nothing to check against, no process to tie what it opens to)."""
    try:
        return _rt.get()
    except RuntimeError:
        return None


async def request(family: str, op: str, *args: Any) -> Any:
    """Ask the node's resource hub (:mod:`wippy.node.resources`) from inside a process. Its
    refusals arrive as :class:`ResourceError` with Wippy's kind (CONFLICT, NOT_FOUND...)."""
    try:
        return await _rt.get().ctl_request(ReqOp.RESOURCE, family, op, *args)
    except (PermissionDenied, ResourceError):
        raise
    except WippyError as exc:
        raise ResourceError(exc.kind, str(exc),
                            retryable=True if exc.kind in ("CONFLICT", "UNAVAILABLE") else None) from None
