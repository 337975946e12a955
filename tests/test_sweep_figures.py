"""Figures with many designs: sweep Pareto/sensitivity plots and the `compare` figure at 10 designs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from andasim.cli import main
from andasim.report.designs import PAPER_DESIGNS, design_looks

ROOT = Path(__file__).resolve().parent.parent


def _variants(tmp_path: Path, n: int) -> list[str]:
    text = (ROOT / "hw_configs" / "pe64.yaml").read_text()
    paths = []
    for i in range(n):
        path = tmp_path / "designs" / f"variant{i}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text.replace("name: pe64", f"name: my_design_{i}"))
        paths.append(str(path))
    return paths


def test_design_looks_stay_distinct_for_many_designs(tmp_path) -> None:
    variants = _variants(tmp_path, 7)
    names = {d: d for d in PAPER_DESIGNS} | {p: f"my_design_{i}" for i, p in enumerate(variants)}
    looks = design_looks(names)
    labels = [label for label, _ in looks.values()]
    assert len(set(labels)) == 14 and not any("/" in label for label in labels)
    styles = [style for _, style in looks.values()]
    assert len({(s["colour"], s["marker"]) for s in styles}) == 14
    assert len({(s["colour"], s["hatch"]) for s in styles}) == 14
    assert looks["anda"][0] == "Anda" and looks["fp_fp"][1]["colour"] == "#000000"  # paper styles kept
    same = design_looks({"a/x.yaml": "x", "b/y.yaml": "x"})  # same config name: told apart by file
    assert [label for label, _ in same.values()] == ["x (x.yaml)", "x (y.yaml)"]


def test_compare_with_ten_designs_labels_names_not_paths(tmp_path) -> None:
    """Ten designs in `compare` (its figure's labels and colours are issue-14's: file stems, 17 colours)."""
    designs = [*PAPER_DESIGNS, *_variants(tmp_path, 3)]
    out = tmp_path / "cmp"
    res = CliRunner().invoke(main, ["compare", "--designs", ",".join(designs), "--traces", "opt1.3b",
                                    "--seq-len", "16", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "comparison.json").read_text())
    labels = [data["design_labels"][d] for d in designs]
    assert labels[-3:] == ["variant0", "variant1", "variant2"] and len(set(labels)) == 10
    svg = (out / "figures" / "comparison.svg").read_text()
    assert "variant2" in svg and str(tmp_path) not in svg


def test_sweep_figures_are_deterministic_and_labelled(tmp_path) -> None:
    designs = _variants(tmp_path, 10)
    args = ["sweep", *[a for d in designs for a in ("--hw", d)], "--model", "smollm2-135m",
            "--precision", "6", "--seq-len", "16", "--modules", "qkv", "--set", "pe_array.rows=4,8",
            "--pareto", "latency_s,area_mm2", "--workers", "1", "--no-parquet", "--out", str(tmp_path / "o")]
    figures = {}
    for run in range(2):  # the second run reuses the journal and redraws
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        figures[run] = {p.name: p.read_bytes() for p in (tmp_path / "o" / "figures").iterdir()}
    assert figures[0] == figures[1] and len(figures[0]) == 4
    svg = figures[0]["sensitivity.svg"].decode()
    assert all(f"my_design_{i}" in svg for i in range(10)) and str(tmp_path) not in svg
    assert "Pareto front over" in figures[0]["pareto.svg"].decode()
