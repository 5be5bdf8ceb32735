"""The key-value engine of a ``store.memory`` entry: plain data under string keys, with TTLs,
versions, conditional writes and ordered, paged listing (Wippy's store API, S13).

Pure: no sockets, no processes; time comes in as an argument (``now``, seconds), so expiry is
tested with a fake clock. The node holds one :class:`MemoryKV` per entry
(:mod:`wippy.node.resources`) and answers every host's requests from it.

Versions are opaque strings, as in Wippy: here a per-store counter, so a rewrite of the same
value still changes the version (a compare-and-set that read before the rewrite fails).

Listing is in key order with a cursor (the last key of the page): a sorted list of keys is kept
beside the dict and maintained with ``bisect`` (O(log n) to find, O(n) to insert in the worst
case, which for the sizes ``max_size`` allows, 10,000 by default, costs microseconds).

Rejected: a heap of expiry times (expired keys are dropped lazily on read and by the periodic
sweep Wippy's ``cleanup_interval`` names, which is enough at these sizes).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from ..errors import ResourceError

__all__ = ["MemoryKV", "Item", "DEFAULT_MAX_SIZE", "MAX_PAGE"]

DEFAULT_MAX_SIZE = 10_000   # Wippy's default for store.memory (0 means this)
MAX_PAGE = 1000             # the most items one list() returns (and its default limit)


@dataclass(slots=True)
class Item:
    """One stored value: ``expires`` is an absolute time in seconds (None: never)."""

    value: Any
    version: int
    expires: float | None


class MemoryKV:
    """One in-memory store. Every method takes ``now`` (seconds, any monotonic clock)."""

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size or DEFAULT_MAX_SIZE
        self._items: dict[str, Item] = {}
        self._keys: list[str] = []          # sorted
        self._version = 0

    def __len__(self) -> int:
        return len(self._items)

    # -- reads ---------------------------------------------------------------------------
    def _live(self, key: str, now: float) -> Item | None:
        item = self._items.get(key)
        if item is not None and item.expires is not None and item.expires <= now:
            self._drop(key)
            return None
        return item

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        """(found, value)."""
        item = self._live(key, now)
        return (False, None) if item is None else (True, item.value)

    def entry(self, key: str, now: float) -> dict[str, Any] | None:
        """``{key, value, version}`` or None."""
        item = self._live(key, now)
        return None if item is None else _entry(key, item)

    def has(self, key: str, now: float) -> bool:
        return self._live(key, now) is not None

    def list(self, now: float, prefix: str = "", after: str = "",
             limit: int = MAX_PAGE) -> dict[str, Any]:
        """Wippy's page: ``{items: [entry...], cursor, has_more}`` in key order, keys starting
        with ``prefix``, strictly after ``after``."""
        limit = max(1, min(int(limit or MAX_PAGE), MAX_PAGE))
        start = max(prefix, after)
        i = bisect.bisect_right(self._keys, start) if after and after >= prefix else \
            bisect.bisect_left(self._keys, start)
        items: list[dict[str, Any]] = []
        has_more = False
        keys = self._keys
        while i < len(keys):
            key = keys[i]
            if not key.startswith(prefix):
                break
            item = self._items[key]
            if item.expires is not None and item.expires <= now:
                self._drop(key)            # keys shifts left: i now names the next key
                continue
            if len(items) == limit:
                has_more = True
                break
            items.append(_entry(key, item))
            i += 1
        cursor = items[-1]["key"] if items else ""
        return {"items": items, "cursor": cursor, "has_more": has_more}

    # -- writes --------------------------------------------------------------------------
    def put(self, key: str, value: Any, now: float, ttl: float | None = None,
            only_if_absent: bool = False, if_version: str | None = None) -> dict[str, Any]:
        """Write and return the new entry. Raises :class:`ResourceError`: ALREADY_EXISTS
        (``only_if_absent`` and the key is there), CONFLICT (``if_version`` is not the
        current version, or the key is gone), INVALID (both conditions, or the store is
        full)."""
        if only_if_absent and if_version is not None:
            raise ResourceError("INVALID", "only_if_absent and if_version are mutually exclusive")
        current = self._live(key, now)
        if only_if_absent and current is not None:
            raise ResourceError("ALREADY_EXISTS", f"key {key!r} already exists")
        if if_version is not None and (current is None or str(current.version) != str(if_version)):
            raise ResourceError("CONFLICT", f"key {key!r} changed: version {if_version} is stale")
        if current is None:
            if len(self._items) >= self.max_size:
                self.sweep(now)
                if len(self._items) >= self.max_size:
                    raise ResourceError("INVALID", f"store is full ({self.max_size} entries, "
                                                "its max_size)")
            bisect.insort(self._keys, key)
        self._version += 1
        expires = now + ttl if ttl and ttl > 0 else None
        item = self._items[key] = Item(value, self._version, expires)
        return _entry(key, item)

    def set(self, key: str, value: Any, now: float, ttl: float | None = None) -> bool:
        self.put(key, value, now, ttl)
        return True

    def delete(self, key: str, now: float) -> bool:
        """True when the key existed (and had not expired)."""
        if self._live(key, now) is None:
            return False
        self._drop(key)
        return True

    def sweep(self, now: float) -> int:
        """Drop every expired key; returns how many."""
        dead = [k for k, it in self._items.items() if it.expires is not None and it.expires <= now]
        for k in dead:
            self._drop(k)
        return len(dead)

    def _drop(self, key: str) -> None:
        del self._items[key]
        i = bisect.bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]


def _entry(key: str, item: Item) -> dict[str, Any]:
    return {"key": key, "value": item.value, "version": str(item.version)}
