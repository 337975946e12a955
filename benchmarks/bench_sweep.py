"""Benchmark of `andasim sweep`: points per second for a LLaMA-7B prefill design-space sweep.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sweep.py [--sample N] [--no-dask] [--no-zigzag]

The space: `anda` x pe_array.rows {8,16,32,64} x pe_array.cols {8,16,32,64} x dram.bw_gb_per_s
{128,256,512,1024,2048} x buffers.weight.size_kib {256,512,1024,2048,4096} x uniform M {4..8}
= 10,000 points of LLaMA-7B prefill (2048 tokens, batch 1, qkv/o/up/down). `--sample N` runs a
seeded random sample of N of them (the machine is shared: the default runs 600 per mode).

Modes, each into a fresh folder: the baseline (a plain loop over the same points calling
`simulate` + the energy model, no sweep machinery), the sweep with 1 worker (in process), with
a local pool of 2 worker processes, and with Dask (a LocalCluster of 2 worker processes started
and torn down by the sweep). Reported per mode: wall time, CPU time of this process and of its
(reaped) child processes, and points/s both by wall time and by CPU time per worker
(points / (CPU s / workers)), which is what the rate would be with dedicated cores; the machine
is shared with other jobs, so the CPU-based figure is the comparable one. Start-up (spawning
workers, importing andasim, loading numba's cached kernels) is included: it is what a user waits for.

ZigZag (KULeuven-MICAS/zigzag, `pip install zigzag-dse` into a throw-away venv) maps one GeMM
layer onto one accelerator per call; `--zigzag-python PATH --zigzag-inputs DIR` times it on the
LLaMA-7B QKV projection (one of the four distinct GeMM shapes of one andasim point) with ZigZag's
own GeMM example accelerator and mapping (DIR = its `zigzag/inputs` folder, e.g. extracted with
`git -C /work/.mirror/KULeuven-MICAS+zigzag/repo archive HEAD zigzag/inputs | tar -x -C /tmp/zz13`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from andasim.explore.points import expand, load_workload
from andasim.explore.run import run_sweep
from andasim.explore.spec import SweepSpec
from andasim.explore.worker import point_metrics
from andasim.sim.simulate import simulate

SPACE = (("pe_array.rows", (8, 16, 32, 64)), ("pe_array.cols", (8, 16, 32, 64)),
         ("dram.bw_gb_per_s", (128, 256, 512, 1024, 2048)),
         ("buffers.weight.size_kib", (256, 512, 1024, 2048, 4096)))
PRECISIONS = ("4", "5", "6", "7", "8")


def spec(sample: int | None) -> SweepSpec:
    return SweepSpec(designs=("anda",), workloads=("llama7b",), precisions=PRECISIONS, axes=SPACE,
                     sample=sample, seed=0, source="bench_sweep")


def cpu_s() -> tuple[float, float]:
    """(CPU seconds of this process, of its reaped children)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, ch.ru_utime + ch.ru_stime


def measure(label: str, workers: int, fn) -> dict[str, float]:
    c0 = cpu_s()
    t0 = time.perf_counter()
    n = fn()
    wall = time.perf_counter() - t0
    c1 = cpu_s()
    own, children = c1[0] - c0[0], c1[1] - c0[1]
    cpu = own + children
    row = {"points": n, "wall_s": wall, "cpu_self_s": own, "cpu_children_s": children,
           "pts_per_s_wall": n / wall, "pts_per_s_cpu": n / (cpu / workers) if cpu else float("nan")}
    print(f"{label:28s} {n:6d} pts  wall {wall:7.2f} s  cpu {own:7.2f} + {children:7.2f} s  "
          f"{row['pts_per_s_wall']:7.1f} pts/s wall  {row['pts_per_s_cpu']:7.1f} pts/s by CPU "
          f"({workers} worker{'s' if workers > 1 else ''})", flush=True)
    return row


def baseline(sample: int | None) -> int:
    """The same points through a plain loop: resolve, simulate, energy; no journal, no executor."""
    points = expand(spec(sample))
    for p in points:
        t = p.task
        result = simulate(t.hw, load_workload(t.workload), t.profile, phase=t.phase,
                          seq_len=t.seq_len, batch=t.batch, modules=t.modules)
        point_metrics(t, result)
    return len(points)


def sweep_mode(sample: int | None, backend: str, workers: int, root: Path) -> int:
    out = root / f"{backend}_{workers}"
    shutil.rmtree(out, ignore_errors=True)
    outcome = run_sweep(spec(sample), out, backend=backend, workers=workers, parquet=False)
    assert outcome.simulated == len({p.key for p in outcome.points}) and not outcome.failed
    return len(outcome.rows)


