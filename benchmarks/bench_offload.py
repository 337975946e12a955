"""Benchmark: offload policy search cost (issue 9).

Times, on the t4-flexgen preset: one placement LP (scipy HiGHS, OPT-30B, gbs 48, nb 3); full
`--search` runs for OPT-30B and OPT-175B at prompt 512, 32 tokens: the pre-issue-15 bounded search
(FLOP compute, fractions, gbs in {1, 2, 3, 4k <= 128}, nb <= 20, both overlap models), today's
default search (whole tensors, roofline, no cap; a second LP per point re-solves with the weights
fixed) and FlexGen's own enumeration in flexgen-code mode. Also one accelerator-mode search (OPT-30B on
anda-system, --compute engine --hw anda --anda-m 6) whose time is dominated by the cycle engine.
Each timing is the best of --repeat runs (wall clock and process CPU time; the machine is shared).

Run: .venv/bin/python benchmarks/bench_offload.py [--repeat 3] [--no-engine]
"""

from __future__ import annotations

import argparse
import platform

from timing import best_time  # benchmarks/ is sys.path[0] when run as a script

from andasim.system.offload.api import OffloadRequest, run_offload
from andasim.system.offload.cost import OffloadShape, TensorBits, Workload, build_terms, flop_compute_model
from andasim.system.offload.search import solve_placement
from andasim.system.offload.tiers import load_system
from andasim.workload.card import load_card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-engine", action="store_true")
    args = ap.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, {platform.processor() or '?'}")
    system = load_system("t4-flexgen")
    shape = OffloadShape.from_card(load_card("opt-30b"))
    work = Workload(512, 32)
    terms = build_terms(shape, system, work, TensorBits(), flop_compute_model(system, shape, work), 48, 3,
                        cpu_cache_compute=True)
    n_lp = 200
    wall, cpu = best_time(lambda: [solve_placement(terms) for _ in range(n_lp)], args.repeat)
    print(f"one LP (OPT-30B, 48x3): {wall / n_lp * 1e3:.2f} ms wall, {cpu / n_lp * 1e3:.2f} ms CPU")
    bounded = dict(compute="flops", weight_placement="fraction", max_gpu_batch_size=128,
                   max_num_gpu_batches=20)
    flexgen_code = dict(memory_model="flexgen-code", compression_model="flexgen-code", cpu_attention="always",
                        compute="flops", weight_placement="fraction", search_enumeration="flexgen")
    for model in ("opt-30b", "opt-175b"):
        runs = [(f"bounded, {overlap} overlap", dict(bounded, overlap_model=overlap))
                for overlap in ("paper", "code")]
        runs += [("default (tensor, roofline, no cap)", {}), ("flexgen-code enumeration", flexgen_code)]
        for label, kw in runs:
            req = OffloadRequest(model=model, preset="t4-flexgen", search=True, cpu_cache_compute=True, **kw)
            points = run_offload(req)["search"]["points_feasible"]
            wall, cpu = best_time(lambda req=req: run_offload(req), args.repeat)
            print(f"search {model} {label}: {points} feasible (gbs, nb) points, "
                  f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    if not args.no_engine:
        req = OffloadRequest(model="opt-30b", preset="anda-system", search=True, cpu_cache_compute=True,
                             compute="engine", hw="anda", anda_m=6)
        wall, cpu = best_time(lambda: run_offload(req), 1)
        print(f"engine-mode search opt-30b on anda-system: {wall:.2f} s wall, {cpu:.2f} s CPU (first run, "
              "numba cache warm)")


if __name__ == "__main__":
    main()
