"""`andasim run`: outputs, summary, profile resolution and user errors (exit code 2)."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from andasim.cli import main
from andasim.workload.card import load_card
from andasim.workload.trace import Trace, save_trace


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args])


def test_run_writes_result_and_csv(tmp_path) -> None:
    out = tmp_path / "demo"
    res = _run("--hw", "pe64", "--trace", "llama7b", "--seq-len", "128", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "anda-paper/wikitext2/1pct" in res.output and "shape-only" in res.output
    data = json.loads((out / "result.json").read_text())
    assert data["inputs"]["precision"]["name"] == "anda-paper/wikitext2/1pct"
    rows = list(csv.DictReader((out / "per_layer.csv").open()))
    assert len(rows) == 4 * 32
    assert {"cycles", "latency_s", "dram_read_weight_bytes", "m_bits"} <= set(rows[0])
    assert sum(int(r["cycles"]) for r in rows) == data["totals"]["cycles"]
    again = tmp_path / "again"
    _run("--hw", "pe64", "--trace", "llama7b", "--seq-len", "128", "--out", str(again))
    assert (again / "result.json").read_bytes() == (out / "result.json").read_bytes()


def test_precision_list_and_bad_values(tmp_path) -> None:
    res = _run("--hw", "anda", "--trace", "llama7b", "--precision", "5,5,5,5", "--seq-len", "64",
               "--out", str(tmp_path / "a"))
    assert res.exit_code == 0 and "custom:5,5,5,5" in res.output
    res = _run("--hw", "anda", "--trace", "llama7b", "--precision", "nope", "--out", str(tmp_path / "b"))
    assert res.exit_code == 2 and "anda-paper/wikitext2/1pct" in res.output
    res = _run("--hw", "anda", "--trace", "llama7b", "--precision", "5,5,5,99", "--out", str(tmp_path / "c"))
    assert res.exit_code == 2 and "1..16" in res.output
    res = _run("--hw", "anda", "--trace", "llama7b", "--modules", "qkv,foo", "--out", str(tmp_path / "d"))
    assert res.exit_code == 2 and "unknown module 'foo'" in res.output


def test_trace_without_default_profile(tmp_path) -> None:
    trace = Trace("tiny", load_card("opt-125m"), {"source": "test"}, "shape-only; synthetic test trace")
    path = save_trace(trace, tmp_path / "tiny.npz")
    res = _run("--hw", "anda", "--trace", str(path), "--out", str(tmp_path / "x"))
    assert res.exit_code == 2 and "no default precision profile" in res.output and "7,6,6,6" in res.output
    res = _run("--hw", "fp_fp", "--trace", str(path), "--seq-len", "64", "--out", str(tmp_path / "y"))
    assert res.exit_code == 0 and "none (FP16 activations)" in res.output


def test_run_without_out_prints_and_writes_nothing(tmp_path, monkeypatch):
    """The command of the project brief, `andasim run --hw pe64 --trace llama7b`, works as typed."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--hw", "pe64", "--trace", "llama7b"])
    assert result.exit_code == 0, result.output
    assert "latency" in result.output and "wrote       nothing (no --out or --json)" in result.output
    assert list(tmp_path.iterdir()) == []
    result = CliRunner().invoke(main, ["run", "--hw", "pe64", "--trace", "llama7b", "--figures"])
    assert result.exit_code == 2 and "--figures" in result.output and "--out" in result.output
