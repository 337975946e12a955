"""Systolic timing: SCALE-Sim 3.0's compute cycles for os, ws and is, as closed forms.

SCALE-Sim (Samajdar et al., github.com/scalesim-project) times a GeMM on an R x C systolic array
by building per-cycle demand matrices: the GeMM is cut into *folds* (one mapping of operands onto
the array), each fold streams its temporal dimension T through the array, and the operands are
skewed by one cycle per row or column (pipeline fill) while the outputs drain before the next
fold starts. Read off `scalesim/compute/systolic_compute_{os,ws,is}.py` (version 3.0.0):

    dataflow  stationary   spatial rows Sr   spatial cols Sc   temporal T   cycles of one fold
    os        outputs      M (ofmap px)      N (filters)       K (window)   T + R + C - 2
    ws        filter       K                 N                 M            2R + C + T - 2
    is        ifmap        K                 M                 N            2R + C + T - 2

    folds          = ceil(Sr / R) * ceil(Sc / C)
    compute cycles = folds * (cycles of one fold) - 1

os: the ifmap demand of a fold is T rows plus C - 1 drain rows, skewed over R columns; ws/is: a
fold first loads the stationary operand (R cycles, plus R - 1 for the outputs' prefix), then
streams T rows, skewed over C columns and drained. SCALE-Sim reports the cycle of the last ofmap
write with cycles counted from 0, hence the - 1. Edge folds (fewer rows or columns in use) take as
long as full ones.

The report's other two numbers, per fold and averaged over folds (as SCALE-Sim does):

    mapping efficiency   = used PEs / (R * C)            -> mean = Sr/(ceil(Sr/R)*R) * Sc/(ceil(Sc/C)*C)
    compute utilization  = used PEs * T / (R * C * W)    -> mean = mapping efficiency * T / W
    overall utilization  = M * N * K / (compute cycles * R * C)

W is the window SCALE-Sim measures a fold's utilization over: T + R + C - 2 for os, but
2R + 2C + T - 3 for ws and is (it measures the operand demand before its skew is added, which
for those dataflows is C - 1 rows longer than the fold); we reproduce it as it counts, not as
it should. Every number here is an integer or a ratio of integers: no tuning, nothing fitted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from andasim.sim.dataflows.output_stationary import max_chunk
from andasim.sim.dataflows.tiling import (
    PARTIAL_SUM_BITS,
    Mapping,
    act_fits,
    balanced_chunk,
    block_sizes,
    k_unit,
    make_mapping,
    slots_that_fit,
    staging_bits,
    weight_fits,
)
from andasim.sim.job import GemmJob

SYSTOLIC_DATAFLOWS = ("os", "ws", "is")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def spatio_temporal(dataflow: str, m: int, n: int, k: int) -> tuple[int, int, int]:
    """(Sr, Sc, T) of an M x K by K x N GeMM under `dataflow` (SCALE-Sim's topology_utils)."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown systolic dataflow {dataflow!r}; valid: {', '.join(SYSTOLIC_DATAFLOWS)}")


def fold_cycles(dataflow: str, rows: int, cols: int, t: int) -> int:
    """Cycles one fold occupies the array: fill, T temporal steps, drain."""
    if dataflow == "os":
        return t + rows + cols - 2
    if dataflow in ("ws", "is"):
        return 2 * rows + cols + t - 2
    raise ValueError(f"unknown systolic dataflow {dataflow!r}; valid: {', '.join(SYSTOLIC_DATAFLOWS)}")


def _util_window(dataflow: str, rows: int, cols: int, t: int) -> int:
    """The cycles SCALE-Sim divides a fold's MACs by for its compute utilization (see module doc)."""
    return t + rows + cols - 2 if dataflow == "os" else 2 * rows + 2 * cols + t - 3


@dataclass(frozen=True)
class SystolicCounts:
    """SCALE-Sim's compute report for one GeMM, from the closed forms."""

    dataflow: str
    rows: int
    cols: int
    sr: int
    sc: int
    t: int
    folds: int
    fold_cycles: int
    compute_cycles: int
    mapping_efficiency: float
    compute_utilization: float
    overall_utilization: float

    def to_dict(self) -> dict:
        return asdict(self)


def systolic_counts(dataflow: str, m: int, n: int, k: int, rows: int, cols: int) -> SystolicCounts:
    """Compute cycles, mapping efficiency and utilizations of M x K by K x N on rows x cols."""
    if min(m, n, k, rows, cols) <= 0:
        raise ValueError(f"sizes must be positive, got m={m} n={n} k={k} on {rows}x{cols}")
    sr, sc, t = spatio_temporal(dataflow, m, n, k)
    row_folds, col_folds = _cdiv(sr, rows), _cdiv(sc, cols)
    folds = row_folds * col_folds
    per_fold = fold_cycles(dataflow, rows, cols, t)
    cycles = folds * per_fold - 1
    mapping = (sr / (row_folds * rows)) * (sc / (col_folds * cols))
    return SystolicCounts(
        dataflow=dataflow,
        rows=rows,
        cols=cols,
        sr=sr,
        sc=sc,
        t=t,
        folds=folds,
        fold_cycles=per_fold,
        compute_cycles=cycles,
        mapping_efficiency=mapping,
        compute_utilization=mapping * t / _util_window(dataflow, rows, cols, t),
        overall_utilization=m * n * k / (cycles * rows * cols),
    )


# --- the `systolic` dataflow: registered in andasim.sim.dataflows.DATAFLOWS --------------------

NAME = "systolic"
SUMMARY = "SCALE-Sim's systolic array: os, ws or is folds with fill and drain (a .cfg design's dataflow)"
TILE_KIND = {"os": "fold_os", "ws": "fold_ws", "is": "fold_is"}


def candidates(job: GemmJob, params: dict) -> list[Mapping]:
    """Blocks of whole R (tokens) x C (features) multiples, both whole-K orders, and K-split blocks.

    Partial sums wait in the output buffer (FP32) between K folds (ws, is) and between K chunks:
    a tiling is offered only if they fit, with the output staging.
    """
    stationary = str(params["stationary"])
    kind = TILE_KIND[stationary]
    out: list[Mapping] = []
    if staging_bits(job) > job.output_cap_bits:
        return out
    tok_unit = job.rows if stationary != "is" else job.cols   # is: tokens lie on the array's columns
    tms, tns = block_sizes(job.m, tok_unit), block_sizes(job.n, job.cols)

    def partial(tm: int, tn: int, split: bool) -> int:
        rows, cols = min(tm, job.m), min(tn, job.n)
        if split:
            return rows * cols * PARTIAL_SUM_BITS
        if stationary == "ws" and _cdiv(job.k, job.rows) > 1:
            return rows * job.cols * PARTIAL_SUM_BITS
        if stationary == "is" and _cdiv(job.k, job.rows) > 1:
            return job.cols * cols * PARTIAL_SUM_BITS
        return 0

    for tm in tms:
        a = slots_that_fit(lambda s, kk, n: act_fits(job, s, kk, n), tm, job.k)
        for tn in tns:
            w = slots_that_fit(lambda s, kk, n: weight_fits(job, s, kk, n), tn, job.k)
            p = partial(tm, tn, False)
            if not (a and w) or p > job.output_cap_bits:
                continue
            for order in ("act_outer", "weight_outer"):
                out.append(make_mapping(job, NAME, tm, tn, job.k, order, tile_kind=kind, act_slots=a,
                                        weight_slots=w, partial_bits=p))
    unit = k_unit(job)
    if job.k > unit:
        for tm in tms:
            for tn in tns:
                p = partial(tm, tn, True)
                if p > job.output_cap_bits:
                    continue
                kc_max = max_chunk(job, tm, tn)
                if unit <= kc_max < job.k:
                    out.append(make_mapping(job, NAME, tm, tn, balanced_chunk(job.k, kc_max, unit), "k_split",
                                            tile_kind=kind, partial_bits=p))
    return out


def _stationary(mp: Mapping) -> str:
    return mp.tile_kind.removeprefix("fold_")


def compute_cycles(job: GemmJob, mp: Mapping) -> int:
    """Array-busy cycles of the tiling: over blocks and K chunks, folds x cycles of one fold."""
    stationary = _stationary(mp)
    kc = mp.kc if mp.order == "k_split" else job.k

    def extents(total: int, block: int) -> list[tuple[int, int]]:
        """(size, how many) of the blocks along one side: full ones and the ragged last one."""
        n_full, last = divmod(total, block)
        return [(block, n_full)] + ([(last, 1)] if last else [])

    total = 0
    for rows_b, n_r in extents(job.m, mp.tm):
        for cols_b, n_c in extents(job.n, mp.tn):
            for kk, n_k in extents(job.k, kc):
                sr, sc, t = spatio_temporal(stationary, rows_b, cols_b, kk)
                per_block = _cdiv(sr, job.rows) * _cdiv(sc, job.cols) * fold_cycles(stationary, job.rows,
                                                                                    job.cols, t)
                total += n_r * n_c * n_k * per_block
    return job.count * total
