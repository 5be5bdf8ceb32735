"""``wippy.store``: key-value stores from the registry (``store.memory``, ``store.sql``) with
Wippy's names (S13). Lua's ``store`` module is a view of this one.

::

    cache = await store.get("app:cache")
    await cache.set("user:1", {"name": "Alice"}, 300)          # TTL in seconds (0: none)
    await cache.get("user:1")                                  # the value; NOT_FOUND if absent
    e = await cache.entry("config")                            # {key, value, version}
    await cache.put("config", new, {"if_version": e["version"]})   # CONFLICT when stale
    await cache.put("lock:1", me, {"only_if_absent": True})        # ALREADY_EXISTS when held
    page = await cache.list({"prefix": "user:", "limit": 100})     # {items, cursor, has_more}

A ``store.memory`` lives in the node, shared by every process (each call is one request to
it); a ``store.sql`` is a table reached through its database's pool in this OS process.

Checked actions (S9), Wippy's: ``store.get`` [store id] for a handle, ``store.info``,
``store.key.get`` (also ``entry``), ``store.key.set`` (also ``put``), ``store.key.delete``,
``store.key.has``, ``store.key.list`` [store id] for each call.
"""
from __future__ import annotations

from typing import Any, Mapping

from .errors import ResourceError
from .registry.entry import Kind
from .resources import databases as _dbs
from .resources import request as _request
from .resources.sqlstore import SqlStore
from .runtime import table as _rt

__all__ = ["get", "Store", "backend", "consistency"]


class backend:  # noqa: N801 - Wippy's name: store.backend.MEMORY
    MEMORY = "memory"
    SQL = "sql"
    KV_RAFT = "kv.raft"
    KV_CRDT = "kv.crdt"
    UNKNOWN = "unknown"


class consistency:  # noqa: N801 - Wippy's name: store.consistency.LINEARIZABLE
    LINEARIZABLE = "linearizable"
    EVENTUAL = "eventual"
    LOCAL = "local"
    UNKNOWN = "unknown"


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ResourceError("INVALID", "key must be a non-empty string")
    return key


async def get(id: str) -> Store:
    """A handle on store entry ``id``. Raises ResourceError (INVALID, NOT_FOUND) or
    PermissionDenied."""
    if not isinstance(id, str) or not id:
        raise ResourceError("INVALID", "empty resource id")
    rt = _rt.get()
    rt.check("store.get", id)
    entry = rt.store.get(id) if rt.store is not None else None
    if entry is None:
        raise ResourceError("NOT_FOUND", f"store {id} not found")
    kind = entry.get("kind")
    if kind not in (Kind.STORE_MEMORY.value, Kind.STORE_SQL.value):
        raise ResourceError("INVALID", f"{id} is a {kind}, not a store")
    return Store(id, kind == Kind.STORE_SQL.value)


class Store:
    """A store handle (Wippy's ``Store``)."""

    __slots__ = ("id", "sql", "released")

    def __init__(self, id: str, sql: bool) -> None:
        self.id = id
        self.sql = sql
        self.released = False

    def _check(self, action: str) -> None:
        if self.released:
            raise ResourceError("INVALID", f"store {self.id} was released")
        _rt.get().check(action, self.id)

    async def _table(self) -> SqlStore:
        rt = _rt.get()
        entry = rt.store.get(self.id)
        if entry is None or entry.get("kind") != Kind.STORE_SQL.value:
            raise ResourceError("NOT_FOUND", f"store {self.id} not found")
        data = entry.get("data") or {}
        db = await _dbs.database(rt, data["database"], _request)
        table = SqlStore(self.id, data, db)
        await table.ensure()
        return table

    async def get(self, key: str) -> Any:
        """The value; raises ResourceError NOT_FOUND when the key is absent or expired."""
        self._check("store.key.get")
        found, value = (await (await self._table()).get(_key(key)) if self.sql else
                        await _request("store", "get", self.id, _key(key)))
        if not found:
            raise ResourceError("NOT_FOUND", f"key {key!r} not found")
        return value

    async def entry(self, key: str) -> dict[str, Any]:
        """``{key, value, version}``; NOT_FOUND when absent."""
        self._check("store.key.get")
        got = (await (await self._table()).entry(_key(key)) if self.sql else
               await _request("store", "entry", self.id, _key(key)))
        if got is None:
            raise ResourceError("NOT_FOUND", f"key {key!r} not found")
        return got

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store ``value`` (plain data) with an optional TTL in seconds."""
        self._check("store.key.set")
        if self.sql:
            await (await self._table()).put(_key(key), value, ttl)
            return True
        return bool(await _request("store", "set", self.id, _key(key), value, ttl))

    async def put(self, key: str, value: Any, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write and return the new entry; ``ttl``, ``only_if_absent`` (ALREADY_EXISTS when
        present), ``if_version`` (CONFLICT when stale)."""
        self._check("store.key.set")
        opts = dict(options or {})
        if self.sql:
            return await (await self._table()).put(
                _key(key), value, opts.get("ttl"), bool(opts.get("only_if_absent")),
                None if opts.get("if_version") is None else str(opts["if_version"]))
        return await _request("store", "put", self.id, _key(key), value, opts)

    async def has(self, key: str) -> bool:
        self._check("store.key.has")
        if self.sql:
            return await (await self._table()).has(_key(key))
        return bool(await _request("store", "has", self.id, _key(key)))

    async def delete(self, key: str) -> bool:
        """True if the key existed."""
        self._check("store.key.delete")
        if self.sql:
            return await (await self._table()).delete(_key(key))
        return bool(await _request("store", "delete", self.id, _key(key)))

    async def list(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{items: [{key, value, version}], cursor, has_more}`` in key order (``prefix``,
        ``after``: a cursor, ``limit``)."""
        self._check("store.key.list")
        opts = dict(options or {})
        if self.sql:
            return await (await self._table()).list(str(opts.get("prefix") or ""),
                                                    str(opts.get("after") or ""),
                                                    int(opts.get("limit") or 0))
        return await _request("store", "list", self.id, opts)

    async def info(self) -> dict[str, Any]:
        """Backend, consistency and capabilities (Wippy's ``info()``)."""
        self._check("store.info")
        return {"id": self.id, "backend": backend.SQL if self.sql else backend.MEMORY,
                "consistency": consistency.LINEARIZABLE, "durable": self.sql, "list": True,
                "versioned": True, "conditional_put": True, "ttl": True}

    def release(self) -> bool:
        self.released = True
        return True
