"""A throwaway PostgreSQL that a test can stop and start again on the same port (faults:
the database down at boot, the database restarted under load). Built with initdb like
:mod:`pgserver`, run by an unprivileged user; ``stop()`` is an immediate shutdown (no
checkpoint: as close to a crash as pg_ctl gives), ``start()`` brings it back."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from typing import Iterator

import pytest

from pgserver import _bin, _free_port


class PgServer:
    """One server in a temp directory; ``dsn`` works whenever it is started."""

    def __init__(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip("no PostgreSQL binaries (initdb, pg_ctl)")
        self.pg_ctl = pg_ctl
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.root = tempfile.mkdtemp(prefix="wpgr-", dir="/tmp")
        if self.run_as:
            shutil.chown(self.root, "postgres")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        subprocess.run(self.run_as + [initdb, "-D", self.data, "-U", "postgres", "-A", "trust",
                                      "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        self.running = False

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off")
        subprocess.run(self.run_as + [self.pg_ctl, "-D", self.data, "-o", opts, "-l",
                                      os.path.join(self.root, "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
        self.running = True

    def stop(self) -> None:
        subprocess.run(self.run_as + [self.pg_ctl, "-D", self.data, "-m", "immediate", "-w",
                                      "-t", "30", "stop"], capture_output=True, timeout=60)
        self.running = False

    def remove(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def pg_server() -> Iterator[PgServer]:
    """A fixture body: a stopped server, removed after the test."""
    server = PgServer()
    try:
        yield server
    finally:
        server.remove()
