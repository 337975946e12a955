"""The two readings of the paper's FP-FP baseline, Anda's per-category savings, and their sensitivity.

The Anda paper calls FP-FP "GPU-like" without saying how it maps a GeMM. andasim offers two
readings: `fp_fp` maps with `gpu_tiled` (TM x TN output tiles on chip, K streamed, both operands
re-read per tile, as a GPU thread block does; the tile is an assumption), and
`fp_fp_least_traffic` maps like the accelerators do (output-stationary, least DRAM traffic).
This module sets Anda beside both, splits the energy ratio into categories (compute, SRAM, DRAM)
and shows how the headline energy efficiency moves with the GPU tile size and with the SRAM
energy per bit (both assumptions). Nothing here is fitted to the published 3.1x.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from andasim.hw.energy import load_cost_table
from andasim.report.comparison import RunSummary, geomean
from andasim.report.sweep import Sweep
from andasim.report.writers import write_text

READINGS = {"gpu_tiled": "fp_fp", "least_traffic": "fp_fp_least_traffic"}
# GPU tile variants (TM, TN, TK) around the bundled 128 x 128 x 64; all keep TM x TN FP32 partial sums
# within the 64 KiB output buffer.
TILE_VARIANTS = ((64, 64, 64), (128, 64, 64), (128, 128, 64), (128, 128, 128))
SRAM_FACTORS = (0.5, 1.0, 2.0)
CATEGORIES = ("compute", "sram", "dram")


def category_ratios(runs: Sequence[RunSummary], design: str, baseline: str,
                    traces: Sequence[str]) -> dict[str, float]:
    """Geometric mean over models of design / baseline energy, per category (0.1 = 90% less)."""
    index = {(r.design, r.trace): r for r in runs}
    def one(t: str, cat: str) -> float:
        return index[(design, t)].energy_by_category_j[cat] / index[(baseline, t)].energy_by_category_j[cat]

    return {cat: geomean(one(t, cat) for t in traces) for cat in CATEGORIES}


def category_shares(run: RunSummary) -> dict[str, float]:
    total = sum(run.energy_by_category_j[c] for c in CATEGORIES)
    return {c: run.energy_by_category_j[c] / total for c in CATEGORIES}


def _headline(sweep: Sweep, anda: str, base: str, traces: Sequence[str], profile: str) -> dict[str, float]:
    """Anda over one FP-FP variant, geometric mean over the models: speedup and energy efficiencies."""
    vals: dict[str, list[float]] = {"speedup": [], "energy_efficiency": [], "energy_efficiency_on_chip": []}
    for t in traces:
        a, b = sweep.run(anda, t, profile), sweep.run(base, t, profile)
        vals["speedup"].append(b.latency_s / a.latency_s)
        vals["energy_efficiency"].append((a.ops / a.energy_j) / (b.ops / b.energy_j))
        vals["energy_efficiency_on_chip"].append((a.ops / a.on_chip_energy_j) / (b.ops / b.on_chip_energy_j))
    return {k: geomean(v) for k, v in vals.items()}


def _scaled_sram_table(name: str, factor: float, out_dir: Path) -> Path:
    """A copy of cost table `name` with every SRAM energy per bit times `factor`, written under out_dir."""
    data = _plain(load_cost_table(name).data)
    data["name"] = f"{name}_sram_x{factor:g}"
    data["description"] = f"{data['description']} SRAM energy per bit x {factor:g} (sensitivity only)"
    for cls in data["sram"].values():
        cls["e_pj_per_bit"]["value"] *= factor
        cls["e_pj_per_bit"]["source"] += f" x {factor:g} (andasim reproduce sensitivity)"
    path = out_dir / f"{data['name']}.yaml"
    write_text(path, yaml.safe_dump(data, sort_keys=True, width=100))
    return path


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return copy.copy(node)


def sensitivity(sweep: Sweep, traces: Sequence[str], profile: str, out_dir: Path,
                progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Anda over GPU-like FP-FP for each tile variant and for SRAM energy per bit x 0.5, 1, 2."""
    base = sweep.hw("fp_fp")
    tiles = []
    for tm, tn, tk in TILE_VARIANTS:
        name = f"fp_fp_tile_{tm}x{tn}x{tk}"
        params = (("tile_k_elements", tk), ("tile_m_tokens", tm), ("tile_n_features", tn))
        flow = dataclasses.replace(base.dataflow, supported=(("gpu_tiled", params),))
        sweep.add_design(name, dataclasses.replace(base, name=name, dataflow=flow))
        tiles.append({"tile_m_tokens": tm, "tile_n_features": tn, "tile_k_elements": tk,
                      "bundled": (tm, tn, tk) == (128, 128, 64),
                      "anda_over_fp_fp": _headline(sweep, "anda", name, traces, profile)})
        if progress is not None:
            progress()
    sram = []
    for factor in SRAM_FACTORS:
        names = {}
        for design in ("anda", "fp_fp"):
            hw = sweep.hw(design)
            if factor == 1.0:
                names[design] = design
                continue
            table = _scaled_sram_table(hw.cost_table, factor, out_dir)
            names[design] = f"{design}_sram_x{factor:g}"
            variant = dataclasses.replace(hw, name=names[design], cost_table=str(table))
            sweep.add_design(names[design], variant)
        sram.append({"sram_e_pj_per_bit_factor": factor,
                     "anda_over_fp_fp": _headline(sweep, names["anda"], names["fp_fp"], traces, profile)})
        if progress is not None:
            progress()
    return {"profile": profile, "tile_sizes": tiles, "sram_energy_per_bit": sram,
            "note": "geometric means over the models; every other input as in the main comparison"}


