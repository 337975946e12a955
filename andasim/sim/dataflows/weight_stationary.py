"""Weight-stationary: a tile of R K-groups x C features stays in the array while tokens stream through.

PE (r, c) holds the 64 weights of K-group r of feature c (loaded from the weight buffer once
per tile; the load is assumed hidden behind the previous tile by double-buffered PE weight
registers **[assumption]**). Every token of the block then streams through: in each group step
(cps cycles) one token's R activation groups enter the R rows, each PE does its group step and
the column's R partial products are summed by a pipelined adder tree of ceil(log2 kg) levels
(kg = the tile's groups) at `reduction_cycles_per_level` cycles each, paid once per tile (the
pipeline fill). A tile therefore computes rows_b * cps + ceil(log2 kg) * per_level cycles.

Partial sums of the block's rows_b tokens x C features live in the output buffer (FP32) across
the ceil(G / R) K tiles of a feature tile: every K tile but the first reads them, every K tile
but the last writes them (32 bits per output each way). After the last K tile the rows_b x C
outputs drain to the compressor / DRAM as one tile. Blocks and loop orders are
output-stationary's whole-K orders; tm tokens per block must keep tm x C FP32 partials in the
output buffer.
"""

from __future__ import annotations

from andasim.sim.dataflows.tiling import (
    PARTIAL_SUM_BITS,
    Mapping,
    act_fits,
    block_sizes,
    cdiv,
    make_mapping,
    reduction_cycles,
    slots_that_fit,
    staging_bits,
    weight_fits,
)
from andasim.sim.job import GemmJob

NAME = "weight_stationary"
SUMMARY = "R K-groups x C features held in the PEs, the block's tokens streamed, partials in the output SRAM"


def candidates(job: GemmJob, params: dict) -> list[Mapping]:
    out: list[Mapping] = []
    tns = block_sizes(job.n, job.cols)
    w_slots = {tn: slots_that_fit(lambda s, kk, n: weight_fits(job, s, kk, n), tn, job.k) for tn in tns}
    for tm in block_sizes(job.m, job.rows):
        partial = min(tm, job.m) * job.cols * PARTIAL_SUM_BITS
        if max(partial, staging_bits(job)) > job.output_cap_bits:
            continue
        a = slots_that_fit(lambda s, kk, n: act_fits(job, s, kk, n), tm, job.k)
        if not a:
            continue
        for tn in tns:
            w = w_slots[tn]
            if not w:
                continue
            for order in ("act_outer", "weight_outer"):
                out.append(make_mapping(job, NAME, tm, tn, job.k, order, tile_kind="streamed", act_slots=a,
                                        weight_slots=w, partial_bits=partial,
                                        reduction_cycles_per_level=params["reduction_cycles_per_level"]))
    return out


def compute_cycles(job: GemmJob, mp: Mapping) -> int:
    """count x feature tiles x (m x ceil(G / R) x cps + blocks x sum over K tiles of ceil(log2 kg) x lvl)."""
    memo = job.__dict__.setdefault("_ws_k_tiles", {})  # per job, not a field (job is frozen)
    per_block = memo.get(mp.reduction_cycles_per_level)
    if per_block is None:  # (K tiles, reduction cycles per block): the same for every candidate
        groups = cdiv(job.k, job.lanes)
        n_tk = cdiv(groups, job.rows)
        red = (n_tk - 1) * reduction_cycles(job.rows, mp.reduction_cycles_per_level) + \
            reduction_cycles(groups - (n_tk - 1) * job.rows, mp.reduction_cycles_per_level)
        per_block = memo[mp.reduction_cycles_per_level] = (n_tk, red)
    n_tk, red = per_block
    n_mb, n_nb = -(-job.m // mp.tm), -(-job.n // mp.tn)  # cdiv inlined: the mapper's hot path
    t_cols = (n_nb - 1) * -(-mp.tn // job.cols) - (-(job.n - (n_nb - 1) * mp.tn) // job.cols)
    return job.count * t_cols * (job.m * n_tk * job.cps + n_mb * red)
