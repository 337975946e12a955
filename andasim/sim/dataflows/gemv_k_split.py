"""GEMV / small-M K split: K spread across the array rows, partial sums reduced across rows.

With fewer tokens than array rows (decode), output-stationary leaves rows idle. Here the R rows
are k_ways groups of R / k_ways token slots: the s = k_ways rows of a token slot take consecutive
slices of ceil(G / s) of the tile's G K-groups (each row its own weights, each column its own
output feature), so a tile is R / s tokens x C features and computes ceil(G / s) * cps cycles.
After the last group the s partial sums of each output go through the output buffer (FP32,
written once and read once: 2 x 32 x s bits per output) into a pipelined adder tree of
ceil(log2 s) levels at `reduction_cycles_per_level` cycles each, during which the array is
held (counted in compute and `reduction_cycles`). Blocks and loop orders are output-stationary's
whole-K orders (K is not chunked: a small-M block's K always fits).

Candidates: k_ways among the divisors of R in [2, max_k_ways] with fewer tokens than R per slot
row set, applied when the GeMM has fewer tokens than array rows (m < R).
"""

from __future__ import annotations

from andasim.sim.dataflows.tiling import (
    Mapping,
    act_fits,
    block_sizes,
    make_mapping,
    slots_that_fit,
    staging_bits,
    weight_fits,
)
from andasim.sim.job import GemmJob

NAME = "gemv_k_split"
SUMMARY = "one token's K split over up to max_k_ways rows, FP32 partials reduced across rows"


def ways_options(job: GemmJob, params: dict) -> list[int]:
    return [w for w in range(2, min(params["max_k_ways"], job.rows) + 1) if job.rows % w == 0]


def candidates(job: GemmJob, params: dict) -> list[Mapping]:
    out: list[Mapping] = []
    if job.m >= job.rows or staging_bits(job) > job.output_cap_bits:
        return out
    tns = block_sizes(job.n, job.cols)
    w_slots = {tn: slots_that_fit(lambda s, kk, n: weight_fits(job, s, kk, n), tn, job.k) for tn in tns}
    for ways in ways_options(job, params):
        tok = job.rows // ways
        partial = min(tok, job.m) * ways * job.cols * 32
        if max(partial, staging_bits(job)) > job.output_cap_bits:
            continue
        for tm in block_sizes(job.m, tok):
            a = slots_that_fit(lambda s, kk, n: act_fits(job, s, kk, n), tm, job.k)
            if not a:
                continue
            for tn in tns:
                w = w_slots[tn]
                if not w:
                    continue
                for order in ("act_outer", "weight_outer"):
                    out.append(make_mapping(job, NAME, tm, tn, job.k, order, k_ways=ways, act_slots=a,
                                            weight_slots=w, partial_bits=partial,
                                            reduction_cycles_per_level=params["reduction_cycles_per_level"]))
    return out


def compute_cycles(job: GemmJob, mp: Mapping) -> int:
    """tiles x (ceil(G / k_ways) * cps + ceil(log2 min(k_ways, G)) * level), tiles of R / k_ways tokens."""
    from andasim.sim.dataflows.output_stationary import compute_cycles as array_compute_cycles

    return array_compute_cycles(job, mp)
