"""`andasim compare` as a library call: designs x traces under one profile, tables, figures and JSON.

Writes into the output folder: comparison.json (every run's figures, the ratios to the baseline
and their geometric means, the cost tables used), comparison.txt (the printed tables),
comparison.csv (tidy: one row per design and trace, absolute figures and ratios) and
figures/ (PNG + SVG): ratio bars, energy breakdown and per-layer cycles per model, the mantissa
profile heatmap, and the accuracy-efficiency trade-off when search journals are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError
from andasim.report import figures
from andasim.report.comparison import ALL_METRICS, Comparison, RunSummary, compare, comparison_table
from andasim.report.designs import design_label, model_label, published_marks
from andasim.report.per_layer import exact
from andasim.report.sweep import Sweep
from andasim.report.writers import csv_text, dumps_json, write_text


def read_journals(paths: Sequence[str | Path]) -> list[tuple[str, list[dict[str, Any]], float | None]]:
    """(label, evaluations, accuracy threshold) of each search journal (andasim.search.journal format)."""
    from andasim.search.journal import read_journal

    out = []
    for path in paths:
        if not Path(path).is_file():
            raise AndasimInputError(f"--journals: {path}: no such file")
        config, events = read_journal(path)
        evals = [e for e in events if e.get("type") == "eval"]
        needed = ("bops_reduction", "accuracy", "feasible", "accepted")
        missing = [k for k in needed if any(k not in e for e in evals)]
        if missing:
            raise AndasimInputError(f"--journals: {path}: evaluation records lack {', '.join(missing)}")
        bad = next((e for e in evals if not all(
            isinstance(e[k], int | float) and not isinstance(e[k], bool) and math.isfinite(e[k])
            for k in ("bops_reduction", "accuracy")) or not all(isinstance(e[k], bool)
                                                            for k in ("feasible", "accepted"))), None)
        if bad is not None:
            raise AndasimInputError(f"--journals: {path}: an evaluation record has a non-numeric "
                                    "bops_reduction/accuracy or non-boolean feasible/accepted")
        tol = config.get("tolerance")
        label = Path(path).name.removesuffix(".jsonl").removesuffix(".journal")
        if isinstance(tol, int | float):
            label += f" (tolerance {tol:.2%})"
        out.append((label, evals, 1.0 - tol if isinstance(tol, int | float) else None))
    return out


def _provenance_note(runs: Sequence[RunSummary]) -> str:
    labels = sorted({r.trace_label for r in runs if r.trace_label})
    return "Traces: " + "; ".join(labels) if labels else ""


def run_comparison(out_dir: Path | str, sweep: Sweep, *, designs: Sequence[str], traces: Sequence[str],
                   profile: str | None, baseline: str, journals: Sequence[str | Path] = (),
                   progress: Callable[[], None] | None = None) -> tuple[dict[str, Any], str]:
    """Simulate (or reuse) every design on every trace, then write tables, figures, JSON and a tidy CSV.

    `traces` may name one model in either spelling or by file; runs are keyed by the trace id.
    `profile` is anything `--precision` accepts (None: each trace's default profile).
    """
    for design in designs:
        sweep.hw(design)  # a bad name fails here, before anything else is said about it
    if baseline not in designs:
        raise AndasimInputError(f"--baseline {baseline!r} must be one of --hw ({', '.join(designs)})")
    trace_ids = [sweep.trace(t).trace_id for t in traces]
    for name, items in (("--hw", list(designs)), ("--trace", trace_ids)):
        dup = sorted({x for x in items if items.count(x) > 1})
        if dup:
            raise AndasimInputError(f"{name}: listed twice: {', '.join(dup)}")
    journal_data = read_journals(journals)
    runs = []
    for spec in traces:
        for design in designs:
            runs.append(sweep.run(design, spec, profile))
            if progress is not None:
                progress()
    traces = trace_ids
    cmp = compare(runs, designs, traces, baseline)
    out = Path(out_dir)
    fig_dir = out / "figures"
    w = sweep.workload
    note = (f"{_provenance_note(runs)}. {w.phase}, {w.seq_len} tokens, batch {w.batch}, "
            f"GeMMs {'+'.join(w.modules)}; profile {profile or 'trace default'}.")
    figures.plot_comparison(cmp, fig_dir, "comparison", note=note, published=published_marks(cmp),
                            title=f"Designs over {design_label(baseline)}, profile {profile or 'default'}")
    for trace in traces:
        trace_runs = [r for r in runs if r.trace == trace]
        figures.plot_energy_breakdown(trace_runs, fig_dir, f"energy_breakdown_{trace}", note=note,
                                      title=f"{model_label(trace)}: energy by category")
        figures.plot_layer_cycles(trace_runs, fig_dir, f"layer_cycles_{trace}", note=note,
                                  title=f"{model_label(trace)}: cycles per decoder layer")
    anda_runs = [r for r in runs if r.profile_bits is not None]
    if anda_runs:
        heat = {f"profile {profile or 'default'}": {model_label(r.trace): list(r.profile_bits or ())
                                                     for r in anda_runs}}
        figures.plot_profile_heatmap(heat, fig_dir, "profile_heatmap", note=note,
                                     title="Activation mantissa bits per module")
    if journal_data:
        figures.plot_tradeoff(journal_data, fig_dir, "accuracy_tradeoff",
                              title="Precision search: accuracy against BOPs reduction",
                              note="Every evaluated combination from the given search journals.")
    text = "".join(comparison_table(cmp, m) + "\n" for m in ALL_METRICS)
    data = {"workload": w.to_dict(), "profile": profile, "baseline": baseline, "designs": list(designs),
            "design_labels": {d: design_label(d) for d in designs}, "traces": list(traces),
            "cost_tables": {d: sweep.hw(d).cost_table for d in designs},
            "ratios": cmp.to_dict(), "runs": [r.to_dict() | {"gemm_cycles": None} for r in runs],
            "journals": [str(p) for p in journals],
            "notes": "ratios: speedup = baseline latency / latency; area efficiency = ops/s/mm2 ratio; "
                     "energy efficiency = ops/J ratio with DRAM (energy_efficiency_on_chip without); "
                     "geomean over traces"}
    write_text(out / "comparison.txt", text)
    write_text(out / "comparison.json", dumps_json(data))
    write_text(out / "comparison.csv", tidy_csv(runs, cmp))
    return data, text


TIDY_COLUMNS = ("design", "design_label", "trace", "profile", "profile_bits", "latency_s", "energy_j",
                "on_chip_energy_j", "area_mm2", "macs", "tokens", *(f"{m}_vs_baseline" for m in ALL_METRICS))


def tidy_rows(runs: Sequence[RunSummary], cmp: Comparison) -> list[list[Any]]:
    """One row per (design, trace) run in `TIDY_COLUMNS` order: absolute figures, ratios to the baseline."""
    ratios = cmp.per_model
    return [[r.design, design_label(r.design), r.trace, r.profile or "",
             " ".join(map(str, r.profile_bits)) if r.profile_bits else "", r.latency_s, r.energy_j,
             r.on_chip_energy_j, r.area_mm2, exact(r.macs), r.tokens,
             *(ratios[m][r.design][r.trace] for m in ALL_METRICS)] for r in runs]


def tidy_csv(runs: Sequence[RunSummary], cmp: Comparison) -> str:
    """comparison.csv: `tidy_rows` under a header."""
    return csv_text(TIDY_COLUMNS, tidy_rows(runs, cmp))
