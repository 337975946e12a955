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


def test_cached_candidates_give_the_choice_of_fresh_ones() -> None:
    """A design differing only in DRAM timing reuses the candidates; its choice equals a fresh one's."""
    hw, job = next(_jobs())
    slow = dataclasses.replace(job, dram_bits_per_s=job.dram_bits_per_s // 8, dram_latency_cycles=500)
    mapping.map_and_schedule(job, hw.dataflow)  # fills the cache for the shape
    cached = mapping.map_and_schedule(slow, hw.dataflow)
    mapping._ranked_candidates.cache_clear()
    fresh = mapping.map_and_schedule(slow, hw.dataflow)
    assert cached == fresh and cached[0].reason == fresh[0].reason
