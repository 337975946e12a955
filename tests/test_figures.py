"""Finding 8 of issue 14: every figure renders, has labelled axes, and its legend covers no data.

Each figure function is called on small real runs; a wrapper around `save_figure` inspects the
figure before it is written: every axes that shows data has an x and a y label (a shared x axis may
carry it once), and no legend's bounding box (display coordinates, from matplotlib's renderer)
overlaps a bar, a line vertex, a scatter point or a segment of any axes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.transforms import Bbox

from andasim.cli import main
from andasim.report import explore_figures, figures, offload_figures, run_figures, tp_figures

FIGURE_MODULES = (figures, tp_figures, offload_figures, run_figures, explore_figures)


def _covers_data(ax, box, renderer) -> str | None:
    """What data of `ax` the display-space box `box` covers, or None: line paths (segments, not just
    vertices), scatter points, segment collections and bars, within the axes' clip box."""
    inter = Bbox.intersection(box, ax.get_window_extent(renderer))
    if inter is None or inter.width <= 0 or inter.height <= 0:
        return None
    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        if line.get_linestyle() not in ("None", "", " ") and path.intersects_bbox(inter, filled=False):
            return f"line {line.get_label()!r}"
        has_markers = line.get_marker() not in ("None", "", " ", None)
        if has_markers and any(inter.contains(*v) for v in path.vertices):
            return f"markers {line.get_label()!r}"
    for coll in ax.collections:
        if isinstance(coll, PathCollection):
            if any(inter.contains(*v) for v in coll.get_offset_transform().transform(coll.get_offsets())):
                return f"points {coll.get_label()!r}"
        elif isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                segment = Path(coll.get_transform().transform(seg)) if len(seg) else None
                if segment is not None and segment.intersects_bbox(inter, filled=False):
                    return f"segments {coll.get_label()!r}"
    for patch in ax.patches:
        drawn = isinstance(patch, Rectangle) and patch.get_width() and patch.get_height()
        if drawn and patch.get_window_extent(renderer).overlaps(inter):
            return f"bar {patch.get_label()!r}"
    return None


def check_figure(fig) -> None:
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar") and ax.has_data()]
    assert axes, "the figure draws no data"
    for ax in axes:
        shared_x = ax.get_shared_x_axes().get_siblings(ax)
        assert any(a.get_xlabel().strip() for a in shared_x), f"unlabelled x axis: {ax.get_title()!r}"
        assert ax.get_ylabel().strip(), f"unlabelled y axis: {ax.get_title()!r}"
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:
            covered = _covers_data(ax, box, renderer)
            assert covered is None, f"legend covers {covered} in {ax.get_title()!r}"


@pytest.fixture
def checked(monkeypatch):
    """Every figure saved while the test runs is checked first; yields the stems saved."""
    saved: list[str] = []
    real = figures.save_figure

    def save_checked(fig, out_dir, stem):
        check_figure(fig)
        saved.append(stem)
        paths = real(fig, out_dir, stem)
        assert all(p.stat().st_size > 1000 for p in paths)
        return paths

    for module in FIGURE_MODULES:
        monkeypatch.setattr(module, "save_figure", save_checked)
    return saved


def test_checker_catches_a_legend_over_data_and_a_missing_label():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.arange(10), label="data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="center")   # sits on the diagonal line
    with pytest.raises(AssertionError, match="legend covers"):
        check_figure(fig)
    ax.get_legend().remove()
    ax.set_ylabel("")
    with pytest.raises(AssertionError, match="unlabelled y axis"):
        check_figure(fig)
    plt.close(fig)


@pytest.fixture(scope="module")
def runs():
    from andasim.report.sweep import Sweep, Workload

    sweep = Sweep(None, Workload(seq_len=64))
    return [sweep.run(d, "opt1.3b", "anda-paper/wikitext2/1pct")
            for d in ("fp_fp", "figna_m8", "anda", "pe64")]


