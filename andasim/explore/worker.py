"""Evaluate sweep points: `simulate`, then energy and area, reduced to one row of numbers.

This is the only code that runs on workers (local processes or Dask workers). Workloads are
loaded once per worker process (`load_workload` is cached) and the engine's numba kernels are
compiled (or loaded from numba's on-disk cache) on a worker's first point, not per point.
A point that raises is returned as its error message, so one bad point never stops a sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from andasim.explore.points import Task, load_workload

# The numbers each point contributes to the table, in column order.
METRICS = (
    "cycles", "latency_s", "throughput_gops", "tokens_per_s", "energy_j", "energy_on_chip_j",
    "energy_dram_j", "energy_per_token_j", "area_mm2", "energy_efficiency_tops_per_w",
    "energy_efficiency_on_chip_tops_per_w", "area_efficiency_gops_per_mm2", "utilization", "macs",
    "dram_read_bytes", "dram_write_bytes", "dram_bytes", "stall_dram_share",
)
# Present only when the engine reports it (the roofline bound of a run).
OPTIONAL_METRICS = ("roofline_cycles",)


def point_metrics(task: Task, result: Any) -> dict[str, Any]:
    """The table's numbers for one simulated point (energy and area from the design's cost table)."""
    from andasim.hw.energy import estimate_energy

    energy = estimate_energy(task.hw, result, tokens=task.tokens)
    m = energy.metrics()
    s = result.summary()
    row: dict[str, Any] = {
        "cycles": int(s["cycles"]), "latency_s": float(s["latency_s"]),
        "throughput_gops": m["throughput_gops"], "tokens_per_s": m["tokens_per_s"],
        "energy_j": energy.total_j, "energy_on_chip_j": energy.on_chip_j,
        "energy_dram_j": energy.component_j("dram"), "energy_per_token_j": m["energy_per_token_j"],
        "area_mm2": energy.area.total_mm2,
        "energy_efficiency_tops_per_w": m["energy_efficiency_tops_per_w"],
        "energy_efficiency_on_chip_tops_per_w": m["energy_efficiency_on_chip_tops_per_w"],
        "area_efficiency_gops_per_mm2": m["area_efficiency_gops_per_mm2"],
        "utilization": float(s["utilization"]), "macs": int(s["macs"]),
        "dram_read_bytes": float(s["dram_read_bytes"]), "dram_write_bytes": float(s["dram_write_bytes"]),
        "dram_bytes": float(s["dram_read_bytes"] + s["dram_write_bytes"]),
        "stall_dram_share": float(s["stall_dram_share"]),
    }
    for name in OPTIONAL_METRICS:
        value = s.get(name, result.counters.get(name))
        if value is not None:
            row[name] = float(value)
    return row


def evaluate(task: Task) -> dict[str, Any]:
    """{"metrics": {...}} for a point, or {"error": "Type: message"} when it fails."""
    from andasim.sim.simulate import simulate

    try:
        workload = load_workload(task.workload)
        result = simulate(task.hw, workload, task.profile, phase=task.phase, seq_len=task.seq_len,
                          batch=task.batch, modules=task.modules)
        return {"metrics": point_metrics(task, result)}
    except Exception as exc:  # recorded in the table; the sweep goes on
        message = " ".join(str(exc).split()) or "(no message)"
        return {"error": f"{type(exc).__name__}: {message}"}


def evaluate_batch(tasks: Sequence[Task]) -> list[tuple[str, dict[str, Any]]]:
    """(key, outcome) of each task: one executor task covers a batch of points."""
    return [(task.key, evaluate(task)) for task in tasks]
