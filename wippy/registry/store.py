"""The registry's LMDB store: the only module that imports lmdb.

One writer (the node), many readers (the hosts, opened after fork, read-only). Layout, frozen by
a golden test (``tests/test_store.py``):

* ``entries``: entry id (utf-8) -> JSON of the entry's stored form
  (:func:`wippy.registry.entry.stored_entry`: ``id kind meta data path base_dir`` and, for a
  ``file://`` source, ``source_hash``).
* ``history``: version number (8-byte big-endian) -> JSON changeset
  ``{"version": n, "time": t, "source": s, "created": [...], "updated": [...], "deleted": [...],
  "before": {id: entry or null}}`` (full entries for created/updated, ids for deleted, and the
  entries as they were before, so any version's snapshot can be rebuilt backwards), and, from
  records written since authors are kept, ``"author"``: who made the version
  (``{"actor", "pid", "entry"}`` for a process, ``{"files": [paths]}`` for the application's
  files, ``{"via": "cli" | "api"}`` for the operator's tools). Older records lack it.
* An entry changed by a process under an actor carries ``"author"`` in its stored form
  (``{"actor", "context", "pid", "entry", "version"}``, set by the node, never by the caller):
  code from it runs with no more authority than its author's (S9).
* ``meta``: ``version`` -> decimal string of the current version; ``format`` -> "1";
  ``files`` -> JSON snapshot of what the application's files last said (the baseline that file
  edits are diffed against, so entries created at run time survive file reloads and reboots).

The first load is version 0. After that every change, from the files or from ``apply``, is one
transaction (:meth:`Store.commit`, the one commit) that writes the entries and the changeset
together: a node killed mid-apply leaves the old or the new version, never a mix. What to
commit is decided elsewhere (:mod:`wippy.registry.changes`); the store only keeps it. A node
of a cluster commits instead the records its cluster put in order (:meth:`Store.append`: the
same layout, written as they are, so every node's history holds the same records), and
empties a store that is not its cluster's (:meth:`Store.reset`) to rebuild it.

Reads: :meth:`Store.entries` decodes the snapshot once and then follows new versions through
their history records (a version's changeset holds its entries in full), so a new version costs
a reader the size of its change, not of the registry. Each new version gets a new read-only
mapping (:class:`~wippy.registry.snapmap.SnapMap`: a snapshot handed out earlier never
changes); unchanged entries, and most of the mapping itself, are shared between them.

Failures: every write goes through :func:`writing`, which turns LMDB's and the OS's errors (a
full disk: ``mdb_txn_commit: Input/output error``; a full map) into a
:class:`~wippy.errors.StorageError` naming the store and the free space left. The transaction
is aborted, so nothing half-written is committed, and the environment stays usable: the same
write succeeds once there is room again. The map is reserved at its largest up front
(``MAP_SIZE``) rather than grown, because growing it would make every reader in every host
catch up with the new size; a store that fills it fails clearly instead.

LMDB refuses to open one file twice in one OS process, so read-only environments are shared
(:func:`open_env`, counted, closed with :func:`close_env`): a program may attach to one node
several times (``wippy.connect``).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import time
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import lmdb

from ..errors import EntryNotFound, StorageError
from .snapmap import SnapMap, advance

__all__ = ["FORMAT", "MAP_SIZE", "Store", "history_record", "open_env", "close_env", "writing"]

FORMAT = "1"
MAP_SIZE = 64 << 30     # address space only; reserving it up front means we never resize
MAX_READERS = 1024
LOCK_HEADER = 8192      # LMDB's lock file: a header page, then one cache line per reader slot
READER_SLOT = 64
# A reader this many versions behind (or a tenth of the registry's entries, when more) decodes
# the whole snapshot again rather than replaying every changeset in between: a replayed version
# costs about as much as decoding ten entries.
MAX_REPLAY = 64


_SHARED: dict[str, list[Any]] = {}     # real path -> [read-only environment, users]


def open_env(path: str, max_dbs: int, readonly: bool = False, map_size: int = MAP_SIZE) -> Any:
    """An LMDB environment with wippy's settings (huge map reserved up front, no cached read
    transactions, enough reader slots); other durable stores (the workflow journal) use it.
    A read-only one is shared with every other user of the same file in this OS process
    (close it with :func:`close_env`). Raises StorageError when a writable one cannot be
    created."""
    if readonly:
        key = os.path.realpath(path)
        hit = _SHARED.get(key)
        if hit is not None:
            hit[1] += 1
            return hit[0]
        env = lmdb.open(path, map_size=map_size, max_dbs=max_dbs, max_readers=MAX_READERS,
                        readonly=True, max_spare_txns=0, create=False)
        _SHARED[key] = [env, 1]
        return env
    with writing(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        _reserve_lock_file(path)
        return lmdb.open(path, map_size=map_size, max_dbs=max_dbs, max_readers=MAX_READERS,
                         readonly=False, max_spare_txns=0, create=True)


def _reserve_lock_file(path: str) -> None:
    """Allocate the blocks of LMDB's lock file before LMDB maps it: LMDB extends the file with
    ftruncate (no blocks) and writes through the mapping, so on a full disk the first write to
    a reader slot kills the process with SIGBUS. Allocated here, a full disk is an ENOSPC we
    can report."""
    lock = os.path.join(path, "lock.mdb")
    size = LOCK_HEADER + MAX_READERS * READER_SLOT
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_blocks * 512 < size:
            os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


def close_env(env: Any) -> None:
    """Close an environment from :func:`open_env` (a shared one once its last user is done)."""
    for key, hit in list(_SHARED.items()):
        if hit[0] is env:
            hit[1] -= 1
            if hit[1] > 0:
                return
            del _SHARED[key]
            break
    env.close()


@contextmanager
def writing(path: str, map_size: int = MAP_SIZE) -> Iterator[None]:
    """Run a write to the store at ``path``; an LMDB or OS failure inside (a full disk or
    map, an I/O error) becomes a StorageError naming the store (the transaction is aborted).
    ``map_size``: the store's map, named when it is what filled up."""
    try:
        yield
    except lmdb.MapFullError:
        raise StorageError(path, f"its LMDB map is full ({map_size} bytes); nothing was "
                                 "written") from None
    except (lmdb.Error, OSError) as exc:
        raise StorageError(path, _describe(path, exc)) from None


