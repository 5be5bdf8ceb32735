"""The ``store.sql`` backend: keys in a table of a ``db.sql.*`` database, through that
database's pool in the host OS process that asks (S13).

The table has Wippy's three columns (names from the entry): the key, the payload (the value as
JSON, stored as bytes) and ``expires_at`` (unix seconds, NULL: never). It is created when
missing, with the types Wippy's docs give (``VARCHAR(255)``/``BYTEA``/``BIGINT`` on
PostgreSQL). A version is a hash of the stored payload, so conditional writes work here too
(Wippy's store.sql refuses them): ``only_if_absent`` is an insert that does nothing on
conflict, ``if_version`` an update guarded by the payload it read.
"""
from __future__ import annotations

import hashlib
import json
import time as _time
from typing import Any

from ..errors import ResourceError
from .databases import Database
from .kv import MAX_PAGE

__all__ = ["SqlStore"]


def _version(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:16]


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ResourceError("INVALID", f"value is not plain data: {exc}") from None


def _decode(raw: Any) -> Any:
    if isinstance(raw, memoryview):
        raw = bytes(raw)
    if isinstance(raw, str):
        raw = raw.encode()
    return json.loads(raw) if raw is not None else None


class SqlStore:
    """One ``store.sql`` entry's table, reached through ``db`` (this host's pool)."""

    _made: set[tuple[str, str]] = set()

    def __init__(self, entry_id: str, data: dict[str, Any], db: Database) -> None:
        self.id = entry_id
        self.db = db
        self.t = data["table_name"]
        self.k = data.get("id_column_name") or "key"
        self.v = data.get("payload_column_name") or "value"
        self.e = data.get("expire_column_name") or "expires_at"

    async def ensure(self) -> None:
        """Create the table when missing (once per OS process and database)."""
        mark = (self.db.id, self.t)
        if mark in SqlStore._made:
            return
        pg = self.db.type == "postgres"
        await self.db.create(
            f"CREATE TABLE IF NOT EXISTS {self.t} ({self.k} {'VARCHAR(255)' if pg else 'TEXT'} "
            f"PRIMARY KEY, {self.v} {'BYTEA' if pg else 'BLOB'} NOT NULL, "
            f"{self.e} {'BIGINT' if pg else 'INTEGER'})")
        SqlStore._made.add(mark)

    def _live(self) -> str:
        return f"({self.e} IS NULL OR {self.e} > {int(_time.time())})"

    async def _row(self, key: str) -> tuple[bytes, Any] | None:
        rows = await self.db.run(f"SELECT {self.v} AS v FROM {self.t} WHERE {self.k} = ? AND "
                                 f"{self._live()}", [key], True)
        if not rows:
            return None
        raw = rows[0]["v"]
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        return raw, _decode(raw)

    async def get(self, key: str) -> tuple[bool, Any]:
        row = await self._row(key)
        return (False, None) if row is None else (True, row[1])

    async def entry(self, key: str) -> dict[str, Any] | None:
        row = await self._row(key)
        return None if row is None else {"key": key, "value": row[1], "version": _version(row[0])}

    async def has(self, key: str) -> bool:
        return await self._row(key) is not None

    async def put(self, key: str, value: Any, ttl: float | None = None,
                  only_if_absent: bool = False, if_version: str | None = None) -> dict[str, Any]:
        if only_if_absent and if_version is not None:
            raise ResourceError("INVALID", "only_if_absent and if_version are mutually exclusive")
        payload = _encode(value)
        expires = int(_time.time() + ttl) if ttl and ttl > 0 else None
        if only_if_absent:
            await self.db.run(f"DELETE FROM {self.t} WHERE {self.k} = ? AND NOT {self._live()}",
                              [key], False)
            res = await self.db.run(f"INSERT INTO {self.t} ({self.k}, {self.v}, {self.e}) VALUES "
                                    f"(?, ?, ?) ON CONFLICT ({self.k}) DO NOTHING",
                                    [key, payload, expires], False)
            if not res["rows_affected"]:
                raise ResourceError("ALREADY_EXISTS", f"key {key!r} already exists")
        elif if_version is not None:
            row = await self._row(key)
            if row is None or _version(row[0]) != str(if_version):
                raise ResourceError("CONFLICT", f"key {key!r} changed: version {if_version} is "
                                                "stale", retryable=True)
            res = await self.db.run(f"UPDATE {self.t} SET {self.v} = ?, {self.e} = ? WHERE "
                                    f"{self.k} = ? AND {self.v} = ?",
                                    [payload, expires, key, row[0]], False)
            if not res["rows_affected"]:
                raise ResourceError("CONFLICT", f"key {key!r} changed: version {if_version} is "
                                                "stale", retryable=True)
        else:
            await self.db.run(f"INSERT INTO {self.t} ({self.k}, {self.v}, {self.e}) VALUES "
                              f"(?, ?, ?) ON CONFLICT ({self.k}) DO UPDATE SET "
                              f"{self.v} = excluded.{self.v}, {self.e} = excluded.{self.e}",
                              [key, payload, expires], False)
        return {"key": key, "value": value, "version": _version(payload)}

    async def delete(self, key: str) -> bool:
        live = await self.has(key)
        await self.db.run(f"DELETE FROM {self.t} WHERE {self.k} = ?", [key], False)
        return live

    async def list(self, prefix: str = "", after: str = "", limit: int = MAX_PAGE) -> dict[str, Any]:
        limit = max(1, min(int(limit or MAX_PAGE), MAX_PAGE))
        where = [self._live()]
        args: list[Any] = []
        if prefix:
            where.append(f"substr({self.k}, 1, {len(prefix)}) = ?")
            args.append(prefix)
        if after:
            where.append(f"{self.k} > ?")
            args.append(after)
        rows = await self.db.run(f"SELECT {self.k} AS k, {self.v} AS v FROM {self.t} WHERE "
                                 f"{' AND '.join(where)} ORDER BY {self.k} LIMIT {limit + 1}",
                                 args, True)
        items = []
        for r in rows[:limit]:
            raw = r["v"] if isinstance(r["v"], bytes) else str(r["v"]).encode()
            items.append({"key": r["k"], "value": _decode(raw), "version": _version(raw)})
        return {"items": items, "cursor": items[-1]["key"] if items else "",
                "has_more": len(rows) > limit}

    async def sweep(self) -> int:
        res = await self.db.run(f"DELETE FROM {self.t} WHERE NOT {self._live()}", [], False)
        return int(res["rows_affected"])
