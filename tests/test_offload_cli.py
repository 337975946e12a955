"""Offload system YAML (strict), `andasim offload` CLI, and the trace weight-error report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.errors import ConfigError
from andasim.formats import get as get_format
from andasim.system.offload.formats import FLEXGEN_INT4, weight_error
from andasim.system.offload.tiers import bundled_system_names, bundled_systems_dir, load_system
from andasim.workload.card import load_card
from andasim.workload.trace import Trace, WeightSample, load_trace


def _t4_text() -> str:
    return (bundled_systems_dir() / "t4-flexgen.yaml").read_text(encoding="utf-8")


# --- system YAML -------------------------------------------------------------------------------

def test_bundled_presets_load_with_flexgen_constants():
    assert {"t4-flexgen", "anda-system"} <= set(bundled_system_names())
    t4 = load_system("t4-flexgen")
    # fitted constants of FlexGen's experimental/cost_model.py (reference notes 2.2)
    assert (t4.host_to_device_gib_per_s, t4.device_to_host_cache_gib_per_s, t4.disk_to_host_gib_per_s) == \
        (12.89, 0.97, 0.473)
    assert (t4.mm_prefill_tflop_per_s, t4.bmm_decode_tflop_per_s, t4.host_tflop_per_s) == \
        (21.24, 0.079, 0.0123)
    assert t4.relax_device == t4.relax_host == t4.relax_disk == 0.8
    assert t4.usable_bytes()["device"] == 0.8 * 16 * 2**30
    anda = load_system("anda-system")
    assert anda.device_gib == 16 and "assum" in anda.provenance


@pytest.mark.parametrize("edit, key, msg", [
    (("  host_gib: 208\n", "  host_gib: 208\n  host_gb: 3\n"), "memory.host_gb", "unknown key"),
    (("  device_gib: 16\n", "  device_gib: 16\n  device_gib: 17\n"), "device_gib", "duplicate key"),
    (("  dtoc: 0.473", "  dtoc: 0.473"), None, None),  # no-op edit keeps the file valid
    (("disk_to_host_gib_per_s: 0.473", "disk_to_host_gib_per_s: -1"), "links.disk_to_host_gib_per_s",
     "must be in (0, "),
    (("  device: 0.8\n", "  device: 1.5\n"), "relaxation.device", "must be in (0, 1]"),
    (("mm_decode_tflop_per_s: 4.3", "mm_decode_tflop_per_s: .nan"), "compute.mm_decode_tflop_per_s",
     "finite"),
    (("schema_version: 1", "schema_version: 2"), "schema_version", "unsupported"),
])
def test_system_yaml_is_strict(tmp_path, edit, key, msg):
    path = tmp_path / "sys.yaml"
    path.write_text(_t4_text().replace(*edit), encoding="utf-8")
    if key is None:
        load_system(path)
        return
    with pytest.raises(ConfigError) as err:
        load_system(path)
    text = str(err.value)
    assert str(path) in text and f"key '{key}'" in text and msg in text
    assert err.value.line is not None or key == "schema_version"
    assert "\n" not in text


def test_missing_links_key_and_unknown_preset(tmp_path):
    path = tmp_path / "sys.yaml"
    path.write_text(_t4_text().replace("  host_to_device_gib_per_s: 12.89            # ctog_bdw\n", ""),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"links\.host_to_device_gib_per_s': missing required key"):
        load_system(path)
    with pytest.raises(ConfigError, match="bundled presets: anda-system"):
        load_system("no-such-preset")


# --- CLI ---------------------------------------------------------------------------------------

_EVAL = ["offload", "--model", "opt-30b", "--preset", "t4-flexgen", "--prompt-len", "1024", "--gen-len", "32",
         "--percent", "4", "96", "0", "100", "0", "100", "--gpu-batch-size", "20", "--num-gpu-batches", "4"]


def test_cli_evaluate_writes_deterministic_json_naming_throughput(tmp_path):
    runner = CliRunner()
    r1 = runner.invoke(main, [*_EVAL, "--out", str(tmp_path / "a"), "--json", str(tmp_path / "a.json")])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(main, [*_EVAL, "--out", str(tmp_path / "b")])
    assert r2.exit_code == 0, r2.output
    a = (tmp_path / "a" / "offload.json").read_bytes()
    assert a == (tmp_path / "b" / "offload.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    rep = json.loads(a)
    pol = rep["policy"]
    assert rep["generation_throughput_tok_per_s"] == pol["generation_throughput_tok_per_s"]
    # tokens/s = bls n / T
    assert pol["generation_throughput_tok_per_s"] == pytest.approx(80 * 32 / pol["latency_s"], rel=1e-8)
    # --percent 4 96 is a request: whole-tensor placement puts no OPT-30B tensor on the GPU
    assert rep["requested_percent_flexgen"] == [4, 96, 0, 100, 0, 100]
    assert pol["percent_flexgen"] == [0, 100, 0, 100, 0, 100]
    assert set(pol["peak_memory_gib"]) == {"device", "host", "disk"}
    assert rep["inputs"]["bits_per_value"] == {"weight": 16.0, "act": 16.0, "kv": 16.0}


def test_cli_search_writes_pareto_files(tmp_path):
    out = tmp_path / "s"
    r = CliRunner().invoke(main, ["offload", "--model", "opt-6.7b", "--preset", "t4-flexgen", "--search",
                                  "--max-gpu-batch-size", "8", "--max-num-gpu-batches", "3",
                                  "--compress-weight", "--compress-cache", "--overlap-model", "code",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "offload.json").read_text())
    assert rep["mode"] == "search"
    assert rep["inputs"]["bits_per_value"]["weight"] == 4.5
    assert "native_compute_overhead_ops_per_layer" in rep
    lines = (out / "pareto.csv").read_text().splitlines()
    assert lines[0].startswith("gpu_batch_size,num_gpu_batches,latency_s")
    assert len(lines) == len(rep["pareto"]) + 1
    assert (out / "pareto.png").stat().st_size > 1000 and (out / "pareto.svg").stat().st_size > 1000


@pytest.mark.parametrize("args, msg", [
    (["--percent", "100", "0", "0", "100", "0", "100", "--gpu-batch-size", "48", "--num-gpu-batches", "3"],
     "policy does not fit: device memory (prefill)"),
    ([], "give either --search, or a policy"),
    (["--search", "--gpu-batch-size", "4"], "--search chooses the policy"),
    (["--search", "--weight-format", "int:bits=99"], "int"),
    (["--search", "--compute", "engine"], "--compute engine needs --hw"),
    (["--percent", "90", "20", "0", "0", "0", "0", "--gpu-batch-size", "1", "--num-gpu-batches", "1"],
     "weights shares 90 + 20"),
    (["--search", "--alpha-g", "1.5"], "must be in (0, 1]"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, msg):
    r = CliRunner().invoke(main, ["offload", "--model", "opt-30b", "--preset", "t4-flexgen", *args,
                                  "--out", str(tmp_path)])
    assert r.exit_code == 2, r.output
    err = r.output.strip().splitlines()[-1]
    assert msg in err and "Traceback" not in r.output


def test_cli_help_mentions_flexgen_flags():
    r = CliRunner().invoke(main, ["offload", "--help"])
    assert r.exit_code == 0
    for flag in ("--percent", "--gpu-batch-size", "--num-gpu-batches", "--cpu-cache-compute",
                 "--compress-weight", "--compress-cache", "--overlap-model", "--search"):
        assert flag in r.output


# --- weight error on traces --------------------------------------------------------------------

def test_weight_error_on_shape_only_trace_says_so():
    rep = weight_error(load_trace("opt30b"))
    assert rep["shape_only"] is True and "not measured" in rep["note"]


def test_weight_error_aggregates_int4_error_on_sampled_columns():
    rng = np.random.default_rng(3)
    card = load_card("opt-125m")
    w1 = rng.standard_normal((768, 8)).astype(np.float32) * 0.02
    w2 = rng.standard_normal((3072, 4)).astype(np.float32) * 0.05
    tr = Trace(trace_id="synthetic-gaussian", card=card, provenance={"synthetic": True},
               label="synthetic gaussian weights (test only)",
               weights={(0, "qkv"): WeightSample(np.arange(8), w1),
                        (0, "down"): WeightSample(np.arange(4), w2)})
    rep = weight_error(tr)
    assert rep["shape_only"] is False
    fmt = get_format(FLEXGEN_INT4 + ",axis=0")      # groups of 64 along k (the sampled columns' axis)
    num = sum(float(np.sum((w.astype(np.float64) - fmt.quantize(w)) ** 2)) for w in (w1, w2))
    den = sum(float(np.sum(w.astype(np.float64) ** 2)) for w in (w1, w2))
    (_spec, res), = rep["formats"].items()
    assert res["rel_error"] == pytest.approx(np.sqrt(num / den), rel=1e-9)
    assert res["bits_per_value"] == 4.5
    # Gaussian, 64-value groups: range ~ 4.8 sigma, step = range / 15, rms error = step / sqrt(12) ~ 0.09
    assert 0.05 < res["rel_error"] < 0.14
    assert [r["module"] for r in res["per_matrix"]] == ["down", "qkv"]
