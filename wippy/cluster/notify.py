"""Wake-ups between nodes through PostgreSQL's LISTEN/NOTIFY: a commit that leaves something
for another node (a signal in a workflow's inbox, a workflow's end) notifies channel
:data:`CHANNEL`, and each node's :class:`Listener` reads the notifications without blocking,
so the node looks at once instead of at its next lease round (TTL/3), which stays the
fallback for notifications lost while a listener was disconnected.

Payloads (:class:`Wake`): ``inbox NODE`` (signals wait for a workflow NODE runs), ``ended``
(a workflow finished), ``left NODE`` (NODE stopped in order: its workflows are free now),
``names`` (a cluster-wide process name was bound or dropped, :mod:`.names`),
and, on its own channel :data:`REGISTRY_CHANNEL` (read by the registry's listener),
``registry N NODE`` (NODE committed registry version N).

The listener has its own connection (LISTEN holds it) and never connects from a timer of its
own: only :meth:`Listener.connect`, called after a successful lease renewal, does, so a
database out of reach costs the loop nothing between rounds. The node's loop waits on the
listener's socket (:meth:`Listener.fileno`) with its other sockets, and reads it when it
becomes readable; a slow timer reads it too, as a backstop.

Rejected: reading the listener on a fast timer (an idle node pays for every read, and each
notification waits up to a period).
"""
from __future__ import annotations

import enum
from typing import Any

from .db import Db

__all__ = ["Listener", "CHANNEL", "REGISTRY_CHANNEL", "Wake", "notify_sql"]

CHANNEL = "wippy_cluster"
REGISTRY_CHANNEL = "wippy_registry"     # registry versions (wippy.cluster.registry)


class Wake(str, enum.Enum):
    """What a notification announces (its payload's first word)."""

    INBOX = "inbox"      # + the node that runs the workflow: signals wait in its inbox
    ENDED = "ended"      # a workflow finished: its watchers on other nodes may look
    LEFT = "left"        # + a node that stopped in order: its workflows are free
    NAMES = "names"      # a process name was bound or dropped: read the bindings again
    REGISTRY = "registry"   # + version + node: a registry version to fetch (cluster.registry)


def notify_sql(payload_expr: str, channel: str = CHANNEL) -> str:
    """The SQL expression that notifies ``channel`` with ``payload_expr``."""
    return f"pg_notify('{channel}', {payload_expr})"


class Listener:
    """A LISTENing connection read without blocking."""

    def __init__(self, dsn: str, application: str = "wippy listener",
                 channel: str = CHANNEL) -> None:
        self.db = Db(dsn, application)
        self.channel = channel
        self.listening = False
        self._fd: int | None = None     # the LISTENing connection's socket

    def connect(self) -> None:
        """LISTEN, if not yet (raises nothing: a failure is retried at the next call)."""
        if self.listening:
            return
        try:
            self.db.run(lambda c: c.execute(f"LISTEN {self.channel}"))
            self.listening = True
            self._fd = int(self.db.current().pgconn.socket)
        except Exception:  # noqa: BLE001 - out of reach, or closed at once: retried later
            self._lost()

    def fileno(self) -> int | None:
        """The LISTENing connection's socket, for the node's poller to wake on (None while
        not listening). Read once at :meth:`connect`: the node's loop asks every turn."""
        return self._fd

    def poll(self) -> list[str]:
        """The notifications received so far (never blocks, never connects)."""
        if not self.listening:
            return []
        out: list[str] = []
        conn = self.db.current()
        if conn is None:
            self._lost()
            return out
        try:
            pgconn: Any = conn.pgconn
            pgconn.consume_input()
            while (n := pgconn.notifies()) is not None:
                out.append(bytes(n.extra).decode())
        except Exception:  # noqa: BLE001 - a lost connection: listen again after a renewal
            self._lost()
        return out

    def _lost(self) -> None:
        self.listening = False
        self._fd = None
        self.db.close()

    def close(self) -> None:
        self._lost()
