"""The mapper's fast paths (cached candidates, vectorised bounds, lazy label ranking) against the plain ones.

Each fast path must reproduce its slow, obvious counterpart exactly: `lower_bounds` vs
`lower_bound_cycles` per candidate, `_rank` vs Python's `sorted` on (bound, traffic, label), the
int64 transfer path vs exact Python integers, and the cached `map_and_schedule` vs a fresh one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from andasim.hw.config import load_hw
from andasim.sim import mapping
from andasim.sim.job import make_job
from andasim.workload.gemm import GeMM

SHAPES = ((2048, 4096, 12288), (1, 4096, 4096), (37, 576, 1536), (8, 11008, 4096))


def _jobs():
    for design in ("anda", "pe64", "fp_fp"):
        hw = load_hw(design)
        m_bits = None if design == "fp_fp" else 6
        for m, k, n in SHAPES:
            yield hw, make_job(hw, GeMM("x", "qkv", 0, m, k, n), m_bits, m_bits)


@pytest.mark.parametrize("hw_job", list(_jobs()),
                         ids=lambda hj: f"{hj[0].name}-{hj[1].m}x{hj[1].k}x{hj[1].n}")
def test_bounds_and_rank_match_the_plain_definitions(hw_job) -> None:
    hw, job = hw_job
    ranked = mapping.rank_candidates(job, mapping.candidates(job, hw.dataflow))
    cands = ranked.cands
    bound = mapping.lower_bounds(job, ranked)
    assert bound == [mapping.lower_bound_cycles(job, mp) for mp in cands]
    rank = mapping._rank(cands, np.array(bound, dtype=np.int64), ranked.traffic)
    plain = sorted(range(len(cands)), key=lambda i: (bound[i], cands[i].dram_read_bits, cands[i].label()))
    assert rank == plain


def test_transfer_cycles_exact_beyond_int64() -> None:
    """Huge bit counts (products past 2^63) take the Python-integer path and stay exact."""
    job = next(j for _, j in _jobs())
    odd = dataclasses.replace(job, freq_hz=999_999_937, dram_bits_per_s=2_048_000_000_003)
    for j in (job, odd):
        bits = np.array([0, 1, 12345, 2**40 + 7, 2**61 + 3, 2**70 + 11], dtype=object)
        assert mapping._transfer_cycles(j, bits).tolist() == [j.transfer_cycles(int(b)) for b in bits]
        small = bits[:4]
        assert mapping._transfer_cycles(j, small).tolist() == [j.transfer_cycles(int(b)) for b in small]


def test_cached_mapping_equals_a_fresh_one_and_is_not_shared() -> None:
    hw, job = next(_jobs())
    mp, raw = mapping.map_and_schedule(job, hw.dataflow)
    raw["cycles"] = -1  # a caller scribbling on its counters must not reach the cache
    mapping._mapped.cache_clear()
    mapping._ranked_candidates.cache_clear()
    fresh_mp, fresh_raw = mapping.map_and_schedule(job, hw.dataflow)
    _, again_raw = mapping.map_and_schedule(job, hw.dataflow)
    assert fresh_mp == mp and fresh_mp.reason == mp.reason
    assert again_raw == fresh_raw and again_raw["cycles"] > 0 and again_raw is not fresh_raw

