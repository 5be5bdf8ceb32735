"""What a host runs for a ``queue.consumer`` entry: one process per message the node hands the
consumer (the runner the host's table names for the kind, S13).

The process calls the consumer's function with the message body, as ``funcs.call`` does (the
checks of ``funcs.call`` apply, code an agent wrote acts as its author), with the delivery in
the call's context values, where ``queue.message()`` finds it. Its result settles the message
at the node through the process's EXIT: ``false`` nacks, any other return acks, an error nacks.

Rejected: long-lived worker processes pulling from the node (a worker's death would have to be
tied to the deliveries it held; a process per message gets that from its EXIT, and a handler
that spawns, monitors or receives cannot disturb the next message's).
"""
from __future__ import annotations

from typing import Any, Callable

from .. import funcs

__all__ = ["consumer_runner", "MESSAGE_KEY"]

#: The context value holding the delivery a handler is running for.
MESSAGE_KEY = "wippy.queue.message"


def consumer_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of ``queue.consumer`` entries: ``run(delivery) -> bool`` (ack?)."""

    async def run(delivery: dict[str, Any] | None = None, *_: Any) -> bool:
        if not isinstance(delivery, dict) or "func" not in delivery:
            raise ValueError(f"consumer {entry.get('id')}: started without a delivery")
        meta = {k: delivery.get(k) for k in ("id", "queue", "headers", "attempts")}
        value = await funcs.call(delivery["func"], delivery.get("body"),
                                 context={MESSAGE_KEY: meta})
        return value is not False
    return run
