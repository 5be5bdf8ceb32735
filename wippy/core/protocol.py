"""The control protocol between the node, its hosts and attached programs, in one place.

Data-plane frames (messages, spawns, monitors...) are :mod:`wippy.core.wire`'s; this module
holds what the node and its members say to each other about the node itself, and the flags a
spawn carries. Flags are an ``IntFlag`` for readers and plain ints for the hot paths (an
``IntFlag`` operation costs a conversion each time).
"""
from __future__ import annotations

import enum

__all__ = ["SpawnFlag", "MONITOR", "LINK", "STARTED_ACK"]


class SpawnFlag(enum.IntFlag):
    """What a SPAWN frame asks of the new process."""

    MONITOR = 1         # the spawner gets an EXIT when it ends
    LINK = 2            # linked to the spawner
    STARTED_ACK = 4     # tell the node once main has taken its first step (service start order)


MONITOR = int(SpawnFlag.MONITOR)
LINK = int(SpawnFlag.LINK)
STARTED_ACK = int(SpawnFlag.STARTED_ACK)
