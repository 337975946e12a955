"""SmolLM2-135M precision search at δ = 1% with the real perplexity evaluator (slow; needs the models extra).

Documented command (docs/search.md, docs/results.md): weights as shipped, no BOS, calib:16 windows of
512 tokens drive the search (accept rule `ci`: the 95% paired-bootstrap interval's upper bound within
δ), heldout:32 windows of the held-out articles are measured only at the end. The check: the chosen
profile's held-out interval upper bound is within 1% as well.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.search.bootstrap import paired_bootstrap
from andasim.workload.precision import load_profile

pytestmark = pytest.mark.slow

COMMAND = ["search", "--model", "smollm2-135m", "--weights", "as-shipped", "--no-bos", "--tolerance", "1%",
           "--calib-seqs", "16", "--window", "512", "--eval-seqs", "32", "--max-evals", "32",
           "--threads", "1"]


def test_smollm2_search_at_one_percent_holds_on_heldout_windows(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    out = tmp_path / "search"
    result = CliRunner().invoke(main, [*COMMAND, "--out", str(out)])
    assert result.exit_code == 0, result.output
    events = [json.loads(x) for x in (out / "profile.yaml.journal.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["type"] == "eval"]
    assert 0 < len(evals) <= 32 and all(len(e["window_nll"]) == 16 for e in evals)
    assert all(e["feasible"] == (e["ci"][1] <= 0.01) for e in evals)  # accept rule ci
    held = {e["key"]: e for e in events if e["type"] == "heldout"}
    reference = held.pop("reference")
    (chosen,) = held.values()
    ci = paired_bootstrap(reference["window_nll"], chosen["window_nll"], 511)
    print(f"held-out change {ci.change:+.3%}, 95% CI [{ci.low:+.3%}, {ci.high:+.3%}]")
    assert len(chosen["window_nll"]) == 32
    assert ci.high <= 0.01
    assert f"{ci.high:+.3%}]" in result.output
    profile = load_profile(out / "profile.yaml")
    assert profile.as_list() != [13, 13, 13, 13] and "held-out" in profile.source