def test_comparison_of_ten_designs(tmp_path, checked, runs):
    from andasim.report.comparison import METRICS, Comparison
    from andasim.report.designs import design_colours, published_marks

    designs = ("fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8", "anda", "pe64",
               "fp_fp_least_traffic", "/home/me/designs/my_anda.yaml")
    assert len(set(design_colours(list(designs)))) == len(designs)
    traces = ("opt1.3b", "llama7b")
    per_model = {m: {d: {t: 1.0 + 0.3 * i + 0.1 * j for j, t in enumerate(traces)}
                     for i, d in enumerate(designs)} for m in METRICS}
    geomean = {m: {d: 1.0 + 0.3 * i for i, d in enumerate(designs)} for m in METRICS}
    cmp = Comparison(baseline="fp_fp", designs=designs, traces=traces, per_model=per_model, geomean=geomean)
    figures.plot_comparison(cmp, tmp_path, "comparison", title="ten designs", published=published_marks(cmp))
    svg = (tmp_path / "comparison.svg").read_text()
    assert "my_anda" in svg and "/home/me" not in svg          # a path design is named by its stem
    assert "paper 2.4x" in svg and "paper 4x" in svg and "paper 3.1x" in svg
    assert "Energy efficiency incl. DRAM" in svg
    assert checked == ["comparison"]


def test_energy_breakdown_layer_cycles_heatmap_tradeoff(tmp_path, checked, runs):
    figures.plot_energy_breakdown(runs, tmp_path, "energy", title="energy")
    figures.plot_layer_cycles(runs, tmp_path, "layers", title="layers")
    figures.plot_profile_heatmap({"a": {"OPT-1.3B": [8, 5, 5, 4]}, "b": {"OPT-1.3B": [7, 6, 6, 6]}}, tmp_path,
                                 "heat")
    evals = [{"bops_reduction": r, "accuracy": a, "feasible": a > 0.99, "accepted": a > 0.995}
             for r, a in ((2.0, 0.999), (2.5, 0.996), (3.0, 0.98))]
    figures.plot_tradeoff([("search", evals, 0.99)], tmp_path, "tradeoff")
    assert checked == ["energy", "layers", "heat", "tradeoff"]


@pytest.mark.parametrize("chips", ["4", "2,4,8"])
def test_tp_figure_one_and_several_chip_counts(tmp_path, checked, chips):
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", "llama2-7b", "--chips", chips, "--phase",
                                    "decode", "--seq-len", "16", "--precision", "6", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert checked == ["tp_latency_error"]


def test_tp_figure_with_measured_error(tmp_path, checked):
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", "smollm2-135m-tp", "--chips", "3",
                                    "--error-chips", "1,3", "--phase", "decode", "--seq-len", "16",
                                    "--precision", "6", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert checked == ["tp_latency_error"]


def test_offload_pareto(tmp_path, checked):
    res = CliRunner().invoke(main, ["offload", "--model", "opt-125m", "--preset", "t4-flexgen", "--search",
                                    "--max-gpu-batch-size", "8", "--max-num-gpu-batches", "4",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert checked == ["pareto"]
    svg = (tmp_path / "pareto.svg").read_text()
    assert "chosen: batch" in svg and "bls" not in svg


def test_run_figures_roofline_timeline_area_energy(tmp_path, checked):
    res = CliRunner().invoke(main, ["run", "--hw", "pe64", "--trace", "llama-7b", "--seq-len", "64",
                                    "--modules", "qkv,o,up,down,qk,pv,vector", "--figures",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert checked == ["roofline", "timeline", "area_energy"]
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["inputs"]["hw"]["name"] == "pe64"
    assert "DRAM roof" in (tmp_path / "figures" / "roofline.svg").read_text()


def test_sweep_pareto_and_sensitivity(tmp_path, checked):
    res = CliRunner().invoke(main, ["sweep", "--hw", "pe64,fp_fp,anda", "--trace", "opt-125m", "--seq-len",
                                    "16,32", "--precision", "6", "--pareto", "latency_s,energy_j",
                                    "--workers", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert sorted(checked) == ["pareto", "sensitivity"]
