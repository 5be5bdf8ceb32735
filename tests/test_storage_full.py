"""A full disk (a small tmpfs under the node's data directory): the node stays up, what could not
be written fails with a StorageError naming the store, and workflows carry on when space comes
back. Mounting needs root (or CAP_SYS_ADMIN); elsewhere the test is skipped, saying so."""
from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Iterator

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.errors import StorageError
from wippy.workflow.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

DISK_SIZE = "4m"

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: flows
            kind: process.host
          - name: counter
            kind: workflow.py
            source: file://flows.py
            method: counter
            host: flows
          - name: double
            kind: function.py
            source: file://flows.py
            method: double
        """,
    "config/flows.py": """
        from wippy import funcs, process

        async def counter(n):
            total = 0
            inbox = process.inbox()
            for _ in range(n):
                msg = await inbox.receive()
                total += await funcs.call("app:double", msg.payload)
            return total

        def double(x):
            with open(__file__ + ".calls", "a") as fh:
                fh.write(f"{x}\\n")
            return x * 2
        """,
}


@pytest.fixture
def small_disk() -> Iterator[str]:
    """A fresh tmpfs of DISK_SIZE, unmounted after the test."""
    where = tempfile.mkdtemp(prefix="wt-disk-", dir="/tmp")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs",
                           where], capture_output=True, text=True)
    if done.returncode != 0:
        os.rmdir(where)
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): "
                    "the full-disk test needs root or CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", where], capture_output=True)
        os.rmdir(where)


def fill(path: str) -> str:
    """Write a file until the disk holding ``path`` is full; returns the file."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def calls(app: str) -> list[str]:
    path = os.path.join(app, "config", "flows.py.calls")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return fh.read().split()


def test_a_full_disk_fails_the_writes_clearly_and_workflows_resume_when_space_returns(app_dir, small_disk):
    app = write_app(app_dir, APP)
    data = os.path.join(small_disk, "data")
    with wippy.Node(app, data_dir=data) as node:
        w1 = node.workflow_start("app:counter", 3, name="w1")
        node.send(w1, "n", 1)
        wait_until(lambda: calls(app) == ["1"], 20, what="the first step")
        filler = fill(small_disk)

        # what cannot be written fails with the cause, naming the store; nothing hangs
        with pytest.raises(StorageError) as started:   # too big for pages LMDB may reuse
            node.workflow_start("app:counter", [1, "x" * 300_000], name="w2")
        assert started.value.path == os.path.join(data, "journal")
        assert "disk is full" in str(started.value)
        change = node.registry.snapshot().changes().create(
            {"id": "app:big", "kind": "registry.entry", "data": {"blob": "x" * 300_000}})
        with pytest.raises(wippy.RegistryError, match=f"storage error at {data}/registry"):
            change.apply()

        # a signal sent now waits to be journaled; the node stays up and answers
        node.send(w1, "n", 2)
        assert node.ps()["hosts"][0]["state"] == "ready"
        assert calls(app) == ["1"]

        os.unlink(filler)                   # space comes back: everything carries on
        node.send(w1, "n", 3)
        assert node.workflow_result(w1, timeout=30) == 12
        w2 = node.workflow_start("app:counter", 1, name="w2")     # the name was never bound
        node.send(w2, "n", 5)
        assert node.workflow_result(w2, timeout=30) == 10
        assert node.registry.snapshot().changes().create(
            {"id": "app:big", "kind": "registry.entry", "data": {"blob": "x"}}).apply()
    journal = Journal(os.path.join(data, "journal"), readonly=True)
    try:
        steps = [s["result"] for s in journal.steps(w1.rpartition("|")[2][:-1])]
    finally:
        journal.close()
    assert steps == [2, 4, 6]                       # every signal once, in order
    assert calls(app)[:3] == ["1", "2", "3"]


def test_a_node_booting_on_a_full_disk_says_so_and_starts_nothing(app_dir, small_disk):
    app = write_app(app_dir, APP)
    fill(small_disk)
    data = os.path.join(small_disk, "data")
    done = run_wippy(["run", app, "--data-dir", data, "-x", "app:double", "2"], timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"storage error at {data}/registry" in done.stderr
    assert "the disk is full" in done.stderr and "nothing started" in done.stderr
