"""Full-size GeMMs recomputed by hand from docs/engine.md §3, one per dataflow (no mapper involved).

DRAM is made so fast that every transfer takes one cycle and has no latency, and outputs stay FP16
(no compressor), so a tiling's cycles are 1 (first read) + its compute cycles + 1 (last write): the
formulas below, written out independently of the dataflow modules, must match the schedule exactly.
"""

from __future__ import annotations

import pytest
from test_engine_reference import small_hw

from andasim.hw.dataflow_config import DataflowConfig
from andasim.sim.dataflows import DATAFLOWS, run_schedule
from andasim.sim.dataflows.tiling import make_mapping
from andasim.sim.job import make_job
from andasim.workload.gemm import GeMM

FAST_DRAM = {"bw_gb_per_s": 1e6, "latency_ns": 0.0}


def _act_bits(kk: int, m_bits: int) -> int:   # Anda: ceil(kk/64) groups of 64 x (1 + M) + 5 bits
    return -(-kk // 64) * (64 * (1 + m_bits) + 5)


def _w_bits(kk: int) -> int:                  # INT4 + one FP16 scale per 128 along K (per chunk)
    return kk * 4 + -(-kk // 128) * 16


def _check(job, mp, compute: int, reads: int) -> None:
    raw = run_schedule(job, mp)
    assert DATAFLOWS[mp.dataflow].compute_cycles(job, mp) == compute
    assert raw["compute_cycles"] == compute
    assert raw["dram_read_act_bits"] + raw["dram_read_weight_bits"] == reads == mp.dram_read_bits
    assert raw["cycles"] == 1 + compute + 1


def test_output_stationary_llama_o_projection() -> None:
    # 2048 x 4096 x 4096 on 16 x 16 Anda APUs, M = 7 (8 cycles per group): 128 x 256 tiles of 64 groups.
    job = make_job(small_hw("anda", 16, 16, **FAST_DRAM), GeMM("o", "o", 0, 2048, 4096, 4096), 7, None)
    mp = make_mapping(job, "output_stationary", 64, 512, 4096, "act_outer")
    compute = (2048 // 16) * (4096 // 16) * 64 * 8
    reads = 2048 * _act_bits(4096, 7) + 4096 * _w_bits(4096) * (2048 // 64)   # A + W x n_mb
    _check(job, mp, compute, reads)


def test_gemv_k_split_decode_token() -> None:
    # 1 x 4096 x 4096, 16 ways: 256 tiles of 1 token x 16 features, ceil(64 / 16) = 4 groups x 8 cycles
    # + ceil(log2 16) = 4 adder levels x 1 cycle = 36 cycles each.
    job = make_job(small_hw("anda", 16, 16, **FAST_DRAM), GeMM("o", "o", 0, 1, 4096, 4096), 7, None)
    mp = make_mapping(job, "gemv_k_split", 1, 256, 4096, "act_outer", k_ways=16, reduction_cycles_per_level=1)
    compute = 256 * (4 * 8 + 4)
    reads = _act_bits(4096, 7) + 4096 * _w_bits(4096)                            # each operand once
    _check(job, mp, compute, reads)
    raw = run_schedule(job, mp)
    assert raw["reduction_cycles"] == 256 * 4
    # 16 FP32 partial sums per output, written and read once
    assert raw["partial_write_bits"] == raw["partial_read_bits"] == 4096 * 16 * 32


def test_weight_stationary_prefill_block() -> None:
    # 256 x 4096 x 4096: per 16-feature tile, 4 K tiles of 16 groups; each streams the block's 64 tokens
    # at 8 cycles + 4 adder levels: 256 feature tiles x (256 tokens x 4 x 8 + 4 blocks x 4 K tiles x 4).
    job = make_job(small_hw("anda", 16, 16, **FAST_DRAM), GeMM("o", "o", 0, 256, 4096, 4096), 7, None)
    mp = make_mapping(job, "weight_stationary", 64, 256, 4096, "act_outer", tile_kind="streamed",
                      reduction_cycles_per_level=1)
    compute = 256 * (256 * 4 * 8 + 4 * 4 * 4)
    reads = 256 * _act_bits(4096, 7) + 4096 * _w_bits(4096) * (256 // 64)
    _check(job, mp, compute, reads)


def test_gpu_tiled_fp_fp() -> None:
    # FP-FP (16 cycles per group), 2048 x 4096 x 4096, 128 x 128 x 64 tiles: 64 chunks of one group;
    # reads A x n/TN + W' x m/TM with one scale per 64-weight chunk.
    job = make_job(small_hw("fp_fp", 16, 16, **FAST_DRAM), GeMM("o", "o", 0, 2048, 4096, 4096), None, None)
    mp = make_mapping(job, "gpu_tiled", 128, 128, 64, "k_split", partial_bits=128 * 128 * 32)
    compute = (2048 // 16) * (4096 // 16) * 64 * 16
    a_once, w_chunked = 2048 * 4096 * 16, 4096 * 64 * (64 * 4 + 16)
    _check(job, mp, compute, a_once * (4096 // 128) + w_chunked * (2048 // 128))


def _systolic_job(stationary: str, m: int, k: int, n: int):
    cfg = DataflowConfig("min_cycles", (("systolic", (("stationary", stationary),)),))
    hw = small_hw("fp_fp", 16, 16, dataflow=cfg, **FAST_DRAM)
    return make_job(hw, GeMM("g", "gemm", 0, m, k, n, weight_operand="fp16"), None, None)


def test_systolic_scalesim_folds() -> None:
    # SCALE-Sim's folds (docs/engine.md §8), FP16 x FP16 generic GeMMs, one block each.
    # os, the example: 64 x 512 x 512 on 16 x 16: ceil(64/16) x ceil(512/16) = 128 folds of
    # K + R + C - 2 = 542 cycles = 69,376 = SCALE-Sim's 69,375 + 1 (it reports the last cycle's index).
    job = _systolic_job("os", 64, 512, 512)
    mp = make_mapping(job, "systolic", 64, 512, 512, "act_outer", tile_kind="fold_os")
    _check(job, mp, 128 * (512 + 16 + 16 - 2), 64 * 512 * 16 + 512 * 512 * 16)
    # ws: 256 x 1024 x 512: 32 feature folds x 64 K folds, each streaming the 256 tokens through
    # 2R + C + 256 - 2 = 302 cycles; partial sums 256 x 16 FP32 wait between K folds.
    job = _systolic_job("ws", 256, 1024, 512)
    mp = make_mapping(job, "systolic", 256, 512, 1024, "act_outer", tile_kind="fold_ws",
                      partial_bits=256 * 16 * 32)
    _check(job, mp, 32 * 64 * (2 * 16 + 16 + 256 - 2), 256 * 1024 * 16 + 512 * 1024 * 16)
    # is: the same GeMM: 16 token folds (tokens on the 16 columns) x 64 K folds, each streaming the
    # 512 features through 2R + C + 512 - 2 = 558 cycles.
    job = _systolic_job("is", 256, 1024, 512)
    mp = make_mapping(job, "systolic", 256, 512, 1024, "act_outer", tile_kind="fold_is",
                      partial_bits=16 * 512 * 32)
    _check(job, mp, 16 * 64 * (2 * 16 + 16 + 512 - 2), 256 * 1024 * 16 + 512 * 1024 * 16)


@pytest.mark.parametrize("name", sorted(DATAFLOWS))
def test_every_registered_dataflow_has_a_closed_form_test(name: str) -> None:
    assert f"test_{name}" in "".join(globals())  # a new dataflow module needs its hand-computed case here
