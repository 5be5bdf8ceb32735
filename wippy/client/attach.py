"""Attaching a program to a running node: the control socket and the HELLO/WELCOME handshake.

The WELCOME carries what a :class:`wippy.client.connection.Connection` starts from (its serial,
the topology, the loads, the registered names, the dead serials, the node's PID and its
registry store); anything else the node sends before it is dropped.
"""
from __future__ import annotations

import os
import time as _time
from typing import Any

from ..core import protocol, transport, wire
from ..core.protocol import Kind
from ..errors import NodeError

__all__ = ["HELLO_TIMEOUT_S", "hello"]

HELLO_TIMEOUT_S = 10.0      # how long a program waits for the node's WELCOME


def hello(run_dir: str) -> tuple[Any, Any, protocol.Welcome]:
    """A new ZeroMQ context, a control DEALER connected to the node at ``run_dir`` and the
    node's WELCOME. Blocks up to :data:`HELLO_TIMEOUT_S`; raises NodeError (no node there, or
    no answer), the context destroyed."""
    ctl_path = os.path.join(run_dir, "ctl")
    if not os.path.exists(ctl_path):
        raise NodeError(f"no node is running at {run_dir}")
    ctx = transport.new_context()
    ctl = transport.connect_dealer(ctx, ctl_path, b"c" + os.urandom(8).hex().encode())
    ctl.send(wire.dumps(protocol.hello()))
    deadline = _time.monotonic() + HELLO_TIMEOUT_S
    while True:
        left = deadline - _time.monotonic()
        if left <= 0 or not ctl.poll(int(left * 1000)):
            ctx.destroy(linger=0)
            raise NodeError(f"the node at {run_dir} did not answer within {HELLO_TIMEOUT_S:.0f} s")
        msg = wire.loads(ctl.recv())
        if msg[0] == Kind.WELCOME:
            frame = protocol.parse(msg)
            assert isinstance(frame, protocol.Welcome)
            return ctx, ctl, frame
