"""Benchmark of the cycle engine, and a side-by-side run of SCALE-Sim on the same GeMM.

    .venv/bin/python benchmarks/bench_engine.py [--no-scalesim] [--scalesim-shape 256,512,256]

Part 1 (andasim): wall time of `andasim.simulate` for LLaMA-7B prefill (2048 tokens, 32 layers,
batch 1, qkv/o/up/down) on the `anda` and `fp_fp` designs: the first call of the process (numba
loads its on-disk cache, or compiles on a cold cache) and the median of repeated calls; the same
without the per-shape cache (every one of the 128 GeMMs simulated); simulated MACs per second.

Part 2 (SCALE-Sim): a throw-away venv in a temp dir, `pip install scalesim "numpy<2"` (SCALE-Sim
3.0.0 fails under numpy 2: `int(max(...))` on a 2-D array), SCALE-Sim on an M,K,N GeMM for a
16x16 output-stationary array, and andasim on the same shape; prints both cycle counts and the
wall-time ratio. SCALE-Sim steps a cycle-level trace in Python (~5k cycles/s here), so the full
2048x4096x12288 LLaMA-7B qkv GeMM (~4e8 of its cycles) would take about a day: by default it runs
a 256x512x256 slice and prints the extrapolation for the full shape, labelled as such.
The two tools model different PEs: SCALE-Sim's PE does one scalar MAC per cycle; andasim's FP-FP
PE does a 64-element group in 16 cycles (4 MACs per cycle). andasim is therefore also run with a
1-MAC-per-cycle variant of FP-FP (cycles_per_group = 64) for a like-for-like compute count.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import andasim
from andasim.hw.config import load_hw
from andasim.sim.engine import simulate_gemm
from andasim.workload.card import load_card
from andasim.workload.gemm import GeMM
from andasim.workload.trace import load_trace

SCALESIM_CFG = """[general]
run_name = andasim_bench

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = 16
ArrayWidth = 16
ifmapsramszkB = 1024
filtersramszkB = 1024
ofmapsramszkB = 64
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = os
ReadRequestBuffer = 32
WriteRequestBuffer = 32
Bandwidth = 10

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40
"""


def bench_andasim(repeats: int) -> None:
    trace = load_trace("llama7b")
    prof = trace.profile()
    card = load_card("llama-7b")
    print("== andasim: LLaMA-7B prefill, 2048 tokens, 32 layers, batch 1 (qkv, o, up, down)")
    for design in ("anda", "fp_fp"):
        hw = load_hw(design)
        t0 = time.perf_counter()
        res = andasim.simulate(hw, trace, prof, seq_len=2048)
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            andasim.simulate(hw, trace, prof, seq_len=2048)
            times.append(time.perf_counter() - t0)
        warm = statistics.median(times)
        gemms = card.gemms(seq_len=2048)
        t0 = time.perf_counter()
        for g in gemms:  # no reuse: every GeMM through the mapper and the engine
            mb = prof.bits_for(g.module, g.layer) if hw.activation_storage == "anda" else None
            simulate_gemm(hw, g, mb, mb)
        uncached = time.perf_counter() - t0
        macs = res.counters["macs"]
        print(f"{design:6s} cycles {res.cycles:,}  first call {first:.3f} s  repeat (median of {repeats}) "
              f"{warm * 1e3:.1f} ms  -> {macs / warm:.3g} simulated MAC/s; "
              f"without the shape cache ({len(gemms)} GeMMs) {uncached:.3f} s -> {macs / uncached:.3g} MAC/s")


def _run(cmd: list[str], timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


def bench_scalesim(m: int, k: int, n: int, timeout_s: float) -> None:
    print(f"== SCALE-Sim vs andasim: GeMM M={m} K={k} N={n}, 16x16 output-stationary")
    hw = load_hw("fp_fp")
    hw_1mac = dataclasses.replace(hw, pe_array=dataclasses.replace(
        hw.pe_array, pe=dataclasses.replace(hw.pe_array.pe, cycles_per_group=hw.pe_array.pe.lanes)))
    gemm = GeMM("bench", "qkv", 0, m, k, n)
    simulate_gemm(hw, gemm, None, None)  # numba warm-up outside the timing
    t0 = time.perf_counter()
    ours = simulate_gemm(hw, gemm, None, None)
    ours_s = time.perf_counter() - t0
    ours_1mac = simulate_gemm(hw_1mac, gemm, None, None)
    print(f"andasim fp_fp (4 MAC/PE/cycle): {ours.cycles:,} cycles "
          f"(compute {int(ours.counters['compute_cycles']):,}) in {ours_s * 1e3:.2f} ms; "
          f"1-MAC/PE/cycle variant: {ours_1mac.cycles:,} cycles "
          f"(compute {int(ours_1mac.counters['compute_cycles']):,})")
    with tempfile.TemporaryDirectory(prefix="scalesim_bench_") as tmp:
        tmpd = Path(tmp)
        venv = tmpd / "venv"
        t0 = time.perf_counter()
        step = _run([sys.executable, "-m", "venv", str(venv)], 300)
        if step.returncode == 0:
            step = _run([str(venv / "bin" / "pip"), "install", "-q", "scalesim", "numpy<2"], 900)
        if step.returncode != 0:
            print(f"SCALE-Sim: could not install ({step.returncode}): {step.stderr.strip()[-400:]}")
            return
        print(f"SCALE-Sim installed in a throw-away venv in {time.perf_counter() - t0:.0f} s")
        (tmpd / "os16.cfg").write_text(SCALESIM_CFG)
        (tmpd / "gemm.csv").write_text(f"Layer, M, N, K,\nbench, {m}, {n}, {k},\n")
        (tmpd / "layout.csv").write_text("Layer,\n")
        t0 = time.perf_counter()
        try:
            run = _run([str(venv / "bin" / "python"), "-m", "scalesim.scale", "-c", "os16.cfg",
                        "-t", "gemm.csv", "-l", "layout.csv", "-p", "out", "-i", "gemm", "-s", "N"],
                       timeout_s, cwd=tmpd)
        except subprocess.TimeoutExpired:
            print(f"SCALE-Sim: did not finish within {timeout_s:.0f} s")
            return
        ss_s = time.perf_counter() - t0
        total = re.search(r"Total cycles: (\d+)", run.stdout)
        compute = re.search(r"Compute cycles: (\d+)", run.stdout)
        if run.returncode != 0 or total is None:
            print(f"SCALE-Sim: failed ({run.returncode}): {(run.stderr or run.stdout).strip()[-600:]}")
            return
        ss_cycles = int(total.group(1))
        print(f"SCALE-Sim: {ss_cycles:,} cycles (compute {int(compute.group(1)):,}) in {ss_s:.1f} s wall "
              f"({ss_cycles / ss_s:,.0f} simulated cycles/s)")
        print(f"wall-time ratio SCALE-Sim / andasim = {ss_s / ours_s:,.0f}x")
        full = GeMM("qkv", "qkv", 0, 2048, 4096, 12288)
        est = simulate_gemm(hw_1mac, full, None, None).cycles
        print(f"extrapolation (not run): LLaMA-7B qkv 2048x4096x12288 is ~{est:.2e} 1-MAC cycles; "
              f"at SCALE-Sim's rate that is ~{est / (ss_cycles / ss_s) / 3600:.0f} h of SCALE-Sim wall time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-scalesim", action="store_true", help="skip the SCALE-Sim comparison")
    ap.add_argument("--scalesim-shape", default="256,512,256", help="M,K,N of the SCALE-Sim GeMM")
    ap.add_argument("--scalesim-timeout-s", type=float, default=600.0)
    args = ap.parse_args()
    bench_andasim(args.repeats)
    if not args.no_scalesim:
        m, k, n = (int(x) for x in args.scalesim_shape.split(","))
        bench_scalesim(m, k, n, args.scalesim_timeout_s)


if __name__ == "__main__":
    main()