def readings_text(data: dict[str, Any]) -> str:
    """The side-by-side table of both FP-FP readings and the sensitivity, for reproduction.txt."""
    lines = ["Anda over both readings of FP-FP, geometric mean over the models",
             f"{'profile':12s}{'metric':26s}" + "".join(f"{r:>16s}" for r in READINGS)]
    for tol, t in data["tolerances"].items():
        for metric in ("speedup", "area_efficiency", "energy_efficiency", "energy_efficiency_on_chip"):
            lines.append(f"{tol:12s}{metric:26s}" + "".join(
                f"{t['anda_over_fp_fp_readings'][r][metric]:>16.2f}" for r in READINGS))
    lines += ["", "Anda / FP-FP energy per category (geomean over models; 0.10 = 90% less)",
              f"{'profile':12s}{'reading':16s}" + "".join(f"{c:>10s}" for c in CATEGORIES)]
    for tol, t in data["tolerances"].items():
        for r in READINGS:
            lines.append(f"{tol:12s}{r:16s}" + "".join(f"{t['category_ratios_anda_over'][r][c]:>10.2f}"
                                                        for c in CATEGORIES))
    sens = data["sensitivity"]
    lines += ["", f"Sensitivity of Anda over GPU-like FP-FP ({sens['profile']})",
              f"{'GPU tile TM x TN x TK':26s}{'speedup':>10s}{'energy eff':>12s}{'on chip':>10s}"]
    for row in sens["tile_sizes"]:
        h = row["anda_over_fp_fp"]
        tile = f"{row['tile_m_tokens']}x{row['tile_n_features']}x{row['tile_k_elements']}" + \
            (" (bundled)" if row["bundled"] else "")
        lines.append(f"{tile:26s}{h['speedup']:>10.2f}{h['energy_efficiency']:>12.2f}"
                     f"{h['energy_efficiency_on_chip']:>10.2f}")
    lines.append(f"{'SRAM energy per bit x':26s}{'speedup':>10s}{'energy eff':>12s}{'on chip':>10s}")
    for row in sens["sram_energy_per_bit"]:
        h = row["anda_over_fp_fp"]
        lines.append(f"{row['sram_e_pj_per_bit_factor']:<26g}{h['speedup']:>10.2f}"
                     f"{h['energy_efficiency']:>12.2f}{h['energy_efficiency_on_chip']:>10.2f}")
    return "\n".join(lines) + "\n"
