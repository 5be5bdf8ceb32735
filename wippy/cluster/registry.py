"""The registry's versions in PostgreSQL: the order every node of a cluster commits them in
(S12; S3 for the registry's rules).

Each node keeps its registry in LMDB, which its hosts read (:mod:`wippy.registry.store`); in a
cluster the database decides which change is version N. A node publishes a change as the next
version here first (:meth:`VersionLog.publish`), then commits the same history record to its
own store and announces it; the others fetch what they lack (:meth:`VersionLog.since`), in
order, and commit each record as it is, with the same number.

* ``wippy_registry``: ``version`` (the primary key: two nodes racing for the same number,
  one of them finds it taken), ``rec`` (the history record, byte for byte what LMDB keeps:
  :func:`wippy.registry.store.history_record`), ``node`` (who committed it), ``committed``
  (database time).
* ``wippy_cluster_meta`` row ``registry.files``: what the application's files said when a
  node last applied them (``{"version", "node", "files"}``): the baseline a booting node's
  files are compared with (S3: a node booting with different files applies the difference).

Paths. A stored entry names its file (``path``), the directory its ``file://`` source is
relative to (``base_dir``) and its source (``data.source``, made absolute by the loader), all
absolute on the node that read it. In the database they are relative to the application's
directory (``@app/config/_index.yaml``, ``file://@app/config/x.lua``: :class:`AppPaths`), and
each node reads them under its own: nodes may run the application from different
directories, and an entry one node's files made names the same file in every node's copy.

A publish is one statement: the insert (refused when the number is taken, or when it would
leave a gap), the new baseline when the version came from files, and a NOTIFY on the
registry's channel (``registry N NODE``, :mod:`.notify`) so the others fetch it at once.

Rejected: keeping the whole registry (the snapshot) in the database and reading it from there.
The hosts read LMDB directly, without a round trip per lookup; the database only has to say
the order, and a node rebuilds its snapshot from the records.
"""
from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import ClusterError, StorageError
from .db import Db
from .membership import check_name
from .notify import REGISTRY_CHANNEL, Listener, Wake, notify_sql
from .schema import ensure

__all__ = ["VersionLog", "Remote", "Head", "Follow", "AppPaths", "follow", "open_log",
           "wake_versions", "BATCH", "FILES_KEY", "APP_MARK"]

BATCH = 500             # records one fetch reads at most (a node far behind reads in batches)
FILES_KEY = "registry.files"
APP_MARK = "@app"       # the application's directory, in the paths the database holds
_PATH_FIELDS = ("path", "base_dir")

_NOTIFY = notify_sql(f"'{Wake.REGISTRY.value} ' || version || ' ' || %(node)s",
                     REGISTRY_CHANNEL)
_INSERT = """WITH ins AS (
    INSERT INTO wippy_registry (version, rec, node)
    SELECT %(version)s, %(rec)s, %(node)s
    WHERE coalesce((SELECT max(version) FROM wippy_registry), -1) = %(version)s - 1
    ON CONFLICT (version) DO NOTHING RETURNING version){base}
SELECT version, """ + _NOTIFY + " FROM ins"
_BASE = """, base AS (
    INSERT INTO wippy_cluster_meta (key, value) SELECT '""" + FILES_KEY + """', %(files)s FROM ins
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value)"""


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)      # the bytes LMDB's history keeps


@dataclass(frozen=True, slots=True)
class Remote:
    """A version as the cluster holds it: the history record and the node that made it."""

    record: dict[str, Any]
    node: str

    @property
    def version(self) -> int:
        return int(self.record["version"])


@dataclass(frozen=True, slots=True)
class Head:
    """The cluster's registry at a glance: its newest version (None: no registry yet) and
    the files' baseline with the version and node that wrote it."""

    version: int | None
    files: dict[str, dict[str, Any]] | None
    files_version: int | None = None
    files_node: str | None = None


