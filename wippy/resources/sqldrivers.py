"""The two SQL drivers behind ``db.sql.sqlite`` and ``db.sql.postgres``: connecting, running one
statement, and Wippy's result shapes (S13). The only importer of psycopg (one seam).

Every function here blocks; callers run them in worker threads. Results are plain data:
``query`` gives a list of rows, each a map of column name to value; ``execute`` gives
``{last_insert_id, rows_affected}``. Values the wire cannot carry become strings (dates and
times in ISO 8601, UUIDs), decimals become floats (integers when whole).

Placeholders: SQLite takes ``?`` as written. For PostgreSQL Wippy passes ``$1, $2`` to the
driver unchanged; psycopg binds ``%s``, so :func:`pg_placeholders` rewrites ``$n`` (and the
query builder's ``?``) outside quotes, comments and dollar-quoted strings, and doubles a
literal ``%``.
"""
from __future__ import annotations

import datetime
import decimal
import re
import sqlite3
import uuid
from typing import Any, Sequence

from ..errors import ResourceError

__all__ = ["Driver", "SQLITE", "POSTGRES", "pg_placeholders", "plain_value", "sql_error",
           "BUSY_TIMEOUT_S", "CONNECT_TIMEOUT_S", "psycopg_module"]

BUSY_TIMEOUT_S = 5.0        # SQLite: how long a writer waits for another OS process's lock
CONNECT_TIMEOUT_S = 5       # PostgreSQL: connect_timeout unless the entry's options set one

_PG_TOKEN = re.compile(r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(--[^\n]*)|(/\*.*?\*/)"""
                       r"""|(\$[A-Za-z_]*\$.*?\$[A-Za-z_]*\$)|(\$\d+)|(\?)|(%)""", re.S)


def pg_placeholders(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """``$n`` / ``?`` placeholders as psycopg's ``%s``, with the parameters in order."""
    out: list[Any] = []
    pos = [0]

    def sub(m: re.Match) -> str:
        if m.group(6):
            n = int(m.group(6)[1:])
            if not 1 <= n <= len(params):
                raise ResourceError("INVALID", f"placeholder {m.group(6)} has no parameter "
                                               f"({len(params)} given)")
            out.append(params[n - 1])
            return "%s"
        if m.group(7):
            if pos[0] >= len(params):
                raise ResourceError("INVALID", f"more '?' placeholders than the {len(params)} "
                                               "parameters given")
            out.append(params[pos[0]])
            pos[0] += 1
            return "%s"
        if m.group(8):
            return "%%"
        return m.group(0)
    return _PG_TOKEN.sub(sub, sql), out


def plain_value(v: Any) -> Any:
    """A column value as plain data the wire and Lua can carry."""
    if v is None or isinstance(v, (bool, int, float, str, bytes)):
        return v
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, (memoryview, bytearray)):
        return bytes(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [plain_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain_value(x) for k, x in v.items()}
    return str(v)


def sql_error(exc: BaseException, name: str) -> tuple[ResourceError, bool]:
    """The caller's error for a driver exception, and whether the connection is broken."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    if isinstance(exc, ResourceError):
        return exc, False
    if isinstance(exc, sqlite3.Error):
        busy = "locked" in text or "busy" in text
        kind = "UNAVAILABLE" if busy else "INVALID"
        return ResourceError(kind, f"database {name}: {text}", retryable=busy), False
    pg = _psycopg()
    if pg is not None and isinstance(exc, pg.Error):
        if isinstance(exc, (pg.OperationalError, pg.InterfaceError)):
            return ResourceError("UNAVAILABLE", f"database {name}: connection lost: {text}",
                                 retryable=True), True
        if isinstance(exc, pg.errors.SerializationFailure) or \
                isinstance(exc, pg.errors.DeadlockDetected):
            return ResourceError("CONFLICT", f"database {name}: {text}", retryable=True), False
        return ResourceError("INVALID", f"database {name}: {text}", retryable=False), False
    return ResourceError("INTERNAL", f"database {name}: {type(exc).__name__}: {text}"), True


_PG: list[Any] = []


def _psycopg() -> Any:
    """psycopg, imported on the first PostgreSQL use (an app on SQLite never loads it)."""
    if not _PG:
        try:
            import psycopg
            _PG.append(psycopg)
        except ImportError:      # pragma: no cover - a README dependency
            _PG.append(None)
    return _PG[0]


def psycopg_module() -> Any:
    """psycopg for wippy's own use of PostgreSQL (the cluster's shared state), through this
    module, its one importer. Raises ResourceError when it is not installed."""
    pg = _psycopg()
    if pg is None:
        raise ResourceError("UNAVAILABLE", "psycopg is not installed (pip install psycopg)")
    return pg


class Driver:
    """What differs between the databases: connect, run, close, and the SQL of transactions."""

    type = "unknown"

    def connect(self, target: str) -> Any:
        raise NotImplementedError

    def close(self, raw: Any) -> None:
        raw.close()

    def run(self, raw: Any, sql: str, params: Sequence[Any], rows: bool,
            prepare: bool = False) -> Any:
        raise NotImplementedError

    def is_broken(self, raw: Any) -> bool:
        return False


class _Sqlite(Driver):
    type = "sqlite"

    def connect(self, target: str) -> Any:
        raw = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                              check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        return raw

    def run(self, raw: Any, sql: str, params: Sequence[Any], rows: bool,
            prepare: bool = False) -> Any:
        cur = raw.execute(sql, [_sqlite_param(p) for p in params])
        try:
            if rows:
                return _rows(cur)
            if cur.description is not None:
                cur.fetchall()
            return {"last_insert_id": cur.lastrowid or 0, "rows_affected": max(cur.rowcount, 0)}
        finally:
            cur.close()


def _sqlite_param(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (dict, list)):
        import json
        return json.dumps(v)
    return v


class _Postgres(Driver):
    type = "postgres"

    def connect(self, target: str) -> Any:
        pg = _psycopg()
        if pg is None:
            raise ResourceError("UNAVAILABLE", "psycopg is not installed (pip install psycopg)")
        kw: dict[str, Any] = {}
        if "connect_timeout" not in target:
            kw["connect_timeout"] = CONNECT_TIMEOUT_S
        return pg.connect(target, autocommit=True, **kw)

    def run(self, raw: Any, sql: str, params: Sequence[Any], rows: bool,
            prepare: bool = False) -> Any:
        pg = _psycopg()
        query, args = pg_placeholders(sql, params)
        args = [pg.types.json.Jsonb(a) if isinstance(a, (dict, list)) else a for a in args]
        with raw.cursor() as cur:
            cur.execute(query, args or None, prepare=True if prepare else None)
            if rows:
                return _rows(cur) if cur.description is not None else []
            out_rows = cur.fetchall() if cur.description is not None else None
            last = 0
            if out_rows and len(out_rows[0]) == 1 and isinstance(out_rows[0][0], int):
                last = out_rows[0][0]          # INSERT ... RETURNING id
            return {"last_insert_id": last, "rows_affected": max(cur.rowcount, 0)}

    def is_broken(self, raw: Any) -> bool:
        return bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))


def _rows(cur: Any) -> list[dict[str, Any]]:
    if cur.description is None:
        return []
    names = [d[0] for d in cur.description]
    return [{n: plain_value(v) for n, v in zip(names, row)} for row in cur.fetchall()]


SQLITE: Driver = _Sqlite()
POSTGRES: Driver = _Postgres()
