"""``wippy.sql``: SQL databases from the registry (``db.sql.sqlite``, ``db.sql.postgres``), with
Wippy's names and result shapes (S13). Lua's ``sql`` module is a view of this one.

::

    db = await sql.get("app:db")
    rows = await db.query("SELECT id, name FROM users WHERE active = ?", [1])   # [{...}]
    res = await db.execute("INSERT INTO users (name) VALUES (?)", ["alice"])    # {last_insert_id, rows_affected}
    tx = await db.begin({"isolation": sql.isolation.SERIALIZABLE})
    await tx.execute(...); await tx.commit()
    q = sql.builder.select("id").from_("users").where({"active": 1})
    rows = await q.run_with(db).query()

Every call that touches the database is awaited (it runs in a worker thread of the host). A
handle from ``get`` holds no connection: each statement takes one from the pool and gives it
back, so a handle survives a swap of its entry's pool. A transaction holds its connection until
``commit``/``rollback``, or until its process ends (then it is rolled back).

Checked actions (S9): ``sql.get`` [database id] when a handle is taken, ``sql.query`` and
``sql.execute`` [database id] for each statement, ``sql.begin`` for a transaction.
Errors are :class:`wippy.ResourceError` with Wippy's kinds.
"""
from __future__ import annotations

import re
import threading
from typing import Any, Iterable, Mapping

from .errors import ResourceError
from .resources import databases as _dbs
from .resources import request as _request
from .resources import sqlbuilder as _b
from .resources.sqldrivers import sql_error
from .runtime import table as _rt
from .runtime.threads import to_thread

__all__ = ["get", "DB", "Transaction", "Statement", "Executor", "builder", "type", "isolation",
           "NULL", "as_"]

NULL = _b.NULL

