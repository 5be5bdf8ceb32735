"""The ``db.sql.*`` entries of one host OS process: a pool each, made on first use and swapped
when the entry changes (S13).

Every use of a database first asks :func:`database` for its pool, which checks the registry
version this OS process reads (one LMDB read, about a microsecond) and, when the entry changed
(a new DSN, a new pool size, a new value behind one of its ``${env:...}`` placeholders is not
watched: edit the entry), makes a new pool for the new work and closes the old one as a drain:
its idle connections now, the ones in use when their work gives them back (a transaction in
flight finishes on the old connection). A deleted entry fails new work with NOT_FOUND.

SQLite: one connection per OS process (Wippy forces ``max_open`` 1), WAL journal, a busy
timeout so the hosts of a node share the file. ``:memory:`` cannot be shared between OS
processes, so it names a file in the node's run directory instead, made fresh by each run of
the node (the same data for every host of the node, gone with the run, as in Wippy).
"""
from __future__ import annotations

import glob
import json
import os
from typing import Any, Awaitable, Callable

from ..errors import ResourceError
from ..registry.entry import SQL_KINDS, Kind, app_root
from ..runtime.threads import to_thread
from . import envvars
from .pool import ACQUIRE_TIMEOUT_S, Pool
from .sqldrivers import POSTGRES, SQLITE, Driver, sql_error

__all__ = ["Database", "database", "close_all", "DEFAULT_MAX_IDLE", "pg_conninfo",
           "sqlite_target"]

DEFAULT_MAX_IDLE = 2      # max_idle 0 (Wippy's default) keeps Go's default of 2 idle connections

_DBS: dict[str, Database] = {}


class Database:
    """One entry's pool here, and how to run a statement on it."""

    def __init__(self, entry_id: str, driver: Driver, pool: Pool, key: str,
                 version: Any) -> None:
        self.id = entry_id
        self.driver = driver
        self.pool = pool
        self.key = key
        self.version = version

    @property
    def type(self) -> str:
        return self.driver.type

    def run_blocking(self, sql: str, params: list[Any], rows: bool, prepare: bool = False) -> Any:
        """Take a connection, run one statement, give it back (in a worker thread)."""
        conn = self.pool.acquire()
        broken = False
        try:
            return self.driver.run(conn.raw, sql, params, rows, prepare)
        except Exception as exc:  # noqa: BLE001 - every driver error reaches the caller named
            err, broken = sql_error(exc, self.id)
            broken = broken or self.driver.is_broken(conn.raw)
            raise err from None
        finally:
            self.pool.release(conn, broken)

    async def run(self, sql: str, params: list[Any], rows: bool, prepare: bool = False) -> Any:
        return await to_thread(self.run_blocking, sql, params, rows, prepare)

    async def create(self, sql: str) -> None:
        """Run ``CREATE ... IF NOT EXISTS``, which PostgreSQL does not make safe against a
        concurrent twin (two hosts creating the same table: one fails on a catalog unique
        index once the other committed); the retry then finds the object there."""
        for attempt in range(3):
            try:
                await self.run(sql, [], False)
                return
            except ResourceError as exc:
                if attempt == 2 or not ("already exists" in str(exc) or "duplicate key" in str(exc)):
                    raise


async def database(rt: Any, entry_id: str, request: envvars.Request) -> Database:
    """The pool of entry ``entry_id`` as the registry holds it now. Raises ResourceError:
    NOT_FOUND (no such entry), INVALID (not a database; a placeholder with no value)."""
    store = rt.store
    version = store.version() if store is not None else None
    db = _DBS.get(entry_id)
    if db is not None and db.version == version and version is not None:
        return db
    entry = store.get(entry_id) if store is not None else None
    if entry is None:
        raise ResourceError("NOT_FOUND", f"database {entry_id} not found")
    if entry.get("kind") not in SQL_KINDS:
        raise ResourceError("INVALID", f"{entry_id} is a {entry.get('kind')}, not a database")
    data = dict(entry.get("data") or {})
    if envvars.has_placeholders(data):
        data = await envvars.resolve(store, data, request, f"entry {entry_id}")
    key = json.dumps([entry["kind"], data], sort_keys=True, default=str)
    db = _DBS.get(entry_id)             # another task may have made it while we awaited
    if db is not None and db.key == key:
        db.version = version
        return db
    new = _open(entry_id, entry["kind"], data, key, version, rt)
    _DBS[entry_id] = new
    if db is not None:
        db.pool.close()                # a drain: connections in use close when given back
    return new


