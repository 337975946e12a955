"""Matplotlib figures of comparisons, energy breakdowns, per-layer cycles, profiles and trade-offs.

Every figure is written as PNG (150 dpi) and SVG, with axis labels that carry units, legends
that name designs in full and the Okabe–Ito palette. Output is deterministic (fixed SVG hash
salt, no dates in the metadata). `note` strings (e.g. "shape-only traces; published profiles")
are printed under each figure so that a figure never travels without its provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from andasim.report.comparison import METRICS, Comparison, RunSummary
from andasim.report.designs import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    OKABE_ITO,
    design_colours,
    design_label,
    model_label,
)
from andasim.workload.gemm import FP_INT_MODULES

STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
       "svg.hashsalt": "andasim", "svg.fonttype": "none", "axes.spines.top": False,
       "axes.spines.right": False}
MODULE_LABELS = {"qkv": "QKV proj.", "o": "Out proj.", "up": "FFN up (+gate)", "down": "FFN down",
                 "qk": "Attn QK^T", "pv": "Attn PV", "lm_head": "LM head"}


def save_figure(fig: Figure, out_dir: Path | str, stem: str) -> list[Path]:
    """Write `stem.png` and `stem.svg` into `out_dir` and close the figure."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        path = out / f"{stem}.{ext}"
        tmp = out / f".{stem}.tmp.{ext}"
        with plt.rc_context(STYLE):
            fig.savefig(tmp, dpi=150, metadata=meta, bbox_inches="tight")
        tmp.replace(path)
        paths.append(path)
    plt.close(fig)
    return paths


def _note(fig: Figure, note: str) -> None:
    """Print `note` under everything already drawn (tick labels included), never over it."""
    if not note:
        return
    renderer = fig.canvas.get_renderer()
    bottom_in = fig.get_tightbbox(renderer).y0
    fig.text(0.01, bottom_in / fig.get_figheight() - 0.01, note, ha="left", va="top", fontsize=8,
             color="#444444", wrap=True)


def _grouped_bars(ax: Any, groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                  colours: Sequence[str], label_values: bool = False) -> None:
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, ((label, values), colour) in enumerate(zip(series, colours, strict=True)):
        bars = ax.bar(x + (i - (n - 1) / 2) * width, values, width, label=label, color=colour,
                      edgecolor="white", linewidth=0.4)
        if label_values:
            ax.bar_label(bars, fmt="%.2f", fontsize=7, rotation=90, padding=2)
    ax.set_xticks(x, groups)


METRIC_AXIS = {"speedup": "Speedup", "area_efficiency": "Area efficiency",
               "energy_efficiency": "Energy efficiency incl. DRAM"}


def _legend_outside(fig: Figure, handles: Sequence[Any], labels: Sequence[str], title: str = "") -> None:
    """One figure legend right of every axes: it can never cover data (saved with a tight bbox)."""
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.98), frameon=False, title=title)


def plot_comparison(cmp: Comparison, out_dir: Path | str, stem: str = "comparison", *,
                    title: str = "", note: str = "",
                    published: Mapping[str, tuple[str, float]] | None = None) -> list[Path]:
    """Speedup, area and energy efficiency (incl. DRAM) over the baseline: grouped bars per model +
    geomean. `published[metric] = (design, value)` marks a published average on that design's
    geomean bar (e.g. the Anda paper's 2.4x / 4.0x / 3.1x over FP-FP)."""
    groups = [model_label(t) for t in cmp.traces] + ["Geomean"]
    colours = design_colours(list(cmp.designs))
    n = len(cmp.designs)
    marks = {m: pv for m, pv in (published or {}).items() if m in METRICS and pv[0] in cmp.designs}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(3, 1, figsize=(max(9.0, 1.15 * len(groups) + 2), 10.5), sharex=True)
        mark_handle = None
        for ax, metric in zip(axes, METRICS, strict=True):
            series = [(design_label(d), [*[cmp.per_model[metric][d][t] for t in cmp.traces],
                                         cmp.geomean[metric][d]]) for d in cmp.designs]
            _grouped_bars(ax, groups, series, colours)
            ax.axhline(1.0, color="#666666", linewidth=0.8, linestyle="--")
            ax.axvline(len(cmp.traces) - 0.5, color="#999999", linewidth=0.8)
            ax.set_ylabel(f"{METRIC_AXIS[metric]}\n(x over {design_label(cmp.baseline)})")
            top = max(v for _, vals in series for v in vals)
            if metric in marks:
                top = max(top, marks[metric][1])
            top = max(top * 1.22, 1.5)
            ax.set_ylim(0, top)
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            for d_i, d in enumerate(cmp.designs):  # annotate the geomean bars only
                xpos = len(cmp.traces) + (d_i - (n - 1) / 2) * 0.8 / n
                value = cmp.geomean[metric][d]
                if metric in marks and marks[metric][0] == d:  # inside the bar: the paper's mark sits above
                    ax.text(xpos, value - top * 0.01, f"{value:.2f}", ha="center", va="top", fontsize=6.5,
                            rotation=90, color="white")
                else:
                    ax.text(xpos, value + top * 0.01, f"{value:.2f}", ha="center", va="bottom", fontsize=6.5,
                            rotation=90)
            if metric in marks:
                design, value = marks[metric]
                xpos = len(cmp.traces) + (cmp.designs.index(design) - (n - 1) / 2) * 0.8 / n
                half = 0.8 / n * 0.7
                mark_handle = ax.hlines(value, xpos - half, xpos + half, colors="black", linewidth=2.5,
                                        zorder=5)
                ax.annotate(f"paper {value:g}x", (xpos + half, value), xytext=(3, 0),
                            textcoords="offset points", fontsize=7, va="center", ha="left")
        axes[-1].tick_params(axis="x", rotation=30)
        axes[-1].set_xlabel("Model (geometric mean over models on the right)")
        handles, labels = axes[0].get_legend_handles_labels()
        if mark_handle is not None:
            handles.append(mark_handle)
            labels.append("published average, Anda paper\n(whether its energy has DRAM:\nnot stated)")
        if title:
            fig.suptitle(title, y=1.0)
        fig.tight_layout()
        _legend_outside(fig, handles, labels)
        _note(fig, "Energy efficiency includes DRAM energy (the on-chip ratio is in the text table). " + note)
    return save_figure(fig, out_dir, stem)


