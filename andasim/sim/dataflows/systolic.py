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

import dataclasses
from dataclasses import asdict, dataclass

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


# --- the systolic array inside andasim's DRAM-aware schedule ----------------------------------


def block_folds(dataflow: str, rows_b: int, cols_b: int, kk: int, rows: int, cols: int) -> tuple[int, int]:
    """(folds, cycles per fold) of one block: rows_b tokens x cols_b features over a K chunk of kk."""
    sr, sc, t = spatio_temporal(dataflow, rows_b, cols_b, kk)
    return _cdiv(sr, rows) * _cdiv(sc, cols), fold_cycles(dataflow, rows, cols, t)


def block_sram_reads(
    dataflow: str, rows_b: int, cols_b: int, kk: int, rows: int, cols: int
) -> tuple[int, int]:
    """(activation, weight) elements read from SRAM by one block, as SCALE-Sim counts its demand:
    the stationary operand once, a streamed operand once per fold of the other spatial dimension."""
    if dataflow == "os":
        return rows_b * kk * _cdiv(cols_b, cols), cols_b * kk * _cdiv(rows_b, rows)
    if dataflow == "ws":
        return rows_b * kk * _cdiv(cols_b, cols), cols_b * kk
    return rows_b * kk, cols_b * kk * _cdiv(rows_b, cols)


def run_systolic_schedule(job, mp, dataflow: str) -> dict[str, int]:
    """Raw counters (`andasim.sim.engine.RAW_KEYS`) of one GeMM on a systolic array, DRAM included.

    The block rules are the engine's (docs/engine.md §4): blocks in the mapper's loop order; the
    operand read of block b starts once block b-2 has computed (two buffer slots); one DRAM
    channel, reads before posted writes; a block computes when the array is free and its data is
    ready. Inside a block the array runs SCALE-Sim's folds back to back: `block_folds` x its fold
    cycles, fill and drain included. A block's outputs (FP16) are written to DRAM after its last K
    chunk. With one block covering the whole GeMM the compute cycles are SCALE-Sim's + 1 (it
    counts the last cycle's index). Pure Python: O(blocks), and blocks are few.
    """
    raw = dict.fromkeys(
        (
            "cycles",
            "compute_cycles",
            "stall_dram_cycles",
            "stall_compressor_cycles",
            "pe_busy_cycles",
            "dram_read_act_bits",
            "dram_read_weight_bits",
            "dram_write_bits",
            "compressor_groups",
            "compressor_cycles",
            "sram_read_act_mant_bits",
            "sram_read_act_exp_bits",
            "sram_read_weight_bits",
            "output_staged_bits",
            "tiles",
            "blocks",
            "dram_busy_cycles",
        ),
        0,
    )
    m, k, n, R, C = job.m, job.k, job.n, job.rows, job.cols
    order = mp.order
    n_mb, n_nb = _cdiv(m, mp.tm), _cdiv(n, mp.tn)
    n_kb = _cdiv(k, mp.kc) if order == "k_split" else 1
    n_outer, n_inner = (n_nb, n_mb) if order == "weight_outer" else (n_mb, n_nb)
    writes: list[tuple[int, int]] = []  # (ready cycle, bits), in program order
    ch_free = arr_free = cend_m1 = cend_m2 = b = 0

    def serve(start: int, bits: int) -> int:
        nonlocal ch_free
        t = job.transfer_cycles(bits)
        ch_free = max(ch_free, start) + t
        raw["dram_busy_cycles"] += t
        return ch_free

    for _ in range(job.count):
        for outer in range(n_outer):
            for inner in range(n_inner):
                for kci in range(n_kb):
                    mi, nj = (inner, outer) if order == "weight_outer" else (outer, inner)
                    rows_b, cols_b = min(mp.tm, m - mi * mp.tm), min(mp.tn, n - nj * mp.tn)
                    kk = min(mp.kc, k - kci * mp.kc) if order == "k_split" else k
                    if order == "k_split":
                        load_a = load_w = True
                    elif order == "act_outer":
                        load_a, load_w = inner == 0, n_nb > 1 or outer == 0
                    else:
                        load_w, load_a = inner == 0, n_mb > 1 or outer == 0
                    rd_a = rows_b * job.act_bits(kk) if load_a else 0
                    rd_w = cols_b * job.weight_bits(kk) if load_w else 0
                    raw["dram_read_act_bits"] += rd_a
                    raw["dram_read_weight_bits"] += rd_w
                    r_ready = cend_m2 if b >= 2 else 0
                    while writes and writes[0][0] < r_ready:  # writes ready before this read go first
                        ready, bits = writes.pop(0)
                        serve(ready, bits)
                    data_ready = serve(r_ready, rd_a + rd_w) + job.dram_latency_cycles
                    folds, per_fold = block_folds(dataflow, rows_b, cols_b, kk, R, C)
                    start = max(arr_free, data_ready)
                    raw["stall_dram_cycles"] += start - arr_free
                    cc = folds * per_fold
                    arr_free = start + cc
                    raw["compute_cycles"] += cc
                    raw["pe_busy_cycles"] += rows_b * cols_b * kk  # one MAC per busy PE-cycle
                    act_el, w_el = block_sram_reads(dataflow, rows_b, cols_b, kk, R, C)
                    raw["sram_read_act_mant_bits"] += act_el * job.act_value_bits
                    raw["sram_read_weight_bits"] += w_el * job.w_value_bits
                    raw["tiles"] += folds
                    if order != "k_split" or kci == n_kb - 1:
                        bits = rows_b * cols_b * 16
                        raw["output_staged_bits"] += bits
                        raw["dram_write_bits"] += bits
                        writes.append((arr_free, bits))
                    cend_m2, cend_m1 = cend_m1, arr_free
                    b += 1
    for ready, bits in writes:
        serve(ready, bits)
    raw["cycles"] = max(arr_free, ch_free)
    raw["stall_dram_cycles"] += raw["cycles"] - arr_free
    raw["blocks"] = b
    return raw


