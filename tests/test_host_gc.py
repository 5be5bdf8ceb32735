"""What keeps a host cheap at many spawns: a process is freed by reference counting (no cyclic
garbage left for the collector), a host freezes what it built at boot and runs the collector
with larger thresholds, and a spawn after ``apply`` runs the new code (the version is read once
per turn for spawns by processes, and for every spawn from another OS process)."""
from __future__ import annotations

import pytest

import wippy
from wippy.host.loop import GC_THRESHOLDS

from conftest import write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

INDEX = """
version: "1.0"
namespace: g
entries:
  - {name: h, kind: process.host}
  - {name: k, kind: process.host}
  - {name: noop, kind: process.py, source: file://gcapp.py, method: noop}
  - {name: count, kind: process.py, source: file://gcapp.py, method: count}
  - {name: gen, kind: process.lua, source: "return {main = function() return 'v1' end}", method: main}
  - {name: respawn, kind: process.py, source: file://gcapp.py, method: respawn}
"""

CODE = '''
import gc
from wippy import process, registry


async def noop():
    return None


async def count(n):
    """Spawn n monitored no-ops, wait for every EXIT; the cyclic garbage they left."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        events = process.events()
        for _ in range(n):
            process.spawn_monitored("g:noop", "g:h")
        seen = 0
        while seen < n:
            ev = await events.receive()
            seen += ev.kind == "EXIT"
        gc.collect()
        left = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return {"garbage": left, "frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}


async def respawn(host):
    """Change g:gen's code, then spawn it on ``host`` in the same turn: the new code runs."""
    first = await process.exec("g:gen", host)
    base = registry.get("g:gen")
    code = "return {main = function() return 'v2' end}"
    await registry.snapshot().changes().update({**base, "data": {**base["data"], "source": code}}).apply()
    second = await process.exec("g:gen", host)
    return [first, second]
'''


@pytest.fixture
def node(app_dir: str):  # type: ignore[no-untyped-def]
    write_app(app_dir, {"_index.yaml": INDEX, "gcapp.py": CODE})
    n = wippy.Node(app_dir)
    n.start()
    try:
        yield n
    finally:
        assert n.stop() == 0


def test_processes_that_returned_leave_no_cyclic_garbage_and_the_host_froze_its_boot(node) -> None:  # type: ignore[no-untyped-def]
    out = node.exec("g:count", "g:h", 300, timeout=60)
    assert out["garbage"] == 0
    assert out["frozen"] > 1000                 # the modules and runtime built at boot
    assert tuple(out["threshold"]) == GC_THRESHOLDS


@pytest.mark.parametrize("host", ["g:h", "g:k"])
def test_a_spawn_right_after_apply_runs_the_new_code_here_and_elsewhere(node, host: str) -> None:  # type: ignore[no-untyped-def]
    assert node.exec("g:respawn", "g:h", host, timeout=60) == ["v1", "v2"]
