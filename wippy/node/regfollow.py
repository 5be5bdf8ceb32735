"""A cluster node's registry follows the cluster's order of versions (S12): the part of the
:class:`~wippy.node.registry.RegistryKeeper` that talks to
:class:`~wippy.cluster.registry.VersionLog`.

* :meth:`Follower.join` (boot): a local store that is not a prefix of the cluster's history
  (a data directory used without the cluster, or with another database) is emptied, with a
  warning, and rebuilt from the records; then every missing version is appended, a batch
  (``BATCH`` records) per LMDB transaction.
* :meth:`Follower.publish` (every commit of this node): the history record goes to the
  database first, as the next version (its paths relative to the application:
  :class:`~wippy.cluster.registry.AppPaths`); the same record is then appended locally. A
  number taken by another node raises :class:`~wippy.errors.VersionTaken` and nothing is
  written.
* :meth:`Follower.catch_up` (a notification, a periodic check, a lost race): the versions
  other nodes committed, appended one by one and handed to ``committed`` (which announces
  each to the hosts, as a local commit is).

Rejected: merging a mismatched local store into the cluster's history (its versions made
elsewhere would get new numbers, or collide with the cluster's). The database is the
authority; the local copy is a cache of it, and a cache that disagrees is rebuilt.
"""
from __future__ import annotations

import logging
import time as _time
from typing import Any, Callable, Mapping

from ..cluster.registry import BATCH, AppPaths, Follow, Head, Remote, VersionLog, follow
from ..errors import RegistryError, VersionTaken
from ..registry.store import Store, history_record

__all__ = ["Follower", "describe_changes"]

log = logging.getLogger("wippy.registry")

Snapshot = dict[str, dict[str, Any]]


def describe_changes(changes: Mapping[str, list]) -> str:
    """``created a, b; updated c; deleted d`` (ids; at most a few of each)."""
    parts = []
    for key in ("created", "updated", "deleted"):
        ids = [e if isinstance(e, str) else e["id"] for e in changes.get(key, [])]
        if ids:
            more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
            parts.append(f"{key} {', '.join(ids[:5])}{more}")
    return "; ".join(parts) or "nothing"


def changes_of(record: Mapping[str, Any]) -> dict[str, list]:
    """A history record's changeset."""
    return {k: list(record.get(k, [])) for k in ("created", "updated", "deleted")}


class Follower:
    """The local store kept in the cluster's order (see the module docstring)."""

    def __init__(self, store: Store, versions: VersionLog, app_dir: str,
                 committed: Callable[[Remote], None]) -> None:
        self.store = store
        self.versions = versions
        self.paths = AppPaths(app_dir)
        self._committed = committed
        self.fetched = 0            # versions fetched from the cluster, since start

    @property
    def node(self) -> str:
        return self.versions.node

    def join(self) -> Head:
        """Check the local store against the cluster's history (rebuild it when it is not a
        prefix), append what is missing, and return the cluster's head as of then. Raises
        StorageError when the database cannot be read or the store written."""
        local = self.store.version()
        head = self.versions.latest()
        theirs = self.versions.record(local) if local is not None and head is not None \
            and local <= head else None
        theirs = None if theirs is None else self.paths.record_in(theirs)
        ours = self.store.changeset(local) if local is not None else None
        verdict, why = follow(local, ours, head, theirs)
        if verdict is Follow.REBUILD:
            log.warning("registry: the local copy at %s is not the cluster's (%s): rebuilt from "
                        "the cluster's history at %s", self.store.path, why, self.versions.where)
            self.store.reset()
        first = self.store.version()
        while True:
            batch = self._fetch()
            if batch:
                self.store.append([r.record for r in batch])
                self.fetched += len(batch)
            for r in batch:
                self._committed(r)
            if len(batch) < BATCH:      # a short batch is the end: no statement to find that out
                break
        if self.store.version() != first:
            log.info("registry: v%s to v%s fetched from the cluster at %s",
                     0 if first is None else first + 1, self.store.version(),
                     self.versions.where)
        now = self.versions.head()
        if now.files is None:
            return now
        return Head(now.version, self.paths.files_in(now.files), now.files_version,
                    now.files_node)

    def _fetch(self) -> list[Remote]:
        """The next batch of versions this store lacks, with this node's paths."""
        return [Remote(self.paths.record_in(r.record), r.node)
                for r in self.versions.since(self.store.version(), BATCH)]

    def publish(self, changes: dict[str, list], source: str, files: Snapshot | None,
                author: dict[str, Any] | None) -> int:
        """Make ``changes`` the cluster's next version, then this store's; returns it.
        Raises VersionTaken when another node committed that number first (nothing is
        written), StorageError when the database or the store fails."""
        entries = self.store.entries()
        ids = [e["id"] for e in changes["created"] + changes["updated"]] + changes["deleted"]
        before = {i: entries.get(i) for i in ids}
        current = self.store.version()
        version = 0 if current is None else current + 1
        record = history_record(version, changes, source, before,
                                {**(author or {}), "node": self.node}, _time.time())
        if not self.versions.publish(self.paths.record_out(record),
                                     None if files is None else self.paths.files_out(files)):
            raise VersionTaken(f"registry v{version} was committed by another node first")
        self.store.append([record], files)
        return version

    def catch_up(self) -> list[Remote]:
        """Append the versions the cluster has beyond this store, one by one, handing each to
        ``committed``; returns them. Raises StorageError, or RegistryError when the cluster's
        history is behind this store (the database was replaced under the running node)."""
        got: list[Remote] = []
        while True:
            batch = self._fetch()
            for r in batch:
                self.store.append([r.record])
                self.fetched += 1
                got.append(r)
                self._committed(r)
            if len(batch) < BATCH:
                break
        if not got:
            latest, local = self.versions.latest(), self.store.version()
            if local is not None and (latest is None or latest < local):
                raise RegistryError(
                    f"the cluster's registry (at {self.versions.where}) is at "
                    f"v{latest if latest is not None else '-'}, behind this node's v{local}: "
                    "its database was replaced or rolled back; restart the node to rebuild "
                    "its copy")
        return got
