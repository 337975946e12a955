"""The mapper: least DRAM traffic among the tilings that fit, checked by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_reference import small_hw

from andasim.errors import AndasimInputError
from andasim.sim.job import make_job
from andasim.sim.mapping import choose_mapping
from andasim.workload.gemm import GeMM


def _fits(job, tm, tn, kc):
    act = 2 * tm * job.act_bits(kc)
    exp = 2 * tm * job.act_exp_bits(kc)
    w = 2 * tn * job.weight_bits(kc)
    act_ok = (act - exp <= job.act_mant_cap_bits and exp <= job.act_exp_cap_bits) if job.anda_storage \
        else act <= job.act_mant_cap_bits + job.act_exp_cap_bits
    return act_ok and w <= job.weight_cap_bits


def _brute_force_traffic(job):
    """Least read traffic over every block size (multiples of the array) and both loop orders."""
    a, w = job.m * job.act_bits(job.k), job.n * job.weight_bits(job.k)
    best = None
    for tm in range(job.rows, -(-job.m // job.rows) * job.rows + 1, job.rows):
        for tn in range(job.cols, -(-job.n // job.cols) * job.cols + 1, job.cols):
            if not _fits(job, tm, tn, job.k):
                continue
            n_mb, n_nb = -(-job.m // tm), -(-job.n // tn)
            for t in (a + w * (n_mb if n_nb > 1 else 1), w + a * (n_nb if n_mb > 1 else 1)):
                best = t if best is None else min(best, t)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mapper_finds_the_least_traffic_that_fits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(15):
        rows, cols = int(rng.choice([2, 4, 8])), int(rng.choice([2, 4, 8]))
        hw = small_hw(str(rng.choice(["anda", "fp_fp"])), rows, cols,
                      act_kib=float(rng.choice([2.0, 8.0, 64.0])), exp_kib=float(rng.choice([1.0, 8.0])),
                      weight_kib=float(rng.choice([2.0, 8.0, 64.0])))
        gemm = GeMM("x", "o", 0, int(rng.integers(1, 100)), int(rng.integers(1, 8)) * 64,
                    int(rng.integers(1, 100)))
        job = make_job(hw, gemm, int(rng.integers(2, 12)), 6)
        try:
            mp = choose_mapping(job)
        except AndasimInputError:
            assert _brute_force_traffic(job) is None
            continue
        best = _brute_force_traffic(job)
        if mp.order == "k_split":
            assert best is None and mp.kc < job.k and mp.kc % 128 == 0
            assert _fits(job, job.rows, job.cols, mp.kc)
        else:
            assert mp.dram_read_bits == best
            assert _fits(job, mp.tm, mp.tn, job.k)
            assert mp.tm % job.rows == 0 and mp.tn % job.cols == 0
        assert "B" in mp.reason and mp.order in mp.reason


def test_anda_bits_let_bigger_blocks_fit_than_fp16() -> None:
    # 1 MiB + 128 KiB activation SRAM, K = 4096: FP16 rows are 64 Kibit, Anda M=4 rows 20.3 Kibit
    # (64 x 5 + 5 bits per group x 64 groups), so Anda holds ~3x the tokens per block and re-reads
    # the weights less often.
    gemm = GeMM("q", "qkv", 0, 2048, 4096, 12288)
    anda = choose_mapping(make_job(small_hw("anda", 16, 16), gemm, 4, None))
    fp16 = choose_mapping(make_job(small_hw("fp_fp", 16, 16), gemm, None, None))
    assert anda.tm > 2 * fp16.tm
    assert anda.dram_read_bits < fp16.dram_read_bits


def test_too_small_buffers_are_refused_with_the_sizes() -> None:
    hw = small_hw("anda", 4, 4, act_kib=0.125, weight_kib=0.125)
    with pytest.raises(AndasimInputError, match=r"buffers too small.*act_mantissa 128 B"):
        choose_mapping(make_job(hw, GeMM("x", "o", 0, 8, 256, 8), 7, None))
    with pytest.raises(AndasimInputError, match="output buffer"):
        hw = small_hw("anda", 16, 16, output_kib=0.5)
        choose_mapping(make_job(hw, GeMM("x", "o", 0, 8, 256, 8), 7, None))


def test_block_occupancy_depends_on_m_and_is_reported() -> None:
    gemm = GeMM("o", "o", 0, 512, 4096, 4096)
    hw = small_hw("anda", 16, 16)
    m4, m8 = (choose_mapping(make_job(hw, gemm, m, 6)) for m in (4, 8))
    for mp in (m4, m8):
        assert 2 * mp.act_block_bits <= 1024 * 1024 * 8 + 128 * 1024 * 8
        assert 2 * mp.weight_block_bits <= 1024 * 1024 * 8
    # per token row: 64 groups x (64 x (1 + M) + 5) bits
    assert m4.act_block_bits == min(m4.tm, 512) * 64 * (64 * 5 + 5)
    assert m8.act_block_bits == min(m8.tm, 512) * 64 * (64 * 9 + 5)
    assert m4.tm >= m8.tm
