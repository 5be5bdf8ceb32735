"""The workflow journal's on-disk format, pinned byte for byte against a golden file (a change
of the format breaks this test; update tests/data/golden/journal_v1.json only on purpose)."""
from __future__ import annotations

import json
import os

from wippy.workflow.journal import FORMAT, Journal

GOLDEN_FILE = os.path.join(os.path.dirname(__file__), "data", "golden", "journal_v1.json")

GOLDEN = {
    b"workflows": {b"w1": b'{"created":1.5,"entry":"app:order","error":null,"finished":null,'
                          b'"host":"app:flows","id":"w1","input":{"n":2},"name":"job-1",'
                          b'"result":null,"signals":1,"status":"running"}'},
    b"steps": {b"w1\x00" + (0).to_bytes(8, "big"): b'{"key":null,"op":"now","result":2.5}',
               b"w1\x00" + (1).to_bytes(8, "big"):
                   b'{"error":null,"key":"app:charge","op":"call","result":4}'},
    b"signals": {b"w1\x00" + (0).to_bytes(8, "big"):
                     b'{"from":"{client/3|0}","payload":{"x":1},"topic":"go"}'},
    b"names": {b"job-1": b"w1"},
    b"meta": {b"format": FORMAT.encode()},
}


def test_journal_layout_is_stable(tmp_path):
    j = Journal(str(tmp_path / "journal"))
    j.commit([
        ("wf", {"id": "w1", "entry": "app:order", "host": "app:flows", "input": {"n": 2},
                "name": "job-1", "status": "running", "result": None, "error": None,
                "created": 1.5, "finished": None, "signals": 1}),
        ("name", "job-1", "w1"),
        ("step", "w1", 0, {"op": "now", "key": None, "result": 2.5}),
        ("step", "w1", 1, {"op": "call", "key": "app:charge", "result": 4, "error": None}),
        ("signal", "w1", 0, {"topic": "go", "payload": {"x": 1}, "from": "{client/3|0}"}),
    ])
    found = {}
    with j.env.begin() as txn:
        for db in GOLDEN:
            found[db] = dict(txn.cursor(db=j.env.open_db(db, txn=txn)))
    assert found == GOLDEN
    with open(GOLDEN_FILE) as fh:
        golden = json.load(fh)
    assert {db.decode(): {k.hex(): v.decode() for k, v in kv.items()} for db, kv in found.items()} == golden
    assert j.by_name("job-1") == "w1"
    assert [s["op"] for s in j.steps("w1")] == ["now", "call"]
    j.close()


def test_a_commit_the_journal_cannot_hold_writes_nothing_and_names_the_journal(tmp_path):
    import pytest

    from wippy.errors import StorageError
    path = str(tmp_path / "journal")
    j = Journal(path, map_size=256 * 1024)
    j.commit([("name", "a", "w1")])
    with pytest.raises(StorageError, match="its LMDB map is full") as err:
        j.commit([("name", "b", "w2"), ("step", "w2", 0, {"op": "now", "result": "x" * 400_000})])
    assert err.value.path == path
    assert j.by_name("b") is None and j.by_name("a") == "w1"
    j.commit([("name", "c", "w3")])
    assert j.by_name("c") == "w3"
    j.close()
