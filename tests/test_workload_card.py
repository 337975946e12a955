"""Model cards: published parameter counts, Anda MAC shares, hand-checked GeMM shapes."""

from __future__ import annotations

import pytest

from andasim.errors import ConfigError
from andasim.workload.card import ModelCard, bundled_card_names, load_card

# Published parameter counts, embeddings included, with where each comes from.
# "HF" = the parameter count shown on the Hugging Face Hub model page of that checkpoint (recalled,
# not re-checked offline here); "as loaded" = `sum(p.numel())` of the pip-installed model measured
# in /work/shared/reference/models_and_corpora.md.
PUBLISHED_PARAMS = {
    # OPT paper (arXiv 2205.01068) Table 1 names 125M/1.3B/2.7B/6.7B/13B/30B/175B; the names round
    # (1.3B is really 1.32B, 2.7B is 2.65B, 13B is 12.9B), so the HF checkpoint counts are used.
    "opt-125m": 125e6,        # OPT paper Table 1 / HF facebook/opt-125m "125M"
    "opt-1.3b": 1.32e9,       # HF facebook/opt-1.3b "1.32B"
    "opt-2.7b": 2.65e9,       # HF facebook/opt-2.7b "2.65B"
    "opt-6.7b": 6.66e9,       # HF facebook/opt-6.7b "6.66B"
    "opt-13b": 12.9e9,        # HF facebook/opt-13b "12.9B"
    "opt-30b": 30.0e9,        # HF facebook/opt-30b "30B"; OPT paper Table 1 "30B"
    "opt-175b": 175e9,        # OPT paper Table 1 "175B"
    "llama-7b": 6.74e9,       # LLaMA paper (arXiv 2302.13971) Table 2 "6.7B"; HF "6.74B"
    "llama-13b": 13.0e9,      # LLaMA paper Table 2 "13.0B"
    "llama2-7b": 6.74e9,      # HF meta-llama/Llama-2-7b-hf "6.74B"
    "llama2-13b": 13.0e9,     # HF meta-llama/Llama-2-13b-hf "13B"
    "gemma2-27b": 27.2e9,     # HF google/gemma-2-27b "27.2B"
    "mistral-nemo-12b": 12.2e9,  # HF mistralai/Mistral-Nemo-Base-2407 "12.2B"
    "smollm2-135m": 134.5e6,  # as loaded (models_and_corpora.md §2); HF HuggingFaceTB/SmolLM2-135M "135M"
    "gemma3-270m": 268.1e6,   # as loaded (models_and_corpora.md §2); Google: "270M" (170M embedding)
    "qwen2.5-coder-0.5b": 494e6,  # Qwen2.5-Coder tech report (arXiv 2409.12186) Table 1 "0.49B"; HF "494M"
}


def test_every_bundled_card_has_a_published_count():
    assert sorted(PUBLISHED_PARAMS) == bundled_card_names()


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_param_count_within_1pct(name):
    card = load_card(name)
    assert abs(card.param_count() / PUBLISHED_PARAMS[name] - 1) < 0.01, card.param_count()


def test_param_count_exact_llama7b():
    # 32 * (4*4096^2 + 3*4096*11008 + 2*4096) + 2*32000*4096 + 4096 = 6_738_415_616
    assert load_card("llama-7b").param_count() == 6_738_415_616


# anda.md §3.4 (Anda paper, BOPs metric): f_m per module, printed to 4 decimals.
PAPER_MAC_SHARE = {
    "opt-1.3b": (0.25, 0.0833, 0.3333, 0.3333),
    "opt-6.7b": (0.25, 0.0833, 0.3333, 0.3333),
    "llama-7b": (0.2487, 0.0829, 0.4456, 0.2228),
    "llama-13b": (0.2479, 0.0826, 0.4463, 0.2231),
}


@pytest.mark.parametrize("name", sorted(PAPER_MAC_SHARE))
def test_mac_share_matches_paper(name):
    share = load_card(name).mac_share()
    assert list(share) == ["qkv", "o", "up", "down"]
    assert sum(share.values()) == pytest.approx(1.0, abs=1e-12)
    for got, want in zip(share.values(), PAPER_MAC_SHARE[name], strict=True):
        assert abs(got - want) <= 0.5e-4, (got, want)


def test_mac_share_sums_to_one_for_all_cards():
    for name in bundled_card_names():
        assert sum(load_card(name).mac_share().values()) == pytest.approx(1.0, abs=1e-12)


