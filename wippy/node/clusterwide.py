"""What makes names and singleton services cluster-wide on a node of a cluster (S12): it
gives the node's name table its side in the database (:class:`~wippy.cluster.names.ClusterNames`)
and the service manager its claims (:class:`~wippy.cluster.singletons.Singletons`), and hooks
both into the cluster part's lease rounds and notifications (:class:`~wippy.cluster.part.ClusterPart`).

Each round (TTL/3, after a renewal): one statement reads the live name bindings, one claims
the singletons this node wants. A ``names`` notification reads the bindings at once; a node
that left in order (``left NODE``) makes the others claim its singletons at once, without
waiting for their round. Without ``--cluster`` none of this exists.
"""
from __future__ import annotations

import logging
from typing import Any

from ..cluster.names import ClusterNames
from ..cluster.notify import Wake
from ..cluster.part import ClusterPart
from ..cluster.singletons import Singletons
from ..errors import StorageError
from .names import NameTable
from .services import ServiceManager

__all__ = ["ClusterWide"]

log = logging.getLogger("wippy.cluster")


class ClusterWide:
    """Cluster-wide names and singletons of one node."""

    def __init__(self, part: ClusterPart, names: NameTable, services: ServiceManager) -> None:
        db, node = part.journal.db, part.membership.node
        incarnation = part.membership.incarnation or 0
        self.bindings = ClusterNames(db, node, incarnation)
        self.claims = Singletons(db, node, incarnation)
        self._names = names
        self._services = services
        names.shared = self.bindings
        try:
            self.bindings.forget_old()
            self.claims.forget_old()
            names.sync()        # the other nodes' names, before the first host's WELCOME
        except StorageError as exc:      # not live anyway; the first round reads them
            log.warning("could not read the cluster's names at start: %s", exc)
        services.singleton = self.claims.claim_one
        part.rounds.append(self.round)
        part.wakes.append(self.wake)

    def round(self, ok: bool) -> None:
        """A lease round: read the names, claim the singletons; ``ok`` False (this node
        fenced itself): stop every singleton here, another node may take it."""
        if not ok:
            self.claims.held = set()
            self._services.singletons_held(set())
            return
        self._names.sync()
        self._claim()

    def wake(self, got: list[str]) -> None:
        """Notifications from other nodes' commits."""
        left = any(g.startswith(f"{Wake.LEFT.value} ") for g in got)
        if left or Wake.NAMES.value in got:
            self._names.sync()          # a node that left: its names are free
        if left:
            self._claim()

    def _claim(self) -> None:
        self._services.singletons_held(self.claims.claim(self._services.wanted_singletons()))

    def info(self) -> dict[str, Any]:
        """For ``wippy ps``: the singletons this node holds, reads of the bindings."""
        return {"singletons": sorted(self.claims.held), "name_syncs": self.bindings.syncs}
