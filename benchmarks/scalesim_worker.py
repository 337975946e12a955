"""Runs SCALE-Sim (inside its own throw-away venv) on a list of jobs; used by bench_scalesim.py.

    /tmp/scalesim-venv/bin/python benchmarks/scalesim_worker.py JOBS.json RESULTS.jsonl

This file imports only SCALE-Sim and the standard library, because it runs under the venv that
holds `scalesim` and `numpy<2`, not under andasim's environment. Each job (one topology, one
dataflow, one array shape) is simulated through SCALE-Sim's Python API with traces off and its
per-layer compute report appended to RESULTS.jsonl as one JSON line. Jobs already in RESULTS are
skipped, so a killed run resumes where it stopped; each line is flushed and fsynced on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

# SCALE-Sim 3.0 reads every key below; `CALC` makes it size the DRAM interface itself, so its
# "Total Cycles" are the compute cycles (stall cycles come back and are recorded, expected 0).
CFG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {sram_kb}
FilterSramSzkB : {sram_kb}
OfmapSramSzkB : {sram_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks : 1
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def run_job(job: dict, scratch: Path) -> dict:
    from scalesim.layout_utils import layouts
    from scalesim.scale_config import scale_config
    from scalesim.simulator import simulator
    from scalesim.topology_utils import topologies

    cfg_path = scratch / "job.cfg"
    topo_path = scratch / "topology.csv"
    cfg_path.write_text(CFG_TEMPLATE.format(run_name="run", rows=job["rows"], cols=job["cols"],
                                            sram_kb=job["sram_kb"], dataflow=job["dataflow"]))
    topo_path.write_text(job["csv_text"])
    config = scale_config()
    config.read_conf_file(str(cfg_path))
    topo = topologies()
    topo.load_arrays(topofile=str(topo_path), mnk_inputs=job["form"] == "gemm")
    sim = simulator()
    sim.set_params(config_obj=config, topo_obj=topo, layout_obj=layouts(), top_path=str(scratch / "out"),
                   verbosity=False, save_trace=False)
    start = time.perf_counter()
    sim.run()
    wall_s = time.perf_counter() - start
    layers = []
    for i, layer in enumerate(sim.single_layer_sim_object_list):
        total_incl_prefetch, compute, stall, overall, mapping, util = layer.get_compute_report_items()
        layers.append({"layer": topo.get_layer_name(i), "compute_cycles": int(compute),
                       "stall_cycles": int(stall), "total_cycles_incl_prefetch": int(total_incl_prefetch),
                       "overall_util_pct": float(overall), "mapping_eff_pct": float(mapping),
                       "compute_util_pct": float(util)})
    return {"key": job["key"], "layers": layers, "wall_s": wall_s, "scalesim_version": version("scalesim")}


def main() -> None:
    jobs_file, results_file = Path(sys.argv[1]), Path(sys.argv[2])
    jobs = json.loads(jobs_file.read_text())
    done = set()
    if results_file.exists():
        for line in results_file.read_text().splitlines():
            if line.strip():
                with contextlib.suppress(ValueError, KeyError):  # a line cut by a kill: the job runs again
                    done.add(json.loads(line)["key"])
        if not results_file.read_bytes().endswith(b"\n"):
            with results_file.open("a") as fh:  # end a line cut by a kill before appending
                fh.write("\n")
    todo = [j for j in jobs if j["key"] not in done]
    print(f"scalesim_worker: {len(done)} jobs already recorded, {len(todo)} to run", flush=True)
    for i, job in enumerate(todo, 1):
        with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
            record = run_job(job, Path(tmp))
        with results_file.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        print(f"[{i}/{len(todo)}] {job['key']}: {record['wall_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
