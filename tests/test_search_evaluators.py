"""Evaluators: torch Anda fake-quant vs the formats layer, perplexity hooks on a tiny random LM, proxy."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from andasim.errors import AndasimInputError
from andasim.formats.anda import anda_quantize
from andasim.formats.intq import int_weights, int_weights_dequantize
from andasim.formats.metrics import sqnr_db
from andasim.search.algorithm import run_search
from andasim.search.evaluators.proxy import ProxyEvaluator, calibrate_coefficients
from andasim.search.windows import WindowSpec, cut_windows
from andasim.workload.card import load_card
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile

K_TEST = {"qkv": 40.0, "o": 10.0, "up": 20.0, "down": 15.0}


def synthetic_trace(seed=0, layers=(0, 3), tokens=48, n_cols=24):
    """A small SYNTHETIC trace on the SmolLM2 card: heavy-tailed activations with a few outlier channels."""
    card = load_card("smollm2-135m")
    rng = np.random.default_rng(seed)
    acts, weights = {}, {}
    for layer in layers:
        for module in FP_INT_MODULES:
            k = card.module_in_features(module)
            x = rng.standard_t(4, size=(tokens, k)) * np.exp(rng.normal(0, 1, size=k))
            acts[(layer, module)] = x.astype(np.float16)
            cols = np.sort(rng.choice(card.module_out_features(module), n_cols, replace=False))
            values = rng.normal(0, 0.05, (k, n_cols)).astype(np.float32)
            weights[(layer, module)] = SimpleNamespace(columns=cols, values=values)
    return SimpleNamespace(trace_id="synthetic-test", label="synthetic test data", checksum="", card=card,
                           activations=acts, weights=weights)


# --- proxy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["as-shipped", "int4-g128"])
def test_proxy_error_matches_sqnr_of_the_sampled_gemm(weights):
    trace = synthetic_trace()
    ev = ProxyEvaluator(trace, K_TEST, {"source": "test"}, weights=weights)
    x = trace.activations[(3, "down")].astype(np.float32)
    w = trace.weights[(3, "down")].values
    if weights == "int4-g128":
        q, s, z = int_weights(w, 4, 128, axis=0)
        w = int_weights_dequantize(q, s, z, 128, axis=0)
    wq = w.astype(np.float64)
    ref, approx = x @ wq, anda_quantize(x, 5) @ wq
    # e² = ||Ŷ − Y||² / ||Y||² = 10^(−SQNR/10)
    assert ev.gemm_error2(3, "down", 5) == pytest.approx(10 ** (-sqnr_db(ref, approx) / 10), rel=1e-9)
    assert ev.describe()["weights"] == weights


def test_proxy_refuses_unknown_weights():
    with pytest.raises(AndasimInputError, match="--weights 'int4'"):
        ProxyEvaluator(synthetic_trace(), K_TEST, {}, weights="int4")


def test_proxy_metric_is_weighted_sum_and_monotone_in_width():
    ev = ProxyEvaluator(synthetic_trace(), K_TEST, {})
    prof = PrecisionProfile.from_list([7, 6, 5, 4])
    err2 = ev.module_error2(prof)
    expected = {m: np.mean([ev.gemm_error2(layer, m, prof.bits_for(m)) for layer in (0, 3)]) for m in err2}
    assert err2 == pytest.approx(expected)
    assert ev.measure(prof) == pytest.approx(sum(K_TEST[m] * err2[m] for m in FP_INT_MODULES))
    losses = [ev.measure(PrecisionProfile.from_list([b] * 4)) for b in range(2, 17)]
    assert all(a > b for a, b in itertools.pairwise(losses))
    assert ev.reference_metric() == 0.0 and ev.accuracy(0.004, 0.0) == pytest.approx(0.996)


def test_proxy_per_layer_widths_are_used():
    ev = ProxyEvaluator(synthetic_trace(), K_TEST, {})
    base = PrecisionProfile.from_list([8, 8, 8, 8])
    narrower = PrecisionProfile(name="p", source="t", mantissa_bits=base.mantissa_bits,
                                per_layer={3: {"up": 4}})
    e_base, e_narrow = ev.module_error2(base), ev.module_error2(narrower)
    assert e_narrow["up"] == pytest.approx((ev.gemm_error2(0, "up", 8) + ev.gemm_error2(3, "up", 4)) / 2)
    assert e_narrow["qkv"] == e_base["qkv"] and e_narrow["up"] > e_base["up"]


def test_proxy_search_end_to_end_respects_the_budget():
    ev = ProxyEvaluator(synthetic_trace(), K_TEST, {})
    for algorithm in ("published", "improved"):
        result = run_search(ev, load_card("smollm2-135m"), 0.01, algorithm=algorithm, max_evals=32)
        assert result.best is not None
        assert ev.measure(result.best) <= 0.01
        for e in result.evaluations:
            assert e.feasible == (e.metric <= 0.01 + 1e-15)


def test_proxy_refuses_shape_only_traces():
    empty = SimpleNamespace(trace_id="llama7b", label="shape-only", activations={}, weights={},
                            card=load_card("llama-7b"))
    with pytest.raises(AndasimInputError, match="shape-only traces cannot be used"):
        ProxyEvaluator(empty, K_TEST, {})


def test_calibration_recovers_known_coefficients():
    points = [{"module": m, "bits": b, "err2": e, "loss": K_TEST[m] * e}
              for m in FP_INT_MODULES for b, e in ((4, 1e-2), (5, 3e-3), (6, 8e-4))]
    assert calibrate_coefficients(points, max_loss=1.0) == pytest.approx(K_TEST)
    # A catastrophic point (loss far beyond the quadratic regime) is left out of the default fit.
    wild = [*points, {"module": "qkv", "bits": 3, "err2": 0.05, "loss": 5.0}]
    assert calibrate_coefficients(wild)["qkv"] == pytest.approx(K_TEST["qkv"])
    assert calibrate_coefficients(wild, max_loss=10.0)["qkv"] > 1.5 * K_TEST["qkv"]
    with pytest.raises(AndasimInputError, match="no usable point"):
        calibrate_coefficients(points[:3])


# --- torch: Anda fake quantization and the perplexity evaluator ----------------------------------------


def test_torch_anda_is_bit_identical_to_formats():
    torch = pytest.importorskip("torch")
    from andasim.search.evaluators.anda_torch import anda_quantize_torch

    rng = np.random.default_rng(1)
    for trial in range(12):
        k = int(rng.integers(1, 200))
        x = (rng.standard_normal((5, k)) * np.exp2(rng.integers(-24, 12, (5, k)))).astype(np.float32)
        x[rng.random(x.shape) < 0.1] = 0.0  # zero groups/elements
        x[rng.random(x.shape) < 0.05] = -0.0
        for m in (1, 3, 4, 7, 11, 13, 16):
            for gs in (64, 16, 7):
                ref = anda_quantize(x, m, gs)
                got = anda_quantize_torch(torch.from_numpy(x), m, gs).numpy()
                assert np.array_equal(ref.view(np.int32), got.view(np.int32)), (trial, m, gs, k)


def test_torch_anda_refuses_fp16_overflow():
    torch = pytest.importorskip("torch")
    from andasim.search.evaluators.anda_torch import anda_quantize_torch

    with pytest.raises(AndasimInputError, match="FP16 range"):
        anda_quantize_torch(torch.tensor([[1.0, 70000.0]]), 6)


@pytest.fixture(scope="module")
def tiny_lm():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    # hidden 128 = 2 groups; intermediate 160 = 2.5 groups (a short last group on the down input)
    cfg = transformers.LlamaConfig(vocab_size=96, hidden_size=128, intermediate_size=160, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM(cfg).eval()


def _capture(model, torch, where):
    """Pre-hooks that keep the first input each decoder Linear receives (the first window)."""
    store, handles = {}, []

    def make(name):
        def hook(_mod, args):
            store.setdefault(where + name, args[0].detach().clone())
        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and ".layers." in name:
            handles.append(mod.register_forward_pre_hook(make(name)))
    return store, handles


def test_perplexity_evaluator_quantizes_weights_and_inputs(tiny_lm):
    import copy

    import torch

    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    model = copy.deepcopy(tiny_lm)
    lm_head_before = model.lm_head.weight.detach().clone()
    w_before = model.model.layers[1].mlp.down_proj.weight.detach().numpy().copy()  # [out 128, in 160]
    raw, h_raw = _capture(model, torch, "raw:")  # registered before the evaluator's hooks: unquantized
    calib, _ = cut_windows(np.arange(200) % 96, 16, WindowSpec("first", 2), 1, "test")
    ev = PerplexityEvaluator(model, calib, description={"model": "tiny"}, weights="int4-g128")
    seen, h_seen = _capture(model, torch, "q:")  # registered after: what the Linear really consumes

    # Weights: INT4 g128 along the input features, lm_head untouched.
    w = model.model.layers[1].mlp.down_proj.weight.detach().numpy()
    q, s, z = int_weights(w_before, 4, 128, axis=1)
    assert np.array_equal(w, int_weights_dequantize(q, s, z, 128, axis=1))
    assert len(np.unique(w[3, :128])) <= 16 and not np.array_equal(w, w_before)
    assert torch.equal(model.lm_head.weight, lm_head_before)

    profile = PrecisionProfile(name="p", source="t", mantissa_bits={"qkv": 7, "o": 6, "up": 5, "down": 4},
                               per_layer={1: {"up": 3}})
    ev.measure(profile)
    widths = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "o_proj": "o", "gate_proj": "up",
              "up_proj": "up", "down_proj": "down"}
    checked = 0
    for key, x in raw.items():
        name = key[len("raw:"):]
        layer = int(name.split(".layers.")[1].split(".")[0])
        bits = profile.bits_for(widths[name.rsplit(".", 1)[1]], layer)
        # The first captured call is the first window; the evaluator must feed Anda(x, M).
        expected = anda_quantize(x.numpy(), bits)
        assert np.array_equal(seen["q:" + name].numpy().view(np.int32), expected.view(np.int32)), name
        checked += 1
    assert checked == 14  # 2 layers × 7 Linears

    raw.clear()
    seen.clear()
    ev.reference_metric()
    for key, x in raw.items():
        assert torch.equal(seen["q:" + key[4:]], x.half().float())  # reference: FP16 activations
    for h in h_raw + h_seen:
        h.remove()


def test_perplexity_metric_and_description(tiny_lm):
    import copy

    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    calib, _ = cut_windows(np.arange(300) % 96, 24, WindowSpec("first", 3), None, "test")
    assert calib.shape == (3, 24) and calib[1, 0].item() == 24  # no BOS: stride = seq_len
    ev = PerplexityEvaluator(copy.deepcopy(tiny_lm), calib, description={"model": "tiny"},
                             weights="int4-g128")
    ref = ev.reference_metric()
    assert ref == ev.reference_metric()  # deterministic
    assert 1 < ref < 200
    assert ev.measure(PrecisionProfile.from_list([16] * 4)) == pytest.approx(ref, rel=1e-3)
    assert ev.accuracy(ref * 1.01, ref) == pytest.approx(0.99)
    desc = ev.describe()
    assert desc["kind"] == "perplexity" and "OmniQuant" in desc["weights"] and desc["calib_shape"] == [3, 24]
    with pytest.raises(AndasimInputError, match="held-out"):
        ev.heldout_perplexity(None)


def test_unknown_linear_in_a_layer_is_refused(tiny_lm):
    import copy

    import torch

    from andasim.search.evaluators.perplexity import quantizable_linears

    model = copy.deepcopy(tiny_lm)
    model.model.layers[0].mlp.extra_proj = torch.nn.Linear(4, 4)
    with pytest.raises(AndasimInputError, match="extra_proj"):
        quantizable_linears(model)


def test_as_shipped_weights_stay_bit_identical(tiny_lm):
    import copy

    import torch

    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    model = copy.deepcopy(tiny_lm)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    calib, _ = cut_windows(np.arange(200) % 96, 16, WindowSpec("first", 2), None, "test")
    ev = PerplexityEvaluator(model, calib, description={})  # default: --weights as-shipped
    ev.reference_detail()
    ev.measure_detail(PrecisionProfile.from_list([4, 4, 4, 4]))
    after = model.state_dict()
    assert all(torch.equal(before[k].view(torch.int32) if before[k].dtype == torch.float32 else before[k],
                           after[k].view(torch.int32) if after[k].dtype == torch.float32 else after[k])
               for k in before)
    assert ev.describe()["weights_mode"] == "as-shipped" and ev.describe()["weights"].startswith("as shipped")
    requant = PerplexityEvaluator(copy.deepcopy(tiny_lm), calib, description={}, weights="int4-g128")
    assert not torch.equal(requant.model.model.layers[0].self_attn.q_proj.weight,
                           before["model.layers.0.self_attn.q_proj.weight"])
    with pytest.raises(AndasimInputError, match="--weights 'int9-g128'"):
        PerplexityEvaluator(copy.deepcopy(tiny_lm), calib, description={}, weights="int9-g128")


def test_window_nll_sums_give_the_perplexity_and_the_interval(tiny_lm):
    import copy
    import math

    from andasim.search.bootstrap import paired_bootstrap
    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    calib, _ = cut_windows(np.arange(400) % 96, 20, WindowSpec("first", 4), None, "test")
    ev = PerplexityEvaluator(copy.deepcopy(tiny_lm), calib, description={})
    ref, ref_nll = ev.reference_detail()
    ppl, nll = ev.measure_detail(PrecisionProfile.from_list([3, 3, 3, 3]))
    assert ref_nll.shape == (4,) and ev.tokens_per_window == 19
    assert ref == pytest.approx(math.exp(ref_nll.sum() / (4 * 19)), rel=1e-12)
    assert ppl == pytest.approx(math.exp(nll.sum() / (4 * 19)), rel=1e-12)
    ci = paired_bootstrap(ref_nll, nll, ev.tokens_per_window)
    assert ci.change == pytest.approx(ppl / ref - 1, rel=1e-9) and ci.low <= ci.change <= ci.high


def test_single_module_calibration_leaves_the_others_unquantized(tiny_lm):
    import copy

    import torch

    from andasim.search.calibrate import SingleModule
    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    model = copy.deepcopy(tiny_lm)
    calib, _ = cut_windows(np.arange(200) % 96, 16, WindowSpec("first", 1), None, "test")
    raw, h_raw = _capture(model, torch, "raw:")
    ev = PerplexityEvaluator(model, calib, description={})
    seen, h_seen = _capture(model, torch, "q:")
    ev.measure_detail(SingleModule("o", 3))
    for key, x in raw.items():
        name = key[len("raw:"):]
        if name.endswith("o_proj"):
            expected = anda_quantize(x.numpy(), 3)
            assert np.array_equal(seen["q:" + name].numpy().view(np.int32), expected.view(np.int32))
        else:  # FP16 inputs, exactly as in the baseline (not M = 16)
            assert torch.equal(seen["q:" + name], x.half().float()), name
    assert SingleModule("o", 3).as_list() == [None, 3, None, None]
    for h in h_raw + h_seen:
        h.remove()


def test_recorder_samples_bias_of_a_qwen2_layout():
    """Regression: Qwen2's QKV bias Parameters require grad; sampling them crashed the recorder."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from andasim.workload.hf_models import card_from_config
    from andasim.workload.recorder import _sample_weights

    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(vocab_size=64, hidden_size=64, intermediate_size=96, num_hidden_layers=1,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    model = transformers.Qwen2ForCausalLM(cfg).eval()
    card = card_from_config(cfg, "tiny-qwen2", "test")
    samples = _sample_weights(list(model.model.layers), [0], card, 8, seed=0)
    qkv = samples[(0, "qkv")]
    assert qkv.bias is not None and qkv.bias.shape == (8,) and samples[(0, "o")].bias is None


def test_calibration_cli_bad_input_is_one_line_exit_2(tmp_path):
    """`python -m andasim.search.calibrate` (used in docs/results.md) printed a traceback on bad input."""
    from click.testing import CliRunner

    from andasim.search.calibrate import main

    result = CliRunner().invoke(main, ["sensitivity", "--model", "smollm2-135m", "--widths", "x",
                                       "--journal", str(tmp_path / "j.jsonl")])
    assert result.exit_code == 2 and result.exception is not None
    assert "--widths 'x'" in result.output and "Traceback" not in result.output
