"""The fast engine against the per-cycle reference model, plus hand-derived cycle counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from andasim.formats import anda_integer_fields, int_weights
from andasim.hw.config import load_hw
from andasim.hw.dataflow_config import DataflowConfig
from andasim.sim import functional as F
from andasim.sim.dataflows import DATAFLOWS, run_schedule
from andasim.sim.job import make_job
from andasim.sim.mapping import candidates, choose_mapping
from andasim.sim.reference import Operands, simulate_reference
from andasim.workload.gemm import GeMM

DESIGNS = ("anda", "fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8")


def small_hw(name: str, rows: int, cols: int, *, freq_mhz: float = 285.0, bw_gb_per_s: float = 256.0,
             latency_ns: float = 100.0, act_kib: float = 1024.0, exp_kib: float = 128.0,
             weight_kib: float = 1024.0, output_kib: float = 64.0, extra_cycles: int | None = None,
             dataflow: DataflowConfig | None = None):
    """A bundled design with its array, clock, DRAM, buffers (and dataflows) replaced (for tiny cases)."""
    hw = load_hw(name)
    b = hw.buffers
    pe = hw.pe_array.pe
    if extra_cycles is not None and pe.extra_cycles_per_group is not None:
        pe = dataclasses.replace(pe, extra_cycles_per_group=extra_cycles)

    def buf(old, kib):
        return dataclasses.replace(old, size_kib=kib)

    return dataclasses.replace(
        hw, freq_mhz=freq_mhz, dataflow=dataflow or hw.dataflow,
        pe_array=dataclasses.replace(hw.pe_array, rows=rows, cols=cols, pe=pe),
        dram=dataclasses.replace(hw.dram, bw_gb_per_s=bw_gb_per_s, latency_ns=latency_ns),
        buffers=dataclasses.replace(b, act_mantissa=buf(b.act_mantissa, act_kib),
                                    act_exponent=buf(b.act_exponent, exp_kib),
                                    weight=buf(b.weight, weight_kib), output=buf(b.output, output_kib)))


def _both(hw, gemm, m_bits, next_m_bits, next_k=None):
    job = make_job(hw, gemm, m_bits, next_m_bits, next_k)
    mp = choose_mapping(job)
    fast = run_schedule(job, mp)
    ref, _ = simulate_reference(job, mp)
    return job, mp, fast, ref


# --- hand cases ---------------------------------------------------------------------------------
# Clock 100 MHz and 1.6 GB/s = 12.8e9 bit/s give exactly 128 bits per cycle; 50 ns = 5 cycles.
HAND = {"freq_mhz": 100.0, "bw_gb_per_s": 1.6, "latency_ns": 50.0}


def test_hand_single_tile_fp16_out() -> None:
    # Anda, M = 3: cycles per group = M + 1 = 4. GeMM 2x64x2 on a 2x2 array: one tile, one group.
    # Read: activations 2 rows x (64 x (1 + 3) + 5) = 522 bits, weights 2 cols x (64 x 4 + 16) = 544
    # bits; 1066 bits / 128 per cycle -> 9 cycles (0..9); + 5 latency -> data ready at 14.
    # Compute 14..18 (4 cycles). FP16 outputs (no compressor): 4 x 16 = 64 bits -> 1 cycle, 18..19.
    hw = small_hw("anda", 2, 2, **HAND)
    _, mp, fast, ref = _both(hw, GeMM("t", "qkv", 0, 2, 64, 2), 3, None)
    assert mp.order == "act_outer" and (mp.tm, mp.tn) == (2, 2)
    assert fast == ref
    assert fast["cycles"] == 19
    assert fast["compute_cycles"] == 4 and fast["stall_dram_cycles"] == 15
    assert fast["dram_read_act_bits"] == 522 and fast["dram_read_weight_bits"] == 544


def test_hand_single_tile_with_compressor() -> None:
    # As above until compute ends at 18. The compressor targets M_next = 5: 4 values are one pass
    # of 16 lanes x 64 values -> 5 cycles (18..23). Write ceil(4 x (64 x 6 + 5) / 64) = 25 bits ->
    # 1 cycle (23..24). Total 24: compute 4, DRAM stall 14, compressor stall 5 (tail), write 1.
    hw = small_hw("anda", 2, 2, **HAND)
    _, _, fast, ref = _both(hw, GeMM("t", "o", 0, 2, 64, 2), 3, 5)
    assert fast == ref
    assert fast["cycles"] == 24
    assert (fast["compute_cycles"], fast["stall_dram_cycles"], fast["stall_compressor_cycles"]) == (4, 15, 5)
    assert fast["dram_write_bits"] == 25 and fast["compressor_cycles"] == 5


def test_hand_two_tiles() -> None:
    # GeMM 2x64x4 on 2x2: two tiles side by side. Every block size has the same traffic, so the
    # mapper takes the smaller first fetch: two blocks of one tile each (weights re-read never).
    # R0: 522 + 544 = 1066 bits -> 9 cycles (0..9), ready at 14. R1 (block 1's weights, 544 bits,
    # may start at once: blocks 0 and 1 use the two buffer slots) -> 5 cycles (9..14), ready at 19.
    # Tile 0 computes 14..18; its 64-bit write is ready at 18 and takes 18..19. Tile 1 waits for
    # its data until 19 and computes 19..23; write 23..24. Total 24, compute 8, DRAM stall 16.
    hw = small_hw("anda", 2, 2, **HAND)
    _, mp, fast, ref = _both(hw, GeMM("t", "qkv", 0, 2, 64, 4), 3, None)
    assert (mp.tm, mp.tn) == (2, 2)
    assert fast == ref
    assert fast["cycles"] == 24 and fast["compute_cycles"] == 8 and fast["tiles"] == 2
    assert fast["stall_dram_cycles"] == 16 and fast["blocks"] == 2


def test_hand_fp_fp_independent_of_m() -> None:
    # FP-FP: 16 cycles per group whatever M. 2x128x2: read 2 x 128 x 16 = 4096 activation bits and
    # 2 x (128 x 4 + 16) = 1056 weight bits = 5152 bits -> 41 cycles (40.25), ready at 46; compute
    # 2 groups x 16 = 32 cycles (46..78); write 64 bits 78..79. Total 79.
    hw = small_hw("fp_fp", 2, 2, **HAND)
    for m_bits in (None, 4, 9):
        _, _, fast, ref = _both(hw, GeMM("t", "up", 0, 2, 128, 2), m_bits, None)
        assert fast == ref and fast["cycles"] == 79


# --- random equivalence, per dataflow -------------------------------------------------------------
# Every case draws a random design, array, clock, DRAM and buffers, then a random candidate tiling of
# the dataflow under test (not only the mapper's choice), and requires equal raw counters.

def _random_params(rng: np.random.Generator, dataflow: str, rows: int, cols: int) -> dict[str, int]:
    if dataflow == "gemv_k_split":
        return {"max_k_ways": int(rng.integers(2, 5)), "reduction_cycles_per_level": int(rng.integers(0, 3))}
    if dataflow == "weight_stationary":
        return {"reduction_cycles_per_level": int(rng.integers(0, 3))}
    if dataflow == "gpu_tiled":
        return {"tile_m_tokens": rows * int(rng.integers(1, 4)),
                "tile_n_features": cols * int(rng.integers(1, 4)),
                "tile_k_elements": 64 * int(rng.integers(1, 4))}
    if dataflow == "systolic":  # SCALE-Sim's folds (its timing ignores lanes and cps)
        return {"stationary": str(rng.choice(["os", "ws", "is"]))}
    return {}


def _random_case(rng: np.random.Generator, dataflow: str = "output_stationary"):
    name = DESIGNS[int(rng.integers(len(DESIGNS)))]
    rows, cols = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    params = _random_params(rng, dataflow, rows, cols)
    cfg = DataflowConfig("min_cycles", ((dataflow, tuple(sorted(params.items()))),))
    hw = small_hw(name, rows, cols, freq_mhz=float(rng.choice([100.0, 285.0, 1000.0])),
                  bw_gb_per_s=float(rng.choice([0.5, 1.0, 3.3, 10.0, 64.0, 400.0])),
                  latency_ns=float(rng.choice([0.0, 7.0, 100.0, 333.0])),
                  act_kib=float(rng.choice([1.0, 2.0, 4.0, 16.0])),
                  exp_kib=float(rng.choice([0.25, 0.5, 4.0])),
                  weight_kib=float(rng.choice([0.5, 1.0, 2.0, 16.0])),
                  output_kib=float(rng.choice([0.5, 1.0])),
                  extra_cycles=int(rng.integers(0, 3)), dataflow=cfg)
    module = str(rng.choice(["qkv", "o", "up", "down", "qk", "pv"]))
    attention = module in ("qk", "pv")
    k = int(rng.integers(1, 7)) * 64 - (int(rng.integers(0, 64)) if rng.random() < 0.3 else 0)
    m = int(rng.integers(1, rows)) if dataflow == "gemv_k_split" else int(rng.integers(1, 14))
    gemm = GeMM("r", module, 0, m, k, int(rng.integers(1, 14)),
                int(rng.integers(1, 3)) if attention else 1, "activation" if attention else "int4")
    m_bits = int(rng.integers(1, 14))
    next_m_bits = int(rng.integers(1, 14)) if rng.random() < 0.7 else None
    next_k = max(1, gemm.n // 2) if rng.random() < 0.3 else None
    return hw, gemm, m_bits, next_m_bits, next_k


def _compare_random(seed: int, n_cases: int, dataflow: str) -> None:
    rng = np.random.default_rng(seed)
    compared = 0
    orders: set[str] = set()
    stalls = {"dram": 0, "compressor": 0}
    reduced = 0
    while compared < n_cases:
        hw, gemm, m_bits, next_m_bits, next_k = _random_case(rng, dataflow)
        job = make_job(hw, gemm, m_bits, next_m_bits, next_k)
        cands = candidates(job, hw.dataflow)
        if not cands:  # buffers too small for this dataflow: nothing to compare
            continue
        mp = cands[int(rng.integers(len(cands)))]
        fast = run_schedule(job, mp)
        ref, _ = simulate_reference(job, mp)
        assert fast == ref, (hw.name, gemm, m_bits, next_m_bits, mp)
        compared += 1
        orders.add(mp.order)
        stalls["dram"] += fast["stall_dram_cycles"] > fast["cycles"] // 4
        stalls["compressor"] += fast["stall_compressor_cycles"] > 0
        reduced += fast["reduction_cycles"] > 0 or fast["partial_write_bits"] > 0
    # the random cases exercise the loop orders of the dataflow, both kinds of stall and (beyond
    # output-stationary) the cross-row reductions or output-buffer partial sums
    expected_orders = {"output_stationary": {"act_outer", "weight_outer", "k_split"},
                       "gpu_tiled": {"k_split"}, "systolic": {"act_outer", "weight_outer", "k_split"}}
    assert orders == expected_orders.get(dataflow, {"act_outer", "weight_outer"})
    # systolic folds add their fill and drain to every tile, so the compressor falls behind less often
    compressor_share = 20 if dataflow == "systolic" else 12
    assert stalls["dram"] > n_cases // 12 and stalls["compressor"] > n_cases // compressor_share
    assert reduced > n_cases // 10


@pytest.mark.parametrize("dataflow", sorted(DATAFLOWS))
def test_fast_engine_equals_reference_on_random_cases(dataflow: str) -> None:
    _compare_random(20250 + sorted(DATAFLOWS).index(dataflow), 200, dataflow)


@pytest.mark.slow
@pytest.mark.parametrize("dataflow", sorted(DATAFLOWS))
def test_fast_engine_equals_reference_on_many_random_cases(dataflow: str) -> None:
    _compare_random(777, 2000, dataflow)


# --- numeric outputs of the reference model -------------------------------------------------------

@pytest.mark.parametrize("design", ["anda", "figna_m8", "fp_int", "fp_fp"])
def test_reference_numeric_output_equals_functional_model(design: str) -> None:
    rng = np.random.default_rng(4)
    m, k, n = 5, 192, 3
    x16 = (rng.standard_normal((m, k)) * 2).astype(np.float16)
    q, scale, _ = int_weights(rng.standard_normal((k, n)).astype(np.float32), bits=4, group=128, sym=True)
    q = q.astype(np.int64)
    hw = small_hw(design, 2, 2, act_kib=1.0, weight_kib=1.0)   # small buffers: several blocks
    gemm = GeMM("num", "o", 0, m, k, n)
    m_bits = 6 if design == "anda" else None
    job = make_job(hw, gemm, m_bits, None)
    mp = choose_mapping(job)
    if design == "anda":
        s, mt, e = anda_integer_fields(x16, 6, 64)
        ops = Operands("anda_apu", q, scale, signs=s, mants=mt, exps=e)
        expect = F.anda_apu_gemm(s, mt, e, 6, q, scale, 128)
    elif design == "figna_m8":
        s, mt, e = anda_integer_fields(x16, 8, 64)
        ops = Operands("figna", q, scale, signs=s, mants=mt, exps=e, m_bits=8)
        expect = F.prealigned_gemm(s, mt, e, 8, q, scale, 128)
    elif design == "fp_int":
        ops = Operands("fp_int", q, scale, a16=x16.astype(np.float64))
        expect = F.fp_int_gemm(x16, q, scale, 128, 64)
    else:
        ops = Operands("fp_fp", q, scale, a16=x16.astype(np.float64))
        expect = F.fp_fp_gemm(x16, q, scale, 128)
    raw, out = simulate_reference(job, mp, ops)
    np.testing.assert_array_equal(out, expect)
    assert raw == run_schedule(job, mp)


def test_reference_numeric_output_with_k_split() -> None:
    # K = 384 does not fit for one 2x2 tile in 0.5 KiB of weights: the PEs keep their partial
    # sums across K chunks, and the result is still the functional model's, bit for bit.
    rng = np.random.default_rng(8)
    m, k, n = 3, 384, 3
    x16 = rng.standard_normal((m, k)).astype(np.float16)
    q, scale, _ = int_weights(rng.standard_normal((k, n)).astype(np.float32), bits=4, group=128, sym=True)
    q = q.astype(np.int64)
    hw = small_hw("anda", 2, 2, act_kib=1.0, weight_kib=0.5)
    job = make_job(hw, GeMM("ks", "up", 0, m, k, n), 5, 4)
    mp = choose_mapping(job)
    assert mp.order == "k_split"
    s, mt, e = anda_integer_fields(x16, 5, 64)
    raw, out = simulate_reference(job, mp, Operands("anda_apu", q, scale, signs=s, mants=mt, exps=e))
    np.testing.assert_array_equal(out, F.anda_apu_gemm(s, mt, e, 5, q, scale, 128))
    assert raw == run_schedule(job, mp)


# --- runs of identical blocks advanced in closed form (schedule._jump_ok) ------------------------------

@pytest.mark.parametrize("bw_gb_per_s", [0.5, 4.0, 256.0], ids=["dram-bound", "mixed", "compute-bound"])
@pytest.mark.parametrize("n", [96, 101], ids=["even", "ragged"])
def test_block_runs_in_closed_form_equal_reference(bw_gb_per_s: float, n: int, monkeypatch) -> None:
    """Long rows of identical blocks (both loop orders, ragged last block or not, DRAM, compressor or
    compute the bottleneck): the schedule, which jumps over a run once one block only shifted its state,
    equals the per-cycle reference; the pure-Python schedule shows the jump was taken."""
    from andasim.sim.dataflows import schedule

    hw = small_hw("anda", 2, 2, bw_gb_per_s=bw_gb_per_s, act_kib=0.25, weight_kib=0.25, output_kib=1.0)
    jumps = []
    jump_ok = schedule._jump_ok

    def counting_jump_ok(*args):
        ok = jump_ok(*args)
        jumps.append(ok)
        return ok

    for m, order in ((6, "act_outer"), (n, "weight_outer")):
        gemm = GeMM("runs", "o", 0, m, 128, n if order == "act_outer" else 6)
        job = make_job(hw, gemm, 4, 6)
        pool = [mp for mp in candidates(job, hw.dataflow) if mp.order == order and mp.dataflow ==
                "output_stationary"]
        mp = min(pool, key=lambda c: (c.tn if order == "act_outer" else c.tm, c.label()))
        fast = run_schedule(job, mp)
        ref, _ = simulate_reference(job, mp)
        assert fast == ref, (order, mp)
        assert fast["blocks"] >= 40
        jumps.clear()
        with monkeypatch.context() as patch:
            patch.setattr(schedule, "_jump_ok", counting_jump_ok)
            raw = schedule._schedule.py_func(*schedule.schedule_args(job, mp))
        assert dict(zip(schedule.RAW_KEYS, raw.tolist(), strict=True)) == fast
        assert any(jumps), (order, mp)
