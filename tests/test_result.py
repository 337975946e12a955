"""Results as values: add, scale, echo inputs, deterministic JSON, simulate-once caching."""

from __future__ import annotations

import json

import pytest

import andasim
from andasim.errors import AndasimInputError
from andasim.hw.config import load_hw
from andasim.sim import simulate as simulate_mod
from andasim.sim.result import COUNTER_KEYS, Result
from andasim.workload.card import load_card
from andasim.workload.gemm import GeMM
from andasim.workload.precision import PrecisionProfile
from andasim.workload.trace import load_trace

PROF = PrecisionProfile.from_list([7, 6, 6, 6], name="t", source="test")


def test_results_add_and_scale() -> None:
    hw = load_hw("anda")
    g1 = [GeMM("a", "o", 0, 64, 512, 512)]  # its output (n = 512) is up's input (k = 512)
    g2 = [GeMM("b", "up", 0, 64, 512, 512)]
    r1 = andasim.simulate(hw, g1, PROF)
    r2 = andasim.simulate(hw, g2, PROF)
    both = andasim.simulate(hw, g1 + g2, PROF)
    # o's compressor target is up's width in both runs (6), so the GeMMs cost the same
    assert (r1 + r2).counters == both.counters
    assert (r1 * 3).counters == {k: 3 * v for k, v in r1.counters.items()}
    assert (3 * r1).cycles == 3 * r1.cycles and (r1 * 3).entries[0]["repeat"] == 3
    assert (r1 + r1 * 2).counters == (r1 * 3).counters
    with pytest.raises(TypeError):
        r1 * 1.5


def test_model_result_is_layer_result_times_layers() -> None:
    # OPT's FFN is not gated; a bare GeMM list cannot know that a gated up projection's output
    # is halved by the vector unit before the down projection, a card or trace does
    hw = load_hw("fp_fp")
    card = load_card("opt-1.3b")
    full = andasim.simulate(hw, card, None, seq_len=128)
    one = andasim.simulate(hw, [g for g in card.gemms(seq_len=128) if g.layer == 0], None, seq_len=128)
    assert full.counters == (one * card.n_layers).counters


def test_json_echoes_inputs_and_is_byte_identical() -> None:
    hw = load_hw("pe64")
    trace = load_trace("llama7b")
    prof = trace.profile()
    a = andasim.simulate(hw, trace, prof, seq_len=256).to_json()
    b = andasim.simulate(hw, trace, prof, seq_len=256).to_json()
    assert a == b
    data = json.loads(a)
    inputs = data["inputs"]
    assert inputs["hw"] == hw.to_dict()
    assert inputs["workload"]["trace_id"] == "llama7b" and inputs["workload"]["shape_only"] is True
    assert "shape-only" in inputs["workload"]["label"]
    assert inputs["precision"]["name"] == prof.name and inputs["precision"]["source"] == prof.source
    assert (inputs["phase"], inputs["seq_len"], inputs["batch"]) == ("prefill", 256, 1)
    assert data["andasim_version"] == andasim.__version__
    assert set(data["totals"]["counters"]) == set(COUNTER_KEYS)
    again = Result.from_dict(data)
    assert again.to_json() == a


def test_identical_gemms_simulated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = simulate_mod.simulate_gemm

    def counting(*args, **kwargs):
        calls.append(args[1].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate_mod, "simulate_gemm", counting)
    res = andasim.simulate(load_hw("anda"), load_card("llama-7b"), PROF, seq_len=128)
    # qkv, o, up, down, plus the last layer's down whose output stays FP16 (no next layer)
    assert len(calls) == 5
    assert len(res.entries) == 4 * 32


def test_anda_needs_a_profile_and_attention_is_opt_in() -> None:
    card = load_card("llama-7b")
    with pytest.raises(AndasimInputError, match="precision profile"):
        andasim.simulate(load_hw("anda"), card, None, seq_len=64)
    res = andasim.simulate(load_hw("anda"), card, PROF, seq_len=64,
                           modules=("qkv", "qk", "pv", "o", "vector"))
    mods = {e["module"] for e in res.entries}
    assert mods == {"qkv", "qk", "pv", "o", "vector"}
    assert res.counters["dram_read_bytes.kv"] > 0 and res.counters["vector_ops"] > 0
    attn = next(e for e in res.entries if e["module"] == "qk")
    assert attn["cycles_per_group"] == 16 and attn["m_bits"] is None
    pv = next(e for e in res.entries if e["module"] == "pv")
    assert pv["next_m_bits"] == PROF.bits_for("o")  # the attention output is compressed for o
