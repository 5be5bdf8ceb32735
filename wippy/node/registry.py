"""The node's side of the registry: the single writer, the file watcher, the change feed.

Every change (``changes:apply()`` from a process or a program, ``apply_version``, an edited
file, and the application's files at boot) is planned by :func:`wippy.registry.changes.plan`,
committed in one LMDB transaction, then announced to every host and client in commit order;
the node applies its own effects (services, hosts) through the ``on_change`` callback.
Requests are handled one at a time by the node's loop, so concurrent appliers are serialized
and versions stay contiguous.

A change that the node cannot carry out is refused before it is committed (the planner's
checks), so a committed version never needs undoing; an invalid file edit is reported as
``file:line:col: ...`` and the running version stays. At boot the same refusal stops the start.

The keeper holds what the planner needs beside the snapshot: the code check (typed Lua must
translate; the node hands it to the loader and the planner, which cannot import it) and the
index of who references whom, kept up to date with every commit so that a change is checked in
proportion to its size.

Security (S9): a change from a process is checked against the context it acts under
(:class:`~wippy.security.callers.Caller`, handed in by the request handler): the planner asks
for ``registry.apply`` on every entry, ``registry.apply.python`` and ``registry.apply.security``
where they apply, and stamps every entry it creates or changes with its author; a rollback is
checked for ``registry.apply_version`` and then entry by entry like any change. Every version
records who made it (the process, the files that changed, the CLI, the API). The node's policy
book follows every commit, so a changed policy applies to the next check.

In a cluster (S12) the keeper is given the cluster's :class:`~wippy.cluster.registry.VersionLog`:
every commit is first published there as the next version (a number another node took first
makes the keeper catch up and plan the change again), then committed locally as the same
record; versions other nodes committed are fetched in order, committed as they are and
announced as a local one would be. At boot the local store is checked against the cluster's
history (rebuilt from it when it is not a prefix of it) and brought up to date before the
files are compared, and the files are compared with the cluster's baseline, not the store's.
When the keeper catches up, and what a failure of the database or a lost race means for its
work, is :mod:`.regsync`'s part; the moves between the database and the store are
:mod:`.regfollow`'s.

Rejected alternative: at boot, committing the files' difference straight into the store, as a
hot reload's poorer cousin. Two validation paths drift apart: a file edit that left an entry
made at run time dangling was refused while the node ran but committed by the next boot.
"""
from __future__ import annotations

import logging
import os
import time as _time
from typing import Any, Callable, Mapping, TypeVar

from ..cluster.registry import Remote, VersionLog
from ..errors import ConfigError, NodeError, RegistryError, StorageError
from ..registry import changes as regchange
from ..registry import loader
from ..registry.diff import delta_ops, is_empty
from ..registry.entry import CodeCheck
from ..registry.refs import RefIndex
from ..registry.store import Store
from ..security.book import BOOK
from ..security.callers import Caller
from ..security.rules import APPLY_VERSION
from ..typedlua.lint import check_entry
from .regfollow import Follower, changes_of, describe_changes
from .regsync import ClusterSync
from .watcher import DEBOUNCE_S, POLL_S, FileWatcher

__all__ = ["RegistryKeeper", "file_snapshot", "load_app"]

log = logging.getLogger("wippy.registry")

Snapshot = dict[str, dict[str, Any]]
T = TypeVar("T")


def load_app(app_dir: str, check_code: CodeCheck = check_entry) -> loader.LoadedApp:
    """Read the application at ``app_dir`` as the node does: the loader with the code check.
    Raises :class:`ConfigError` listing every problem."""
    return loader.load_app(app_dir, check_code=check_code)


def file_snapshot(app: loader.LoadedApp) -> Snapshot:
    """What the application's files say: id -> stored entry."""
    return {e.id: e.stored() for e in app.entries.values()}