def whole_stream_mapping(job, mp, dataflow: str):
    """The mapper's choice, with the streamed dimension whole when it fits (ws: M, is: N).

    A ws fold streams every token of its block, an is fold every feature: cutting that dimension
    into blocks repeats each fold's fill and drain. The mapper breaks DRAM-traffic ties towards
    small first blocks, which costs folds here, so a whole-M (ws) or whole-N (is) block is taken
    when two of them fit the buffer; its DRAM traffic is never larger (one block along that side).
    Returns `mp` unchanged otherwise.
    """
    if mp.order == "k_split" or dataflow == "os":
        return mp
    k_bits_act, k_bits_w = job.act_bits(job.k), job.weight_bits(job.k)
    a_full, w_full = job.m * k_bits_act, job.n * k_bits_w
    if dataflow == "ws" and mp.tm < job.m:
        tm = _cdiv(job.m, job.rows) * job.rows
        if 2 * tm * k_bits_act > job.act_mant_cap_bits + job.act_exp_cap_bits:
            return mp
        tm_b, tn_b = tm, mp.tn
    elif dataflow == "is" and mp.tn < job.n:
        tn = _cdiv(job.n, job.cols) * job.cols
        if 2 * tn * k_bits_w > job.weight_cap_bits:
            return mp
        tm_b, tn_b = mp.tm, tn
    else:
        return mp
    n_mb, n_nb = _cdiv(job.m, tm_b), _cdiv(job.n, tn_b)
    traffic = (
        a_full + w_full * (n_mb if n_nb > 1 else 1)
        if mp.order == "act_outer"
        else w_full + a_full * (n_nb if n_mb > 1 else 1)
    ) * job.count
    side = "tokens" if dataflow == "ws" else "features"
    return dataclasses.replace(
        mp,
        tm=tm_b,
        tn=tn_b,
        dram_read_bits=traffic,
        act_block_bits=min(tm_b, job.m) * k_bits_act,
        weight_block_bits=min(tn_b, job.n) * k_bits_w,
        reason=f"{mp.reason}; systolic {dataflow}: all {side} in one block (they stream through every fold)",
    )
