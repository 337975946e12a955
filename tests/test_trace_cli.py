"""`andasim trace info/list/record` and the activation statistics behind `info`."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.errors import AndasimInputError
from andasim.workload.card import load_card
from andasim.workload.stats import activation_stats, exponent_spread
from andasim.workload.trace import Trace, bundled_trace_names, load_trace, save_trace


def tiny_trace() -> Trace:
    """Two layers of random FP16 activations with the SmolLM2 card's input widths."""
    card = load_card("smollm2-135m")
    rng = np.random.default_rng(1)
    acts = {(layer, m): rng.standard_normal((4, card.module_in_features(m))).astype(np.float16)
            for layer in (0, 1) for m in ("qkv", "o", "up", "down")}
    return Trace(trace_id="tiny", card=card, provenance={"kind": "synthetic test data"},
                 label="synthetic test activations", activations=acts)


def _spread_reference(x: np.ndarray, group: int) -> np.ndarray:
    """Obvious loop version: exponent field max - min over the non-zero values of each group."""
    out = np.full((x.shape[0], -(-x.shape[1] // group)), -1)
    for t in range(x.shape[0]):
        for g in range(out.shape[1]):
            vals = x[t, g * group:(g + 1) * group]
            exps = [int(np.frombuffer(v.tobytes(), np.uint16)[0] >> 10) & 0x1F for v in vals if v != 0]
            if exps:
                out[t, g] = max(exps) - min(exps)
    return out


def test_exponent_spread_matches_reference():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((7, 150)) * np.exp(rng.uniform(-8, 4, (7, 150)))).astype(np.float16)
    x[0, :64] = 0  # all-zero group -> -1
    x[1, 5] = 0
    x[2, 7] = np.float16(1e-7)  # subnormal: exponent field 0
    got = exponent_spread(x, 64)
    assert np.array_equal(got, _spread_reference(x, 64))
    assert got[0, 0] == -1


def test_activation_stats_by_hand():
    x = np.ones((4, 64), dtype=np.float16)
    x[:, 10] = 8.0       # channel 10 abs-max 8 > 6 x median 1 -> outlier
    x[2, 20] = -5.0      # channel 20 abs-max 5 < 6 -> not an outlier
    x[3, 30] = 0.25
    s = activation_stats(x, group=64)
    assert s.outlier_channels == (10,)
    assert (s.min, s.max, s.abs_max) == (-5.0, 8.0, 8.0)
    # exponent fields: 1.0 -> 15, 8.0 -> 18, 5.0 -> 17, 0.25 -> 13; spreads per token 3, 3, 3, 5
    assert s.exp_spread_max == 5 and s.exp_spread_mean == pytest.approx(3.5)


def test_info_llama7b():
    result = CliRunner().invoke(main, ["trace", "info", "llama7b"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "shape-only" in out and "published" in out
    assert "* anda-paper/wikitext2/1pct" in out and "[7, 6, 6, 6]" in out
    assert "activations: none (shape-only trace)" in out
    assert "0.2487 of MACs" in out


@pytest.mark.parametrize(("name", "tokens"), [("smollm2-135m", 96), ("gemma3-270m", 96),
                                             ("qwen2.5-coder-0.5b", 64)])
def test_info_real_bundled(name, tokens):
    assert name in bundled_trace_names()
    result = CliRunner().invoke(main, ["trace", "info", name])
    assert result.exit_code == 0, result.output
    assert "real recorded activations" in result.output and "GGUF quantization noise" in result.output
    assert "L0.qkv" in result.output and "outlier channels" in result.output
    trace = load_trace(name)
    assert not trace.shape_only and trace.default_profile is None
    assert trace.provenance["command"].startswith(f"andasim trace record --model {name} --corpus wiki")
    assert trace.card.name == name and len(trace.provenance["sampling"]["positions"]) == tokens


def test_info_real_trace_file_and_list(tmp_path):
    path = save_trace(tiny_trace(), tmp_path / "tiny.npz")
    result = CliRunner().invoke(main, ["trace", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "L1.down" in result.output and "per module over layers" in result.output
    listed = CliRunner().invoke(main, ["trace", "list"])
    assert listed.exit_code == 0 and "llama7b" in listed.output


def test_info_bad_file_exit_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = CliRunner().invoke(main, ["trace", "info", str(bad)])
    assert result.exit_code == 2
    assert "bad.npz" in result.output and "Traceback" not in result.output


def test_record_without_torch_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    from andasim.workload.hf_models import require_torch

    with pytest.raises(AndasimInputError, match=r'pip install -e "\.\[models\]"'):
        require_torch()
    result = CliRunner().invoke(main, ["trace", "record", "--model", "smollm2-135m", "--out",
                                       str(tmp_path / "x.npz")])
    assert result.exit_code == 2
    assert "docs/models.md" in result.output


def test_record_rejects_bad_model(tmp_path):
    result = CliRunner().invoke(main, ["trace", "record", "--model", str(tmp_path / "none"), "--out",
                                       str(tmp_path / "x.npz")])
    assert result.exit_code == 2 and "not a short name" in result.output
    text_file = tmp_path / "model.bin"
    text_file.write_text("x")
    result = CliRunner().invoke(main, ["trace", "record", "--model", str(text_file), "--out",
                                       str(tmp_path / "x.npz")])
    assert result.exit_code == 2 and ".gguf" in result.output


def test_record_rejects_bad_layers():
    from andasim.workload.recorder import parse_layers

    assert parse_layers("all", 3) == [0, 1, 2]
    assert parse_layers("2,0,2", 3) == [0, 2]
    with pytest.raises(AndasimInputError, match=r"0\.\.2"):
        parse_layers("3", 3)
    with pytest.raises(AndasimInputError, match="comma"):
        parse_layers("a,b", 3)
