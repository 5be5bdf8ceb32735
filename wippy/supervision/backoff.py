"""Restart backoff of host OS processes under the node's implicit root (S5), as a pure decision.

A host that dies is restarted at once; when the same slot (host entry x worker index) keeps
dying, each death within ``window`` seconds of the previous ones doubles the delay, from
``first`` up to ``cap``: 0, 10 ms, 20 ms, 40 ms ... 1 s, and never gives up. The node keeps the
recent deaths of each slot, asks :func:`host_restart_delay` with the clock's reading, and
schedules the restart as a timer; nothing here reads a clock.

Rejected: Erlang's intensity (give up past N restarts in a period) for the implicit root.
The specification wants hosts that nobody supervises explicitly to come back forever; the
backoff only keeps a host that dies at boot from spinning a core.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HostBackoff", "host_restart_delay"]


@dataclass(frozen=True, slots=True)
class HostBackoff:
    """The implicit root's backoff for one host slot."""

    window: float = 1.0     # deaths closer together than this (seconds) back off
    first: float = 0.01     # the delay after the second death within the window
    cap: float = 1.0        # the longest delay


def host_restart_delay(deaths: tuple[float, ...], now: float,
                       policy: HostBackoff = HostBackoff()) -> tuple[tuple[float, ...], float]:
    """Record a death at ``now`` among a slot's earlier ``deaths`` (clock readings): returns
    the deaths still within the window (``now`` included) and the delay before the restart."""
    kept = tuple(t for t in deaths if now - t < policy.window) + (now,)
    if len(kept) == 1:
        return kept, 0.0
    return kept, min(policy.cap, policy.first * 2 ** (len(kept) - 2))
