"""SIGKILL a 2,000-point sweep midway, rerun: the same table as an uninterrupted run, no point twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.explore.store import JOURNAL, journal_keys

ROOT = Path(__file__).resolve().parent.parent
# 40 x 50 = 2,000 points on SmolLM2-135M shapes, 16 tokens, QKV projections only (< 1 ms of CPU each).
ARGS = ["sweep", "--hw", "pe64", "--model", "smollm2-135m", "--precision", "6", "--seq-len", "16",
        "--modules", "qkv",
        "--set", "dram.bw_gb_per_s=1..40", "--set", "dram.latency_ns=1..50",
        "--workers", "1", "--chunk", "25", "--no-figures", "--no-parquet"]
TOTAL = 2000


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


@pytest.mark.slow
@pytest.mark.ci  # about 15 s on a busy 2-core machine: CI runs it (scripts/test.sh --models)
def test_sigkill_midway_then_rerun_equals_uninterrupted(tmp_path) -> None:
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from andasim.cli import main; main()", *ARGS,
                             "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _lines(killed / JOURNAL) < 300 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(journal_keys(killed))
    assert 0 < before < TOTAL, f"the kill did not land midway ({before} of {TOTAL} points done)"

    res = CliRunner().invoke(main, [*ARGS, "--out", str(killed)])
    assert res.exit_code == 0, res.output
    assert f"simulated {TOTAL - before}, reused {before}" in res.output
    keys = journal_keys(killed)
    assert len(keys) == len(set(keys)) == TOTAL  # every point simulated exactly once over both runs

    whole = tmp_path / "whole"
    res = CliRunner().invoke(main, [*ARGS, "--out", str(whole)])
    assert res.exit_code == 0, res.output
    assert (killed / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()
    assert (killed / "sweep.json").read_bytes() == (whole / "sweep.json").read_bytes()
