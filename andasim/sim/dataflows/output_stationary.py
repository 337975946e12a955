"""Output-stationary: every PE owns one output (token x feature) and walks K group by group.

Tiles are R tokens x C features over the block's K chunk (`array` tiles, k_ways = 1); a tile
computes ceil(kk / lanes) * cps cycles. Blocks (tm tokens x tn features) come in one of three
loop orders:

- `act_outer`: per activation block, every weight block (activations read once, weights once
  per activation block unless all of them fit at once);
- `weight_outer`: the converse;
- `k_split`: K in balanced chunks (the fewest chunks that fit, of equal size, so no tiny
  remainder is left to expose the next read); per (token block, feature block) every chunk,
  both operands re-read. Blocks may hold several tiles: partial sums of the block's tm x tn
  outputs then wait in the output buffer (FP32) between chunks, so the buffer must hold them.

Candidates: every distinct block count along m and n, both whole-K orders, and the K-split
blocks whose partial sums fit the output buffer. An operand block that fits only once gets the
whole buffer (one slot): its next block then cannot load while it is still in use.
"""

from __future__ import annotations

from andasim.sim.dataflows.tiling import (
    PARTIAL_SUM_BITS,
    Mapping,
    act_fits,
    balanced_chunk,
    block_sizes,
    cdiv,
    k_unit,
    make_mapping,
    reduction_cycles,
    slots_that_fit,
    staging_bits,
    weight_fits,
)
from andasim.sim.job import GemmJob

NAME = "output_stationary"
SUMMARY = "R tokens x C features per tile, K walked in place; least re-reads of the larger operand"


def candidates(job: GemmJob, params: dict) -> list[Mapping]:
    out: list[Mapping] = []
    if staging_bits(job) > job.output_cap_bits:
        return out
    tms = block_sizes(job.m, job.rows)
    tns = block_sizes(job.n, job.cols)
    a_slots = {tm: slots_that_fit(lambda s, kk, n: act_fits(job, s, kk, n), tm, job.k) for tm in tms}
    w_slots = {tn: slots_that_fit(lambda s, kk, n: weight_fits(job, s, kk, n), tn, job.k) for tn in tns}
    for tm in tms:
        if not a_slots[tm]:
            continue
        for tn in tns:
            if not w_slots[tn]:
                continue
            for order in ("act_outer", "weight_outer"):
                out.append(make_mapping(job, NAME, tm, tn, job.k, order, act_slots=a_slots[tm],
                                        weight_slots=w_slots[tn]))
    out += k_split_candidates(job, NAME)
    return out


def max_chunk(job: GemmJob, tm: int, tn: int) -> int:
    """Largest K chunk (a multiple of lcm(lanes, scale group)) with two blocks of each operand fitting."""
    return min(_largest_chunk(job, lambda kk: act_fits(job, tm, kk)),
               _largest_chunk(job, lambda kk: weight_fits(job, tn, kk)))


def _largest_chunk(job: GemmJob, fits) -> int:
    """Largest u * unit in [0, ceil(k / unit) * unit] that `fits` (monotone in u). Each operand's fit
    is monotone, so the largest chunk fitting both is the smaller of the two largest."""
    unit = k_unit(job)
    lo, hi = 0, cdiv(job.k, unit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * unit):
            lo = mid
        else:
            hi = mid - 1
    return lo * unit


def k_split_candidates(job: GemmJob, dataflow: str) -> list[Mapping]:
    """K-chunked blocks: one-tile blocks, and multi-tile blocks whose partial sums fit the output buffer."""
    out: list[Mapping] = []
    unit = k_unit(job)
    if job.k <= unit:
        return out
    tns = block_sizes(job.n, job.cols)
    w_max = {tn: _largest_chunk(job, lambda kk, tn=tn: weight_fits(job, tn, kk)) for tn in tns}
    for tm in block_sizes(job.m, job.rows):
        a_max = _largest_chunk(job, lambda kk, tm=tm: act_fits(job, tm, kk))
        for tn in tns:
            multi = cdiv(min(tm, job.m), job.rows) * cdiv(min(tn, job.n), job.cols) > 1
            partial = min(tm, job.m) * min(tn, job.n) * PARTIAL_SUM_BITS if multi else 0
            if max(partial, staging_bits(job)) > job.output_cap_bits:
                continue
            kc_max = min(a_max, w_max[tn])  # == max_chunk(job, tm, tn)
            if kc_max < unit or kc_max >= job.k:
                continue
            kc = balanced_chunk(job.k, kc_max, unit)
            out.append(make_mapping(job, dataflow, tm, tn, kc, "k_split", partial_bits=partial))
    return out


def compute_cycles(job: GemmJob, mp: Mapping) -> int:
    """Array-busy cycles: tiles x sum over chunks of ceil(ceil(kk / lanes) / k_ways) * cps + reductions."""
    memo = job.__dict__.setdefault("_os_cycles_per_tile", {})  # per job, not a field (job is frozen)
    key = (mp.kc if mp.order == "k_split" else job.k, mp.k_ways, mp.reduction_cycles_per_level)
    per_tile = memo.get(key)
    if per_tile is None:  # the same few K chunks and ways recur over thousands of candidates
        per_tile = memo[key] = chunk_steps(job, mp) * job.cps + reduction_per_tile(job, mp)
    return tile_count(job, mp) * per_tile


def tile_count(job: GemmJob, mp: Mapping) -> int:
    """Array tiles per K chunk: sum over blocks of ceil(rows / (R / k_ways)) x ceil(cols / C), x count."""
    tok, cols, tm, tn = job.rows // mp.k_ways, job.cols, mp.tm, mp.tn  # cdiv inlined: the mapper's hot path
    n_mb, n_nb = -(-job.m // tm), -(-job.n // tn)
    t_rows = (n_mb - 1) * -(-tm // tok) - (-(job.m - (n_mb - 1) * tm) // tok)
    t_cols = (n_nb - 1) * -(-tn // cols) - (-(job.n - (n_nb - 1) * tn) // cols)
    return job.count * t_rows * t_cols


def chunk_steps(job: GemmJob, mp: Mapping) -> int:
    """Group steps of one tile summed over the K chunks."""
    kc = mp.kc if mp.order == "k_split" else job.k
    n_kb = cdiv(job.k, kc)
    last = job.k - (n_kb - 1) * kc
    return (n_kb - 1) * cdiv(cdiv(kc, job.lanes), mp.k_ways) + cdiv(cdiv(last, job.lanes), mp.k_ways)


def reduction_per_tile(job: GemmJob, mp: Mapping) -> int:
    """Adder-tree cycles after a tile's last chunk: ceil(log2 min(k_ways, groups)) x cycles per level."""
    kc = mp.kc if mp.order == "k_split" else job.k
    last = job.k - (cdiv(job.k, kc) - 1) * kc
    return reduction_cycles(min(mp.k_ways, cdiv(last, job.lanes)), mp.reduction_cycles_per_level)
