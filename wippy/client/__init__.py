"""The Python API for programs outside the node (S7): :func:`connect` attaches to a running
node (:mod:`.connection`), :class:`Node` boots one (:mod:`.node`); ``node.registry`` is a
:class:`RegistryView` (:mod:`.registry`); ``submit``/``map``/``gather`` hand out
:class:`~wippy.client.futures.Future` objects (:mod:`.futures`)."""
from __future__ import annotations

from .connection import Connection, connect
from .futures import Future, gather
from .node import Node
from .registry import RegistryView

__all__ = ["Connection", "Node", "connect", "RegistryView", "Future", "gather"]
