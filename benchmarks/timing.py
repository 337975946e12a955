"""Timing helper shared by the benchmarks: best wall and CPU time of repeated calls.

A separate module so that a benchmark can import it without the side effects of another benchmark's
module (bench_formats.py pins NUMBA_NUM_THREADS=1 at import).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds of this process) over `repeat` calls: the minimum is the
    run least disturbed by other jobs on a shared machine."""
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return min(walls), min(cpus)