def _describe(path: str, exc: BaseException) -> str:
    text = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
    where = path
    while where and not os.path.exists(where):
        where = os.path.dirname(where)
    try:
        free = shutil.disk_usage(where or ".").free
    except OSError:
        return text
    if free < (1 << 20) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return f"{text} (the disk is full: {free} bytes free); nothing was written"
    return f"{text}; nothing was written"


def _key(version: int) -> bytes:
    return struct.pack(">Q", version)


def history_record(version: int, changes: dict[str, list], source: str,
                   before: dict[str, Any], author: dict[str, Any] | None = None,
                   when: float | None = None) -> dict[str, Any]:
    """A version's history record (the layout above): what :meth:`Store.commit` keeps, and
    what a cluster stores for every node to append (:meth:`Store.append`)."""
    record = {"version": version, "time": time.time() if when is None else when,
              "source": source, "created": changes.get("created", []),
              "updated": changes.get("updated", []), "deleted": changes.get("deleted", []),
              "before": before}
    if author is not None:
        record["author"] = author
    return record


class Store:
    """Registry snapshot + history in one LMDB environment under ``path``."""

    def __init__(self, path: str, readonly: bool = False, map_size: int = MAP_SIZE) -> None:
        self.path = path
        self.readonly = readonly
        self.map_size = map_size
        self.env = open_env(path, 4, readonly, map_size)
        with nullcontext() if readonly else writing(path, map_size):
            if not readonly:
                self.env.reader_check()
            self._entries = self.env.open_db(b"entries", create=not readonly)
            self._history = self.env.open_db(b"history", create=not readonly)
            self._meta = self.env.open_db(b"meta", create=not readonly)
        self._cache: tuple[int, SnapMap] | None = None   # version, snapshot
        # (stored version, the version Wippy's API shows for it): see registry.effective_version
        self.effective_memo: tuple[int, int] | None = None

    def close(self) -> None:
        close_env(self.env)

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

    def entries(self) -> SnapMap:
        """The current snapshot, id -> stored entry (a read-only mapping).

        Decoded once, then brought up to date from the history records of the versions since
        (see the module's note), in the time of their changes (:mod:`.snapmap`); a snapshot
        returned earlier stays as it was."""
        with self.env.begin() as txn:
            raw = txn.get(b"version", db=self._meta)
            version = -1 if raw is None else int(raw)
            cached = self._cache
            if cached is not None and cached[0] == version:
                return cached[1]
            out = None
            if cached is not None and 0 <= version - cached[0] <= max(MAX_REPLAY,
                                                                    len(cached[1]) // 10):
                out = self._replay(txn, cached[1], cached[0], version)
            if out is None:
                out = SnapMap({k.decode(): json.loads(v) for k, v in txn.cursor(db=self._entries)})
        self._cache = (version, out)
        return out

    def _replay(self, txn: Any, snap: SnapMap, have: int, want: int) -> SnapMap | None:
        """``snap`` (at version ``have``) moved on to ``want`` through the history, or None
        when a record is missing."""
        out = snap
        for v in range(have + 1, want + 1):
            raw = txn.get(_key(v), db=self._history)
            if raw is None:
                return None
            out = advance(out, json.loads(raw))
        return out

    def history(self) -> Iterator[dict[str, Any]]:
        with self.env.begin(db=self._history) as txn:
            for _, v in txn.cursor():
                yield json.loads(v)

    def changeset(self, version: int) -> dict[str, Any] | None:
        with self.env.begin(db=self._history) as txn:
            raw = txn.get(_key(version))
        return None if raw is None else json.loads(raw)

    def snapshot_at(self, version: int) -> dict[str, dict[str, Any]]:
        """The registry as it was at ``version`` (rebuilt backwards from the current one)."""
        with self.env.begin() as txn:
            raw = txn.get(b"version", db=self._meta)
            if raw is None or not 0 <= version <= int(raw):
                raise EntryNotFound(f"version v{version} not found")
            snap = {k.decode(): json.loads(v) for k, v in txn.cursor(db=self._entries)}
            for v in range(int(raw), version, -1):
                record = json.loads(txn.get(_key(v), db=self._history) or b"{}")
                for entry_id, before in record.get("before", {}).items():
                    if before is None:
                        snap.pop(entry_id, None)
                    else:
                        snap[entry_id] = before
        return snap

    def file_baseline(self) -> dict[str, dict[str, Any]] | None:
        """What the application's files said when last applied (None before the first boot,
        or in data written before baselines were kept)."""
        with self.env.begin(db=self._meta) as txn:
            raw = txn.get(b"files")
        return None if raw is None else json.loads(raw)

    # -- writes (node only) --------------------------------------------------------------
    def commit(self, changes: dict[str, list], source: str = "api",
               files: dict[str, dict[str, Any]] | None = None,
               author: dict[str, Any] | None = None) -> int:
        """Commit one changeset (``created``/``updated`` entries, ``deleted`` ids) as the next
        version, atomically; returns it. ``files`` also records a new file baseline;
        ``author`` is kept in the history record (who made the version). Raises StorageError
        (and commits nothing) when the store cannot be written."""
        with writing(self.path, self.map_size), self.env.begin(write=True) as txn:
            raw = txn.get(b"version", db=self._meta)
            version = 0 if raw is None else int(raw) + 1
            before: dict[str, Any] = {}
            for entry in changes.get("created", []) + changes.get("updated", []):
                old = txn.get(entry["id"].encode(), db=self._entries)
                before[entry["id"]] = None if old is None else json.loads(old)
            for entry_id in changes.get("deleted", []):
                old = txn.get(entry_id.encode(), db=self._entries)
                before[entry_id] = None if old is None else json.loads(old)
            self._write(txn, history_record(version, changes, source, before, author), files)
        return version

    def append(self, records: list[dict[str, Any]],
               files: dict[str, dict[str, Any]] | None = None) -> int | None:
        """Commit history records made elsewhere (a cluster's versions, :mod:`wippy.cluster`)
        as they are, in one transaction: each must be the next version, and its changes are
        applied to the entries. Returns the new current version. Raises StorageError (and
        commits nothing) when a record is not the next version or the store cannot be
        written."""
        with writing(self.path, self.map_size), self.env.begin(write=True) as txn:
            raw = txn.get(b"version", db=self._meta)
            current = None if raw is None else int(raw)
            for i, record in enumerate(records):
                want = 0 if current is None else current + 1
                if record.get("version") != want:
                    raise StorageError(self.path, f"version v{record.get('version')} is not "
                                                  f"the next one (v{want}); nothing was written")
                self._write(txn, record, files if i == len(records) - 1 else None)
                current = want
        return current

    def _write(self, txn: Any, record: dict[str, Any],
               files: dict[str, dict[str, Any]] | None) -> None:
        """Apply ``record``'s changes to the entries and keep it as its version (in ``txn``)."""
        for entry in record.get("created", []) + record.get("updated", []):
            txn.put(entry["id"].encode(), json.dumps(entry, sort_keys=True).encode(),
                    db=self._entries)
        for entry_id in record.get("deleted", []):
            txn.delete(entry_id.encode(), db=self._entries)
        version = record["version"]
        txn.put(_key(version), json.dumps(record, sort_keys=True).encode(), db=self._history)
        txn.put(b"version", str(version).encode(), db=self._meta)
        txn.put(b"format", FORMAT.encode(), db=self._meta)
        if files is not None:
            txn.put(b"files", json.dumps(files, sort_keys=True).encode(), db=self._meta)

    def reset(self) -> None:
        """Empty the store: no entries, no history, no baseline (a cluster node whose local
        copy does not match its cluster's history rebuilds it). Raises StorageError."""
        with writing(self.path, self.map_size), self.env.begin(write=True) as txn:
            for db in (self._entries, self._history, self._meta):
                txn.drop(db, delete=False)
        self._cache = None
        self.effective_memo = None

    def record_files(self, files: dict[str, dict[str, Any]]) -> None:
        """Record a new file baseline without a new version (the files changed, but nothing
        they changed differs from the registry). Raises StorageError."""
        with writing(self.path, self.map_size), self.env.begin(write=True) as txn:
            txn.put(b"files", json.dumps(files, sort_keys=True).encode(), db=self._meta)
