"""Benchmark: `andasim tp` building blocks on the bundled data.

Times (best of --repeat, wall clock and process CPU time; the machine is shared):
  * the error table of the bundled SmolLM2-135M trace (16 layers x o/down, N = 1, 2, 4, 8, formats
    bf16, hybrid:k_frac=1/32, randomk:k_frac=1/32, static: 512 (layer, N, format) evaluations),
  * `simulate_tp` for LLaMA-2-7B prefill 2048 on `anda`, N = 8, all-gather of the hybrid payload
    (one engine simulation of the chip's GeMMs plus 64 collectives).

Run: .venv/bin/python benchmarks/bench_tp.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time


def _best(fn, repeat: int) -> tuple[float, float]:
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from andasim.hw.config import load_hw
    from andasim.system.tp.error import trace_error_table
    from andasim.system.tp.links import link_model
    from andasim.system.tp.model import simulate_tp
    from andasim.workload.card import load_card
    from andasim.workload.precision import PrecisionProfile
    from andasim.workload.trace import load_trace

    trace = load_trace("smollm2-135m")
    formats = ["bf16", "hybrid:k_frac=1/32", "randomk:k_frac=1/32", "static"]
    trace_error_table(trace, [1], formats[:1], "allgather")  # warm imports
    rows: list = []
    wall, cpu = _best(lambda: rows.extend(trace_error_table(trace, [1, 2, 4, 8], formats, "allgather")),
                      args.repeat)
    n_eval = len(rows) // args.repeat
    print(f"error table smollm2-135m: {n_eval} evaluations, best {wall:.2f} s wall / {cpu:.2f} s CPU "
          f"({1e3 * wall / n_eval:.1f} ms per evaluation)")

    hw = load_hw("anda")
    card = load_card("llama2-7b")
    prec = PrecisionProfile.from_list([6, 6, 6, 6])
    link = link_model(hw)

    def run() -> None:
        simulate_tp(hw, card, prec, link, n_chips=8, collective="allgather", payload="hybrid:k_frac=1/64",
                    phase="prefill", seq_len=2048)

    run()  # numba compile and engine caches
    wall, cpu = _best(run, args.repeat)
    print(f"simulate_tp llama2-7b prefill 2048, N=8: best {wall * 1e3:.1f} ms wall / {cpu * 1e3:.1f} ms CPU")


if __name__ == "__main__":
    main()
