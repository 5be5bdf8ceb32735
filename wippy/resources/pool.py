"""A pool of database connections for one host OS process (``db.sql.*`` entries, S13).

Every method that touches a connection blocks and is called from a worker thread
(``wippy.to_thread``); the pool itself is guarded by one lock. Connections are made on demand
up to ``max_open`` (0: no limit), kept idle up to ``max_idle``, and replaced after
``max_lifetime``.

A database that cannot be reached is not retried by every caller: a failed connect opens a
window of :func:`reconnect_delay` (100 ms doubling to 5 s) during which callers get the same
clear error at once (``UNAVAILABLE``, retryable, naming the entry and the cause); the first
caller after the window tries again, and a success closes it. A connection that breaks under a
query is closed, and with it every idle one (they lead to the same, probably dead, server).

Rejected: psycopg_pool (its callers wait up to their timeout while it reconnects in the
background, where a caller here learns at once that the database is down; it would also be a
second pool beside SQLite's), and reconnecting inside each query (a retried write may run
twice).
"""
from __future__ import annotations

import threading
import time as _time
from collections import deque
from typing import Any, Callable

from ..errors import ResourceError

__all__ = ["Pool", "reconnect_delay", "RECONNECT_INITIAL_S", "RECONNECT_MAX_S",
           "ACQUIRE_TIMEOUT_S"]

RECONNECT_INITIAL_S = 0.1     # after a failed connect, callers fail at once this long ...
RECONNECT_MAX_S = 5.0         # ... doubling per failure up to this
ACQUIRE_TIMEOUT_S = 30.0      # the longest a caller waits for a busy pool (entry: timeout)


def reconnect_delay(failures: int) -> float:
    """How long after its ``failures``-th failed connect in a row a pool stays down."""
    if failures <= 0:
        return 0.0
    return min(RECONNECT_MAX_S, RECONNECT_INITIAL_S * (2 ** min(failures - 1, 30)))


class _Conn:
    __slots__ = ("raw", "born")

    def __init__(self, raw: Any, born: float) -> None:
        self.raw = raw
        self.born = born


class Pool:
    """Connections made by ``connect()`` (raises on failure), closed by ``close(raw)``."""

    def __init__(self, name: str, connect: Callable[[], Any], close: Callable[[Any], None],
                 max_open: int = 0, max_idle: int = 2, max_lifetime: float = 3600.0,
                 timeout: float = ACQUIRE_TIMEOUT_S,
                 clock: Callable[[], float] = _time.monotonic) -> None:
        self.name = name
        self._connect = connect
        self._close_raw = close
        self.max_open = max_open
        self.max_idle = max_idle
        self.max_lifetime = max_lifetime
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Condition()
        self._idle: deque[_Conn] = deque()
        self.open = 0
        self.in_use = 0
        self.closed = False
        self.failures = 0
        self.down_until = 0.0
        self.last_error = ""
        self.wait_count = 0
        self.wait_duration = 0.0
        self.lifetime_closed = 0
        self.idle_closed = 0

    # -- taking and giving back ----------------------------------------------------------
    def acquire(self) -> _Conn:
        """A connection (blocks while the pool is at ``max_open``, up to ``timeout``).
        Raises ResourceError: UNAVAILABLE when the database cannot be reached (or the pool
        stays busy), CANCELED when the pool was closed (its entry changed: ask again)."""
        deadline = None
        with self._lock:
            while True:
                if self.closed:
                    raise ResourceError("CANCELED", f"database {self.name}: pool closed",
                                        retryable=True)
                now = self._clock()
                while self._idle:
                    conn = self._idle.pop()
                    if now - conn.born < self.max_lifetime:
                        self.in_use += 1
                        return conn
                    self.lifetime_closed += 1
                    self._discard(conn)
                if self.max_open <= 0 or self.open < self.max_open:
                    if now < self.down_until:
                        raise self._down_error(now)
                    self.open += 1
                    self.in_use += 1
                    break
                if deadline is None:
                    deadline = now + self.timeout
                    self.wait_count += 1
                left = deadline - now
                if left <= 0:
                    raise ResourceError("UNAVAILABLE", f"database {self.name}: no connection "
                                        f"free within {self.timeout:g} s ({self.open} open, "
                                        "pool.max_open)", retryable=True)
                started = now
                self._lock.wait(left)
                self.wait_duration += self._clock() - started
        try:                                   # connect outside the lock: it may take seconds
            raw = self._connect()
        except Exception as exc:  # noqa: BLE001 - any driver error means "cannot connect"
            with self._lock:
                self.open -= 1
                self.in_use -= 1
                self.failures += 1
                self.last_error = _first_line(exc)
                self.down_until = self._clock() + reconnect_delay(self.failures)
                self._lock.notify()
            raise ResourceError("UNAVAILABLE", f"database {self.name} is unreachable: "
                                f"{self.last_error}", retryable=True) from None
        with self._lock:
            self.failures = 0
            self.down_until = 0.0
        return _Conn(raw, self._clock())

    def release(self, conn: _Conn, broken: bool = False) -> None:
        """Give ``conn`` back; ``broken``: it failed (it is closed, and so is every idle one)."""
        close: list[_Conn] = []
        with self._lock:
            self.in_use -= 1
            if broken:
                close.append(conn)
                close.extend(self._idle)
                self._idle.clear()
            elif self.closed or len(self._idle) >= max(self.max_idle, 1 if self.max_open == 1 else 0) \
                    or self._clock() - conn.born >= self.max_lifetime:
                close.append(conn)
                if not self.closed:
                    self.idle_closed += 1
            else:
                self._idle.append(conn)
            self.open -= len(close)
            self._lock.notify()
        for c in close:
            self._close(c)

    def close(self) -> None:
        """No new connections; idle ones close now, those in use when given back (a drain)."""
        with self._lock:
            self.closed = True
            idle = list(self._idle)
            self._idle.clear()
            self.open -= len(idle)
            self._lock.notify_all()
        for c in idle:
            self._close(c)

    def stats(self) -> dict[str, Any]:
        """Wippy's ``db:stats()`` fields."""
        with self._lock:
            return {"max_open_connections": self.max_open, "open_connections": self.open,
                    "in_use": self.in_use, "idle": len(self._idle),
                    "wait_count": self.wait_count, "wait_duration": self.wait_duration,
                    "max_idle_closed": self.idle_closed, "max_idle_time_closed": 0,
                    "max_lifetime_closed": self.lifetime_closed}

    # -- internals -----------------------------------------------------------------------
    def _discard(self, conn: _Conn) -> None:     # under the lock: close later, outside it
        self.open -= 1
        threading.Thread(target=self._close, args=(conn,), daemon=True).start()

    def _close(self, conn: _Conn) -> None:
        try:
            self._close_raw(conn.raw)
        except Exception:  # noqa: BLE001 - closing a dead connection may fail: it is gone
            pass

    def _down_error(self, now: float) -> ResourceError:
        return ResourceError("UNAVAILABLE", f"database {self.name} is unreachable: "
                             f"{self.last_error} (next attempt in "
                             f"{max(0.0, self.down_until - now):.2f} s)", retryable=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
