"""`andasim evaluate` on the real SmolLM2-135M (slow; CI runs it with the models extra: marker `ci`).

The acceptance command of issue 16: offline, weights as shipped, no BOS, the last 10 windows of 512
tokens of the whole wiki stream, uniform M = 6.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from andasim.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.ci]


def test_evaluate_acceptance_command(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    out = tmp_path / "eval.json"
    args = ["evaluate", "--model", "smollm2-135m", "--weights", "as-shipped", "--no-bos",
            "--windows", "last:10", "--seq-len", "512", "--precision", "6", "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    base, quant = report["baseline"], report["quantized"]
    assert len(base["window_nll"]) == len(quant["window_nll"]) == 10
    assert base["perplexity"] == pytest.approx(math.exp(sum(base["window_nll"]) / (10 * 511)), rel=1e-12)
    assert quant["perplexity"] / base["perplexity"] - 1 == pytest.approx(report["relative_change"], rel=1e-9)
    assert report["ci_low"] <= report["relative_change"] <= report["ci_high"]
    protocol = report["protocol"]
    assert protocol["windows"] == "last:10" and protocol["bos"] is None and protocol["seq_len"] == 512
    assert protocol["last_offset"] + 512 == protocol["part_tokens"]  # the stream's final token is the last
    assert report["weights"]["mode"] == "as-shipped" and report["weights"]["shipped_already_quantized"]
    assert "already quantized" in result.output and "CI [" in result.output
    # Same inputs, same bytes (wall times stay on the console).
    again = tmp_path / "again.json"
    assert CliRunner().invoke(main, [*args[:-1], str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()


def test_as_shipped_leaves_the_loaded_smollm2_weights_bit_identical():
    torch = pytest.importorskip("torch")
    from andasim.search.evaluators.perplexity import PerplexityEvaluator
    from andasim.workload.hf_models import load_causal_lm

    model, _, _ = load_causal_lm("smollm2-135m")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ev = PerplexityEvaluator(model, torch.arange(64)[None] + 100, description={}, weights="as-shipped")
    ev.reference_detail()
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert value.dtype == after[key].dtype, key
        assert torch.equal(value.view(torch.uint8), after[key].view(torch.uint8)), key