class AppPaths:
    """Entries' paths between this node (absolute, under ``app_dir``) and the database
    (relative to :data:`APP_MARK`): ``path``, ``base_dir``, and every string of ``data`` that
    is a path or a ``file://`` URL under the application (the loader makes sources absolute).
    A path outside the application, or empty (an entry made at run time), is kept as it is."""

    def __init__(self, app_dir: str) -> None:
        self.app_dir = os.path.realpath(app_dir)
        self._mine = self.app_dir + os.sep

    def _out(self, p: Any) -> Any:
        if not isinstance(p, str) or not p:
            return p
        if p == self.app_dir:
            return APP_MARK
        if p.startswith(self._mine):
            return APP_MARK + "/" + p[len(self._mine):].replace(os.sep, "/")
        if p.startswith("file://" + self._mine):
            return "file://" + self._out(p[len("file://"):])
        return p

    def _in(self, p: Any) -> Any:
        if not isinstance(p, str) or not p:
            return p
        if p == APP_MARK:
            return self.app_dir
        if p.startswith(APP_MARK + "/"):
            return os.path.join(self.app_dir, *p[len(APP_MARK) + 1:].split("/"))
        if p.startswith("file://" + APP_MARK + "/"):
            return "file://" + self._in(p[len("file://"):])
        return p

    def _walk(self, v: Any, how: Any) -> Any:
        if isinstance(v, str):
            return how(v)
        if isinstance(v, dict):
            return {k: self._walk(x, how) for k, x in v.items()}
        if isinstance(v, list):
            return [self._walk(x, how) for x in v]
        return v

    def _entry(self, e: Any, how: Any) -> Any:
        if not isinstance(e, dict):
            return e
        out = {**e, **{k: how(e[k]) for k in _PATH_FIELDS if k in e}}
        if "data" in e:
            out["data"] = self._walk(e["data"], how)
        return out

    def _record(self, rec: dict[str, Any], how: Any) -> dict[str, Any]:
        out = dict(rec)
        for key in ("created", "updated"):
            if key in rec:
                out[key] = [self._entry(e, how) for e in rec[key]]
        if "before" in rec:
            out["before"] = {i: self._entry(e, how) for i, e in rec["before"].items()}
        return out

    def record_out(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A history record as the database keeps it."""
        return self._record(rec, self._out)

    def record_in(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A history record from the database, as this node keeps it."""
        return self._record(rec, self._in)

    def files_out(self, files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The files' baseline as the database keeps it."""
        return {i: self._entry(e, self._out) for i, e in files.items()}

    def files_in(self, files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The files' baseline from the database, as this node reads it."""
        return {i: self._entry(e, self._in) for i, e in files.items()}


class Follow(enum.Enum):
    """What a booting node does with its local store (see :func:`follow`)."""

    KEEP = "keep"           # a prefix of the cluster's history: fetch what is missing
    REBUILD = "rebuild"     # not the cluster's history: empty it and fetch everything


def follow(local: int | None, local_record: dict[str, Any] | None, head: int | None,
           cluster_record: dict[str, Any] | None) -> tuple[Follow, str]:
    """Whether a local store at version ``local`` (its record ``local_record``) is a prefix
    of the cluster's history (newest ``head``; its own record of version ``local`` is
    ``cluster_record``), and why not. The records are compared whole: two stores that made
    their own version 0 differ at least in its time."""
    if local is None:
        return Follow.KEEP, ""
    if head is None:
        return Follow.REBUILD, f"it holds v{local} but the cluster has no registry yet"
    if local > head:
        return Follow.REBUILD, f"it is at v{local}, ahead of the cluster's v{head}"
    if local_record is None or cluster_record is None or local_record != cluster_record:
        return Follow.REBUILD, f"its v{local} is not the cluster's v{local}"
    return Follow.KEEP, ""


def wake_versions(payloads: list[str], me: str) -> int | None:
    """The newest version other nodes announced in these notifications (None: none)."""
    newest: int | None = None
    prefix = Wake.REGISTRY.value + " "
    for p in payloads:
        if not p.startswith(prefix):
            continue
        parts = p.split(" ")
        if len(parts) < 2 or not parts[1].isdigit() or (len(parts) > 2 and parts[2] == me):
            continue
        newest = max(newest if newest is not None else -1, int(parts[1]))
    return newest


class VersionLog:
    """The cluster's registry versions as node ``node`` reads and writes them (one
    connection of its own, used from the node's loop; every method may raise
    StorageError when the database cannot be reached)."""

    def __init__(self, db: Db, node: str) -> None:
        self.db = db
        self.node = node

    @property
    def where(self) -> str:
        return self.db.where

    def head(self) -> Head:
        """The newest version and the files' baseline (one statement)."""
        row = self.db.run(lambda c: c.execute(
            "SELECT (SELECT max(version) FROM wippy_registry), "
            "(SELECT value FROM wippy_cluster_meta WHERE key = %s)", (FILES_KEY,)).fetchone())
        base = json.loads(row[1]) if row[1] is not None else None
        if base is None:
            return Head(row[0], None)
        return Head(row[0], base["files"], base.get("version"), base.get("node"))

    def latest(self) -> int | None:
        """The newest version (None: no registry yet)."""
        row = self.db.run(lambda c: c.execute("SELECT max(version) FROM wippy_registry")
                          .fetchone())
        return None if row[0] is None else int(row[0])

    def publish(self, record: dict[str, Any],
                files: dict[str, dict[str, Any]] | None = None) -> bool:
        """Insert ``record`` as its version, with ``files`` as the new baseline when given,
        and wake the other nodes; False when that version is taken (another node committed
        it first: catch up and plan again) or would not follow the cluster's newest."""
        params: dict[str, Any] = {"version": record["version"], "rec": _dump(record),
                                  "node": self.node}
        sql = _INSERT.format(base="")
        if files is not None:
            params["files"] = _dump({"version": record["version"], "node": self.node,
                                     "files": files})
            sql = _INSERT.format(base=_BASE)
        row = self.db.run(lambda c: c.execute(sql, params).fetchone())
        return row is not None

    def since(self, version: int | None, limit: int = BATCH) -> list[Remote]:
        """The versions after ``version`` (all of them for None), oldest first, at most
        ``limit``."""
        after = -1 if version is None else version
        rows = self.db.run(lambda c: c.execute(
            "SELECT rec, node FROM wippy_registry WHERE version > %s ORDER BY version LIMIT %s",
            (after, limit)).fetchall())
        return [Remote(json.loads(r[0]), r[1]) for r in rows]

    def record(self, version: int) -> dict[str, Any] | None:
        """The history record of ``version`` (None when the cluster has no such version)."""
        row = self.db.run(lambda c: c.execute(
            "SELECT rec FROM wippy_registry WHERE version = %s", (version,)).fetchone())
        return None if row is None else json.loads(row[0])

    def history(self) -> Iterator[Remote]:
        """Every version, oldest first (read in batches)."""
        after: int | None = None
        while True:
            batch = self.since(after)
            yield from batch
            if len(batch) < BATCH:
                return
            after = batch[-1].version

    def listener(self) -> Listener:
        """A listener of the versions other nodes announce (not yet connected)."""
        return Listener(self.db.dsn, f"wippy registry listener {self.node}", REGISTRY_CHANNEL)

    def close(self) -> None:
        self.db.close()


def open_log(dsn: str, node: str) -> VersionLog:
    """Connect as ``node`` and create the tables if missing. Raises ClusterError (naming the
    database, never its password) when the database cannot be used or ``node`` is not a
    valid name."""
    check_name(node)
    db = Db(dsn, application=f"wippy registry {node}")
    try:
        with db.transaction() as cur:
            ensure(cur)
    except StorageError as exc:
        db.close()
        raise ClusterError(f"cannot join the cluster at {db.where}: {exc.cause}") from None
    return VersionLog(db, node)
