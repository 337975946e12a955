"""Fingerprint of the engine's results, to show that a speed-up changed nothing (docs/performance.md).

Two parts, each a sha256 printed per group and overall:
1. `simulate` of every bundled design x several models x prefill/decode x batch 1/8, plus array and
   DRAM variants of anda/pe64/fp_fp: the sha256 of each `Result.to_json()` (mappings, reasons, counters).
2. The raw schedule counters of *every* candidate tiling (all dataflows, not only the chosen one) of a
   seeded sample of GeMM shapes on small and large arrays, ragged sizes included.

Run it before and after an engine change and diff the outputs:
    python scripts/engine_fingerprint.py > before.txt   # on the old commit
    python scripts/engine_fingerprint.py > after.txt    # on the new one
    diff before.txt after.txt
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys

import numpy as np

from andasim.hw.config import bundled_config_names, load_hw
from andasim.sim.dataflows import run_schedule
from andasim.sim.job import make_job
from andasim.sim.mapping import candidates
from andasim.sim.simulate import simulate
from andasim.workload.card import load_card
from andasim.workload.gemm import GeMM
from andasim.workload.precision import PrecisionProfile

MODELS = ("llama-7b", "opt-1.3b", "smollm2-135m", "gemma3-270m")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _variants():
    for name in bundled_config_names():
        yield name, load_hw(name)
    for name in ("anda", "pe64", "fp_fp"):
        hw = load_hw(name)
        for size in (8, 32):
            yield f"{name} {size}x{size}", dataclasses.replace(
                hw, pe_array=dataclasses.replace(hw.pe_array, rows=size, cols=size))
        for bw in (64.0, 2048.0):
            dram = dataclasses.replace(hw.dram, bw_gb_per_s=bw)
            yield f"{name} dram {bw:g}", dataclasses.replace(hw, dram=dram)


def simulate_part(total: hashlib._Hash) -> None:
    profile = PrecisionProfile.from_list([6, 5, 7, 6])
    for label, hw in _variants():
        for model in MODELS:
            card = load_card(model)
            for phase in ("prefill", "decode"):
                for batch in (1, 8):
                    seq = 512 if phase == "prefill" else 1024
                    res = simulate(hw, card, profile, phase=phase, seq_len=seq, batch=batch)
                    d = _digest(res.to_json())
                    total.update(d.encode())
                    print(f"simulate {label} {model} {phase} b{batch}: {d}")


def candidates_part(total: hashlib._Hash) -> None:
    rng = np.random.default_rng(17)
    for name in ("anda", "fp_fp", "fp_int", "figna"):
        base = load_hw(name)
        for rows, cols in ((4, 4), (16, 16), (8, 32)):
            hw = dataclasses.replace(base, pe_array=dataclasses.replace(base.pe_array, rows=rows, cols=cols))
            for _ in range(6):
                m = int(rng.choice([1, 3, 17, 64, 200, 1000, 2048]))
                k = int(rng.choice([64, 100, 640, 4096]))
                n = int(rng.choice([5, 48, 333, 1024, 4096]))
                gemm = GeMM("g", "qkv", 0, m, k, n, count=int(rng.choice([1, 3])))
                job = make_job(hw, gemm, 6 if hw.activation_storage == "anda" else None, 5)
                h = hashlib.sha256()
                cands = candidates(job, hw.dataflow)
                for mp in cands:
                    h.update(repr(sorted(run_schedule(job, mp).items())).encode())
                d = h.hexdigest()[:16]
                total.update(d.encode())
                print(f"candidates {name} {rows}x{cols} m{m} k{k} n{n} x{gemm.count}: "
                      f"{len(cands)} tilings {d}")


def main() -> None:
    total = hashlib.sha256()
    simulate_part(total)
    candidates_part(total)
    print(f"overall {total.hexdigest()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
