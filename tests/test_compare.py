"""`andasim compare`: outputs, normalisation, cache reuse, journals and refused inputs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from andasim.cli import main

HW = ["--hw", "fp_fp,figna_m8,pe64"]
BASE = ["compare", "--trace", "opt1.3b", "--seq-len", "256"]
PROFILE = ["--precision", "anda-paper/wikitext2/1pct"]
ARGS = [*BASE, *HW, *PROFILE]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_outputs_tables_and_figures(first):
    out, output = first
    data = json.loads((out / "comparison.json").read_text())
    assert data["baseline"] == "fp_fp"
    assert data["cost_tables"] == {"fp_fp": "baselines_16nm", "figna_m8": "baselines_16nm",
                                   "pe64": "anda_16nm"}
    ratios = data["ratios"]
    assert ratios["geomean"]["speedup"]["fp_fp"] == 1.0
    runs = {r["design"]: r for r in data["runs"]}
    # Speedup is the latency ratio of the runs the JSON lists.
    assert ratios["per_model"]["speedup"]["pe64"]["opt1.3b"] == pytest.approx(
        runs["fp_fp"]["latency_s"] / runs["pe64"]["latency_s"])
    assert runs["fp_fp"]["profile"] is None          # FP16-storage designs ignore the profile
    assert runs["pe64"]["profile_bits"] == [8, 5, 5, 4]
    assert "Anda (8x8 APUs)" in output and "Speedup over FP-FP (GPU-like)" in output
    figs = {p.name for p in (out / "figures").iterdir()}
    for stem in ("comparison", "energy_breakdown_opt1.3b", "layer_cycles_opt1.3b", "profile_heatmap"):
        assert {f"{stem}.png", f"{stem}.svg"} <= figs


def test_rerun_reuses_the_cache_and_is_byte_identical(first):
    out, _ = first
    before = (out / "comparison.json").read_bytes()
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "simulated 0, reused 3" in res.output
    assert (out / "comparison.json").read_bytes() == before


def test_journal_draws_the_tradeoff(tmp_path, first):
    from andasim.search.journal import Journal

    out, _ = first
    path = tmp_path / "s.journal.jsonl"
    j = Journal.open(path, {"tolerance": 0.01, "algorithm": "published"})
    for comb, red, acc in (((7, 7, 7, 7), 2.29, 0.995), ((6, 6, 6, 6), 2.67, 0.985)):
        j.record_eval({"key": str(comb), "combination": list(comb), "bops_reduction": red, "accuracy": acc,
                       "feasible": acc >= 0.99, "accepted": acc >= 0.99})
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out), "--journals", str(path)])
    assert res.exit_code == 0, res.output
    assert (out / "figures" / "accuracy_tradeoff.png").stat().st_size > 1000


@pytest.mark.parametrize("extra, message", [
    ([*HW, *PROFILE, "--baseline", "ifpu"], "--baseline 'ifpu' must be one of --hw"),
    (["--hw", "fp_fp,fp_fp", *PROFILE], "listed twice: fp_fp"),
    (["--hw", "fp_fp", "--hw", "fp_fp", *PROFILE], "listed twice: fp_fp"),
    (["--hw", "fp_fp,,anda", *PROFILE], "without empty items"),
    (["--hw", "fp_fp,nosuch", *PROFILE], "nosuch"),
    ([*HW, "--precision", "anda-paper/wikitext2/5pct"], "did you mean 'anda-paper/wikitext2/1pct'?"),
    ([*HW, *PROFILE, "--journals", "missing.jsonl"], "missing.jsonl: no such file"),
])
def test_bad_inputs_exit_2_with_one_line(tmp_path, extra, message):
    res = CliRunner().invoke(main, [*BASE, "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
