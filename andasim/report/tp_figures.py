"""Figure of `andasim tp`: per-step latency and payload error against the number of chips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from andasim.report.figures import OKABE_ITO, save_figure


def plot_tp_latency_error(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Latency (compute + exposed communication) and error against N, one line per format."""
    fmts = report["formats"]
    palette = [c for name, c in OKABE_ITO.items() if name != "black"]
    has_err = report["error"]["status"] == "measured"
    fig, axes = plt.subplots(1, 2 if has_err else 1, figsize=(10 if has_err else 5.5, 4), squeeze=False)
    ax = axes[0][0]
    for i, fmt in enumerate(fmts):
        pts = sorted((t["n_chips"], t["step_latency_s"] * 1e3, t["exposed_comm_s"] * 1e3)
                     for t in report["timing"] if t["payload"] == fmt)
        colour = palette[i % len(palette)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colour, label=f"{fmt}: step")
        ax.plot([p[0] for p in pts], [p[2] for p in pts], "s--", color=colour, label=f"{fmt}: exposed comm.")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("chips N")
    ax.set_ylabel("time per forward step (ms)")
    ax.set_title(f"{report['card']} on {report['hw']}, {report['phase']}, {report['collective']}")
    ax.legend(fontsize=7)
    if has_err:
        ax = axes[0][1]
        for i, fmt in enumerate(fmts):
            for j, module in enumerate(("o", "down")):
                pts = sorted((s["n_chips"], s["mean_rel_error"]) for s in report["error"]["summary"]
                             if s["payload"] == fmt and s["module"] == module)
                if pts and all(p[1] > 0 for p in pts):
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-" if j == 0 else "s--",
                            color=palette[i % len(palette)], label=f"{fmt} ({module})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("chips N")
        ax.set_ylabel("relative error of the reduced output")
        ax.set_title(f"held-out tokens, {report['error']['collective']}")
        ax.legend(fontsize=7)
    fig.text(0.01, -0.02, f"trace: {report['trace']['label']}", fontsize=7, color="#444444")
    return save_figure(fig, out_dir, "tp_latency_error")