def _open(entry_id: str, kind: str, data: dict[str, Any], key: str, version: Any,
          rt: Any) -> Database:
    pool_cfg = data.get("pool") or {}
    timeout = float(data.get("timeout") or ACQUIRE_TIMEOUT_S)
    lifetime = float(pool_cfg.get("max_lifetime") or 3600.0)
    if kind == Kind.DB_SQLITE.value:
        target = sqlite_target(entry_id, str(data.get("file") or ""), rt)
        driver: Driver = SQLITE
        max_open, max_idle = 1, 1
    else:
        target = pg_conninfo(data)
        driver = POSTGRES
        max_open = _int(pool_cfg.get("max_open"), entry_id, "pool.max_open")
        max_idle = _int(pool_cfg.get("max_idle"), entry_id, "pool.max_idle") or DEFAULT_MAX_IDLE
    pool = Pool(entry_id, lambda: driver.connect(target), driver.close, max_open, max_idle,
                lifetime, timeout)
    return Database(entry_id, driver, pool, key, version)


def _int(v: Any, entry_id: str, field: str) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        raise ResourceError("INVALID", f"entry {entry_id}: field '{field}': {v!r} is not "
                                       "an integer") from None


def sqlite_target(entry_id: str, file: str, rt: Any) -> str:
    """The path SQLite opens for entry ``entry_id``'s ``file``."""
    if file in (":memory:", "") or file.startswith("file::memory:"):
        rundir = getattr(getattr(rt, "mesh", None), "rundir", None) or "/tmp"
        folder = os.path.join(rundir, "sqlite")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        run = _run_id(rundir)
        for old in glob.glob(os.path.join(folder, "*.db*")):     # from an earlier run
            if not os.path.basename(old).startswith(run + "-"):
                try:
                    os.unlink(old)
                except OSError:
                    pass
        return os.path.join(folder, f"{run}-{entry_id.replace(':', '_')}.db")
    if file.startswith("file:"):
        file = file[5:].split("?", 1)[0]
    path = file if os.path.isabs(file) else os.path.join(app_root() or os.getcwd(), file)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)     # like mode=rwc, and its folder
    return path


def _run_id(rundir: str) -> str:
    """This run of the node: the start time its lock file records."""
    try:
        with open(os.path.join(rundir, "lock")) as fh:
            info = json.load(fh)
        return str(int(float(info.get("started", 0)) * 1000))
    except (OSError, ValueError, AttributeError):
        return "run"


def _quote(v: Any) -> str:
    text = str(v)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pg_conninfo(data: dict[str, Any]) -> str:
    """A libpq connection string for a ``db.sql.postgres`` entry's (resolved) data: its
    ``dsn``, or Wippy's fields, plus ``options`` sorted by key."""
    parts: list[str] = []
    if data.get("dsn"):
        base = str(data["dsn"])
        if "://" in base:
            extra = "&".join(f"{k}={v}" for k, v in sorted((data.get("options") or {}).items()))
            if extra:
                base += ("&" if "?" in base else "?") + extra
            return base
        parts.append(base)
    else:
        for field, key in (("host", "host"), ("port", "port"), ("username", "user"),
                           ("password", "password"), ("database", "dbname")):
            if data.get(field) not in (None, ""):
                parts.append(f"{key}={_quote(data[field])}")
    for k, v in sorted((data.get("options") or {}).items()):
        parts.append(f"{k}={_quote(v)}")
    return " ".join(parts)


def close_all() -> None:
    """Close every pool of this OS process (tests)."""
    for db in _DBS.values():
        db.pool.close()
    _DBS.clear()


Opener = Callable[[str], Awaitable[Database]]
