"""A throwaway PostgreSQL for tests: ``WIPPY_TEST_PG_DSN`` when set, else a server made with
initdb in a temp directory, run by an unprivileged user (``postgres``, created if missing when
we are root) on a free port of 127.0.0.1, stopped and removed after."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Iterator

import pytest


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres() -> Iterator[str]:
    """Yield a DSN of a running server (skips the test when none can be had)."""
    dsn = os.environ.get("WIPPY_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) and no WIPPY_TEST_PG_DSN")
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        run_as = ["runuser", "-u", "postgres", "--"]
    root = tempfile.mkdtemp(prefix="wpg-", dir="/tmp")
    data = os.path.join(root, "data")
    if run_as:
        shutil.chown(root, "postgres")
    port = _free_port()
    try:
        subprocess.run(run_as + [initdb, "-D", data, "-U", "postgres", "-A", "trust",
                                 "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(run_as + [pg_ctl, "-D", data, "-o", opts, "-l",
                                 os.path.join(root, "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(run_as + [pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def wait_down(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
