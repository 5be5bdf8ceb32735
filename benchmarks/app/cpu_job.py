"""CPU-bound work: N-queens counting (a copy of benchmarks/_work.py, which tests compare)."""
import os
import time as _time

from wippy import process


def nqueens(n):
    """Number of ways to place ``n`` non-attacking queens on an ``n`` x ``n`` board."""
    full = (1 << n) - 1

    def solve(cols, d1, d2):
        if cols == full:
            return 1
        count = 0
        avail = full & ~(cols | d1 | d2)
        while avail:
            bit = avail & -avail
            avail ^= bit
            count += solve(cols | bit, ((d1 | bit) << 1) & full, (d2 | bit) >> 1)
        return count

    return solve(0, 0, 0)


async def main(n):
    """One job: count the solutions for ``n``; returns [count, os pid]."""
    return [nqueens(n), os.getpid()]


async def batch(host, n, tasks):
    """Spawn ``tasks`` monitored jobs on ``host`` at once and wait for all of them."""
    events = process.events()
    t0 = _time.perf_counter_ns()
    for _ in range(tasks):
        process.spawn_monitored("bench:cpu_job", host, n)
    counts = []
    per_os_pid = {}
    while len(counts) < tasks:
        ev = await events.receive()
        if ev.kind != "EXIT":
            continue
        if ev.result.error is not None:
            raise RuntimeError(f"cpu job {ev.from_} failed: {ev.result.error}")
        counts.append(ev.result.value[0])
        key = str(ev.result.value[1])
        per_os_pid[key] = per_os_pid.get(key, 0) + 1
    return {"elapsed_ns": _time.perf_counter_ns() - t0, "counts": counts,
            "jobs_per_os_pid": per_os_pid}
