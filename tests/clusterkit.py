"""Helpers of the cluster tests: a fresh database per test on the module's throwaway
PostgreSQL, and killing a whole node (its OS process tree) with SIGKILL."""
from __future__ import annotations

import os
import signal
import uuid
from typing import Any

import psutil
import psycopg


def fresh_database(dsn: str) -> str:
    """A new empty database on the server of ``dsn``; its DSN."""
    name = "wc_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    parts["dbname"] = name
    return psycopg.conninfo.make_conninfo(**parts)


def query(dsn: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description is not None else []


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process under it, all at once (a machine's death, as far as
    one machine can show it); returns the pids killed."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    psutil.wait_procs(procs[1:], timeout=10)
    return [p.pid for p in procs]
