"""Shared fixtures: build small applications in temp dirs, boot real nodes, reap everything."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
import time
from typing import Any, Callable, Iterator

import psutil
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
               what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def write_app(root: str, files: dict[str, str]) -> str:
    """Create an application tree: {relative path: text} (text is dedented)."""
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def app_dir() -> Iterator[str]:
    """A fresh short directory for an application (ipc paths stay short; removed after)."""
    d = tempfile.mkdtemp(prefix="wt-", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A PostgreSQL for a module's tests: a throwaway server (or ``WIPPY_TEST_PG_DSN``)."""
    from pgserver import postgres
    yield from postgres()


@pytest.fixture
def dsn(pg_server: str) -> str:
    """A fresh empty database on the module's server (one cluster per test)."""
    from clusterkit import fresh_database
    return fresh_database(pg_server)


def descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Every test reaps what it started: no child, zombie or orphan of ours survives it."""
    before = {p.pid for p in descendants()}
    yield
    def clean() -> bool:
        left = [p for p in descendants() if p.pid not in before]
        return not left
    try:
        wait_until(clean, timeout=15, what="the test's OS processes to exit")
    except AssertionError:
        left = [p for p in descendants() if p.pid not in before]
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
        raise


def run_wippy(args: list[str], cwd: str | None = None, timeout: float = 60,
              input: str | None = None) -> Any:
    import subprocess
    return subprocess.run([sys.executable, "-m", "wippy", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)
