"""Recorded journals replay (as Temporal's replay tests do): the workflows of
tests/data/apps/wfreplay run again, in one OS process, against the journals recorded from them
(tests/data/golden/history_<entry>_<version>.json, written by that version's
``record.py``), and must reach the recorded result without running or journaling anything new.

The workflows run on wippy's real runtime, scheduler and Lua states, with a fake node that
answers from the recorded journal: no socket, no LMDB, no other OS process.
"""
from __future__ import annotations

import json
import os
from typing import Any

import pytest
from test_lua_harness import CLIENT, HOST, Host

from wippy.core.pid import make_pid
from wippy.core.protocol import MONITOR
from wippy.lua.errkinds import lua_kind

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "data", "golden")
APP = os.path.join(HERE, "data", "apps", "wfreplay", "config")
HISTORIES = sorted(f for f in os.listdir(GOLDEN) if f.startswith("history_"))

pytestmark = pytest.mark.timeout(30)


def entry(name: str, kind: str, source: str, method: str, **data: Any) -> dict[str, Any]:
    return {"id": f"app:{name}", "kind": kind, "meta": {}, "base_dir": APP,
            "data": {"source": f"file://{source}", "method": method, **data}}


# tests/data/apps/wfreplay/config/_index.yaml, as the registry stores it
ENTRIES = [
    entry("py_all", "workflow.py", "flows.py", "every_step", host=HOST),
    entry("py_after", "workflow.py", "flows.py", "with_after", host=HOST),
    entry("py_child", "workflow.py", "flows.py", "child", host=HOST),
    entry("lua_all", "workflow.lua", "flows.lua", "every_step", host=HOST,
          modules=["funcs", "time", "uuid", "workflow"]),
    entry("double", "function.py", "flows.py", "double"),
    entry("fail", "function.py", "flows.py", "fail"),
    entry("lkey", "function.lua", "key.lua", "key", modules=["workflow"]),
]


class ReplayHost(Host):
    """A host whose node answers from one recorded journal."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.recorded = recorded
        self.written: list[tuple[int, dict]] = []
        self.started: list[str] = []
        self.done: tuple[Any, Any] | None = None
        super().__init__(ENTRIES)

    async def _ctl(self, op: str, *args: Any) -> Any:
        if op == "wf_load":
            rec = self.recorded
            return {"input": rec["input"], "steps": [dict(s) for s in rec["steps"]],
                    "signals": rec["signals"], "pid": make_pid("wf", 0, rec["id"])}
        if op == "wf_steps":
            self.written.extend(args[1])
            return True
        if op == "wf_done":
            self.done = (args[1], args[2])
            return True
        if op == "wf_start":                       # entry, input, name
            self.started.append(args[2])
            return make_pid("wf", 0, args[2])
        raise AssertionError(f"a replay asked the node for {op}")

    def run_workflow(self, entry_id: str) -> str:
        """Run the workflow as the node does (a spawn with its id); returns its PID."""
        self.rt.create("1", make_pid(HOST, 1, "1"), CLIENT, entry_id, [self.recorded["id"]],
                       MONITOR, None)
        return make_pid("wf", 0, self.recorded["id"])


def load(name: str) -> dict[str, Any]:
    with open(os.path.join(GOLDEN, name)) as fh:
        return json.load(fh)


@pytest.fixture
def replay_host():
    made: list[Host] = []

    def make(recorded: dict[str, Any]) -> ReplayHost:
        h = ReplayHost(recorded)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


@pytest.mark.parametrize("name", HISTORIES)
def test_a_recorded_journal_replays_to_its_recorded_result_without_new_steps(replay_host, name):
    recorded = load(name)
    h = replay_host(recorded)
    pid = h.run_workflow(recorded["entry"])
    assert h.wait_exit(pid) is None           # the process ends normally; the node records
    assert h.done == (expected_result(recorded), recorded["error"])
    assert h.written == [] and h.started == []


def expected_result(recorded: dict[str, Any]) -> Any:
    """The result a replay reaches now. The Lua workflows return ``err:kind()`` of a failed
    activity, which Lua names the way Wippy does (``Internal``) since these journals were
    recorded (``INTERNAL``); the journal itself, which keeps Python's name, is unchanged."""
    result = recorded["result"]
    if recorded["entry"].startswith("app:lua") and isinstance(result, dict) and "err" in result:
        return {**result, "err": lua_kind(result["err"]).decode()}
    return result


def test_code_that_asks_for_other_steps_than_a_recorded_journal_fails_with_nondeterminism(
        replay_host):
    recorded = load("history_lua_all_v1.json")  # now, uuid, call...; py_all asks now, call...
    h = replay_host(recorded)
    pid = h.run_workflow("app:py_all")
    with pytest.raises(Exception, match="step 1: the journal has uuid None, the code now asks "
                                        "for call 'app:double'") as info:
        h.wait_exit(pid)
    assert info.value.kind == "NONDETERMINISM"
    assert h.done is None and h.written == []


def test_a_journal_cut_short_replays_its_steps_then_records_the_rest(replay_host):
    recorded = load("history_py_all_v1.json")
    recorded["steps"] = recorded["steps"][:2]          # now, call: then the node died
    h = replay_host(recorded)
    pid = h.run_workflow("app:py_all")
    assert h.wait_exit(pid) is None
    value, error = h.done
    assert error is None and value["t0"] == recorded["result"]["t0"]
    assert [(seq, s["op"]) for seq, s in h.written] == [
        (2, "timer"), (3, "uuid"), (4, "random"), (5, "version"), (6, "call"), (7, "child"),
        (8, "now")]
    assert all(s["v"] == 2 for _, s in h.written)
    assert h.started == [f"{recorded['id']}:7"]     # an unnamed child: named after its step
