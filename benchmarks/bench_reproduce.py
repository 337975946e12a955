"""Benchmark of the energy model and of `andasim reproduce anda`.

    .venv/bin/python benchmarks/bench_reproduce.py

1. `estimate_energy` on the LLaMA-13B calibration run (one call prices ~40 layers of counters):
   median of 200 calls.
2. The whole reproduction (9 models x 2 tolerances x 7 designs + the calibration run, 14 figures)
   into a temporary folder with an empty run cache; then again with the cache warm (figures and
   tables only). Wall and process CPU time; numba's on-disk cache is whatever this checkout has
   (a first run after install also compiles: see docs/performance.md).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from andasim.hw.config import load_hw
from andasim.hw.energy import estimate_energy
from andasim.hw.energy_calibration import CALIBRATION_SCENARIO
from andasim.report.reproduce import reproduce_anda
from andasim.report.sweep import Sweep
from andasim.sim.simulate import simulate
from andasim.workload.trace import load_trace


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    s = CALIBRATION_SCENARIO
    hw = load_hw("anda")
    trace = load_trace(s["trace"])
    result = simulate(hw, trace, trace.profile(s["profile"]), modules=s["modules"])
    estimate_energy(hw, result, tokens=2048)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        estimate_energy(hw, result, tokens=2048)
        times.append(time.perf_counter() - t0)
    print(f"estimate_energy (LLaMA-13B calibration run): median {statistics.median(times) * 1e6:.0f} us")
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Sweep(Path(tmp) / "cache")
        _, wall, cpu = _timed(lambda: reproduce_anda(Path(tmp), sweep))
        print(f"reproduce anda, empty run cache: wall {wall:.1f} s, CPU {cpu:.1f} s "
              f"({sweep.simulated} engine runs + calibration)")
        sweep = Sweep(Path(tmp) / "cache")
        _, wall, cpu = _timed(lambda: reproduce_anda(Path(tmp), sweep))
        print(f"reproduce anda, warm run cache:  wall {wall:.1f} s, CPU {cpu:.1f} s ({sweep.reused} reused)")


if __name__ == "__main__":
    main()
