"""When a cluster node's registry catches up with the cluster (S12), and what a failure on the
way means: the part of the :class:`~wippy.node.registry.RegistryKeeper` that decides when its
:class:`~wippy.node.regfollow.Follower` fetches, and what becomes of the keeper's work when the
database is out of reach or another node was faster.

* At boot (:meth:`ClusterSync.boot`): the cluster's history first, then the node's files
  against the cluster's baseline; a version another node commits in between means reading
  again, at most ``MAX_RACES`` times.
* On a notification (the listener's socket is watched by the node's poller through
  :meth:`ClusterSync.wake_fd`, with ``LISTEN_EVERY_S`` as the backstop) and at every check
  (``CHECK_EVERY_S``: a notification may be lost): the versions other nodes committed.
* When another node took the version a plan was for (:meth:`ClusterSync.race`): catch up and
  plan again, telling the plan why (its refusal then says so), at most ``MAX_RACES`` times.
* While the database is out of reach: one warning, the node stays at its version, and a file
  edit the database refused is applied by the first check that reaches it again.

Everything here runs on the node's loop (its timers and its poller), as the keeper does.
Rejected: waiting on the listener in a thread of its own. Versions from other nodes would then
be appended while the loop plans a change from the same store, and the keeper would no longer
be the registry's single writer.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol, TypeVar

from ..cluster.notify import Listener
from ..cluster.registry import wake_versions
from ..errors import NodeError, RegistryError, StorageError, VersionTaken
from .regfollow import Follower, Snapshot, changes_of, describe_changes

__all__ = ["ClusterSync", "Keeper"]

log = logging.getLogger("wippy.registry")

T = TypeVar("T")

CHECK_EVERY_S = 1.0     # how often a cluster node looks for versions a lost notification hid
# The node's poller wakes on the registry listener's socket (:meth:`ClusterSync.wake_fd`);
# this timer is the backstop for notifications libpq buffered while it read something else.
LISTEN_EVERY_S = 0.5
MAX_RACES = 20          # plans of one change that other nodes' versions may overtake in a row


class Keeper(Protocol):
    """What the sync needs of the registry keeper."""

    @property
    def version(self) -> int:
        """The registry's current version on this node."""

    def reload(self) -> int | None:
        """Read the application's files again and apply what changed."""


class ClusterSync:
    """The keeper's catching up with its cluster (see the module docstring)."""

    def __init__(self, follower: Follower, listener: Listener, keeper: Keeper,
                 call_later: Callable[..., Any]) -> None:
        self.follower = follower
        self.keeper = keeper
        self.call_later = call_later
        self._wakes: Listener | None = listener
        self.unreachable: str | None = None     # the database's last failure, logged once
        self.reload_pending = False     # an edit the database could not take: try it again

    def start(self) -> None:
        """Connect the listener and begin the periodic check (the keeper has booted)."""
        assert self._wakes is not None
        self._wakes.connect()
        self.call_later(CHECK_EVERY_S, self.check)
        self.call_later(LISTEN_EVERY_S, self._listen)

    def boot(self, apply_files: Callable[[Snapshot], int | None],
             first: Callable[[], int]) -> None:
        """Follow the cluster's history, then ``apply_files`` (what this node's files change
        against the cluster's baseline; the new version or None); the first node of a cluster
        makes v0 with ``first``. Raises ChangeRejected, or NodeError when the database cannot
        be used."""
        store = self.follower.store
        try:
            for _ in range(MAX_RACES):
                head = self.follower.join()
                if head.version != store.version():
                    continue            # a version landed between the two reads
                try:
                    version = apply_files(head.files or {})
                    if version is None and head.version is None:
                        version = first()
                except VersionTaken:
                    continue
                if version is not None and head.version is not None:
                    rec = store.changeset(version) or {}
                    log.warning("registry: this node's files differ from the cluster's (as node "
                                "%s left them in v%s): applied as v%d: %s", head.files_node or "?",
                                head.files_version, version, describe_changes(changes_of(rec)))
                return
        except (StorageError, RegistryError) as exc:
            raise NodeError(f"the registry cannot follow its cluster: {exc}") from None
        raise NodeError(f"the registry could not commit this node's files: other nodes took "
                        f"the next version {MAX_RACES} times in a row")

    def race(self, attempt: Callable[[str], T]) -> T:
        """``attempt(again)`` (plan and commit), again after catching up each time another
        node took the version it planned; ``again`` says why the plan was made again ("" the
        first time), for its refusal. Raises RegistryError after ``MAX_RACES`` lost races."""
        again = ""
        for _ in range(MAX_RACES):
            try:
                return attempt(again)
            except VersionTaken:
                got = self.follower.catch_up()
                last = got[-1] if got else None
                again = "" if last is None else (
                    f" (planned again on v{last.version}, which node {last.node} committed first)")
        raise RegistryError(f"registry change not committed: other nodes took the next version "
                            f"{MAX_RACES} times in a row")

    def notified(self, payloads: list[str]) -> None:
        """Notifications from the cluster (:mod:`wippy.cluster.notify`): fetch the versions
        they announce, if this node lacks them."""
        newest = wake_versions(payloads, self.follower.node)
        if newest is not None and newest > self.keeper.version:
            self._sync()

    def wake_fd(self) -> int | None:
        """The socket that becomes readable when another node commits a version (None while
        the listener is not connected, or once closed)."""
        return None if self._wakes is None else self._wakes.fileno()

    def _listen(self) -> None:
        if self._wakes is None:
            return
        self.call_later(LISTEN_EVERY_S, self._listen)
        self.woken()

    def woken(self) -> None:
        """Read the registry listener: fetch the versions it announces."""
        if self._wakes is None:
            return
        got = self._wakes.poll()
        if got:
            self.notified(got)

    def check(self) -> None:
        """The periodic look for versions (a notification may have been lost) and for an
        edit of the files the database refused."""
        try:
            if self._wakes is not None:
                self._wakes.connect()       # again, if its connection was lost
                latest = self.follower.versions.latest()
                if self.unreachable is not None:
                    log.warning("registry: the cluster database answers again")
                    self.unreachable = None
                if latest is not None and latest > self.keeper.version:
                    self._sync()
                if self.reload_pending and self.unreachable is None:
                    self.keeper.reload()    # an edit refused while the database was out of reach
        except StorageError as exc:
            self.lost(exc)
        finally:
            self.call_later(CHECK_EVERY_S, self.check)

    def _sync(self) -> None:
        try:
            self.follower.catch_up()
        except StorageError as exc:
            self.lost(exc)
        except RegistryError as exc:
            log.error("registry: %s", exc)

    def lost(self, exc: StorageError) -> None:
        """The database failed with ``exc``: warn once, until it answers again."""
        if self.unreachable is None:
            log.warning("registry: the cluster database cannot be reached (%s); this node "
                        "stays at v%d until it can", exc.cause, self.keeper.version)
        self.unreachable = exc.cause

    def info(self) -> dict[str, Any]:
        """The registry's part in the cluster, for ``wippy ps``: versions fetched from other
        nodes, and the database's last failure while it is out of reach."""
        return {"version": self.keeper.version, "fetched": self.follower.fetched,
                "unreachable": self.unreachable}

    def close(self) -> None:
        """Close the connections to the cluster's database."""
        self.follower.versions.close()
        if self._wakes is not None:
            self._wakes.close()
            self._wakes = None
