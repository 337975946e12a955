"""Issue 14: one vocabulary across subcommands, names in either spelling, every model runnable.

Each test names the finding of the issue it pins down.
"""

from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from andasim.cli import main

FAST = ["--seq-len", "64"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def run_ok(tmp_path, *args: str):
    res = invoke("run", *args, "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output
    return res


# --- finding 1: one vocabulary ------------------------------------------------------------------


def test_run_takes_one_uniform_precision_and_writes_json(tmp_path):
    res = run_ok(tmp_path, "--hw", "pe64", "--trace", "opt-125m", "--precision", "6", "--json",
                 str(tmp_path / "r.json"))
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["inputs"]["precision"]["mantissa_bits"] == {"qkv": 6, "o": 6, "up": 6, "down": 6}
    assert (tmp_path / "r.json").read_bytes() == (tmp_path / "o" / "result.json").read_bytes()
    assert "custom:6 [6, 6, 6, 6]" in res.output


def test_compare_takes_hw_repeated_and_old_spellings_with_a_notice(tmp_path):
    new = invoke("compare", "--hw", "fp_fp", "--hw", "pe64", "--trace", "opt1.3b", "--precision", "7,6,6,6",
                 "--out", str(tmp_path / "new"), *FAST)
    assert new.exit_code == 0, new.output
    old = invoke("compare", "--designs", "fp_fp,pe64", "--traces", "opt1.3b", "--profile", "7,6,6,6",
                 "--out", str(tmp_path / "old"), *FAST)
    assert old.exit_code == 0, old.output
    for flag, replacement in (("--designs", "--hw"), ("--traces", "--trace"), ("--profile", "--precision")):
        assert f"{flag} is deprecated and will be removed in 0.2; use {replacement}" in old.output
    old_json, new_json = (tmp_path / d / "comparison.json" for d in ("old", "new"))
    assert old_json.read_bytes() == new_json.read_bytes()


# --- finding 2: names ----------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["llama7b", "llama-7b", "LLaMA-7B", "LLaMA7B"])
def test_every_spelling_of_a_model_runs_the_same_trace(tmp_path, spelling):
    run_ok(tmp_path, "--hw", "pe64", "--trace", spelling)
    data = json.loads((tmp_path / "o" / "result.json").read_text())
    assert data["inputs"]["workload"]["trace_id"] == "llama7b"
    assert data["inputs"]["precision"]["name"] == "anda-paper/wikitext2/1pct"


@pytest.mark.parametrize("flag, value, suggestion", [
    ("--hw", "andaa", "did you mean 'anda'?"),
    ("--trace", "LLaMA-7", "did you mean 'llama-7b'?"),
    ("--trace", "opt-30", "did you mean 'opt-30b'?"),
])
def test_close_misses_get_did_you_mean(tmp_path, flag, value, suggestion):
    args = {"--hw": "pe64", "--trace": "llama7b"} | {flag: value}
    res = invoke("run", "--hw", args["--hw"], "--trace", args["--trace"], "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert suggestion in res.output
    assert "Traceback" not in res.output


def test_trace_and_model_are_one_flag(tmp_path):
    res = invoke("run", "--hw", "fp_fp", "--model", "opt-125m", "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output


# --- finding 3: every bundled model and any card runs ---------------------------------------------


def test_every_bundled_model_name_runs():
    from andasim.hw.config import load_hw
    from andasim.sim.simulate import simulate
    from andasim.workload.loaders import load_workload, workload_names
    from andasim.workload.precision import resolve_precision

    hw = load_hw("pe64")
    names = workload_names()
    assert {"opt-175b", "gemma2-27b", "mistral-nemo-12b", "opt-125m", "qwen2.5-coder-0.5b"} <= set(names)
    for name in names:
        wl = load_workload(name)
        result = simulate(hw, wl, resolve_precision("6"), seq_len=16, modules=("o",))
        assert result.cycles > 0, name


def test_card_yaml_hf_config_and_gemm_csv_run_as_labelled_shape_only(tmp_path):
    from andasim.workload.card import _cards_dir

    card = tmp_path / "mine.yaml"
    card.write_text(_cards_dir().joinpath("opt-125m.yaml").read_text())
    hf = tmp_path / "tiny-llama" / "config.json"
    hf.parent.mkdir()
    hf.write_text(json.dumps({"model_type": "llama", "hidden_size": 256, "intermediate_size": 688,
                              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                              "vocab_size": 1000, "hidden_act": "silu", "tie_word_embeddings": False}))
    gemms = tmp_path / "gemms.csv"
    gemms.write_text("name,M,K,N,module\nproj,64,256,512,qkv\nout,64,512,256,o\n")
    for spec, label in ((card, "model card"), (hf, "Hugging Face config"), (gemms, "GeMM list")):
        out = tmp_path / f"o-{spec.stem}"
        res = invoke("run", "--hw", "pe64", "--trace", str(spec), "--precision", "6", "--out", str(out),
                     *FAST)
        assert res.exit_code == 0, res.output
        assert "shape-only" in res.output and label in res.output
        workload = json.loads((out / "result.json").read_text())["inputs"]["workload"]
        assert workload["shape_only"] is True and "shape-only" in workload["label"]
    rows = list(csv.DictReader((tmp_path / "o-gemms" / "per_layer.csv").open()))
    assert [(r["name"], r["m"], r["k"], r["n"]) for r in rows] == [("proj", "64", "256", "512"),
                                                                   ("out", "64", "512", "256")]


@pytest.mark.parametrize("text, message", [
    ("name,M,K\nx,1,2\n", "missing 'n'"),
    ("name,M,K,N,module\nx,1,2,0,qkv\n", "bad.csv:2: column 'n': must be >= 1"),
    ("name,M,K,N,module\nx,1,2,3,conv\n", "column 'module': 'conv'"),
    ("name,M,K,N,module,extra\nx,1,2,3,qkv,1\n", "unknown column 'extra'"),
])
def test_bad_gemm_csv_is_one_line_exit_2(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    res = invoke("run", "--hw", "fp_fp", "--trace", str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and message in res.output, res.output


# --- finding 4: compare takes whatever --precision takes ------------------------------------------


def test_compare_takes_a_search_profile_file(tmp_path):
    from andasim.workload.precision import PrecisionProfile

    profile = tmp_path / "p.yaml"
    PrecisionProfile.from_list([10, 10, 10, 9], name="mine", source="test").save(profile)
    res = invoke("compare", "--hw", "fp_fp,pe64", "--trace", "smollm2-135m", "--precision", str(profile),
                 "--out", str(tmp_path / "c"), *FAST)
    assert res.exit_code == 0, res.output
    runs = {r["design"]: r for r in json.loads((tmp_path / "c" / "comparison.json").read_text())["runs"]}
    assert runs["pe64"]["profile_bits"] == [10, 10, 10, 9]
    rows = list(csv.DictReader((tmp_path / "c" / "comparison.csv").open()))
    assert {(r["design"], r["trace"]) for r in rows} == {("fp_fp", "smollm2-135m"), ("pe64", "smollm2-135m")}


# --- finding 7: exact per_layer.csv, scaled units -------------------------------------------------


def test_per_layer_byte_columns_sum_to_result_json(tmp_path):
    run_ok(tmp_path, "--hw", "pe64", "--trace", "llama7b")
    out = tmp_path / "o"
    totals = json.loads((out / "result.json").read_text())["totals"]["counters"]
    rows = list(csv.DictReader((out / "per_layer.csv").open()))
    for column, key in (("dram_read_weight_bytes", "dram_read_bytes.weight"),
                        ("dram_read_activation_bytes", "dram_read_bytes.activation"),
                        ("dram_write_output_bytes", "dram_write_bytes.output"), ("cycles", "cycles")):
        assert all("e" not in r[column] for r in rows)
        assert sum(float(r[column]) * int(r["repeat"]) for r in rows) == totals[key]


def test_summary_scales_units_and_names_the_peak(tmp_path):
    from andasim.units import data_size, duration

    assert duration(523.426328) == "523.4 s" and data_size(4_056_799.1e6) == "4.06 TB"
    res = run_ok(tmp_path, "--hw", "anda", "--trace", "llama-7b", "--phase", "decode")
    assert "of the peak MAC rate at each GeMM's mantissa width" in res.output
    # decode on anda maps with the GEMV K split (issue 12): DRAM-bound, within a few % of its roofline
    assert "DRAM-bound" in res.output and "roofline" in res.output
    latency = next(line for line in res.output.splitlines() if line.startswith("latency"))
    assert re.match(r"latency\s+\d{1,3}(\.\d+)? (s|ms|µs|h)  \([\d,]+ cycles\)$", latency), latency


# --- finding 6: Python API -------------------------------------------------------------------------


def test_simulate_takes_names_lists_and_objects_and_results_carry_energy():
    import andasim
    from andasim.hw.energy import estimate_energy

    by_name = andasim.simulate("pe64", "llama7b", "anda-paper/wikitext2/1pct", seq_len=64)
    hw, trace = andasim.load_hw("pe64"), andasim.load_trace("llama7b")
    by_object = andasim.simulate(hw, trace, trace.profile("anda-paper/wikitext2/1pct"), seq_len=64)
    by_list = andasim.simulate(hw, "llama-7b", [7, 6, 6, 6], seq_len=64)
    by_default = andasim.simulate("pe64", "LLaMA7B", seq_len=64)
    assert by_name.counters == by_object.counters == by_list.counters == by_default.counters
    assert by_name.energy.total_j == estimate_energy(hw, by_name, tokens=64).total_j
    assert by_name.area.total_mm2 > 0
    assert len(repr(by_name)) < 200 and "pe64 on llama7b" in repr(by_name)
    text = str(by_name.summary())
    assert "energy" in text and "mm2" in text and by_name.summary()["cycles"] == by_name.cycles


# --- finding 10: feedback on long work -------------------------------------------------------------


def test_tp_without_out_says_nothing_was_written():
    for extra in ([], ["--regime", "--format", "hybrid:k_frac=1/64"]):
        res = invoke("tp", "--hw", "anda", "--trace", "llama2-7b", "--chips", "2", "--seq-len", "16",
                     "--phase", "decode", "--precision", "6", *extra)
        assert res.exit_code == 0, res.output
        assert "no file written: give --out DIR or --json FILE" in res.output


def test_trace_record_writes_into_a_folder_by_default(tmp_path):
    from pathlib import Path

    from andasim.cli.trace import DEFAULT_RECORD_DIR, record_path

    assert record_path("smollm2-135m", None) == DEFAULT_RECORD_DIR / "smollm2-135m.npz"
    assert DEFAULT_RECORD_DIR.parts[0] == "out"
    assert record_path("/models/x.gguf", tmp_path) == tmp_path / "x.npz"
    assert record_path("smollm2-135m", Path("my.npz")) == Path("my.npz")  # old usage, with a notice


def test_search_says_what_it_does_before_the_first_evaluation(tmp_path):
    res = invoke("search", "--trace", "SmolLM2-135M", "--tolerance", "1%", "--max-evals", "2",
                 "--out", str(tmp_path / "s"), "--json", str(tmp_path / "s.json"))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first_eval = next(i for i, line in enumerate(lines) if "first the reference evaluation" in line)
    assert lines[0].startswith("loading the evaluator") and first_eval < 3
    assert (tmp_path / "s" / "profile.yaml").is_file()
    assert json.loads((tmp_path / "s.json").read_text())["profile"]["mantissa_bits"]


def test_offload_takes_either_spelling_of_a_model(tmp_path):
    args = ["--preset", "t4-flexgen", "--percent", "100", "0", "100", "0", "100", "0",
            "--gpu-batch-size", "1", "--num-gpu-batches", "1", "--prompt-len", "16", "--gen-len", "2"]
    outs = []
    for spelling in ("llama7b", "llama-7b"):
        res = invoke("offload", "--model", spelling, *args, "--out", str(tmp_path / spelling))
        assert res.exit_code == 0, res.output
        outs.append(json.loads((tmp_path / spelling / "offload.json").read_text())["inputs"]["model"])
    assert outs == ["llama-7b", "llama-7b"]


def test_reproduce_writes_a_tidy_csv(tmp_path):
    from andasim.report.reproduce import reproduce_anda
    from andasim.report.sweep import Sweep, Workload

    reproduce_anda(tmp_path, Sweep(tmp_path / "cache", Workload(seq_len=64)), traces=("opt1.3b",),
                   designs=("fp_fp", "anda"))
    rows = list(csv.DictReader((tmp_path / "reproduction.csv").open()))
    # the least-traffic reading of FP-FP runs beside the GPU-like one (issue 12)
    designs = ("fp_fp", "anda", "fp_fp_least_traffic")
    expected = {(t, d) for t in ("0.1pct", "1pct") for d in designs}
    assert {(r["tolerance"], r["design"]) for r in rows} == expected
    data = json.loads((tmp_path / "reproduction.json").read_text())
    anda_1pct = next(r for r in rows if r["tolerance"] == "1pct" and r["design"] == "anda")
    ratio = data["tolerances"]["1pct"]["per_model_over_baseline"]["anda"]["opt1.3b"]["speedup"]
    assert float(anda_1pct["speedup_vs_baseline"]) == ratio


# --- finding 11: CLI modules only handle arguments --------------------------------------------------


def test_run_summary_and_per_layer_csv_live_in_report():
    import andasim.cli.run as cli_run
    from andasim.report import per_layer, run_report

    assert not hasattr(cli_run, "per_layer_csv") and not hasattr(cli_run, "CSV_COLUMNS")
    assert callable(per_layer.per_layer_csv) and callable(run_report.terminal_summary)
