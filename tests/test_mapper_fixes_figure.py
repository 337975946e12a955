"""scripts/mapper_fixes_figure.py: with all four issue-12 mapper fixes undone, the new schedule gives the
pre-issue engine's run totals (commit 02695f9, recorded in docs/figures/data) to the cycle and the byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_all_fixes_undone_reproduce_the_pre_issue_engine(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "mapper_fixes_figure.py"), "--out-dir",
                          str(tmp_path), "--before", str(REPO / "docs/figures/data/pre_issue12_totals.json")],
                         capture_output=True, text=True, env=env, check=True, timeout=1200).stdout
    checks = re.findall(r"cycles (\d+) vs recorded (\d+), DRAM read (\d+) vs (\d+)", out)
    assert len(checks) == 22
    assert all(a == b and c == d for a, b, c, d in checks)
    assert (tmp_path / "mapper_fixes.svg").is_file()
