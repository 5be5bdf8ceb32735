"""The registry store: versions, changesets, atomic commits, the on-disk layout, and reads that
follow new versions. (What to commit, and the file baseline, are decided by the keeper:
tests/test_registry_keeper.py.)"""
from __future__ import annotations

import json

import pytest

from wippy.registry import store as store_mod
from wippy.registry.store import FORMAT, Store

pytestmark = pytest.mark.timeout(60)


def entry(i, kind="registry.entry", **data):
    return {"id": f"app:e{i}", "kind": kind, "meta": {}, "data": data}


def boot(s: Store, files: dict) -> int:
    """What the first boot commits: the files as v0, and the files as the baseline."""
    return s.commit({"created": list(files.values())}, "files", files)


def test_versions_count_up_from_0_and_each_holds_its_changeset(tmp_path):
    s = Store(str(tmp_path / "reg"))
    assert s.version() is None and s.entries() == {}
    assert boot(s, {"app:e1": entry(1, x=1)}) == 0
    assert s.commit({"updated": [entry(1, x=2)]}) == 1
    assert [h["version"] for h in s.history()] == [0, 1]
    assert s.changeset(1)["updated"] == [entry(1, x=2)]
    assert s.changeset(1)["before"] == {"app:e1": entry(1, x=1)}
    assert s.get("app:e1")["data"] == {"x": 2}
    s.close()


def test_a_reader_in_another_process_sees_committed_versions(tmp_path):
    import subprocess
    import sys
    w = Store(str(tmp_path / "reg"))
    boot(w, {"app:e1": entry(1)})
    w.commit({"created": [entry(2)], "deleted": ["app:e1"]})
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
    boot(s, {"app:e1": entry(1, x=1)})
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
    boot(s, {"app:e1": entry(1, x=1)})
    s.commit({"created": [entry(2)], "updated": [entry(1, x=2)]})
    s.commit({"deleted": ["app:e1"]})
    assert s.snapshot_at(0) == {"app:e1": entry(1, x=1)}
    assert s.snapshot_at(1) == {"app:e1": entry(1, x=2), "app:e2": entry(2)}
    assert s.snapshot_at(2) == {"app:e2": entry(2)} == s.entries()
    s.close()


def test_a_file_baseline_can_be_recorded_without_a_version(tmp_path):
    s = Store(str(tmp_path / "reg"))
    assert s.file_baseline() is None
    boot(s, {"app:e1": entry(1)})
    s.record_files({"app:e1": entry(1), "app:e2": entry(2)})
    assert s.file_baseline() == {"app:e1": entry(1), "app:e2": entry(2)}
    assert s.version() == 0 and list(s.entries()) == ["app:e1"]
    s.close()


def test_entries_follow_new_versions_and_an_earlier_snapshot_never_changes(tmp_path, monkeypatch):
    replays = []
    replay = Store._replay
    monkeypatch.setattr(Store, "_replay",
                        lambda self, *a: replays.append(a[2:]) or replay(self, *a))
    w = Store(str(tmp_path / "reg"))
    boot(w, {"app:e1": entry(1, x=1), "app:e2": entry(2)})
    first = w.entries()
    assert first == {"app:e1": entry(1, x=1), "app:e2": entry(2)}
    w.commit({"created": [entry(3)], "updated": [entry(1, x=2)], "deleted": ["app:e2"]})
    w.commit({"updated": [entry(3, y=[1, 2])]})
    second = w.entries()
    assert replays == [(0, 2)]                                          # from the changesets
    assert second == {"app:e1": entry(1, x=2), "app:e3": entry(3, y=[1, 2])}
    assert first == {"app:e1": entry(1, x=1), "app:e2": entry(2)}     # as it was handed out
    assert second is w.entries()                                       # once per version
    w.close()
    fresh = Store(str(tmp_path / "reg"), readonly=True)                # decodes from scratch
    assert fresh.entries() == second
    fresh.close()


def test_a_reader_far_behind_reads_the_whole_snapshot_again(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "MAX_REPLAY", 2)
    w = Store(str(tmp_path / "reg"))
    boot(w, {"app:e1": entry(1, n=0)})
    assert w.entries()["app:e1"]["data"] == {"n": 0}
    for n in range(1, 6):
        w.commit({"updated": [entry(1, n=n)], "created": [entry(n + 1)]})
    monkeypatch.setattr(Store, "_replay", lambda *a: pytest.fail("replayed 5 versions"))
    assert w.entries() == {"app:e1": entry(1, n=5), **{f"app:e{i}": entry(i) for i in range(2, 7)}}
    w.close()


def test_a_full_map_fails_the_commit_with_a_storage_error_and_keeps_the_store_usable(tmp_path):
    from wippy.errors import StorageError
    s = Store(str(tmp_path / "reg"), map_size=256 * 1024)
    boot(s, {"app:e1": entry(1)})
    with pytest.raises(StorageError, match=r"reg: its LMDB map is full \(262144 bytes\)") as err:
        s.commit({"created": [entry(2, blob="x" * 400_000)]})
    assert err.value.path == str(tmp_path / "reg")
    assert s.version() == 0 and s.get("app:e2") is None          # nothing of it was written
    assert s.commit({"created": [entry(3, small=1)]}) == 1         # the next write succeeds
    s.close()


def test_read_only_stores_of_one_file_share_one_environment(tmp_path):
    w = Store(str(tmp_path / "reg"))
    boot(w, {"app:e1": entry(1)})
    w.close()
    first = Store(str(tmp_path / "reg"), readonly=True)
    second = Store(str(tmp_path / "reg"), readonly=True)    # LMDB alone refuses this
    assert first.env is second.env
    first.close()
    assert second.get("app:e1") is not None                 # still open for the other user
    second.close()
    third = Store(str(tmp_path / "reg"), readonly=True)     # and opened again afterwards
    assert third.version() == 0
    third.close()
