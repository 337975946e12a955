#!/usr/bin/env python3
"""Before/after figure of the four mapper fixes of issue 12, on the reproduction and LLaMA-7B decode.

For every distinct GeMM of the reproduction (nine models, prefill 2048, published 1% profiles) and of
LLaMA-7B decode (batch 1 and 8, context 2048), on Anda restricted to output-stationary (min_cycles)
and on FP-FP's least-traffic reading (output-stationary, min_dram) — the mapper the fixes are about —
it maps each GeMM with all fixes, then with all but one ("before" for that fix), the candidate set
or tie-break changed exactly as the fix undid it:

1. tie-break: least DRAM traffic, ties to the smallest first fetch, then fewer blocks (the old rule);
2. K chunks: each K-split tiling takes the largest chunk that fits (big chunk + remainder);
3. partial sums: only one-tile K-split blocks (partials never in the output buffer);
4. whole buffer: only two-slot tilings (a stationary operand never uses its whole buffer).

and with all four undone at once (the mapper before issue 12: the script checks that its run totals
equal those recorded from commit 02695f9 when --before names that recording). It plots run totals
(sum over a run's GeMMs) of cycles and DRAM read bytes, without / with. Deterministic; writes
docs/figures/mapper_fixes.{svg,png} and prints the table. Usage:

    PYTHONPATH=. .venv/bin/python scripts/mapper_fixes_figure.py [--out-dir docs/figures] [--before FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from andasim.hw.config import load_hw
from andasim.hw.dataflow_config import DataflowConfig
from andasim.report.designs import PAPER_MODELS, model_label
from andasim.report.figures import save_figure
from andasim.sim.dataflows.output_stationary import max_chunk
from andasim.sim.dataflows.tiling import cdiv, make_mapping
from andasim.sim.job import make_job
from andasim.sim.mapping import candidates, rank_candidates, select
from andasim.sim.simulate import simulate
from andasim.workload.gemm import GeMM
from andasim.workload.trace import load_trace

FIXES = ("1 tie-break by cycles", "2 balanced K chunks", "3 multi-tile K-split blocks", "4 whole-buffer slot",
         "all four (pre-issue mapper)")
ALL = 5
DESIGNS = {"anda (output-stationary)": ("anda", DataflowConfig("min_cycles", (("output_stationary", ()),))),
           "fp_fp least traffic": ("fp_fp_least_traffic", None)}


def _without(fix: int, job, cands):
    if fix == ALL:
        for one in (2, 3, 4):
            cands = _without(one, job, cands)
        return cands
    if fix == 2:
        out = []
        for c in cands:
            if c.order == "k_split":
                c = make_mapping(job, c.dataflow, c.tm, c.tn, max_chunk(job, c.tm, c.tn), "k_split",
                                 partial_bits=c.output_buffer_bits if c.output_buffer_bits > 2 * job.rows
                                 * job.cols * 16 else 0)
            out.append(c)
        return out
    if fix == 3:
        return [c for c in cands if c.order != "k_split"
                or cdiv(min(c.tm, job.m), job.rows) * cdiv(min(c.tn, job.n), job.cols) == 1]
    if fix == 4:
        return [c for c in cands if (c.act_slots, c.weight_slots) == (2, 2)]
    return cands


def _old_tie_break(job, cands):
    """Least traffic; ties to the smaller first fetch, then fewer blocks, then act_outer (the old rule)."""
    least = min(c.dram_read_bits for c in cands)
    tied = [c for c in cands if c.dram_read_bits == least]

    def old_key(c):
        return (c.act_block_bits + c.weight_block_bits, cdiv(job.m, c.tm) * cdiv(job.n, c.tn),
                c.order != "act_outer", c.tm, c.tn)

    return min(tied, key=old_key)


def _cost(job, cands, cfg, fix: int | None):
    from andasim.sim.dataflows import run_schedule

    if fix in (1, ALL):
        mp = _old_tie_break(job, _without(fix, job, cands))
        return run_schedule(job, mp)["cycles"], mp.dram_read_bits
    pool = _without(fix, job, cands) if fix else cands
    mp, raw = select(job, rank_candidates(job, pool), cfg)  # select takes the ranked form (mapping.py)
    return raw["cycles"], mp.dram_read_bits


def runs():
    for t in PAPER_MODELS:
        yield f"{model_label(t)} prefill", t, "prefill", 1
    for b in (1, 8):
        yield f"LLaMA-7B decode b{b}", "llama7b", "decode", b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default="docs/figures")
    ap.add_argument("--before", default=None, help="JSON of run totals recorded at commit 02695f9 (optional)")
    args = ap.parse_args()
    table = {}  # (design label, run label) -> [with, without fix 1..4] as (cycles, dram bytes)
    for dlabel, (design, cfg_override) in DESIGNS.items():
        hw = load_hw(design)
        if cfg_override is not None:
            hw = dataclasses.replace(hw, dataflow=cfg_override)
        cfg = hw.dataflow
        memo = {}
        for rlabel, trace_name, phase, batch in runs():
            trace = load_trace(trace_name)
            res = simulate(hw, trace, trace.profile("anda-paper/wikitext2/1pct"), phase=phase, batch=batch)
            totals = [[0, 0] for _ in range(6)]
            for e in res.entries:
                key = (e["m"], e["k"], e["n"], e["count"], e["m_bits"], e["next_m_bits"], e["next_k"])
                if key not in memo:
                    job = make_job(hw, GeMM("g", e["module"], 0, e["m"], e["k"], e["n"], e["count"]),
                                   e["m_bits"], e["next_m_bits"], e["next_k"])
                    cands = candidates(job, cfg)
                    memo[key] = [_cost(job, cands, cfg, fix) for fix in (None, 1, 2, 3, 4, ALL)]
                for i, (cyc, bits) in enumerate(memo[key]):
                    totals[i][0] += cyc * e["repeat"]
                    totals[i][1] += bits / 8 * e["repeat"]
            table[(dlabel, rlabel)] = totals
    heads = "".join(f"{'undo ' + str(i) + ' cyc':>13s}{'dram':>8s}" for i in range(1, 5))
    print(f"{'design':26s}{'run':22s}{heads}{'undo all':>13s}{'dram':>8s}   (before vs after, %)")
    for (dlabel, rlabel), totals in table.items():
        (c0, d0) = totals[0]
        print(f"{dlabel:26s}{rlabel:22s}" + "".join(f"{100 * (c / c0 - 1):>+13.4f}{100 * (d / d0 - 1):>+8.1f}"
                                                    for c, d in totals[1:]))
    if args.before:
        _check_before(table, Path(args.before))
    _plot(table, Path(args.out_dir))


def _check_before(table, path: Path) -> None:
    """The 'all four undone' totals against the pre-issue engine's recorded totals (same schedule)."""
    import json

    recorded = json.loads(path.read_text())
    for (dlabel, rlabel), totals in table.items():
        key = recorded.get(f"{DESIGNS[dlabel][0]}|{rlabel}")
        if key is not None:
            print(f"pre-issue check {dlabel} / {rlabel}: cycles {totals[ALL][0]} vs recorded "
                  f"{key['cycles']}, DRAM read {totals[ALL][1]:.0f} vs {key['dram_read_bytes']:.0f} B")


