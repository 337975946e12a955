"""Figures of a design-space sweep: 2-D projections of the Pareto front and sensitivity plots.

`plot_pareto` draws one panel per pair of objectives: every point, the dominated ones faded
grey, the non-dominated ones coloured by base design, and points whose design equals a bundled
design (the paper's designs among them) ringed and labelled. `plot_sensitivity` draws small
multiples: one column per swept key, one row per metric, one line per base design (the median
over the other axes, with the min-max range shaded). Styles come from `designs.design_styles`
(Okabe–Ito colours, a distinct marker per design), so ten or more designs stay readable; labels
are design names, never file paths. Written as PNG + SVG like every figure in `figures.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from andasim.report.designs import design_label, design_looks
from andasim.report.figures import STYLE, _note, save_figure

AXIS_LABELS = {
    "cycles": "Cycles", "latency_s": "Latency (s)", "throughput_gops": "Throughput (GOPS)",
    "tokens_per_s": "Tokens per second", "energy_j": "Energy with DRAM (J)",
    "energy_on_chip_j": "On-chip energy (J)", "energy_dram_j": "DRAM energy (J)",
    "energy_per_token_j": "Energy per token (J)", "area_mm2": "Area (mm²)",
    "energy_efficiency_tops_per_w": "Energy efficiency with DRAM (TOPS/W)",
    "energy_efficiency_on_chip_tops_per_w": "On-chip energy efficiency (TOPS/W)",
    "area_efficiency_gops_per_mm2": "Area efficiency (GOPS/mm²)", "utilization": "PE utilization",
    "dram_bytes": "DRAM traffic (bytes)", "dram_read_bytes": "DRAM reads (bytes)",
    "dram_write_bytes": "DRAM writes (bytes)", "stall_dram_share": "Share of cycles stalled on DRAM",
}
SENSITIVITY_METRICS = ("latency_s", "energy_j", "area_mm2", "energy_efficiency_tops_per_w")
WORKLOAD_AXES = ("workload", "phase", "seq_len", "batch", "precision")


def design_groups(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[str, dict[str, str]]]:
    """Base design as given -> (display label, style); see `designs.design_looks`."""
    names: dict[str, str] = {}
    for r in rows:
        names.setdefault(str(r["design"]), str(r["design_name"]))
    return design_looks(names)


def _log_if_wide(ax: Any, axis: str, values: np.ndarray) -> None:
    v = values[np.isfinite(values) & (values > 0)]
    if len(v) and v.max() / v.min() > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def plot_pareto(rows: Sequence[dict[str, Any]], objectives: Sequence[str], out_dir: Path | str,
                stem: str = "pareto", *, note: str = "") -> list[Path]:
    """2-D projections of the front over `objectives` (rows carry a boolean `pareto`)."""
    ok = [r for r in rows if not r["error"]]
    pairs = list(combinations(objectives, 2))
    groups = design_groups(ok)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs) + 1.8, 4.4), squeeze=False)
        for ax, (x_key, y_key) in zip(axes[0], pairs, strict=True):
            dominated = [r for r in ok if not r["pareto"]]
            ax.scatter([r[x_key] for r in dominated], [r[y_key] for r in dominated], s=10, color="#bbbbbb",
                       alpha=0.45, linewidths=0, label="dominated", zorder=1)
            for group, (label, st) in groups.items():
                front = [r for r in ok if r["pareto"] and r["design"] == group]
                if front:
                    ax.scatter([r[x_key] for r in front], [r[y_key] for r in front], s=30, color=st["colour"],
                               marker=st["marker"], edgecolors="black", linewidths=0.4,
                               label=f"{label} (front)", zorder=3)
            marked = [r for r in ok if r["bundled_design"]]
            for r in marked:
                ax.scatter([r[x_key]], [r[y_key]], s=150, facecolors="none", edgecolors="black",
                           linewidths=1.1, zorder=4)
                ax.annotate(design_label(r["bundled_design"]), (r[x_key], r[y_key]), xytext=(6, 6),
                            textcoords="offset points", fontsize=7.5, zorder=5)
            for axis, key in (("x", x_key), ("y", y_key)):
                _log_if_wide(ax, axis, np.array([r[key] for r in ok], dtype=float))
            ax.set_xlabel(AXIS_LABELS.get(x_key, x_key))
            ax.set_ylabel(AXIS_LABELS.get(y_key, y_key))
            ax.grid(color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        if any(r["bundled_design"] for r in ok):
            axes[0][0].scatter([], [], s=150, facecolors="none", edgecolors="black", linewidths=1.1,
                               label="bundled design (as shipped)")
        axes[0][-1].legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        handles, labels = axes[0][0].get_legend_handles_labels()
        if len(pairs) > 1:
            axes[0][-1].legend(handles, labels, frameon=False, fontsize=8, loc="upper left",
                               bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"Pareto front over {', '.join(AXIS_LABELS.get(o, o) for o in objectives)} "
                     "(2-D projections)")
        fig.tight_layout()
        _note(fig, note)
    return save_figure(fig, out_dir, stem)


def _positions(values: list[Any]) -> tuple[list[Any], bool]:
    """Sorted distinct values of an axis and whether they are numeric."""
    distinct = list(dict.fromkeys(values))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct)
    return (sorted(distinct) if numeric else distinct), numeric


def plot_sensitivity(rows: Sequence[dict[str, Any]], keys: Sequence[str], out_dir: Path | str,
                     stem: str = "sensitivity", *, metrics: Sequence[str] = SENSITIVITY_METRICS,
                     note: str = "") -> list[Path]:
    """Each metric against each swept key: the median per design over all other axes, min-max shaded."""
    ok = [r for r in rows if not r["error"]]
    groups = design_groups(ok)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(metrics), len(keys), figsize=(3.3 * len(keys) + 2.4, 2.5 * len(metrics)),
                                 squeeze=False, sharex="col")
        for c, key in enumerate(keys):
            xs, numeric = _positions([r[key] for r in ok])
            for r_i, metric in enumerate(metrics):
                ax = axes[r_i][c]
                for group, (label, st) in groups.items():
                    own = [r for r in ok if r["design"] == group]
                    med, lo, hi, pos = [], [], [], []
                    for i, x in enumerate(xs):
                        vals = [r[metric] for r in own if r[key] == x]
                        if vals:
                            pos.append(x if numeric else i)
                            med.append(float(np.median(vals)))
                            lo.append(min(vals))
                            hi.append(max(vals))
                    if not pos:
                        continue
                    ax.plot(pos, med, marker=st["marker"], markersize=4, color=st["colour"], linewidth=1.2,
                            label=label)
                    ax.fill_between(pos, lo, hi, color=st["colour"], alpha=0.12, linewidth=0)
                if not numeric:
                    ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=30, ha="right")
                elif len(xs) > 1 and xs[0] > 0 and xs[-1] / xs[0] >= 8:
                    ax.set_xscale("log", base=2)
                    ax.set_xticks(xs, [f"{x:g}" for x in xs])
                    ax.minorticks_off()
                if c == 0:
                    ax.set_ylabel(AXIS_LABELS.get(metric, metric), fontsize=8.5)
                if r_i == len(metrics) - 1:
                    ax.set_xlabel(key)
                ax.grid(color="#dddddd", linewidth=0.6)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95))
        fig.suptitle("Sensitivity: median over the other axes per design (shaded: min-max)")
        fig.tight_layout()
        _note(fig, note)
    return save_figure(fig, out_dir, stem)


def sweep_figures(rows: Sequence[dict[str, Any]], spec: Any, out_dir: Path | str) -> list[Path]:
    """The Pareto projections (when the sweep has objectives) and the sensitivity plot."""
    ok = [r for r in rows if not r["error"]]
    if not ok:
        return []
    wl = sorted({f"{r['workload']} {r['phase']}" for r in ok})
    note = (f"{len(ok)} points ({len(rows) - len(ok)} failed) of a sweep over "
            f"{', '.join(wl[:4])}{' ...' if len(wl) > 4 else ''}; energy includes DRAM unless named on-chip; "
            "numbers from andasim's cycle engine and the designs' cost tables.")
    paths: list[Path] = []
    if spec.pareto:
        paths += plot_pareto(rows, spec.pareto, out_dir, note=note)
    keys = [*spec.swept_keys, *(k for k in WORKLOAD_AXES if len({r[k] for r in ok}) > 1)]
    if keys:
        paths += plot_sensitivity(rows, keys, out_dir, note=note)
    return paths
