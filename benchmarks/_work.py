"""The CPU-bound workload shared by every system in the ``cpu`` case.

Counting N-queens solutions with bitmasks: pure Python, deterministic, no allocation
to speak of, about 50 ms for n=11 on this class of machine. ``benchmarks/app/cpu_job.py``
holds a copy for the wippy host (the node loads that file by path, not as a package);
``tests/test_benchmarks_harness.py`` checks that both agree.
"""
from __future__ import annotations

__all__ = ["nqueens", "EXPECTED"]

#: Known solution counts, to check that every system did the real work.
EXPECTED: dict[int, int] = {6: 4, 7: 40, 8: 92, 9: 352, 10: 724, 11: 2680, 12: 14200}


def nqueens(n: int) -> int:
    """Number of ways to place ``n`` non-attacking queens on an ``n`` x ``n`` board."""
    full = (1 << n) - 1

    def solve(cols: int, d1: int, d2: int) -> int:
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
