"""The registry's LMDB store: the only module that imports lmdb.

One writer (the node), many readers (the hosts, opened after fork, read-only). Layout, frozen by
a golden test (``tests/test_store.py``):

* ``entries``: entry id (utf-8) -> JSON of the entry's plain form (``id kind meta data`` plus
  ``path``/``base_dir`` where it came from a file).
* ``history``: version number (8-byte big-endian) -> JSON changeset
  ``{"version": n, "created": [...], "updated": [...], "deleted": [...]}`` (full entries for
  created/updated, ids for deleted).
* ``meta``: ``version`` -> decimal string of the current version; ``format`` -> "1".

The first load is version 0; a later boot stores a new version only when the files differ from
the stored current version (S3).
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any, Iterator

import lmdb

__all__ = ["Store", "diff_snapshots", "FORMAT"]

FORMAT = "1"
MAP_SIZE = 64 << 30     # address space only; reserving it up front means we never resize
MAX_READERS = 1024


def _key(version: int) -> bytes:
    return struct.pack(">Q", version)


def diff_snapshots(old: dict[str, dict], new: dict[str, dict]) -> dict[str, list]:
    """Pure: what changed from ``old`` to ``new`` (both id -> plain entry)."""
    created = [new[k] for k in new if k not in old]
    updated = [new[k] for k in new if k in old and old[k] != new[k]]
    deleted = [k for k in old if k not in new]
    return {"created": created, "updated": updated, "deleted": deleted}


class Store:
    """Registry snapshot + history in one LMDB environment under ``path``."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        if not readonly:
            os.makedirs(path, mode=0o700, exist_ok=True)
        self.path = path
        self.readonly = readonly
        self.env = lmdb.open(path, map_size=MAP_SIZE, max_dbs=4, max_readers=MAX_READERS,
                             readonly=readonly, max_spare_txns=0, create=not readonly)
        if not readonly:
            self.env.reader_check()
        self._entries = self.env.open_db(b"entries", create=not readonly)
        self._history = self.env.open_db(b"history", create=not readonly)
        self._meta = self.env.open_db(b"meta", create=not readonly)

    def close(self) -> None:
        self.env.close()

    def reader_check(self) -> int:
        """Free reader slots of dead processes (call after a child dies)."""
        return self.env.reader_check()

    # -- reads ---------------------------------------------------------------------------
    def version(self) -> int | None:
        with self.env.begin(db=self._meta) as txn:
            raw = txn.get(b"version")
        return None if raw is None else int(raw)

    def get(self, entry_id: str) -> dict[str, Any] | None:
        with self.env.begin(db=self._entries) as txn:
            raw = txn.get(entry_id.encode())
        return None if raw is None else json.loads(raw)

    def entries(self) -> dict[str, dict[str, Any]]:
        with self.env.begin(db=self._entries) as txn:
            return {k.decode(): json.loads(v) for k, v in txn.cursor()}

    def history(self) -> Iterator[dict[str, Any]]:
        with self.env.begin(db=self._history) as txn:
            for _, v in txn.cursor():
                yield json.loads(v)

    # -- writes (node only) --------------------------------------------------------------
    def commit_snapshot(self, snapshot: dict[str, dict[str, Any]]) -> tuple[int, bool]:
        """Make ``snapshot`` current. Returns (version, changed). Atomic: one transaction."""
        with self.env.begin(write=True) as txn:
            raw = txn.get(b"version", db=self._meta)
            old = {k.decode(): json.loads(v) for k, v in txn.cursor(db=self._entries)}
            if raw is None:
                version, changes = 0, diff_snapshots({}, snapshot)
            else:
                changes = diff_snapshots(old, snapshot)
                if not any(changes.values()):
                    return int(raw), False
                version = int(raw) + 1
            for entry in changes["created"] + changes["updated"]:
                txn.put(entry["id"].encode(), json.dumps(entry, sort_keys=True).encode(), db=self._entries)
            for entry_id in changes["deleted"]:
                txn.delete(entry_id.encode(), db=self._entries)
            record = {"version": version, **changes}
            txn.put(_key(version), json.dumps(record, sort_keys=True).encode(), db=self._history)
            txn.put(b"version", str(version).encode(), db=self._meta)
            txn.put(b"format", FORMAT.encode(), db=self._meta)
        return version, True
