#!/usr/bin/env python3
"""How the leakage-split assumption moves the reproduction's energy-efficiency ratios.

The cost tables split each Table III power into leakage and dynamic energy with two assumed
fractions (andasim.hw.energy_calibration.LEAKAGE_FRACTION_*). This script re-derives the tables
for a few splits, re-prices the same engine runs (the nine paper models, WikiText-2 1% and 0.1%,
prefill 2048, batch 1) and prints Anda's geometric-mean energy efficiency over FP-FP for each.
Speedup and area do not depend on the split. Output goes to stdout (docs/energy_model.md quotes it).

    .venv/bin/python scripts/energy_sensitivity.py
"""

from __future__ import annotations

import copy
import math

from andasim.hw.config import load_hw
from andasim.hw.energy import _parse_table, energy_from_counters
from andasim.hw.energy_calibration import CALIBRATION_SCENARIO, build_tables
from andasim.report.designs import PAPER_MODELS
from andasim.sim.simulate import simulate
from andasim.workload.trace import load_trace

SPLITS = ((0.0, 0.0), (0.10, 0.30), (0.30, 0.50), (0.50, 0.70))


def main() -> None:
    s = CALIBRATION_SCENARIO
    anda, fp = load_hw("anda"), load_hw("fp_fp")
    trace = load_trace(s["trace"])
    calib = simulate(anda, trace, trace.profile(s["profile"]), phase=s["phase"], seq_len=s["seq_len"],
                     batch=s["batch"], modules=s["modules"]).counters
    runs = {}
    for name in PAPER_MODELS:
        tr = load_trace(name)
        runs[(name, "fp")] = simulate(fp, tr, None).counters
        for tol in ("0.1pct", "1pct"):
            runs[(name, tol)] = simulate(anda, tr, tr.profile(f"anda-paper/wikitext2/{tol}")).counters
    print(f"{'leak logic':>10s} {'leak SRAM':>10s} {'tol':>7s} {'EE with DRAM':>13s} {'EE on chip':>11s}")
    for logic, sram in SPLITS:
        tables = {k: _parse_table(copy.deepcopy(v), k)
                  for k, v in build_tables(anda, calib, leak_logic=logic, leak_sram=sram).items()}
        for tol in ("0.1pct", "1pct"):
            with_dram, on_chip = [], []
            for name in PAPER_MODELS:
                a = energy_from_counters(anda, runs[(name, tol)], tokens=2048, table=tables["anda_16nm"])
                b = energy_from_counters(fp, runs[(name, "fp")], tokens=2048, table=tables["baselines_16nm"])
                with_dram.append(b.total_j / a.total_j)
                on_chip.append(b.on_chip_j / a.on_chip_j)
            gm = [math.exp(sum(map(math.log, v)) / len(v)) for v in (with_dram, on_chip)]
            print(f"{logic:10.2f} {sram:10.2f} {tol:>7s} {gm[0]:13.2f} {gm[1]:11.2f}")


if __name__ == "__main__":
    main()
