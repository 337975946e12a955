"""Benchmark: Anda quantize and bit-plane encode throughput on one core (issue 3).

For N FP16 values (default 64 Mi, shape [N/4096, 4096], synthetic activations: standard normal with 1 in 64
channels scaled ×30 as outliers, seed 0) and M = 4 and 8 it prints values/s of
  * the numba fast path (`anda_quantize`, `anda_encode`, each call allocating its output),
  * the numpy reference (`anda_quantize_reference`; `planes_from_fields(anda_fields_reference(...))`),
    run in chunks of 2 Mi values so that its int64 temporaries fit in memory,
  * a plain `np.copy` of the same FP16 array (and `np.copyto` into a preallocated array, the yardstick for
    `anda_quantize(..., out=)`),
and the ratios. Each timing is the best of --repeat runs, both wall clock and process CPU time (the machine
is shared, so CPU time is the steadier figure). NUMBA_NUM_THREADS=1 is set before numba is imported.
Target (issue 3): quantize >= 400 M values/s on one core.

Run: .venv/bin/python benchmarks/bench_formats.py [--n-mi 64] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse
import platform
from collections.abc import Callable

import numpy as np
from timing import best_time  # benchmarks/ is sys.path[0] when run as a script

from andasim.formats import (
    anda_encode,
    anda_fields_reference,
    anda_quantize,
    anda_quantize_reference,
)
from andasim.formats.bitplanes import planes_from_fields

ROW = 4096
CHUNK_ROWS = 512  # 2 Mi values per reference chunk


def chunked(fn: Callable[[np.ndarray], object], x: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        for r0 in range(0, x.shape[0], CHUNK_ROWS):
            fn(x[r0:r0 + CHUNK_ROWS])
    return run


def activations(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n // ROW, ROW), dtype=np.float32)
    x[:, ::64] *= 30.0  # outlier channels, as in LLM activations
    return x.astype(np.float16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-mi", type=int, default=64, help="number of values, in Mi (default 64)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best is kept)")
    args = ap.parse_args()
    n = args.n_mi * 2**20
    x = activations(n)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"python {platform.python_version()} numpy {np.__version__}; load average {os.getloadavg()[0]:.2f}")
    print(f"data: {n} FP16 values ({args.n_mi} Mi), shape {x.shape}, gs=64, NUMBA_NUM_THREADS=1")
    small = x[:4]
    for m in (4, 8):  # compile / load the numba cache outside the timings
        anda_quantize(small, m)
        anda_encode(small, m)
    copy_w, copy_c = best_time(lambda: np.copy(x), args.repeat)
    print(f"np.copy: {n / copy_w / 1e6:8.0f} M values/s wall, {n / copy_c / 1e6:8.0f} M values/s CPU")
    dst16 = np.empty_like(x)
    into_w, into_c = best_time(lambda: np.copyto(dst16, x), args.repeat)
    print(f"np.copyto (preallocated): {n / into_w / 1e6:8.0f} M values/s wall, {n / into_c / 1e6:8.0f} CPU")
    out = np.empty(x.shape, dtype=np.float32)
    for m in (4, 8):
        fw, fc = best_time(lambda m=m: anda_quantize(x, m, out=out), args.repeat)
        print(f"M={m:2d} quantize into preallocated out=: {n / fw / 1e6:6.0f} M values/s wall "
              f"({n / fc / 1e6:6.0f} CPU); {into_w / fw:4.2f} of np.copyto (wall), {into_c / fc:4.2f} (CPU)")
    for m in (4, 8):
        rows = [
            ("quantize", lambda m=m: anda_quantize(x, m),
             chunked(lambda c, m=m: anda_quantize_reference(c, m), x)),
            ("encode", lambda m=m: anda_encode(x, m),
             chunked(lambda c, m=m: planes_from_fields(*anda_fields_reference(c, m)[:2], m), x)),
        ]
        for name, fast, ref in rows:
            fw, fc = best_time(fast, args.repeat)
            rw, _ = best_time(ref, 1)
            print(f"M={m:2d} {name:8s}: {n / fw / 1e6:6.0f} M values/s wall ({n / fc / 1e6:6.0f} CPU); "
                  f"x{rw / fw:5.1f} vs numpy reference ({n / rw / 1e6:5.1f} M/s wall); "
                  f"{copy_w / fw:4.2f} of np.copy (wall), {copy_c / fc:4.2f} (CPU)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
