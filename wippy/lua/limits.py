"""Per-process limits of Lua processes (S6): pure decisions, no Lua here.

``limits: {max_memory, max_cpu}`` on a Lua entry; fields it leaves out come from its host
entry's ``limits``, then from the defaults below. The validators (``registry/kinds/``) have
already turned sizes into bytes and durations into seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Limits", "resolve", "DEFAULT_MAX_MEMORY", "DEFAULT_MAX_CPU", "describe_bytes"]

DEFAULT_MAX_MEMORY = 64 << 20     # bytes of Lua heap per process (the SPEC's example value)
DEFAULT_MAX_CPU: float | None = None   # seconds; None = unlimited: a service may run for weeks.
                                       # Preemption (10 ms slices) protects neighbours anyway.


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits one Lua state runs under: bytes of Lua heap and seconds of Lua CPU time."""

    max_memory: int = DEFAULT_MAX_MEMORY
    max_cpu: float | None = DEFAULT_MAX_CPU


def _field(name: str, *sources: Mapping[str, Any] | None) -> Any:
    for src in sources:
        if src and src.get(name) is not None:
            return src[name]
    return None


def resolve(entry_limits: Mapping[str, Any] | None, host_limits: Mapping[str, Any] | None) -> Limits:
    """The entry's own limits, else its host's, else the defaults (field by field)."""
    mem = _field("max_memory", entry_limits, host_limits)
    cpu = _field("max_cpu", entry_limits, host_limits)
    return Limits(int(mem) if mem is not None else DEFAULT_MAX_MEMORY,
                  float(cpu) if cpu is not None else DEFAULT_MAX_CPU)


def describe_bytes(n: int) -> str:
    """``67108864`` -> ``"64 MB"`` (powers of 1024, as the loader reads them)."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
