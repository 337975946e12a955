"""GPU-like tiling: TM x TN output tiles held on chip as a GPU thread block holds them, K streamed in chunks.

A GPU thread block keeps a TM x TN tile of FP32 accumulators in registers and streams TM x TK
activations and TK x TN weights from global memory (no reuse across thread blocks beyond what
a cache might give, which this reading leaves out). Here the accumulators live in the output
buffer (TM x TN x 32 bits must fit), the block loop is output-stationary's `k_split` order with
tm = TM, tn = TN, kc = TK, and each block is computed as (TM / R) x (TN / C) array tiles whose
partial sums move between the output buffer and the PE accumulators every chunk.
DRAM reads: A x ceil(N / TN) + W x ceil(M / TM) (A, W: each operand once, in chunks of TK).
The tile sizes are parameters of the design (`tile_m_tokens`, `tile_n_features`,
`tile_k_elements`); the bundled FP-FP design takes them from a CUTLASS FP16 thread-block shape
(docs/hw_config.md), which is an assumption about what "GPU-like" means.
"""

from __future__ import annotations

from andasim.sim.dataflows.tiling import (
    PARTIAL_SUM_BITS,
    Mapping,
    act_fits,
    cdiv,
    make_mapping,
    staging_bits,
    weight_fits,
)
from andasim.sim.job import GemmJob

NAME = "gpu_tiled"
SUMMARY = "TM x TN FP32 accumulator tile on chip, K streamed in TK chunks, both operands re-read per tile"


def candidates(job: GemmJob, params: dict) -> list[Mapping]:
    tm, tn, tk = params["tile_m_tokens"], params["tile_n_features"], params["tile_k_elements"]
    kc = min(tk, job.k)
    multi = cdiv(min(tm, job.m), job.rows) * cdiv(min(tn, job.n), job.cols) > 1
    partial = min(tm, job.m) * min(tn, job.n) * PARTIAL_SUM_BITS if multi else 0
    if max(partial, staging_bits(job)) > job.output_cap_bits:
        return []
    if not (act_fits(job, min(tm, job.m), kc) and weight_fits(job, min(tn, job.n), kc)):
        return []
    return [make_mapping(job, NAME, tm, tn, kc, "k_split", partial_bits=partial)]


def compute_cycles(job: GemmJob, mp: Mapping) -> int:
    """(TM / R) x (TN / C) array tiles per block, ceil(kk / lanes) * cps per chunk: as output-stationary."""
    from andasim.sim.dataflows.output_stationary import compute_cycles as array_compute_cycles

    return array_compute_cycles(job, mp)
