"""The node's side of the registry: the single writer, the file watcher, the change feed.

Every change (``changes:apply()`` from a process or a program, ``apply_version``, an edited
file) is planned by :mod:`wippy.regchange`, committed in one LMDB transaction, then announced
to every host and client in commit order; the node applies its own effects (services, hosts)
through the ``on_change`` callback. Requests are handled one at a time by the node's loop, so
concurrent appliers are serialized and versions stay contiguous.

A change that the node cannot carry out is refused before it is committed (the kind checks in
``regchange``), so a committed version never needs undoing; an invalid file edit is reported as
``file:line:col: ...`` and the running version stays.
"""
from __future__ import annotations

import logging
import time as _time
from typing import Any, Callable

from ..errors import ConfigError, RegistryError
from ..registry import changes as regchange
from ..registry import loader
from ..registry.store import Store
from .watcher import DEBOUNCE_S, POLL_S, FileWatcher

__all__ = ["RegistryKeeper"]

log = logging.getLogger("wippy.registry")


def file_snapshot(app: loader.LoadedApp) -> dict[str, dict[str, Any]]:
    return {e.id: regchange.stored_entry(e.to_plain(), e.path, e.base_dir)
            for e in app.entries.values()}


class RegistryKeeper:
    def __init__(self, store: Store, app: loader.LoadedApp,
                 on_change: Callable[[int, dict[str, list], str], None],
                 call_later: Callable[..., Any], watch: bool = True) -> None:
        self.store = store
        self.app_dir = app.app_dir
        self.on_change = on_change
        self.call_later = call_later
        self.files = file_snapshot(app)
        self.version, _ = store.commit_files(self.files)
        self.watcher: FileWatcher | None = None
        self._dirty_at = 0.0
        self.reloads = 0
        self.last_reload_error: str | None = None
        if watch:
            self.watcher = FileWatcher(self.app_dir)
            self.call_later(POLL_S, self._poll)

    # -- requests ------------------------------------------------------------------------
    def apply(self, ops: list[dict[str, Any]], source: str = "api", python: bool = True) -> int:
        """Validate and commit ``ops``; returns the new version. Raises RegistryError.
        Without ``python`` (a change made by a process) Python code entries may not be
        created or altered."""
        try:
            changes = regchange.plan(self.store.entries(), ops, self.app_dir, python=python)
        except regchange.ChangeRejected as exc:
            raise RegistryError("registry change rejected: " + "; ".join(exc.issues)) from None
        return self._commit(changes, source)

    def rollback(self, version: int) -> int:
        """Make ``version``'s snapshot current again, as a new version."""
        target = self.store.snapshot_at(version)
        ops = regchange.delta_ops(self.store.entries(), target)
        if not ops:
            raise RegistryError(f"the registry is already at v{version}'s contents")
        try:
            changes = regchange.plan(self.store.entries(), ops, self.app_dir, prechecked=True)
        except regchange.ChangeRejected as exc:
            raise RegistryError(f"cannot go back to v{version}: " + "; ".join(exc.issues)) from None
        return self._commit(changes, f"apply_version v{version}")

    def _commit(self, changes: dict[str, list], source: str,
                files: dict[str, dict[str, Any]] | None = None) -> int:
        if not any(changes.values()):
            raise RegistryError("no changes to apply")
        self.version = self.store.commit(changes, source, files)
        log.info("registry v%d committed (%s): %d created, %d updated, %d deleted", self.version,
                 source, len(changes["created"]), len(changes["updated"]), len(changes["deleted"]))
        self.on_change(self.version, changes, source)
        return self.version

    # -- hot reload ----------------------------------------------------------------------
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
        try:
            app = loader.load_app(self.app_dir)
        except ConfigError as exc:
            self.last_reload_error = str(exc)
            for issue in exc.issues:
                log.error("%s", issue)
            log.error("the edit was not applied; registry stays at v%d", self.version)
            return None
        new_files = file_snapshot(app)
        ops = regchange.delta_ops(self.files, new_files)
        if not ops:
            return None
        live = self.store.entries()
        # apply the file delta on top of the live registry (entries made at run time stay)
        ops = [op for op in ops if not (op["op"] == "delete" and op["id"] not in live)]
        ops = [{"op": "update" if op["entry"]["id"] in live else "create", "entry": op["entry"]}
               if op["op"] != "delete" else op for op in ops]
        try:
            changes = regchange.plan(live, ops, self.app_dir, prechecked=True)
        except regchange.ChangeRejected as exc:
            self.last_reload_error = "; ".join(exc.issues)
            for issue in exc.issues:
                log.error("%s", issue)
            log.error("the edit was not applied; registry stays at v%d", self.version)
            return None
        self.files = new_files
        self.last_reload_error = None
        self.reloads += 1
        if not any(changes.values()):
            return None
        return self._commit(changes, "files", new_files)
