"""Figure and CSV of `andasim offload --search`: the throughput-latency Pareto front of the policies.

Each point is the best placement the LP finds for one (GPU batch size, number of GPU batches); the
chosen policy is marked and labelled with its batch sizes and throughput. Latency is that of one
block (GPU batch size x number of GPU batches sequences), on a log axis with only the decades labelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from andasim.report.designs import OKABE_ITO
from andasim.report.figures import STYLE, save_figure
from andasim.report.writers import csv_text

PARETO_COLUMNS = ("gpu_batch_size", "num_gpu_batches", "latency_s", "generation_throughput_tok_per_s",
                  "wg", "wc", "cg", "cc", "hg", "hc")


def pareto_csv(rows: list[dict[str, Any]]) -> str:
    """pareto.csv: one row per (gbs, nb) point with its placement in percent."""
    return csv_text(PARETO_COLUMNS, [[r["gpu_batch_size"], r["num_gpu_batches"], r["latency_s"],
                                      r["generation_throughput_tok_per_s"], *r["percent_flexgen"]]
                                     for r in rows])


def plot_pareto(report: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """pareto.png/.svg: generation throughput against block latency, the chosen policy labelled."""
    rows = report["pareto"]
    best = report["policy"]
    inp = report["inputs"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot([r["latency_s"] for r in rows], [r["generation_throughput_tok_per_s"] for r in rows], "o-",
                ms=3.5, color=OKABE_ITO["blue"], label="best placement per (GPU batch size, GPU batches)")
        ax.plot([best["latency_s"]], [best["generation_throughput_tok_per_s"]], "*", ms=14,
                color=OKABE_ITO["vermillion"], label="chosen policy", zorder=5)
        # below the front: the area under a concave throughput curve is empty
        ax.annotate(f"chosen: batch {best['gpu_batch_size']} x {best['num_gpu_batches']} GPU batches\n"
                    f"{best['generation_throughput_tok_per_s']:.3g} tokens/s, {best['latency_s']:.3g} s",
                    (best["latency_s"], best["generation_throughput_tok_per_s"]), xytext=(-10, -110),
                    textcoords="offset points", fontsize=8, ha="right",
                    arrowprops={"arrowstyle": "-", "color": "#666666"})
        ax.set_xscale("log")
        # labels at 1, 2, 5 x 10^k only: none collide, and a range within one decade still gets some
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency of one block of sequences (s, log scale)\n"
                      "block = GPU batch size x number of GPU batches")
        ax.set_ylabel("generation throughput (tokens/s)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{inp['model']} on {inp['system']['name']}: prompt {inp['prompt_len']}, "
                     f"{inp['gen_len']} generated tokens ({inp['overlap_model']} overlap)", fontsize=9)
        ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
        fig.tight_layout()
        fig.legend(*ax.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.0, 0.95),
                   frameon=False, fontsize=8)
    return save_figure(fig, out_dir, "pareto")
