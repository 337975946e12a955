"""Accelerator mode: the offload cost model's compute legs come from the cycle engine."""

from __future__ import annotations

import pytest

from andasim.hw.config import load_hw
from andasim.sim.simulate import simulate
from andasim.system.offload.api import OffloadRequest, run_offload
from andasim.system.offload.cost import Workload, host_flops_real
from andasim.system.offload.engine import engine_compute_model
from andasim.system.offload.tiers import load_system
from andasim.workload.card import load_card
from andasim.workload.precision import PrecisionProfile

M6 = PrecisionProfile.from_list([6, 6, 6, 6], name="uniform-m6", source="test")


def test_engine_compute_times_are_per_layer_engine_time_times_nb():
    card = load_card("opt-125m")
    work = Workload(64, 8)
    system = load_system("anda-system")
    cm, info = engine_compute_model("anda", card, work, system, weight_spec="fp16", precision=M6)
    hw = load_hw("anda")
    pre = simulate(hw, card, M6, phase="prefill", seq_len=64, batch=2,
                   modules=("qkv", "o", "up", "down", "vector", "qk", "pv")).latency_s / card.n_layers
    dec_attn = simulate(hw, card, M6, phase="decode", seq_len=68, batch=2, kv_len=68,
                        modules=("qk", "pv")).latency_s / card.n_layers
    t1, t3 = cm(2, 1), cm(2, 3)
    assert t1.prefill_s == pytest.approx(pre, rel=1e-12)
    assert t1.decode_attn_device_s == pytest.approx(dec_attn, rel=1e-12)
    assert t3.prefill_s == pytest.approx(3 * t1.prefill_s, rel=1e-12)
    assert t3.decode_mm_s == pytest.approx(3 * t1.decode_mm_s, rel=1e-12)
    # host attention keeps FlexGen's CPU model: 4 bls (s + n/2) q_dim FLOPs at the non-linear rate
    assert t3.decode_attn_host_s == pytest.approx(6 * 4 * 68 * 768 / host_flops_real(system, 2, 768))
    assert info["mode"] == "engine" and info["hw"] == "anda"


def test_engine_mode_search_runs_and_reports_engine_inputs():
    rep = run_offload(OffloadRequest(model="opt-125m", preset="anda-system", prompt_len=64, gen_len=8,
                                     search=True, compute="engine", hw="anda", anda_m=6,
                                     max_gpu_batch_size=4, max_num_gpu_batches=2))
    assert rep["inputs"]["compute"]["precision"]["mantissa_bits"] == {"qkv": 6, "o": 6, "up": 6, "down": 6}
    assert rep["generation_throughput_tok_per_s"] > 0


def test_engine_mode_prices_native_int_overhead_at_the_vector_unit_rate():
    rep = run_offload(OffloadRequest(model="opt-125m", preset="anda-system", prompt_len=64, gen_len=8,
                                     percent=(100, 0, 100, 0, 100, 0), gpu_batch_size=2, num_gpu_batches=1,
                                     compute="engine", hw="anda", anda_m=6, compress_weight=True))
    ops = rep["native_compute_overhead_ops_per_layer"]
    rate = 64 * 285e6  # anda.yaml: 64 vector-unit FPUs at 285 MHz, one op per FPU per cycle
    assert rep["native_compute_overhead_vector_unit_s_per_layer"]["prefill"] == pytest.approx(
        ops["weight_native_prefill"] / rate, rel=1e-8)
    assert ops["kv_native_decode_step"] == 0.0  # cache left in FP16


def test_engine_mode_on_anda_needs_mantissa_widths():
    from andasim.errors import AndasimInputError
    with pytest.raises(AndasimInputError, match="--anda-m"):
        run_offload(OffloadRequest(model="opt-125m", preset="anda-system", search=True, compute="engine",
                                   hw="anda"))