ZIGZAG_SCRIPT = r"""
import os, pathlib, sys, tempfile, time
t0 = time.perf_counter()
import zigzag
from zigzag.api import get_hardware_performance_zigzag
inputs = pathlib.Path(sys.argv[1])
tmp = tempfile.mkdtemp()
wl = os.path.join(tmp, "gemm.yaml")
open(wl, "w").write(
    "- id: 0\n  operator_type: Gemm\n  equation: O[d0][d1]+=I[d0][d2]*W[d2][d1]\n"
    "  dimension_relations: []\n  loop_dims: [D0, D1, D2]\n  loop_sizes: [2048, 12288, 4096]\n"
    "  operand_precision:\n    W: 8\n    I: 8\n    O: 32\n    O_final: 8\n"
    "  operand_source:\n    I: 0\n    W: 0\n")
t1 = time.perf_counter(); c1 = time.process_time()
energy, latency, cmes = get_hardware_performance_zigzag(
    wl, str(inputs / "hardware" / "gemm_l1_l3.yaml"), str(inputs / "mapping" / "gemm_l1_l3.yaml"),
    opt="latency", dump_folder=os.path.join(tmp, "out"), pickle_filename=os.path.join(tmp, "c.pickle"),
    loma_show_progress_bar=False)
t2 = time.perf_counter(); c2 = time.process_time()
print(f"import {t1 - t0:.2f} s; one GeMM layer (2048x4096x12288, gemm_l1_l3 example "
      f"accelerator): {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU; latency {latency:.4g} cycles, "
      f"energy {energy:.4g} pJ")
"""


def zigzag(python: str, inputs: str) -> None:
    """Time ZigZag on one LLaMA-7B QKV-projection GeMM (2048 x 4096 x 12288) on its GeMM example
    accelerator (`inputs/hardware/gemm_l1_l3.yaml` and its mapping from ZigZag's repository)."""
    if not Path(python).exists() or not Path(inputs).is_dir():
        print(f"zigzag: {python} or {inputs} not found; skipped (see docs/performance.md)")
        return
    proc = subprocess.run([python, "-c", ZIGZAG_SCRIPT, inputs], capture_output=True, text=True,
                          timeout=1800)
    tail = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    print("zigzag: " + (tail[-1] if tail else f"exit {proc.returncode}, no output"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=600, help="points per mode (0 = all 10,000)")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-zigzag", action="store_true")
    parser.add_argument("--zigzag-python", default="/tmp/zz13/bin/python",
                        help="python of a venv with zigzag-dse installed")
    parser.add_argument("--zigzag-inputs", default="/tmp/zz13/zigzag/inputs",
                        help="ZigZag's zigzag/inputs folder (hardware/ and mapping/ examples)")
    args = parser.parse_args()
    sample = args.sample or None
    print(f"machine: {os.cpu_count()} CPUs visible, {len(os.sched_getaffinity(0))} usable; "
          f"python {sys.version.split()[0]}")
    print(f"space: 10,000 points (anda x rows x cols x DRAM bandwidth x weight buffer x M); running "
          f"{'all' if sample is None else f'a seeded sample of {sample}'} per mode")
    # Warm this process (trace, bundled designs, numba kernels compiled or loaded from numba's cache)
    # so that the baseline loop measures simulation, not start-up; the sweep modes' workers start cold.
    first = expand(SweepSpec(designs=("anda",), workloads=("llama7b",), precisions=("6",)))[0].task
    simulate(first.hw, load_workload(first.workload), first.profile)
    results = {"baseline": measure("baseline loop (1 process)", 1, lambda: baseline(sample))}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["local1"] = measure("sweep --workers 1", 1, lambda: sweep_mode(sample, "local", 1, root))
        results["local2"] = measure("sweep --workers 2", 2, lambda: sweep_mode(sample, "local", 2, root))
        if not args.no_dask:
            results["dask2"] = measure("sweep --backend dask (2)", 2,
                                       lambda: sweep_mode(sample, "dask", 2, root))
    base = results["baseline"]["pts_per_s_cpu"]
    for key in ("local1", "local2", "dask2"):
        if key in results:
            print(f"{key:8s} CPU-based rate / baseline loop: {results[key]['pts_per_s_cpu'] / base:.2f}x")
    one, two = results["local1"], results["local2"]
    print(f"1 -> 2 workers: {two['pts_per_s_cpu'] / one['pts_per_s_cpu']:.2f}x by CPU time, "
          f"{two['pts_per_s_wall'] / one['pts_per_s_wall']:.2f}x by wall time")
    if not args.no_zigzag:
        zigzag(args.zigzag_python, args.zigzag_inputs)


if __name__ == "__main__":
    main()
