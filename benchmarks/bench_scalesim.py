"""SCALE-Sim 3.0 next to andasim on SCALE-Sim's own sample topologies; regenerates the recorded table.

    .venv/bin/python benchmarks/bench_scalesim.py [--samples DIR] [--venv DIR] [--cap-cycles N]
        [--shapes 8x8,16x16,32x8] [--work DIR] [--record tests/data/scalesim_recorded.csv]

1. Makes (or reuses) a throw-away venv with `pip install scalesim "numpy<2"` (SCALE-Sim 3.0.0
   fails under numpy 2).
2. Reads SCALE-Sim's sample topologies from a SCALE-Sim checkout (`--samples`: a folder holding
   `topologies/`, or a bare git folder read with `git show HEAD:...`; default: the mirror at
   /work/.mirror/scalesim-project+scale-sim-v2/repo) with andasim's own topology reader, plus the
   small convolution topology andasim's tests use (stride 2, a depthwise layer).
3. SCALE-Sim steps every cycle in Python (tens of microseconds per cycle here), so a layer is run
   only when it is small enough: its predicted compute cycles on that array and dataflow
   (andasim's closed form, used only as a cost estimate, decided before SCALE-Sim runs) are at most
   `--cap-cycles`. The skipped layers are listed. Each (topology, dataflow, array) is one SCALE-Sim
   run in `benchmarks/scalesim_worker.py`, recorded as it finishes, so a killed benchmark resumes.
4. Prints SCALE-Sim's and andasim's compute cycles, utilization and mapping efficiency side by
   side with both wall times (andasim: the closed form, and the full DRAM-aware engine run of the
   same layers on the design the .cfg describes), and writes the recorded table that
   tests/test_scalesim_systolic.py checks the closed forms against.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from andasim.hw.config import load_hw
from andasim.sim.dataflows.systolic import SYSTOLIC_DATAFLOWS, systolic_counts
from andasim.sim.simulate import simulate
from andasim.workload.scalesim_topology import parse_topology

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from scalesim_worker import CFG_TEMPLATE  # noqa: E402  (stdlib only: the .cfg both tools read)

DEFAULT_SAMPLES = "/work/.mirror/scalesim-project+scale-sim-v2/repo"
SAMPLE_FILES = (
    "topologies/GEMM_mnk/test_mnk_input.csv",
    "topologies/GEMM_mnk/transformer_partial.csv",
    "topologies/GEMM_mnk/NCF.csv",
    "topologies/GEMM_mnk/gpt2.csv",
    "topologies/GEMM_mnk/gnmt.csv",
    "topologies/GEMM_mnk/unet2d.csv",
    "topologies/conv_nets/test.csv",
)
OWN_CONV = REPO / "tests" / "fixtures" / "scalesim" / "conv_small.csv"
SRAM_KB = (
    64  # SCALE-Sim's sample configs/scale.cfg value; CALC bandwidth makes it irrelevant to compute cycles
)
RECORD_COLUMNS = (
    "topology",
    "form",
    "layer",
    "m",
    "n",
    "k",
    "dataflow",
    "rows",
    "cols",
    "compute_cycles",
    "stall_cycles",
    "total_cycles_incl_prefetch",
    "overall_util_pct",
    "mapping_eff_pct",
    "compute_util_pct",
)


def read_sample(samples: str, rel: str) -> str:
    root = Path(samples)
    if (root / rel).is_file():
        return (root / rel).read_text()
    return subprocess.run(
        ["git", "--git-dir", samples, "show", f"HEAD:{rel}"], check=True, capture_output=True, text=True
    ).stdout


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import scalesim, numpy; assert int(numpy.__version__.split('.')[0]) < 2"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with scalesim and numpy<2 ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "scalesim", "numpy<2"], check=True)
    return python


def select_jobs(
    topologies: dict[str, tuple[str, str]], shapes: list[tuple[int, int]], cap: int
) -> tuple[list[dict], list[str]]:
    """One job per (topology, dataflow, shape) with the rows whose predicted cycles are <= cap."""
    jobs, skipped = [], []
    for topo_name, (text, form) in topologies.items():
        lines = text.lstrip("\ufeff").splitlines()
        topo = parse_topology(text, topo_name, topo_name)
        by_line: dict[int, list] = {}
        for layer in topo.layers:
            by_line.setdefault(layer.line, []).append(layer)
        for rows, cols in shapes:
            for df in SYSTOLIC_DATAFLOWS:
                keep = []
                for line, layers in sorted(by_line.items()):
                    cost = sum(systolic_counts(df, x.m, x.n, x.k, rows, cols).compute_cycles for x in layers)
                    if cost <= cap:
                        keep.append(lines[line - 1].strip())
                    else:
                        skipped.append(
                            f"{topo_name}:{layers[0].name.split('Channel_')[0]} {df} {rows}x{cols} "
                            f"(~{cost:,} cycles)"
                        )
                if keep:
                    body = "\n".join([lines[0].strip(), *keep]) + "\n"
                    jobs.append(
                        {
                            "key": f"{topo_name}|{df}|{rows}x{cols}",
                            "topology": topo_name,
                            "form": form,
                            "dataflow": df,
                            "rows": rows,
                            "cols": cols,
                            "sram_kb": SRAM_KB,
                            "csv_text": body,
                        }
                    )
    return jobs, skipped


def andasim_side(job: dict, work: Path) -> tuple[list, float, float, int]:
    """Closed-form counts per layer and their wall time; the engine's wall time and DRAM-aware total
    cycles for the same layers on the design SCALE-Sim's .cfg of this job describes."""
    topo = parse_topology(job["csv_text"], job["topology"], job["topology"])
    start = time.perf_counter()
    counts = [systolic_counts(job["dataflow"], x.m, x.n, x.k, job["rows"], job["cols"]) for x in topo.layers]
    closed_s = time.perf_counter() - start
    cfg = work / "andasim_job.cfg"
    cfg.write_text(
        CFG_TEMPLATE.format(
            run_name="bench",
            rows=job["rows"],
            cols=job["cols"],
            sram_kb=job["sram_kb"],
            dataflow=job["dataflow"],
        )
    )
    hw = load_hw(cfg)
    start = time.perf_counter()
    result = simulate(hw, topo, None)
    engine_s = time.perf_counter() - start
    return list(zip(topo.layers, counts, strict=True)), closed_s, engine_s, int(result.counters["cycles"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", default=DEFAULT_SAMPLES)
    ap.add_argument("--venv", default="/tmp/scalesim-venv")
    ap.add_argument("--cap-cycles", type=int, default=250_000)
    ap.add_argument("--shapes", default="8x8,16x16,32x8")
    ap.add_argument("--work", default="/tmp/andasim-bench-scalesim")
    ap.add_argument("--record", default=str(REPO / "tests" / "data" / "scalesim_recorded.csv"))
    ap.add_argument(
        "--no-run",
        action="store_true",
        help="do not run SCALE-Sim: compare (and record) what --work already holds",
    )
    args = ap.parse_args()
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    topologies = {
        Path(rel).stem: (read_sample(args.samples, rel), "conv" if "conv_nets" in rel else "gemm")
        for rel in SAMPLE_FILES
    }
    topologies["andasim_conv_small"] = (OWN_CONV.read_text(), "conv")
    jobs, skipped = select_jobs(topologies, shapes, args.cap_cycles)
    jobs_file, results_file = work / "jobs.json", work / "results.jsonl"
    jobs_file.write_text(json.dumps(jobs, indent=1))
    print(
        f"{len(jobs)} SCALE-Sim runs; {len(skipped)} layer runs over the {args.cap_cycles:,}-cycle cap "
        "skipped:"
    )
    for s in skipped:
        print("  skipped", s)
    if not args.no_run:
        python = ensure_venv(Path(args.venv))
        subprocess.run(
            [str(python), str(REPO / "benchmarks" / "scalesim_worker.py"), str(jobs_file), str(results_file)],
            check=True,
        )
    records = {}
    for line in results_file.read_text().splitlines() if results_file.exists() else []:
        try:
            rec = json.loads(line)
            records[rec["key"]] = rec
        except (ValueError, KeyError):
            continue
    table = []
    versions = set()
    print(
        f"\n{'topology':<22}{'layer':<24}{'df':<4}{'array':>6}{'SCALE-Sim':>11}{'andasim':>11}"
        f"{'util%':>8}{'map%':>8}{'ok':>4}"
    )
    total_ss, total_an, total_eng, mismatches = 0.0, 0.0, 0.0, 0
    for job in jobs:
        rec = records.get(job["key"])
        if rec is None:
            continue
        versions.add(rec["scalesim_version"])
        pairs, closed_s, engine_s, dram_aware = andasim_side(job, work)
        total_ss += rec["wall_s"]
        total_an += closed_s
        total_eng += engine_s
        print(
            f"{job['key']}: SCALE-Sim {rec['wall_s']:.2f} s, andasim closed form {closed_s * 1e3:.3f} ms, "
            f"engine {engine_s * 1e3:.1f} ms (DRAM-aware total {dram_aware:,} cycles)"
        )
        for (layer, counts), ss in zip(pairs, rec["layers"], strict=True):
            ok = counts.compute_cycles == ss["compute_cycles"] and ss["stall_cycles"] == 0
            mismatches += not ok
            print(
                f"{job['topology']:<22}{layer.name[:23]:<24}{job['dataflow']:<4}"
                f"{job['rows']:>3}x{job['cols']:<3}{ss['compute_cycles']:>11,}{counts.compute_cycles:>11,}"
                f"{ss['overall_util_pct']:>8.2f}{ss['mapping_eff_pct']:>8.2f}{'yes' if ok else 'NO':>4}"
            )
            table.append(
                [
                    job["topology"],
                    job["form"],
                    ss["layer"],
                    layer.m,
                    layer.n,
                    layer.k,
                    job["dataflow"],
                    job["rows"],
                    job["cols"],
                    ss["compute_cycles"],
                    ss["stall_cycles"],
                    ss["total_cycles_incl_prefetch"],
                    repr(ss["overall_util_pct"]),
                    repr(ss["mapping_eff_pct"]),
                    repr(ss["compute_util_pct"]),
                ]
            )
    print(
        f"\n{len(table)} layer runs in {len(records)} of {len(jobs)} SCALE-Sim runs, "
        f"{mismatches} mismatches; "
        f"SCALE-Sim wall {total_ss:.1f} s, andasim closed form {total_an * 1e3:.2f} ms "
        f"(ratio {total_ss / max(total_an, 1e-9):,.0f}x), andasim engine with DRAM {total_eng:.2f} s "
        f"(ratio {total_ss / max(total_eng, 1e-9):,.0f}x)"
    )
    if table:
        buf = io.StringIO()
        cmd = "python benchmarks/bench_scalesim.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        buf.write(f"# SCALE-Sim {', '.join(sorted(versions))} compute reports, recorded by: {cmd.strip()}\n")
        buf.write(
            f"# date {datetime.date.today().isoformat()}, {platform.python_implementation()} "
            f"{platform.python_version()}, numpy<2 venv; InterfaceBandwidth CALC, SRAM {SRAM_KB} kB each\n"
        )
        buf.write(
            f"# {len(records)} of {len(jobs)} SCALE-Sim runs (topology x dataflow x array); layers with "
            f"predicted cycles above {args.cap_cycles:,} were not run (see the benchmark output)\n"
        )
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(RECORD_COLUMNS)
        writer.writerows(table)
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(buf.getvalue())
        print(f"wrote {args.record}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
