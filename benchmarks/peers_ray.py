"""Ray as a peer (optional): actor round trip, async call throughput, kill and recreate of
an actor, CPU-bound tasks.

Without ``import ray`` every Ray case reports ``skipped: ray not installed``. Ray runs in
its own case runner (it starts threads and daemons), started with ``num_cpus`` =
``os.cpu_count()``, no dashboard, usage stats off. With ``--pin`` the driver and the echo
actor's worker process are pinned like the two ends of every other round trip; Ray's own
daemons are recorded, not pinned.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from . import _work
from ._harness import Ctx, Unit
from ._stats import rate_per_s
from .floor import SMALL_DICT, add_latency

__all__ = ["UNITS"]

_SYSTEM = "ray"


def _measure(ctx: Ctx, cases: tuple[str, ...]) -> None:
    import ray

    p = ctx.params
    cores = os.cpu_count() or 1

    @ray.remote
    class Echo:
        """The actor every Ray case talks to."""

        def ping(self, x: Any) -> Any:
            return x

        def recv(self, x: Any) -> None:
            return None

        def getpid(self) -> int:
            return os.getpid()

    @ray.remote
    def nq(n: int) -> int:
        return _work.nqueens(n)

    echo = Echo.remote()  # type: ignore[attr-defined]
    actor_pid = ray.get(echo.getpid.remote())
    ctx.place(os.getpid(), "driver (case runner)", 0)
    ctx.place(actor_pid, "echo actor", 1)
    ctx.record_tree(os.getpid(), "ray")
    msg = dict(SMALL_DICT)

    if "roundtrip" in cases:
        with ctx.attempt("roundtrip", _SYSTEM):
            clock = time.perf_counter_ns
            samples: list[int] = []
            for i in range(p.rt_warmup // 4 + p.ray_rt_rounds):
                t0 = clock()
                ray.get(echo.ping.remote(msg))
                t1 = clock()
                if i >= p.rt_warmup // 4:
                    samples.append(t1 - t0)
            add_latency(ctx, "roundtrip", _SYSTEM, samples, what="ray.get(actor.ping.remote(dict))")

    if "oneway" in cases:
        with ctx.attempt("oneway", _SYSTEM):
            ray.get([echo.recv.remote(msg) for _ in range(min(p.ray_calls, 1_000))])  # warm-up
            t0 = time.perf_counter_ns()
            refs = [echo.recv.remote(msg) for _ in range(p.ray_calls)]
            ray.get(refs)
            elapsed = time.perf_counter_ns() - t0
            ctx.add("oneway", _SYSTEM, "rate", rate_per_s(p.ray_calls, elapsed), "msg/s",
                    n=p.ray_calls, what="async actor calls (dict arg), then ray.get of all refs")

    if "restart" in cases:
        with ctx.attempt("restart", _SYSTEM):
            samples = []
            actor = echo
            for _ in range(p.ray_restart_rounds):
                t0 = time.perf_counter_ns()
                ray.kill(actor)
                actor = Echo.remote()  # type: ignore[attr-defined]
                ray.get(actor.ping.remote(0))
                samples.append(time.perf_counter_ns() - t0)
            add_latency(ctx, "restart", _SYSTEM, samples,
                        what="ray.kill(actor); Echo.remote(); first call answered")

    if "cpu" in cases:
        with ctx.attempt("cpu", _SYSTEM):
            ray.get([nq.remote(p.cpu_n) for _ in range(cores)])  # warm-up: workers started
            t0 = time.perf_counter_ns()
            results = ray.get([nq.remote(p.cpu_n) for _ in range(p.cpu_tasks)])
            wall = (time.perf_counter_ns() - t0) / 1e9
            assert all(r == _work.EXPECTED[p.cpu_n] for r in results)
            ctx.add("cpu", _SYSTEM, "wall", wall, "s", tasks=p.cpu_tasks, n=p.cpu_n,
                    workers=cores, what="ray tasks")


def run(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """Start a local Ray instance, measure the selected cases, shut it down."""
    try:
        import ray
    except ImportError:
        for case in cases:
            ctx.add_status(case, _SYSTEM, "skipped: ray not installed")
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=True)
    except Exception as exc:  # noqa: BLE001
        for case in cases:
            ctx.add_status(case, _SYSTEM, f"error: ray.init failed: {type(exc).__name__}: {exc}")
        return
    try:
        _measure(ctx, cases)
    finally:
        ray.shutdown()


UNITS: list[Unit] = [
    Unit("ray", "ray", ("roundtrip", "oneway", "restart", "cpu"), (_SYSTEM,), run, 240, 1200),
]