def plot_energy_breakdown(runs: Sequence[RunSummary], out_dir: Path | str, stem: str = "energy_breakdown",
                          *, title: str = "", note: str = "") -> list[Path]:
    """Stacked bars of energy (compute, SRAM, DRAM) per design, in joules."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(runs) + 2.5), 4.8))
        x = np.arange(len(runs))
        bottom = np.zeros(len(runs))
        for cat, label in CATEGORY_LABELS.items():
            vals = np.array([r.energy_by_category_j[cat] for r in runs])
            ax.bar(x, vals, 0.6, bottom=bottom, label=label, color=CATEGORY_COLOURS[cat],
                   edgecolor="white", linewidth=0.5)
            bottom += vals
        for xi, total in zip(x, bottom, strict=True):
            ax.text(xi, total * 1.01, f"{total:.3g}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, [design_label(r.design) for r in runs], rotation=25, ha="right")
        ax.set_ylabel("Energy of the simulated run (J)")
        ax.set_xlabel("Design")
        ax.set_ylim(0, bottom.max() * 1.12)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        handles, names = ax.get_legend_handles_labels()
        _legend_outside(fig, handles[::-1], names[::-1], title="Energy (stacked)")
        _note(fig, "Energy includes DRAM. " + note)
    return save_figure(fig, out_dir, stem)


def _layer_table(run: RunSummary) -> tuple[dict[int, float], dict[str, float]]:
    """(cycles per decoder layer, cycles of layer 0 by module) from the per-GeMM cycles."""
    per_layer: dict[int, float] = {}
    first: dict[str, float] = {}
    layers = sorted({layer for _, _, layer, _ in run.gemm_cycles if layer >= 0})
    for _, module, layer, cycles in run.gemm_cycles:
        if layer < 0:
            continue
        per_layer[layer] = per_layer.get(layer, 0.0) + cycles
        if layers and layer == layers[0]:
            first[module] = first.get(module, 0.0) + cycles
    return per_layer, first


def plot_layer_cycles(runs: Sequence[RunSummary], out_dir: Path | str, stem: str = "layer_cycles", *,
                      title: str = "", note: str = "") -> list[Path]:
    """Cycles per decoder layer per design (left: the spread over layers, a dot when every layer costs
    the same) and one layer's cycles by module (right, stacked)."""
    labels = [design_label(r.design) for r in runs]
    x = np.arange(len(runs))
    colours = design_colours([r.design for r in runs])
    with plt.rc_context(STYLE):
        fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(max(10.0, 1.5 * len(runs) + 4), 4.8))
        modules: list[str] = []
        tables = []
        uniform = True
        n_layers = 0
        for i, run in enumerate(runs):
            per_layer, first = _layer_table(run)
            tables.append(first)
            modules += [m for m in first if m not in modules]
            vals = np.array(list(per_layer.values())) / 1e6
            n_layers = max(n_layers, len(vals))
            lo, mid, hi = vals.min(), vals.mean(), vals.max()
            uniform = uniform and bool(np.isclose(lo, hi))
            spread = [[max(mid - lo, 0.0)], [max(hi - mid, 0.0)]]  # rounding can make mean < min
            ax_l.errorbar([i], [mid], yerr=spread, fmt="o", color=colours[i], capsize=4,
                          markersize=6)
        ax_l.set_xticks(x, labels, rotation=25, ha="right")
        ax_l.set_ylabel("Cycles per decoder layer (millions)")
        ax_l.set_xlabel("Design")
        ax_l.set_ylim(bottom=0)
        ax_l.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax_l.set_title(f"all {n_layers} layers cost the same" if uniform
                       else "mean over layers, bar = min..max", fontsize=9)
        order = [m for m in (*FP_INT_MODULES, "qk", "pv", "lm_head") if m in modules]
        palette = [OKABE_ITO[c] for c in ("vermillion", "orange", "sky_blue", "bluish_green", "blue",
                                          "reddish_purple", "black")]
        bottom = np.zeros(len(runs))
        for j, module in enumerate(order):
            vals = np.array([t.get(module, 0.0) / 1e6 for t in tables])
            ax_r.bar(x, vals, 0.6, bottom=bottom, color=palette[j % len(palette)],
                     label=MODULE_LABELS.get(module, module), edgecolor="white", linewidth=0.5)
            bottom += vals
        ax_r.set_xticks(x, labels, rotation=25, ha="right")
        ax_r.set_xlabel("Design")
        ax_r.set_ylabel("Cycles of the first decoder layer (millions)")
        ax_r.set_ylim(0, bottom.max() * 1.1 if len(bottom) else 1)
        ax_r.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax_r.set_axisbelow(True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        handles, names = ax_r.get_legend_handles_labels()
        _legend_outside(fig, handles[::-1], names[::-1], title="GeMM (stacked)")
        _note(fig, note)
    return save_figure(fig, out_dir, stem)


def plot_profile_heatmap(profiles: Mapping[str, Mapping[str, Sequence[int]]], out_dir: Path | str,
                         stem: str = "profile_heatmap", *, title: str = "", note: str = "") -> list[Path]:
    """Mantissa bits per model (rows) and module (columns), one panel per profile setting.

    `profiles[setting][model label] = [M_qkv, M_o, M_u, M_d]`.
    """
    settings = list(profiles)
    models = list(dict.fromkeys(m for s in settings for m in profiles[s]))
    cols = [MODULE_LABELS[m] for m in FP_INT_MODULES]
    all_bits = [b for s in settings for bits in profiles[s].values() for b in bits]
    vmin, vmax = min(all_bits), max(all_bits)
    with plt.rc_context(STYLE):
        size = (3.2 * len(settings) + 2.2, 0.42 * len(models) + 2.2)
        fig, axes = plt.subplots(1, len(settings), figsize=size, squeeze=False)
        image = None
        for ax, setting in zip(axes[0], settings, strict=True):
            grid = np.full((len(models), len(cols)), np.nan)
            for r, model in enumerate(models):
                if model in profiles[setting]:
                    grid[r] = profiles[setting][model]
            image = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
            for r in range(len(models)):
                for c in range(len(cols)):
                    if not np.isnan(grid[r, c]):
                        colour = "white" if grid[r, c] < (vmin + vmax) / 2 else "black"
                        ax.text(c, r, f"{int(grid[r, c])}", ha="center", va="center", fontsize=9,
                                color=colour)
            ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
            ax.set_yticks(range(len(models)), models if ax is axes[0][0] else [""] * len(models))
            ax.set_xlabel("GeMM (module)")
            ax.set_ylabel("Model")
            ax.set_title(setting)
        assert image is not None
        cbar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.04, pad=0.02)
        cbar.set_label("Activation mantissa bits M")
        if title:
            fig.suptitle(title)
        _note(fig, note)
    return save_figure(fig, out_dir, stem)


