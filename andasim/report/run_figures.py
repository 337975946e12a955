"""Figures of one `andasim run` (`--figures`): roofline, per-layer timeline, area and energy bars.

- `roofline`: every GeMM at (MACs per DRAM byte, achieved MACs per cycle) under the design's roofs:
  the DRAM bandwidth line and one compute roof per mantissa width (the peak MAC rate the PEs reach
  at that width, MACs / ideal compute cycles from the engine's counters).
- `timeline`: the layers in the order they run, each a stacked bar of its GeMMs' compute time plus
  the DRAM and compressor stalls, so where time goes (and where the stalls sit) reads left to right.
- `area_energy`: area per component and energy per component (dynamic and leakage; DRAM included
  and named), from the run's `EnergyReport`.
Every number comes from the Result and its energy report; nothing is computed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from andasim.report.designs import OKABE_ITO, TOL_MUTED
from andasim.report.figures import MODULE_LABELS, STYLE, save_figure
from andasim.units import duration

MODULE_COLOURS = {"qkv": OKABE_ITO["vermillion"], "o": OKABE_ITO["orange"], "up": OKABE_ITO["sky_blue"],
                  "down": OKABE_ITO["bluish_green"], "qk": OKABE_ITO["blue"],
                  "pv": OKABE_ITO["reddish_purple"], "lm_head": OKABE_ITO["black"], "vector": TOL_MUTED[4]}
STALL_STYLE = {"DRAM stall": ("#bbbbbb", "//"), "compressor stall": ("#666666", "xx")}


def _legend_outside(fig: Any, ax: Any, title: str = "") -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False, title=title)


def _title(result: Any) -> str:
    inp = result.inputs
    wl = inp.get("workload") or {}
    return (f"{wl.get('trace_id') or wl.get('model') or 'GeMM list'} on {inp['hw']['name']}, {inp['phase']}, "
            f"seq_len {inp['seq_len']}, batch {inp['batch']}")


def plot_roofline(result: Any, hw: Any, out_dir: Path | str) -> list[Path]:
    """Each GeMM against the compute roofs (per mantissa width) and the DRAM bandwidth roof."""
    dram_bytes_per_cycle = hw.dram.bw_gb_per_s * 1e9 / (hw.freq_mhz * 1e6)
    points: dict[str, list[tuple[float, float]]] = {}
    roofs: dict[Any, float] = {}
    for e in result.entries:
        c = e["counters"]
        traffic = sum(v for k, v in c.items() if k.startswith(("dram_read_bytes", "dram_write_bytes")))
        if c["macs"] <= 0 or traffic <= 0 or c["cycles"] <= 0:
            continue
        points.setdefault(e["module"], []).append((c["macs"] / traffic, c["macs"] / c["cycles"]))
        if c["ideal_compute_cycles"] > 0:
            roofs.setdefault(e.get("m_bits") or "FP16", c["macs"] / c["ideal_compute_cycles"])
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 4.6))
        xs = [p[0] for pts in points.values() for p in pts] or [1.0]
        ys = [p[1] for pts in points.values() for p in pts] or [1.0]
        peak = max(roofs.values(), default=1.0)
        ridge = peak / dram_bytes_per_cycle  # where the DRAM roof meets the highest compute roof
        x_lo, x_hi = min(min(xs), ridge) / 8, max(xs) * 4
        grid = np.geomspace(x_lo, x_hi, 200)
        ax.set_ylim(min(min(ys), x_lo * dram_bytes_per_cycle) / 2, peak * 2)
        ax.plot(grid, np.minimum(grid * dram_bytes_per_cycle, peak), color="black", linewidth=1.2,
                label=f"DRAM roof ({hw.dram.bw_gb_per_s:g} GB/s = {dram_bytes_per_cycle:.3g} B/cycle)")
        for i, (width, roof) in enumerate(sorted(roofs.items(), key=lambda kv: -kv[1])):
            ax.axhline(roof, color=TOL_MUTED[i % len(TOL_MUTED)], linestyle="--", linewidth=1,
                       label=f"compute roof, {'FP16 activations' if width == 'FP16' else f'M = {width}'}: "
                             f"{roof:.4g} MAC/cycle")
        for module, pts in points.items():
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28, color=MODULE_COLOURS.get(module),
                       edgecolors="white", linewidths=0.5, label=MODULE_LABELS.get(module, module), zorder=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # labels at 1, 2, 5 x 10^k only: no collisions, plain numbers
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlim(x_lo, x_hi)
        ax.set_xlabel("operational intensity (MACs per DRAM byte)")
        ax.set_ylabel("achieved throughput (MACs per cycle)")
        ax.set_title(f"Roofline: {_title(result)}", fontsize=9)
        ax.grid(color="#dddddd", linewidth=0.6, which="major")
        fig.tight_layout()
        _legend_outside(fig, ax)
    return save_figure(fig, out_dir, "roofline")


def plot_timeline(result: Any, out_dir: Path | str) -> list[Path]:
    """Layers in run order, each a stack of its GeMMs' compute time and its stall time (ms)."""
    to_ms = 1e3 / (result.freq_mhz * 1e6)
    layers = sorted({int(e["layer"]) for e in result.entries if int(e["layer"]) >= 0})
    index = {layer: i for i, layer in enumerate(layers)}
    modules = list(dict.fromkeys(e["module"] for e in result.entries))
    stacks = {name: np.zeros(len(layers)) for name in [*modules, *STALL_STYLE]}
    for e in result.entries:
        if int(e["layer"]) < 0:
            continue
        c, rep, i = e["counters"], int(e.get("repeat", 1)), index[int(e["layer"])]
        stall_dram, stall_comp = c["stall_dram_cycles"], c["stall_compressor_cycles"]
        stacks[e["module"]][i] += (c["cycles"] - stall_dram - stall_comp) * rep * to_ms
        stacks["DRAM stall"][i] += stall_dram * rep * to_ms
        stacks["compressor stall"][i] += stall_comp * rep * to_ms
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(7.0, 0.18 * len(layers) + 4), 4.4))
        x = np.arange(len(layers))
        bottom = np.zeros(len(layers))
        for name, values in stacks.items():
            if not values.any():
                continue
            colour, hatch = STALL_STYLE.get(name, (MODULE_COLOURS.get(name, "#999999"), None))
            label = name if name in STALL_STYLE else MODULE_LABELS.get(name, name) + " (compute)"
            ax.bar(x, values, 0.85, bottom=bottom, color=colour, hatch=hatch, edgecolor="white",
                   linewidth=0.3, label=label)
            bottom += values
        step = max(1, len(layers) // 16)
        ax.set_xticks(x[::step], [str(layers[i]) for i in range(0, len(layers), step)])
        ax.set_xlabel("decoder layer, in the order they run")
        ax.set_ylabel("time (ms)")
        ax.set_ylim(0, bottom.max() * 1.08 if len(bottom) else 1)
        total_stall = stacks["DRAM stall"].sum() + stacks["compressor stall"].sum()
        ax.set_title(f"Per-layer timeline: {_title(result)}; stalls {duration(total_stall / 1e3)} of "
                     f"{duration(bottom.sum() / 1e3)}", fontsize=9)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.tight_layout()
        _legend_outside(fig, ax, title="stacked, bottom first")
    return save_figure(fig, out_dir, "timeline")


def plot_area_energy(result: Any, report: Any, out_dir: Path | str) -> list[Path]:
    """Area per component (left) and energy per component, dynamic + leakage (right)."""
    area = report.area.components_mm2
    names = [n for n in report.components_j if n in area or n == "dram"]
    with plt.rc_context(STYLE):
        fig, (ax_a, ax_e) = plt.subplots(1, 2, figsize=(11, 4.4))
        y = np.arange(len(names))
        ax_a.barh(y, [area.get(n, 0.0) for n in names], color=OKABE_ITO["blue"], label="area")
        ax_a.set_yticks(y, [n.replace("_", " ") for n in names])
        ax_a.invert_yaxis()
        ax_a.set_xlabel("area (mm²)")
        ax_a.set_ylabel("component")
        ax_a.set_title(f"area {report.area.total_mm2:.4g} mm² (DRAM off chip: none)", fontsize=9)
        leak = np.array([report.leakage_j.get(n, 0.0) for n in names])
        dynamic = np.array([report.component_j(n) for n in names]) - leak
        # Log scale: DRAM energy can be 100x the rest; dynamic and leakage side by side, not stacked.
        ax_e.barh(y - 0.2, dynamic, 0.4, color=OKABE_ITO["vermillion"], label="dynamic")
        ax_e.barh(y + 0.2, leak, 0.4, color=OKABE_ITO["sky_blue"], label="leakage")
        ax_e.set_xscale("log")
        positive = [v for v in (*dynamic, *leak) if v > 0]
        if positive:
            ax_e.set_xlim(min(positive) / 3, max(positive) * 3)
        ax_e.set_yticks(y, [n.replace("_", " ") for n in names])
        ax_e.invert_yaxis()
        ax_e.set_xlabel("energy of the run (J, log scale)")
        ax_e.set_ylabel("component")
        ax_e.set_title(f"energy {report.total_j:.4g} J incl. DRAM ({report.on_chip_j:.4g} J on chip)",
                       fontsize=9)
        for ax in (ax_a, ax_e):
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        fig.suptitle(f"{_title(result)}; cost table {report.cost_table}", fontsize=10)
        fig.tight_layout()
        handles = [*ax_a.get_legend_handles_labels()[0], *ax_e.get_legend_handles_labels()[0]]
        labels = ["area", "dynamic energy", "leakage energy"]
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.9), frameon=False)
    return save_figure(fig, out_dir, "area_energy")


def plot_run(result: Any, hw: Any, report: Any, out_dir: Path | str) -> list[Path]:
    """All three figures of a run into `out_dir`."""
    return [*plot_roofline(result, hw, out_dir), *plot_timeline(result, out_dir),
            *plot_area_energy(result, report, out_dir)]
