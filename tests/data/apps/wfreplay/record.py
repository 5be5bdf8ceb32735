"""Record the journals that tests/test_workflow_histories.py replays (run by hand, on purpose):

    python tests/data/apps/wfreplay/record.py TAG

boots a node on a copy of this application, runs every workflow of it to its end (sending the
signal those that wait for one expect) and writes each journal, with the workflow's input and
recorded result, to ``tests/data/golden/history_<entry name>_<TAG>.json``. A history recorded
by a released version stays in the repository: the replay tests prove that journals written by
that version still replay.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import wippy
from wippy.workflow.journal import Journal

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "..", "golden")
RUNS = [("app:py_all", {"x": 21}, True), ("app:py_after", {"x": 5}, False),
        ("app:lua_all", {"x": 21}, True)]


def main(tag: str) -> None:
    tmp = tempfile.mkdtemp(prefix="wfrec-", dir="/tmp")
    app = os.path.join(tmp, "app")
    shutil.copytree(HERE, app, ignore=shutil.ignore_patterns("record.py", "__pycache__"))
    try:
        with wippy.Node(app) as node:
            for entry, input_, signal in RUNS:
                pid = node.workflow_start(entry, input_)
                if signal:
                    node.send(pid, "go", {"n": 1})
                node.workflow_result(pid, timeout=30)
        j = Journal(os.path.join(app, ".wippy", "data", "journal"), readonly=True)
        for entry, _, _ in RUNS:
            for wf in j.workflows():
                if wf["entry"] == entry:
                    out = {"entry": entry, "id": wf["id"], "input": wf["input"],
                           "status": wf["status"], "result": wf["result"], "error": wf["error"],
                           "steps": j.steps(wf["id"]), "signals": j.signals(wf["id"])}
                    name = entry.partition(":")[2]
                    with open(os.path.join(GOLDEN, f"history_{name}_{tag}.json"), "w") as fh:
                        json.dump(out, fh, indent=1, sort_keys=True)
                        fh.write("\n")
        j.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
