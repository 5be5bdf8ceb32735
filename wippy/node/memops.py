"""The requests on the node's memory resources, as functions of the resource, the operation
and (for stores) the time: ``store.memory`` ops on a :class:`~wippy.resources.kv.MemoryKV`,
``env.storage.memory`` ops on a dict. :class:`~wippy.node.resources.ResourceHub` finds the
resource and answers the request; what an op does with it lives here, away from the hub's
queues and deliveries.
"""
from __future__ import annotations

from typing import Any

from ..errors import ResourceError
from ..resources.kv import MemoryKV

__all__ = ["STORE_OPS", "env_op", "max_size", "store_op"]

STORE_OPS = frozenset({"get", "entry", "has", "set", "put", "delete", "list", "info"})


def max_size(entry: dict[str, Any] | None) -> int:
    """A store entry's ``max_size`` (0: unbounded)."""
    return int(((entry or {}).get("data") or {}).get("max_size") or 0)


def store_op(kv: MemoryKV, op: str, now: float, *a: Any) -> Any:
    """Apply store op ``op`` (one of :data:`STORE_OPS`) with arguments ``a`` to ``kv`` at
    ``now``; returns its answer."""
    if op == "get":
        return kv.get(a[0], now)
    if op == "entry":
        return kv.entry(a[0], now)
    if op == "has":
        return kv.has(a[0], now)
    if op == "set":
        return kv.set(a[0], a[1], now, a[2] if len(a) > 2 else None)
    if op == "put":
        opts = a[2] if len(a) > 2 and isinstance(a[2], dict) else {}
        return kv.put(a[0], a[1], now, opts.get("ttl"), bool(opts.get("only_if_absent")),
                      None if opts.get("if_version") is None else str(opts["if_version"]))
    if op == "delete":
        return kv.delete(a[0], now)
    if op == "list":
        opts = a[0] if a and isinstance(a[0], dict) else {}
        return kv.list(now, str(opts.get("prefix") or ""), str(opts.get("after") or ""),
                       int(opts.get("limit") or 0))
    return {"size": len(kv), "max_size": kv.max_size}     # info


def env_op(values: dict[str, str], op: str, *a: Any) -> Any:
    """Apply env op ``op`` with arguments ``a`` to the storage's ``values``; raises
    :class:`~wippy.errors.ResourceError` (INVALID) for an unknown op."""
    if op == "get":
        return values.get(a[0])
    if op == "set":
        values[str(a[0])] = str(a[1])
        return True
    if op == "delete":
        return values.pop(a[0], None) is not None
    if op == "list":
        return dict(values)
    raise ResourceError("INVALID", f"unknown env request {op}")
