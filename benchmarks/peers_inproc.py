"""In-process messaging peer: Pykka's ``tell`` throughput (threads, one OS process).

Pykka is optional: without it the case reports ``skipped: pykka not installed``. The floor
for this case (``asyncio.Queue``) lives in :mod:`benchmarks.floor`.
"""
from __future__ import annotations

import os
import time
from typing import Any

from ._harness import Ctx, Unit
from ._stats import rate_per_s
from .floor import SMALL_DICT

__all__ = ["UNITS"]

_SYSTEM = "pykka"


def _pykka_tell_rate(count: int) -> float:
    import pykka

    class Counter(pykka.ThreadingActor):  # type: ignore[misc]
        """Counts dict messages; answers its count when asked with the string ``"count"``."""

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def on_receive(self, message: Any) -> Any:
            if message == "count":
                return self.n
            self.n += 1
            return None

    ref = Counter.start()
    try:
        msg = dict(SMALL_DICT)
        tell = ref.tell
        t0 = time.perf_counter_ns()
        for i in range(count):
            m = dict(msg)
            m["id"] = i
            tell(m)
        n = ref.ask("count", timeout=60)
        elapsed = time.perf_counter_ns() - t0
    finally:
        ref.stop(timeout=10)
    assert n == count, (n, count)
    return rate_per_s(count, elapsed)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def run(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``inproc`` for Pykka: one sender thread ``tell``s small dicts to one ThreadingActor."""
    if "inproc" not in cases:
        return
    try:
        import pykka  # noqa: F401
    except ImportError:
        ctx.add_status("inproc", _SYSTEM, "skipped: pykka not installed")
        return
    p = ctx.params
    ctx.place(os.getpid(), "sender + actor threads", 0)
    with ctx.attempt("inproc", _SYSTEM):
        _pykka_tell_rate(min(p.inproc_msgs, 5_000))  # warm-up
        rate = _pykka_tell_rate(p.inproc_msgs)
        ctx.add("inproc", _SYSTEM, "rate", rate, "msg/s", n=p.inproc_msgs,
                what="ThreadingActor.tell of small dicts, then ask", version=_version("pykka"))


UNITS: list[Unit] = [
    Unit("pykka", "pykka", ("inproc",), (_SYSTEM,), run, 120, 600),
]
