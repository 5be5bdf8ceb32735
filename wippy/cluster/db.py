"""The cluster's one connection to PostgreSQL: connect, run, and turn a lost connection into
:class:`~wippy.errors.StorageError` (the node stays up; the next use reconnects).

The node's loop is single-threaded and so is this connection: every statement blocks the loop
for one round trip, which on a local database is a fraction of a millisecond. Reads run in
autocommit; writes run in one explicit transaction each (:meth:`Db.transaction`).

Rejected: a connection pool and a worker thread for the journal. The node's writes are
already one transaction per loop turn (group commit), and a second thread would have to hand
every answer back to the loop; measured need first.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, TypeVar

from ..errors import StorageError
from ..resources.sqldrivers import psycopg_module

__all__ = ["Db", "describe", "CONNECT_TIMEOUT_S"]

CONNECT_TIMEOUT_S = 5       # a database that does not answer is reported, not waited for
# A link that drops packets without closing: libpq's TCP settings bound how long the node's
# loop can wait on it (unacknowledged data for TCP_USER_TIMEOUT_MS; idle probes otherwise).
TCP_USER_TIMEOUT_MS = 10_000
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3}
T = TypeVar("T")


def describe(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    pg = psycopg_module()
    try:
        parts = pg.conninfo.conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - a bad DSN is reported by connect, not here
        return "the cluster database"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{parts.get('user') or ''}@{host}:{port}/{parts.get('dbname') or ''}"


class Db:
    """A lazily (re)connected PostgreSQL connection."""

    def __init__(self, dsn: str, application: str = "wippy") -> None:
        self.dsn = dsn
        self.where = describe(dsn)
        self._application = application
        self._conn: Any = None
        self.pg = psycopg_module()
        self.lost = 0               # connections lost (or never made), since start

    def connection(self) -> Any:
        """The open connection, made on first use (raises StorageError when it cannot be)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            kw: dict[str, Any] = {"autocommit": True, "application_name": self._application}
            if "connect_timeout" not in self.dsn:
                kw["connect_timeout"] = CONNECT_TIMEOUT_S
            kw.update({k: v for k, v in KEEPALIVES.items() if k not in self.dsn})
            if "tcp_user_timeout" not in self.dsn and self.pg.pq.version() >= 120000:
                kw["tcp_user_timeout"] = TCP_USER_TIMEOUT_MS
            try:
                self._conn = self.pg.connect(self.dsn, **kw)
            except self.pg.Error as exc:
                self.lost += 1
                raise StorageError(self.where, f"cannot connect: {_first_line(exc)}") from None
        return self._conn

    def current(self) -> Any:
        """The open connection, or None (never connects)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn

    def run(self, fn: Callable[[Any], T]) -> T:
        """``fn(cursor)`` outside a transaction (autocommit)."""
        with self._errors():
            with self.connection().cursor() as cur:
                return fn(cur)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: committed when the block ends, rolled back (and
        StorageError raised) when the database fails."""
        with self._errors():
            conn = self.connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self.pg.Error as exc:
            if isinstance(exc, (self.pg.OperationalError, self.pg.InterfaceError)):
                self.lost += 1
                self.close()             # reconnect on next use
            raise StorageError(self.where, _first_line(exc)) from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