def plot_tradeoff(journals: Sequence[tuple[str, Sequence[Mapping[str, Any]], float | None]],
                  out_dir: Path | str, stem: str = "accuracy_tradeoff", *, title: str = "",
                  note: str = "") -> list[Path]:
    """Accuracy against BOPs reduction for every evaluated combination of each search journal.

    `journals` = [(label, evaluations, accuracy threshold or None)]; evaluations carry
    `bops_reduction`, `accuracy`, `feasible`, `accepted` (the search journal's eval records).
    Filled markers: feasible; crosses: infeasible; ringed: accepted (a new best when evaluated).
    """
    palette = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple",
                                      "sky_blue", "black")]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, (label, evals, threshold) in enumerate(journals):
            colour = palette[i % len(palette)]
            feas = [e for e in evals if e["feasible"]]
            infeas = [e for e in evals if not e["feasible"]]
            acc = [e for e in evals if e["accepted"]]
            ax.scatter([e["bops_reduction"] for e in feas], [e["accuracy"] for e in feas], color=colour, s=22,
                       label=f"{label}: feasible")
            ax.scatter([e["bops_reduction"] for e in infeas], [e["accuracy"] for e in infeas], color=colour,
                       marker="x", s=22, label=f"{label}: over the loss budget")
            ax.scatter([e["bops_reduction"] for e in acc], [e["accuracy"] for e in acc], facecolors="none",
                       edgecolors=colour, s=90, linewidths=1.2, label=f"{label}: accepted (new best)")
            if threshold is not None:
                ax.axhline(threshold, color=colour, linestyle=":", linewidth=1,
                           label=f"{label}: accuracy threshold")
        ax.set_xlabel("BOPs reduction over FP16 x INT4 (x)")
        ax.set_ylabel("Accuracy (evaluator's score, higher is better)")
        ax.grid(color="#dddddd", linewidth=0.6)
        ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        if title:
            ax.set_title(title)
        fig.tight_layout()
        _note(fig, note)
    return save_figure(fig, out_dir, stem)
