"""``wippy.registry``: read the node's registry from inside a process (S3).

``get(id)`` returns the entry as a mapping with ``id``, ``kind``, ``meta`` and ``data``;
``find(filter)`` uses Wippy's filter keys (``.kind``, ``.ns``, ``.name``, ``meta.k``).
"""
from __future__ import annotations

from typing import Any

from . import runtime as _rt
from .errors import EntryNotFound

__all__ = ["get", "find", "public_entry", "match"]


def public_entry(stored: dict[str, Any]) -> dict[str, Any]:
    return {"id": stored["id"], "kind": stored["kind"], "meta": dict(stored.get("meta") or {}),
            "data": dict(stored.get("data") or {})}


def get(id: str) -> dict[str, Any]:
    """The entry ``id``; raises :class:`wippy.EntryNotFound`."""
    store = _rt.get().store
    stored = store.get(id) if store is not None else None
    if stored is None:
        raise EntryNotFound(f"entry {id} not found")
    return public_entry(stored)


def match(entry: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Pure: does ``entry`` pass Wippy's filter ``flt``."""
    ns, _, name = entry["id"].partition(":")
    meta = entry.get("meta") or {}
    for key, want in flt.items():
        if key == ".kind":
            if entry["kind"] != want:
                return False
        elif key == ".ns":
            if ns != want:
                return False
        elif key == ".name":
            if name != want:
                return False
        elif key.startswith("meta."):
            if meta.get(key[5:]) != want:
                return False
        else:
            return False
    return True


def find(flt: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries matching every key of ``flt`` (``.kind``, ``.ns``, ``.name``, ``meta.k``)."""
    store = _rt.get().store
    if store is None:
        return []
    out = [public_entry(e) for e in store.entries().values()]
    return [e for e in out if match(e, flt)]