def _plot(table, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    keys = list(table)
    fig, axes = plt.subplots(1, 5, figsize=(19, 7.5), sharey=True)
    y = range(len(keys))
    for i, ax in enumerate(axes, start=1):
        cyc = [100 * (table[k][i][0] / table[k][0][0] - 1) for k in keys]
        dram = [100 * (table[k][i][1] / table[k][0][1] - 1) for k in keys]
        ax.barh([v - 0.2 for v in y], cyc, height=0.4, color="#D55E00", label="cycles")
        ax.barh([v + 0.2 for v in y], dram, height=0.4, color="#56B4E9", label="DRAM read bytes")
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.set_title(f"undo {FIXES[i - 1]}", fontsize=10)
        ax.set_xlabel("before vs after, % (> 0: the fix helps)")
    short = {"anda (output-stationary)": "Anda OS", "fp_fp least traffic": "FP-FP LT"}
    axes[0].set_yticks(list(y), [f"{short[d]}: {r}" for d, r in keys], fontsize=8)
    axes[0].invert_yaxis()
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Issue 12 mapper fixes, each undone alone and all at once: run totals (Anda with "
                 "output-stationary only, min_cycles; FP-FP least-traffic reading, min_dram).\n"
                 "Shape-only traces, published WikiText-2 1% profiles, prefill 2048 and LLaMA-7B decode.",
                 fontsize=10)
    save_figure(fig, out_dir, "mapper_fixes")
    plt.close(fig)


if __name__ == "__main__":
    main()
