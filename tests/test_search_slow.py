"""SmolLM2-135M precision search at δ = 1% with the real perplexity evaluator (slow; needs the models extra).

Documented command (docs/search.md, docs/results.md):
    andasim search --model smollm2-135m --tolerance 1% --calib-seqs 24 --seq-len 512 --eval-seqs 8 \
        --max-evals 32 --threads 2 --out runs/search/smollm2_1pct_improved_c24.yaml

Known result on the 2-core VM (docs/results.md): 9 evaluations, [7,6,7,7], held-out -0.007% against
the INT4 baseline, ~10 minutes. With 4 or 8 calibration windows the search over-fits the calibration
set and the held-out assertion fails (+2.12%, +1.24%); docs/results.md records both.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.workload.precision import load_profile

pytestmark = pytest.mark.slow


def test_smollm2_search_at_one_percent(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    out = tmp_path / "profile.yaml"
    result = CliRunner().invoke(main, [
        "search", "--model", "smollm2-135m", "--tolerance", "1%", "--calib-seqs", "24", "--seq-len", "512",
        "--eval-seqs", "8", "--max-evals", "32", "--threads", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    events = [json.loads(x) for x in (tmp_path / "profile.yaml.journal.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["type"] == "eval"]
    assert 0 < len(evals) <= 32
    assert sum(line.startswith("#") for line in result.output.splitlines()) == len(evals)
    held = re.search(r"INT4-weight baseline ([0-9.]+), chosen profile ([0-9.]+)", result.output)
    assert held, result.output
    baseline, chosen = float(held.group(1)), float(held.group(2))
    print(f"held-out PPL: INT4 baseline {baseline:.4f}, chosen {chosen:.4f}")
    assert chosen <= 1.01 * baseline
    profile = load_profile(out)
    assert min(profile.as_list()) >= 1 and profile.as_list() != [13, 13, 13, 13]
