"""Figure of `andasim tp`: per-step latency, exposed communication and payload error against N.

With several chip counts each quantity is a line over N (log2 axis), one colour and marker per
payload format; with a single N (where a line would be a dot on log-log axes) the same numbers are
bars, step latency split into compute and exposed communication. Legends sit outside the axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from andasim.report.designs import OKABE_ITO, TOL_MUTED
from andasim.report.figures import STYLE, save_figure

# Line colours that read on white (no yellow), then Tol's muted scheme for more formats.
_PALETTE = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "reddish_purple", "orange",
                                    "sky_blue", "black")] + list(TOL_MUTED)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _series(report: dict[str, Any], fmt: str, key: str) -> tuple[list[int], list[float]]:
    pts = sorted((t["n_chips"], t[key] * 1e3) for t in report["timing"] if t["payload"] == fmt)
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_tp_latency_error(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Latency and exposed communication (and the measured error) against N, per payload format."""
    fmts = report["formats"]
    chips = sorted({t["n_chips"] for t in report["timing"]})
    has_err = report["error"]["status"] == "measured"
    with plt.rc_context(STYLE):
        n_panels = 2 + has_err
        fig, axes = plt.subplots(1, n_panels, figsize=(4.6 * n_panels, 4.0), squeeze=False)
        ax_step, ax_comm = axes[0][0], axes[0][1]
        if len(chips) == 1:
            x = np.arange(len(fmts))
            compute = [_series(report, f, "compute_s")[1][0] for f in fmts]
            exposed = [_series(report, f, "exposed_comm_s")[1][0] for f in fmts]
            ax_step.bar(x, compute, 0.6, color=OKABE_ITO["sky_blue"], label="compute")
            ax_step.bar(x, exposed, 0.6, bottom=compute, color=OKABE_ITO["vermillion"],
                        label="exposed communication")
            ax_step.set_xticks(x, fmts, rotation=20, ha="right")
            ax_step.set_xlabel(f"payload format (N = {chips[0]} chips)")
            link = [_series(report, f, "link_s")[1][0] for f in fmts]
            ax_comm.bar(x, link, 0.6, color=OKABE_ITO["blue"], label="link time per step")
            ax_comm.set_xticks(x, fmts, rotation=20, ha="right")
            ax_comm.set_xlabel(f"payload format (N = {chips[0]} chips)")
        else:
            for i, fmt in enumerate(fmts):
                style = {"color": _PALETTE[i % len(_PALETTE)], "marker": _MARKERS[i % len(_MARKERS)],
                         "label": fmt}
                ax_step.plot(*_series(report, fmt, "step_latency_s"), **style)
                ax_comm.plot(*_series(report, fmt, "exposed_comm_s"), **style)
            for ax in (ax_step, ax_comm):
                ax.set_xscale("log", base=2)
                ax.set_xticks(chips, [str(c) for c in chips])
                ax.minorticks_off()
                ax.set_xlabel("chips N")
        ax_step.set_ylabel("time per forward step (ms)")
        ax_step.set_title("step latency" + (" = compute + exposed comm." if len(chips) == 1 else ""))
        ax_comm.set_ylabel("time per forward step (ms)")
        ax_comm.set_title("link time" if len(chips) == 1 else "exposed communication")
        for ax in (ax_step, ax_comm):
            ax.set_ylim(bottom=0)
            ax.grid(color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        if has_err:
            ax = axes[0][2]
            for i, fmt in enumerate(fmts):
                for module, dash in (("o", "-"), ("down", "--")):
                    pts = sorted((s["n_chips"], s["mean_rel_error"]) for s in report["error"]["summary"]
                                 if s["payload"] == fmt and s["module"] == module)
                    if pts and all(p[1] > 0 for p in pts):
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle=dash,
                                marker=_MARKERS[i % len(_MARKERS)], color=_PALETTE[i % len(_PALETTE)],
                                label=f"{fmt} ({module})")
            err_chips = sorted({s["n_chips"] for s in report["error"]["summary"]})
            ax.set_xscale("log", base=2)
            ax.set_xticks(err_chips, [str(c) for c in err_chips])
            ax.minorticks_off()
            ax.set_yscale("log")
            ax.set_xlabel("chips N")
            ax.set_ylabel("relative error of the reduced output")
            ax.set_title(f"held-out tokens, {report['error']['collective']}")
            ax.grid(color="#dddddd", linewidth=0.6, which="both")
        fig.suptitle(f"{report['card']} on {report['hw']} x N, {report['phase']}, {report['collective']}")
        fig.tight_layout()
        handles, labels = [], []
        for ax in axes[0]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False,
                   fontsize=8, title=None if len(chips) == 1 else
                   "payload (o: solid, down: dashed)" if has_err else "payload")
        fig.text(0.01, -0.02, f"trace: {report['trace']['label']}", fontsize=7, color="#444444", wrap=True)
    return save_figure(fig, out_dir, "tp_latency_error")