_SAVEPOINT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class type:  # noqa: N801 - Wippy's name: sql.type.POSTGRES
    """Database types (``db.type()``)."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    SQLITE = "sqlite"
    UNKNOWN = "unknown"


class isolation:  # noqa: N801 - Wippy's name: sql.isolation.SERIALIZABLE
    """Isolation levels for ``begin``."""

    DEFAULT = "default"
    READ_UNCOMMITTED = "read_uncommitted"
    READ_COMMITTED = "read_committed"
    WRITE_COMMITTED = "write_committed"
    REPEATABLE_READ = "repeatable_read"
    SERIALIZABLE = "serializable"


class as_:  # noqa: N801 - Wippy's sql.as (a keyword in Python)
    """Typed values: ``as_.int(x)`` ... (plain values here: the drivers type them)."""

    int = staticmethod(lambda v: int(v))
    float = staticmethod(lambda v: float(v))
    text = staticmethod(lambda v: str(v))
    binary = staticmethod(lambda v: v if isinstance(v, bytes) else str(v).encode())
    null = staticmethod(lambda: NULL)


def _params(params: Iterable[Any] | None) -> list[Any]:
    if params is None:
        return []
    if isinstance(params, (str, bytes, Mapping)):
        raise ResourceError("INVALID", "params must be a list of values")
    return [None if p is NULL else p for p in params]


def _check(action: str, resource: str) -> Any:
    rt = _rt.get()
    rt.check(action, resource)
    return rt


async def get(id: str) -> DB:
    """A handle on database entry ``id``. Raises ResourceError (NOT_FOUND, INVALID, or
    UNAVAILABLE when its placeholders cannot be resolved) or PermissionDenied."""
    if not isinstance(id, str) or not id:
        raise ResourceError("INVALID", "empty resource id")
    rt = _check("sql.get", id)
    db = await _dbs.database(rt, id, _request)
    return DB(id, db.type)


class DB:
    """A database handle (Wippy's ``DB``)."""

    __slots__ = ("id", "_type", "released")

    def __init__(self, id: str, db_type: str) -> None:
        self.id = id
        self._type = db_type
        self.released = False

    def type(self) -> str:
        return self._type

    async def _db(self) -> _dbs.Database:
        if self.released:
            raise ResourceError("INVALID", f"database handle {self.id} was released")
        return await _dbs.database(_rt.get(), self.id, _request)

    async def query(self, sql: str, params: Iterable[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a SELECT, each a map of column to value."""
        _check("sql.query", self.id)
        return await (await self._db()).run(sql, _params(params), True)

    async def execute(self, sql: str, params: Iterable[Any] | None = None) -> dict[str, Any]:
        """``{last_insert_id, rows_affected}`` of an INSERT, UPDATE, DELETE or DDL."""
        _check("sql.execute", self.id)
        return await (await self._db()).run(sql, _params(params), False)

    async def prepare(self, sql: str) -> Statement:
        """A statement to run many times (prepared on the server by PostgreSQL)."""
        await self._db()
        return Statement(self, None, sql)

    async def begin(self, options: Mapping[str, Any] | None = None) -> Transaction:
        """A transaction on a connection of its own (``isolation``, ``read_only``)."""
        _check("sql.begin", self.id)
        db = await self._db()
        opts = dict(options or {})
        tx = Transaction(self, db)
        await tx._begin(str(opts.get("isolation") or isolation.DEFAULT),
                        bool(opts.get("read_only")))
        return tx

    def release(self) -> bool:
        """Done with the handle (it holds no connection: this only retires it)."""
        self.released = True
        return True

    async def stats(self) -> dict[str, Any]:
        """Pool statistics in Wippy's fields."""
        return (await self._db()).pool.stats()


_LEVELS = {"read_uncommitted": "READ UNCOMMITTED", "read_committed": "READ COMMITTED",
           "write_committed": "READ COMMITTED", "repeatable_read": "REPEATABLE READ",
           "serializable": "SERIALIZABLE"}


class Transaction:
    """A transaction (Wippy's ``Transaction``): holds one connection until it ends. If its
    process ends first, it is rolled back (the runtime cancels it with the process's timers)."""

    def __init__(self, db: DB, database: _dbs.Database) -> None:
        self.db = db
        self._database = database
        self._conn: Any = None
        self.active = False
        self.cancelled = False        # the process-exit hook (see _begin)
        self._lock = threading.Lock()

    def db_type(self) -> str:
        return self.db.type()

    async def _begin(self, level: str, read_only: bool) -> None:
        d = self._database
        self._conn = await to_thread(d.pool.acquire)
        sql = "BEGIN"
        if d.type == type.POSTGRES:
            if level in _LEVELS:
                sql += " ISOLATION LEVEL " + _LEVELS[level]
            if read_only:
                sql += " READ ONLY"
        elif level == isolation.SERIALIZABLE:
            sql = "BEGIN IMMEDIATE"
        try:
            await self._run(sql, [], False)
        except BaseException:
            self._finish(broken=True)
            raise
        self.active = True
        try:
            _rt.get().current().add_timer(self)      # rolled back when its process ends
        except RuntimeError:
            pass

    def _finish(self, broken: bool = False) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        self.active = False
        if conn is not None:
            self._database.pool.release(conn, broken)

    def cancel(self) -> None:
        """The process ended inside the transaction: roll back and give the connection back."""
        if self.cancelled:
            return
        self.cancelled = True
        if self.active and self._conn is not None:
            d = self._database

            def rollback() -> None:
                broken = False
                try:
                    d.driver.run(self._conn.raw, "ROLLBACK", [], False)
                except Exception:  # noqa: BLE001 - a dead connection is closed instead
                    broken = True
                self._finish(broken)
            threading.Thread(target=rollback, daemon=True).start()

    def _blocking(self, sql: str, params: list[Any], rows: bool, prepare: bool) -> Any:
        d = self._database
        conn = self._conn
        if conn is None:
            raise ResourceError("INVALID", "transaction is not active")
        try:
            return d.driver.run(conn.raw, sql, params, rows, prepare)
        except Exception as exc:  # noqa: BLE001 - named for the caller
            err, broken = sql_error(exc, self.db.id)
            if broken or d.driver.is_broken(conn.raw):
                self.active = False
            raise err from None

    async def _run(self, sql: str, params: list[Any], rows: bool, prepare: bool = False) -> Any:
        return await to_thread(self._blocking, sql, params, rows, prepare)

    def _active(self) -> None:
        if not self.active:
            raise ResourceError("INVALID", "transaction is not active")

    async def query(self, sql: str, params: Iterable[Any] | None = None) -> list[dict[str, Any]]:
        self._active()
        _check("sql.query", self.db.id)
        return await self._run(sql, _params(params), True)

    async def execute(self, sql: str, params: Iterable[Any] | None = None) -> dict[str, Any]:
        self._active()
        _check("sql.execute", self.db.id)
        return await self._run(sql, _params(params), False)

    async def prepare(self, sql: str) -> Statement:
        self._active()
        return Statement(self.db, self, sql)

    async def _end(self, sql: str) -> bool:
        self._active()
        try:
            await self._run(sql, [], False)
        except ResourceError:
            self._finish(broken=True)
            raise
        self._finish()
        self.cancelled = True        # nothing left for the exit hook
        return True

    async def commit(self) -> bool:
        return await self._end("COMMIT")

    async def rollback(self) -> bool:
        return await self._end("ROLLBACK")

    def _savepoint_name(self, name: str) -> str:
        if not isinstance(name, str) or not _SAVEPOINT.fullmatch(name):
            raise ResourceError("INVALID", f"invalid savepoint name {name!r} (letters, digits "
                                           "and '_')")
        return name

    async def savepoint(self, name: str) -> bool:
        self._active()
        await self._run("SAVEPOINT " + self._savepoint_name(name), [], False)
        return True

    async def rollback_to(self, name: str) -> bool:
        self._active()
        await self._run("ROLLBACK TO SAVEPOINT " + self._savepoint_name(name), [], False)
        return True

    async def release(self, name: str) -> bool:
        self._active()
        await self._run("RELEASE SAVEPOINT " + self._savepoint_name(name), [], False)
        return True


class Statement:
    """A prepared statement (on a database handle or inside a transaction)."""

    def __init__(self, db: DB, tx: Transaction | None, sql: str) -> None:
        self.db = db
        self.tx = tx
        self.sql = sql
        self.closed = False

    def _open(self) -> None:
        if self.closed:
            raise ResourceError("INVALID", "statement is closed")

    async def query(self, params: Iterable[Any] | None = None) -> list[dict[str, Any]]:
        self._open()
        if self.tx is not None:
            return await self.tx.query(self.sql, params)
        _check("sql.query", self.db.id)
        return await (await self.db._db()).run(self.sql, _params(params), True, prepare=True)

    async def execute(self, params: Iterable[Any] | None = None) -> dict[str, Any]:
        self._open()
        if self.tx is not None:
            return await self.tx.execute(self.sql, params)
        _check("sql.execute", self.db.id)
        return await (await self.db._db()).run(self.sql, _params(params), False, prepare=True)

    def close(self) -> bool:
        self.closed = True
        return True


Executor = _b.Bound


class builder:  # noqa: N801 - Wippy's name: sql.builder
    """The query builder (:mod:`wippy.resources.sqlbuilder`): ``select``, ``insert``,
    ``update``, ``delete``, conditions, placeholder formats."""

    select = staticmethod(_b.select)
    insert = staticmethod(_b.insert)
    update = staticmethod(_b.update)
    delete = staticmethod(_b.delete)
    expr = staticmethod(_b.expr)
    eq = staticmethod(lambda m: _b.compare("eq", m))
    not_eq = staticmethod(lambda m: _b.compare("not_eq", m))
    lt = staticmethod(lambda m: _b.compare("lt", m))
    lte = staticmethod(lambda m: _b.compare("lte", m))
    gt = staticmethod(lambda m: _b.compare("gt", m))
    gte = staticmethod(lambda m: _b.compare("gte", m))
    like = staticmethod(lambda m: _b.compare("like", m))
    not_like = staticmethod(lambda m: _b.compare("not_like", m))
    and_ = staticmethod(_b.and_)
    or_ = staticmethod(_b.or_)
    question = _b.Placeholder.QUESTION
    default_placeholder = _b.Placeholder.QUESTION
    dollar = _b.Placeholder.DOLLAR
    at = _b.Placeholder.AT
    colon = _b.Placeholder.COLON
