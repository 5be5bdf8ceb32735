"""The registry store: versions, changesets, atomic commits, and the on-disk layout."""
from __future__ import annotations

import json

from wippy.registry.store import FORMAT, Store, diff_snapshots


def entry(i, kind="registry.entry", **data):
    return {"id": f"app:e{i}", "kind": kind, "meta": {}, "data": data}


def test_diff_names_created_updated_deleted():
    old = {"a": {"id": "a", "v": 1}, "b": {"id": "b"}}
    new = {"a": {"id": "a", "v": 2}, "c": {"id": "c"}}
    assert diff_snapshots(old, new) == {"created": [{"id": "c"}], "updated": [{"id": "a", "v": 2}],
                                        "deleted": ["b"]}


def test_first_load_is_v0_and_unchanged_files_add_no_version(tmp_path):
    s = Store(str(tmp_path / "reg"))
    snap = {"app:e1": entry(1, x=1)}
    assert s.commit_files(snap) == (0, True)
    assert s.commit_files(snap) == (0, False)
    assert s.commit_files({"app:e1": entry(1, x=2)}) == (1, True)
    assert [h["version"] for h in s.history()] == [0, 1]
    assert s.get("app:e1")["data"] == {"x": 2}
    s.close()


def test_a_reader_in_another_process_sees_committed_versions(tmp_path):
    import subprocess
    import sys
    w = Store(str(tmp_path / "reg"))
    w.commit_files({"app:e1": entry(1)})
    w.commit_files({"app:e2": entry(2)})
    code = ("import sys; from wippy.registry.store import Store; r = Store(sys.argv[1], readonly=True); "
            "print(r.version(), r.get('app:e1'), r.get('app:e2')['kind'])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "reg")], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.split() == ["1", "None", "registry.entry"], out.stderr
    w.close()


def test_on_disk_layout_is_stable(tmp_path):
    """Golden layout: key encodings and JSON shapes that old data directories rely on."""
    import lmdb
    s = Store(str(tmp_path / "reg"))
    s.commit_files({"app:e1": entry(1, x=1)})
    s.close()
    env = lmdb.open(str(tmp_path / "reg"), max_dbs=4, readonly=True)
    with env.begin() as txn:
        meta = dict(txn.cursor(db=env.open_db(b"meta", txn=txn)))
        hist = dict(txn.cursor(db=env.open_db(b"history", txn=txn)))
        ents = dict(txn.cursor(db=env.open_db(b"entries", txn=txn)))
    env.close()
    meta_files = meta.pop(b"files")
    assert meta == {b"format": FORMAT.encode(), b"version": b"0"}
    assert list(hist) == [b"\x00" * 8]
    record = json.loads(hist[b"\x00" * 8])
    assert set(record) == {"version", "time", "source", "created", "updated", "deleted", "before"}
    assert (record["version"], record["source"], record["created"], record["updated"],
            record["deleted"], record["before"]) == (0, "files", [entry(1, x=1)], [], [], {"app:e1": None})
    assert json.loads(meta_files) == {"app:e1": entry(1, x=1)}
    assert json.loads(ents[b"app:e1"]) == entry(1, x=1)


def test_snapshot_at_rebuilds_any_version(tmp_path):
    s = Store(str(tmp_path / "reg"))
    s.commit_files({"app:e1": entry(1, x=1)})
    s.commit({"created": [entry(2)], "updated": [entry(1, x=2)]})
    s.commit({"deleted": ["app:e1"]})
    assert s.snapshot_at(0) == {"app:e1": entry(1, x=1)}
    assert s.snapshot_at(1) == {"app:e1": entry(1, x=2), "app:e2": entry(2)}
    assert s.snapshot_at(2) == {"app:e2": entry(2)} == s.entries()
    s.close()


def test_entries_created_at_run_time_survive_a_reboot_with_changed_files(tmp_path):
    s = Store(str(tmp_path / "reg"))
    s.commit_files({"app:e1": entry(1, x=1)})
    s.commit({"created": [entry(9, note="from an agent")]})
    version, changed = s.commit_files({"app:e1": entry(1, x=5)})
    assert (version, changed) == (2, True)
    assert s.get("app:e9")["data"] == {"note": "from an agent"}
    assert s.get("app:e1")["data"] == {"x": 5}
    assert s.commit_files({"app:e1": entry(1, x=5)}) == (2, False)
    s.close()