class RegistryKeeper:
    """The registry's single writer: plans every change, commits it, announces it.

    Construction is the boot: the application's files become a version where they differ from
    what the store holds (the first boot is v0), through the same planner as every later
    change. Raises :class:`NodeError` naming every problem when the files are refused. With
    ``cluster`` (a node of a cluster) the order of versions is the cluster's (see the module
    docstring) and the boot follows it first.
    """

    #: The node reads its application with this (the loader and the keeper's code check).
    load_app = staticmethod(load_app)

    def __init__(self, store: Store, app: loader.LoadedApp,
                 on_change: Callable[[int, dict[str, list], str], None],
                 call_later: Callable[..., Any], watch: bool = True,
                 check_code: CodeCheck = check_entry, cluster: VersionLog | None = None) -> None:
        self.store = store
        self.sync = None if cluster is None else ClusterSync(
            Follower(store, cluster, app.app_dir, self._remote), cluster.listener(), self,
            call_later)
        self.app_dir = app.app_dir
        self.on_change = on_change
        self.call_later = call_later
        self.check_code = check_code
        self._refs: RefIndex | None = None
        self.watcher: FileWatcher | None = None
        self._dirty_at = 0.0
        self.reloads = 0
        self.last_reload_error: str | None = None
        self._booted = False
        self._boot(app)
        self._booted = True
        if watch:
            self.watcher = FileWatcher(self.app_dir)
            self.call_later(POLL_S, self._poll)
        if self.sync is not None:
            self.sync.start()

    def _boot(self, app: loader.LoadedApp) -> None:
        issues = [] if app.code_checked else [
            str(i) for e in app.entries.values() for i in self.check_code(e)]
        files = file_snapshot(app)
        if not issues:
            try:
                if self.sync is not None:
                    self.sync.boot(lambda baseline: self._apply_files(baseline, files),
                                   lambda: self._commit({"created": [], "updated": [],
                                                         "deleted": []}, "files", files,
                                                        {"files": []}, empty_ok=True))
                else:
                    self._boot_local(files)
            except regchange.ChangeRejected as exc:
                issues = exc.issues
        if issues:
            raise NodeError("the registry refused the application's files:\n" + "\n".join(issues))
        self.files = files
        self.version = self.store.version() or 0

    def _boot_local(self, files: Snapshot) -> None:
        baseline: Mapping[str, dict[str, Any]] | None = self.store.file_baseline()
        if baseline is None:
            # data from before file baselines were kept: the registry itself is the baseline
            baseline = self.store.entries() if self.store.version() is not None else {}
        self._apply_files(baseline, files)
        if self.store.version() is None:    # the first boot is v0, even with no entry at all
            self.store.commit({"created": [], "updated": [], "deleted": []}, "files",
                              files, {"files": []})

    @property
    def refs(self) -> RefIndex:
        """Who references whom in the committed registry: built when a change first needs it
        (O(registry), so a boot that changes nothing does not pay it), then kept up to date by
        every commit."""
        if self._refs is None:
            self._refs = RefIndex.of(self.store.entries())
        return self._refs

    # -- requests ------------------------------------------------------------------------
    def apply(self, ops: list[dict[str, Any]], source: str = "api", python: bool = True,
              caller: Caller | None = None) -> int:
        """Validate and commit ``ops``; returns the new version. Raises RegistryError, or
        PermissionDenied when ``caller`` may not make the change. Without ``python`` Python
        code entries may not be created or altered. In a cluster, a change that no longer
        applies once the versions other nodes committed first are in is refused the same way
        (the message says so)."""
        authorize = caller.authorize if caller is not None else None

        def attempt(again: str) -> int:
            stamp = caller.stamp(self._next_version()) if caller is not None else None
            try:
                changes = regchange.plan(self.store.entries(), ops, self.app_dir, python=python,
                                         check_code=self.check_code, refs=self.refs,
                                         authorize=authorize, author=stamp)
            except regchange.ChangeRejected as exc:
                raise RegistryError(f"registry change rejected{again}: "
                                    + "; ".join(exc.issues)) from None
            return self._commit(changes, source if caller is None else caller.via,
                                author=caller.history_author() if caller else {"via": source})
        return self._race(attempt)

    def rollback(self, version: int, caller: Caller | None = None) -> int:
        """Make ``version``'s snapshot current again, as a new version. A ``caller`` needs
        ``registry.apply_version`` and, entry by entry, what the same change would need."""
        if caller is not None:
            caller.check(APPLY_VERSION, "registry")

        def attempt(again: str) -> int:
            current = self.store.entries()
            ops = delta_ops(current, self.store.snapshot_at(version))
            if not ops:
                raise RegistryError(f"the registry is already at v{version}'s contents")
            try:
                changes = regchange.plan(current, ops, self.app_dir, prechecked=True,
                                         refs=self.refs, authorize=caller.authorize
                                         if caller is not None else None)
            except regchange.ChangeRejected as exc:
                raise RegistryError(f"cannot go back to v{version}{again}: "
                                    + "; ".join(exc.issues)) from None
            return self._commit(changes, f"apply_version v{version}",
                                author=caller.history_author() if caller else {"via": "api"})
        return self._race(attempt)

    def _next_version(self) -> int:
        current = self.store.version()
        return 0 if current is None else current + 1

    def _commit(self, changes: dict[str, list], source: str,
                files: Snapshot | None = None, author: dict[str, Any] | None = None,
                empty_ok: bool = False) -> int:
        if is_empty(changes) and not empty_ok:
            raise RegistryError("no changes to apply")
        if author is None and source == "files":
            author = {"files": self._changed_files(changes)}
        if self.sync is None:
            version = self.store.commit(changes, source, files, author)
        else:
            version = self.sync.follower.publish(changes, source, files, author)
        self._committed(version, changes, source)
        return version

    def _committed(self, version: int, changes: Mapping[str, list], source: str,
                   node: str | None = None) -> None:
        """What follows every commit, here or from another node: policies, the reference
        index, the log line, and the announcement to the hosts."""
        self.version = version
        BOOK.changed(eid for _, eid, _ in regchange.changed_ids(changes))
        if self._refs is not None:
            self._refs.apply(changes)
        counts = (len(changes["created"]), len(changes["updated"]), len(changes["deleted"]))
        if node is None:
            log.info("registry v%d committed (%s): %d created, %d updated, %d deleted",
                     version, source, *counts)
        else:       # at boot a node far behind fetches many: the follower sums them up
            log.log(logging.INFO if self._booted else logging.DEBUG,
                    "registry v%d from node %s (%s): %s", version, node, source,
                    describe_changes(changes))
        if self._booted:        # at boot nobody is listening yet: the hosts read the store
            self.on_change(version, dict(changes), source)

    def _changed_files(self, changes: dict[str, list]) -> list[str]:
        """The application's files a version from the files changed (relative paths)."""
        paths = {e.get("path") or "" for e in changes["created"] + changes["updated"]}
        paths |= {(self.files.get(eid) or {}).get("path") or "" if self._booted else ""
                  for eid in changes["deleted"]}
        return sorted(os.path.relpath(p, self.app_dir) for p in paths if p)

    # -- the cluster's order (S12): see .regsync ------------------------------------------
    def _race(self, attempt: Callable[[str], T]) -> T:
        """``attempt(again)`` (plan and commit); in a cluster, planned again each time another
        node took the version first (:meth:`ClusterSync.race`)."""
        return attempt("") if self.sync is None else self.sync.race(attempt)

    def _remote(self, r: Remote) -> None:
        """A version another node committed, now in the store."""
        self._committed(r.version, changes_of(r.record), str(r.record.get("source")),
                        node=r.node)

    def notified(self, payloads: list[str]) -> None:
        """Notifications from the cluster (:mod:`wippy.cluster.notify`): fetch the versions
        they announce, if this node lacks them."""
        if self.sync is not None:
            self.sync.notified(payloads)

    def wake_fd(self) -> int | None:
        """The socket that becomes readable when another node commits a version (None
        outside a cluster, or while the listener is not connected)."""
        return None if self.sync is None else self.sync.wake_fd()

    def woken(self) -> None:
        """Read the registry listener: fetch the versions it announces."""
        if self.sync is not None:
            self.sync.woken()

    def _check(self) -> None:
        """The periodic check, now (:meth:`ClusterSync.check`)."""
        if self.sync is not None:
            self.sync.check()

    # -- the application's files ---------------------------------------------------------
    def _apply_files(self, baseline: Mapping[str, dict[str, Any]], files: Snapshot) -> int | None:
        """Carry what the files changed since ``baseline`` onto the registry; the new version,
        or None when the registry already says it all. Raises ChangeRejected."""
        if files == baseline:
            return None
        live = self.store.entries()
        ops = regchange.file_ops(baseline, files, live)
        changes = regchange.plan(live, ops, self.app_dir, prechecked=True,
                                 refs=self.refs) if ops else None
        if changes is None or is_empty(changes):
            self.store.record_files(files)
            return None
        return self._commit(changes, "files", files)

    def _poll(self) -> None:
        try:
            if self.watcher is not None and self.watcher.poll():
                stamp = self._dirty_at = _time.monotonic()
                self.call_later(DEBOUNCE_S, self._quiet, stamp)
        finally:
            self.call_later(POLL_S, self._poll)

    def _quiet(self, stamp: float) -> None:
        """Reload once the files have not changed for DEBOUNCE_S since ``stamp``."""
        if self._dirty_at == stamp:
            self._dirty_at = 0.0
            self.reload()

    def reload(self) -> int | None:
        """Read the files again; apply what changed since the last good read as one version."""
        if self.sync is not None:
            self.sync.reload_pending = False
        try:
            new_files = file_snapshot(load_app(self.app_dir, self.check_code))
            if new_files == self.files:
                return None
            version = self._race(lambda _: self._apply_files(self.files, new_files))
        except ConfigError as exc:
            self._refused([str(i) for i in exc.issues])
            return None
        except regchange.ChangeRejected as exc:
            self._refused(exc.issues)
            return None
        except StorageError as exc:         # a full disk: the node stays up on the old version
            if self.sync is not None:
                self.sync.lost(exc)     # or the cluster database: retried once it answers
                self.sync.reload_pending = True
            self._refused([str(exc)])
            return None
        except RegistryError as exc:        # other nodes kept taking the version
            self._refused([str(exc)])
            return None
        self.files = new_files
        self.last_reload_error = None
        self.reloads += 1
        return version

    def cluster_info(self) -> dict[str, Any] | None:
        """The registry's part in the cluster, for ``wippy ps`` (None outside one): versions
        fetched from other nodes, and the database's last failure while it is out of reach."""
        return None if self.sync is None else self.sync.info()

    def close(self) -> None:
        """Close the connection to the cluster's database (in a cluster)."""
        if self.sync is not None:
            self.sync.close()

    def _refused(self, issues: list[str]) -> None:
        self.last_reload_error = "; ".join(issues)
        for issue in issues:
            log.error("%s", issue)
        log.error("the edit was not applied; registry stays at v%d", self.version)
