"""Engine tile steps per CPU second: the rate behind `simulate`'s work limit (MAX_TILE_STEPS).

    .venv/bin/python benchmarks/bench_work_estimate.py

`andasim.sim.simulate.estimate_tile_steps` counts count x ceil(m/R) x ceil(n/C) over the distinct
GeMMs of a run; `simulate` refuses more than MAX_TILE_STEPS unless `max_tile_steps=None`
(`andasim run --force`). This prints, for LLaMA2-7B prefill at growing sequence lengths on the
`anda` design, the estimate, the CPU time of the run and the rate, so that the limit's "about six
seconds" can be checked on another machine. The first call compiles (or loads) the numba kernels
and is run once before timing.
"""

from __future__ import annotations

import time

from andasim.hw.config import load_hw
from andasim.sim.simulate import MAX_TILE_STEPS, estimate_tile_steps, simulate
from andasim.workload.trace import load_trace


def main() -> None:
    hw = load_hw("anda")
    trace = load_trace("llama2-7b")
    profile = trace.profile()
    simulate(hw, trace, profile, seq_len=64)  # compile / load the kernels
    print(f"{'seq_len':>8} {'tile steps':>12} {'CPU s':>8} {'steps per CPU s':>16}")
    rates = []
    for seq_len in (2048, 8192, 32768):
        steps = estimate_tile_steps(hw, trace.card.gemms("prefill", seq_len, 1))
        start = time.process_time()
        simulate(hw, trace, profile, seq_len=seq_len)
        cpu = time.process_time() - start
        rates.append(steps / cpu)
        print(f"{seq_len:>8} {steps:>12,} {cpu:>8.3f} {steps / cpu:>16.3g}")
    print(f"MAX_TILE_STEPS = {MAX_TILE_STEPS:.3g}: about {MAX_TILE_STEPS / min(rates):.1f} CPU s at the "
          "slowest rate above")


if __name__ == "__main__":
    main()
