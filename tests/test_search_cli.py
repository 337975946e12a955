"""`andasim search` on a small SYNTHETIC recorded trace with the proxy evaluator (no model needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from andasim.cli import main
from andasim.search.api import search_precision
from andasim.workload.card import load_card
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import load_profile
from andasim.workload.trace import Trace, WeightSample, save_trace

COEFFS = {"qkv": 40.0, "o": 10.0, "up": 20.0, "down": 15.0}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_cli")
    card = load_card("smollm2-135m")
    rng = np.random.default_rng(7)
    acts, weights = {}, {}
    for layer in (0, 5):
        for module in FP_INT_MODULES:
            k = card.module_in_features(module)
            x = rng.standard_t(4, (32, k)) * np.exp(rng.normal(0, 1, k))
            acts[(layer, module)] = x.astype(np.float16)
            cols = np.sort(rng.choice(card.module_out_features(module), 16, replace=False)).astype(np.int64)
            weights[(layer, module)] = WeightSample(columns=cols,
                                                    values=rng.normal(0, 0.05, (k, 16)).astype(np.float32))
    trace = Trace(trace_id="synthetic-search-test", card=card, provenance={"synthetic": True},
                  label="SYNTHETIC activations and weights for tests", activations=acts, weights=weights)
    trace_path = save_trace(trace, root / "synthetic.npz")
    coeffs = root / "coeffs.yaml"
    coeffs.write_text(yaml.safe_dump({"coefficients": COEFFS, "provenance": {"source": "test values"}}))
    return root, trace_path, coeffs


def _run(args):
    return CliRunner().invoke(main, ["search", *args])


def test_proxy_search_writes_profile_and_journal_and_resumes(files):
    root, trace_path, coeffs = files
    out = root / "p.yaml"
    args = ["--trace", str(trace_path), "--tolerance", "1%", "--proxy-coefficients", str(coeffs),
            "--out", str(out)]
    first = _run(args)
    assert first.exit_code == 0, first.output
    profile = load_profile(out)  # what `andasim run --precision` reads
    assert "best " + str(profile.as_list()) in first.output
    journal = root / "p.yaml.journal.jsonl"
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    evals = [x for x in lines if x["type"] == "eval"]
    assert lines[0]["config"]["evaluator"]["kind"] == "proxy" and evals
    assert all(x["metric"] <= 0.01 for x in evals if x["accepted"])
    # progress: one line per evaluation
    assert sum(line.startswith("#") for line in first.output.splitlines()) == len(evals)
    second = _run(args)
    assert second.exit_code == 0
    assert f"{len(evals)} evaluations (0 computed now, {len(evals)} from the journal)" in second.output
    assert load_profile(out) == profile
    assert len(journal.read_text().splitlines()) == len(lines)  # nothing appended


def test_tighter_tolerance_never_gives_a_cheaper_profile(files):
    _, trace_path, _ = files
    from andasim.search.bops import bops_reduction
    from andasim.search.evaluators.proxy import ProxyEvaluator
    from andasim.workload.trace import load_trace

    trace = load_trace(trace_path)
    ev = ProxyEvaluator(trace, COEFFS, {})
    loose = search_precision(trace.card, 0.01, ev, algorithm="published")
    tight = search_precision(trace.card, "0.1%", ev, algorithm="published")
    assert bops_reduction(trace.card, tight) <= bops_reduction(trace.card, loose)


def test_reuse_between_tolerances(files):
    root, trace_path, coeffs = files
    base = ["--trace", str(trace_path), "--proxy-coefficients", str(coeffs)]
    a = _run([*base, "--tolerance", "1%", "--out", str(root / "a.yaml")])
    assert a.exit_code == 0, a.output
    b = _run([*base, "--tolerance", "1%", "--algorithm", "published", "--out", str(root / "b.yaml"),
              "--reuse", str(root / "a.yaml.journal.jsonl")])
    assert b.exit_code == 0, b.output
    reused = [json.loads(x) for x in (root / "b.yaml.journal.jsonl").read_text().splitlines()]
    assert any("reused_from" in x for x in reused if x["type"] == "eval")
    assert load_profile(root / "a.yaml").as_list() == load_profile(root / "b.yaml").as_list()


@pytest.mark.parametrize(("extra", "message"), [
    (["--tolerance", "1 %%"], "tolerance"),
    (["--tolerance", "0%"], "strictly between"),
    (["--tolerance", "1%", "--model", "smollm2-135m"], "exactly one of --model"),
    (["--tolerance", "1%", "--evaluator", "perplexity"], "needs --model"),
    (["--tolerance", "1%", "--algorithm", "published", "--refine-blocks", "2"], "improved only"),
    (["--tolerance", "1%", "--accept", "ci"], "--accept ci needs an evaluator that measures windows"),
    (["--tolerance", "1%", "--weights", "int4"], "--weights 'int4'"),
])
def test_bad_input_is_one_line_exit_2(files, extra, message):
    root, trace_path, coeffs = files
    result = _run(["--trace", str(trace_path), "--proxy-coefficients", str(coeffs), "--out",
                   str(root / "bad.yaml"), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_mismatching_journal_is_refused(files):
    root, trace_path, coeffs = files
    base = ["--trace", str(trace_path), "--proxy-coefficients", str(coeffs), "--out", str(root / "m.yaml")]
    assert _run([*base, "--tolerance", "1%"]).exit_code == 0
    result = _run([*base, "--tolerance", "2%"])
    assert result.exit_code == 2 and "different configuration" in result.output


def test_shape_only_trace_is_refused(files):
    root, _, coeffs = files
    result = _run(["--trace", "llama7b", "--tolerance", "1%", "--proxy-coefficients", str(coeffs),
                   "--out", str(root / "s.yaml")])
    assert result.exit_code == 2 and "shape-only" in result.output


def test_bundled_calibration_on_the_real_smollm2_trace(tmp_path):
    from andasim.search.bops import bops_reduction
    from andasim.search.evaluators.proxy import ProxyEvaluator, load_coefficients
    from andasim.workload.trace import load_trace

    coeffs, provenance = load_coefficients()
    assert provenance["model"] == "smollm2-135m" and all(v > 0 for v in coeffs.values())
    trace = load_trace("smollm2-135m")
    ev = ProxyEvaluator(trace)
    profiles = {}
    for tol in ("1%", "0.1%"):
        out = tmp_path / f"p{tol}.yaml"
        result = _run(["--trace", "smollm2-135m", "--evaluator", "proxy", "--tolerance", tol,
                       "--out", str(out)])
        assert result.exit_code == 0, result.output
        profiles[tol] = load_profile(out)
    assert ev.measure(profiles["1%"]) <= 0.01 and ev.measure(profiles["0.1%"]) <= 0.001
    assert bops_reduction(trace.card, profiles["0.1%"]) <= bops_reduction(trace.card, profiles["1%"])


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_deeply_nested_reuse_journal_is_one_line_exit_2(files, text):
    """Found by the long fuzz run: a --reuse file nested deeper than the JSON parser's recursion limit
    crashed the search with a RecursionError."""
    root, trace_path, coeffs = files
    deep = root / "deep.jsonl"
    deep.write_text(text)
    result = _run(["--trace", str(trace_path), "--proxy-coefficients", str(coeffs), "--tolerance", "1%",
                   "--out", str(root / "deep_out"), "--reuse", str(deep)])
    assert result.exit_code == 2, result.output
    assert "deep.jsonl" in result.output and "Traceback" not in result.output