def test_gemm_shapes_smollm2_prefill_by_hand():
    card = load_card("smollm2-135m")  # 30 layers, d 576, ffn 1536 gated, 9 heads / 3 KV heads x 64
    gemms = card.gemms("prefill", seq_len=128, batch=2,
                       modules=("qkv", "qk", "pv", "o", "up", "down", "lm_head"))
    assert len(gemms) == 30 * 6 + 1
    by_name = {g.name: g for g in gemms}
    qkv = by_name["L3.qkv"]
    # m = batch*L = 256; k = 576; n = (9 + 2*3) * 64 = 960
    assert (qkv.module, qkv.layer, qkv.m, qkv.k, qkv.n, qkv.count) == ("qkv", 3, 256, 576, 960, 1)
    o = by_name["L3.o"]
    assert (o.m, o.k, o.n) == (256, 9 * 64, 576)
    up = by_name["L3.up"]
    assert (up.m, up.k, up.n) == (256, 576, 2 * 1536)  # gate|up as one GeMM
    down = by_name["L3.down"]
    assert (down.m, down.k, down.n) == (256, 1536, 576)
    qk = by_name["L3.qk"]  # per (sequence, head): [L x head_dim] x [head_dim x L]
    assert (qk.m, qk.k, qk.n, qk.count, qk.weight_operand) == (128, 64, 128, 2 * 9, "activation")
    pv = by_name["L3.pv"]
    assert (pv.m, pv.k, pv.n, pv.count, pv.weight_operand) == (128, 128, 64, 18, "activation")
    head = by_name["lm_head"]
    assert (head.layer, head.m, head.k, head.n) == (-1, 256, 576, 49152)
    assert [g.name for g in gemms[:6]] == ["L0.qkv", "L0.qk", "L0.pv", "L0.o", "L0.up", "L0.down"]


def test_gemm_shapes_decode_and_default_modules():
    card = load_card("llama-7b")
    gemms = card.gemms("decode", seq_len=2048, batch=4)
    assert {g.module for g in gemms} == {"qkv", "o", "up", "down"}
    assert len(gemms) == 4 * 32
    assert all(g.m == 4 for g in gemms)
    qk = card.gemms("decode", batch=4, kv_len=300, modules=("qk",))[0]
    assert (qk.m, qk.k, qk.n, qk.count) == (1, 128, 300, 4 * 32)
    # default kv_len in decode is seq_len
    assert card.gemms("decode", seq_len=77, modules=("pv",))[0].k == 77


def test_opt_is_not_gated_and_mistral_head_dim():
    opt = load_card("opt-6.7b").gemms("prefill", seq_len=8)
    assert {g.name: g.n for g in opt}["L0.up"] == 16384
    nemo = {g.name: g for g in load_card("mistral-nemo-12b").gemms("prefill", seq_len=8)}
    assert nemo["L0.qkv"].n == (32 + 2 * 8) * 128
    assert nemo["L0.o"].k == 4096 and nemo["L0.o"].n == 5120


def test_sliding_window_layers_gemma3():
    card = load_card("gemma3-270m")  # window 512, every 6th layer global
    qk = {g.layer: g for g in card.gemms("decode", kv_len=2000, modules=("qk",))}
    assert [layer for layer, g in qk.items() if g.n == 2000] == [5, 11, 17]
    assert all(g.n == 512 for layer, g in qk.items() if layer not in (5, 11, 17))


def test_lm_head_last_token_option_and_bad_inputs():
    card = load_card("opt-125m")
    head = card.gemms("prefill", seq_len=16, batch=3, modules=("lm_head",), lm_head_all_tokens=False)[0]
    assert head.m == 3
    with pytest.raises(ValueError, match="phase"):
        card.gemms("train")
    with pytest.raises(ValueError, match="unknown module"):
        card.gemms(modules=("ffn",))
    with pytest.raises(ValueError, match="kv_len"):
        card.gemms("prefill", seq_len=16, kv_len=8)


def test_round_trip_dict_and_strict_loading(tmp_path):
    card = load_card("qwen2.5-coder-0.5b")
    assert ModelCard.from_dict(card.to_dict()) == card
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfamily: y\nn_layers: 2\nhidden: 8\nffn: 8\ngated: true\nn_heads: 2\n"
                   "n_kv_heads: 2\nhead_dim: 4\nvocab: 10\ntied_embeddings: true\nqkv_bias: false\n"
                   "source: me\nhiden: 3\n")
    with pytest.raises(ConfigError, match="hiden"):
        load_card(bad)
    with pytest.raises(ConfigError, match="bundled"):
        load_card("no-such-model")
    odd = card.to_dict() | {"n_kv_heads": 3}
    with pytest.raises(ConfigError, match="multiple"):
        ModelCard.from_dict(odd)


@pytest.mark.slow  # importing transformers costs ~7 s of CPU
def test_card_from_transformers_config():
    transformers = pytest.importorskip("transformers")
    from andasim.workload.hf_models import card_from_config

    # transformers' default OPTConfig is OPT-125M and its default LlamaConfig is LLaMA-7B
    opt = card_from_config(transformers.OPTConfig(), name="opt", source="test")
    assert opt.param_count() == load_card("opt-125m").param_count()
    assert (opt.gated, opt.linear_bias, opt.learned_positions) == (False, True, 2050)
    llama = card_from_config(transformers.LlamaConfig(), name="llama", source="test")
    assert llama.param_count() == load_card("llama-7b").param_count()
    qwen = transformers.Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                    num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                                    tie_word_embeddings=True)
    assert card_from_config(qwen, name="q", source="t").param_count() == \
        load_card("qwen2.5-coder-0.5b").param_count()
