"""Report layer: writers, comparison arithmetic, figures and the energy outputs of `andasim run`."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from andasim.hw.config import load_hw
from andasim.report.comparison import RunSummary, compare, comparison_table, geomean, ratio
from andasim.report.figures import (
    plot_comparison,
    plot_energy_breakdown,
    plot_layer_cycles,
    plot_profile_heatmap,
    plot_tradeoff,
)
from andasim.report.writers import csv_text, dumps_json, write_json


def _run(design, trace, latency, energy, area, on_chip=None, macs=1e9, cats=None, gemms=()):
    return RunSummary(design=design, trace=trace, profile=None, profile_bits=None, cycles=latency * 285e6,
                      latency_s=latency, macs=macs, tokens=16, energy_j=energy,
                      on_chip_energy_j=on_chip if on_chip is not None else energy / 2, area_mm2=area,
                      energy_by_category_j=cats or {"compute": energy / 2, "sram": energy / 4,
                                                    "dram": energy / 4},
                      gemm_cycles=tuple(gemms))


# --- writers ---------------------------------------------------------------------------------

def test_json_is_canonical_and_refuses_non_finite(tmp_path):
    a = dumps_json({"b": 1.0, "a": [1, (2, 3)], "c": {"z": 0.1, "y": True}})
    b = dumps_json({"c": {"y": True, "z": 0.1}, "a": [1, [2, 3]], "b": 1.0})
    assert a == b and a.endswith("\n")
    assert list(json.loads(a)) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="non-finite"):
        dumps_json({"x": math.nan})
    path = write_json(tmp_path / "sub" / "r.json", {"x": 1})
    assert path.read_text() == '{\n  "x": 1\n}\n'
    assert not list((tmp_path / "sub").glob(".*tmp"))  # no temp file left behind


def test_csv_cells_are_exact_and_rows_checked():
    text = csv_text(["a", "b_j"], [["x", 0.1], ["y", 1e-20]])
    assert text == "a,b_j\nx,0.1\ny,1e-20\n"
    with pytest.raises(ValueError, match="2 cells, header has 3"):
        csv_text(["a", "b", "c"], [[1, 2]])


# --- comparison arithmetic ---------------------------------------------------------------------

def test_ratios_by_hand():
    base = _run("fp_fp", "t", latency=10.0, energy=8.0, area=2.0, on_chip=4.0)
    run = _run("anda", "t", latency=4.0, energy=2.0, area=2.5, on_chip=0.5)
    assert ratio(run, base, "speedup") == pytest.approx(2.5)                     # 10 / 4
    assert ratio(run, base, "area_efficiency") == pytest.approx((1 / 4 / 2.5) / (1 / 10 / 2))  # = 2.0
    assert ratio(run, base, "area_efficiency") == pytest.approx(2.0)
    assert ratio(run, base, "energy_efficiency") == pytest.approx(4.0)            # 8 / 2
    assert ratio(run, base, "energy_efficiency_on_chip") == pytest.approx(8.0)    # 4 / 0.5
    with pytest.raises(ValueError, match="unknown metric"):
        ratio(run, base, "tops")


def test_compare_geomeans_and_table():
    runs = [_run("fp_fp", "a", 8.0, 8.0, 2.0), _run("fp_fp", "b", 2.0, 2.0, 2.0),
            _run("anda", "a", 2.0, 2.0, 2.0), _run("anda", "b", 2.0, 1.0, 2.0)]
    cmp = compare(runs, ["fp_fp", "anda"], ["a", "b"], "fp_fp")
    assert cmp.per_model["speedup"]["anda"] == {"a": pytest.approx(4.0), "b": pytest.approx(1.0)}
    assert cmp.geomean["speedup"]["anda"] == pytest.approx(2.0)        # sqrt(4 * 1)
    assert cmp.geomean["energy_efficiency"]["anda"] == pytest.approx(math.sqrt(4.0 * 2.0))
    assert cmp.geomean["speedup"]["fp_fp"] == pytest.approx(1.0)
    text = comparison_table(cmp, "speedup")
    assert "Speedup over FP-FP (GPU-like)" in text
    assert text.splitlines()[-1].split()[-1] == "2.00"
    with pytest.raises(ValueError, match="missing runs: fp_fp/c, anda/c"):
        compare(runs, ["fp_fp", "anda"], ["a", "c"], "fp_fp")
    with pytest.raises(ValueError, match="two runs"):
        compare([*runs, runs[0]], ["fp_fp", "anda"], ["a", "b"], "fp_fp")
    with pytest.raises(ValueError, match="baseline"):
        compare(runs, ["anda"], ["a"], "fp_fp")
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)


def test_run_summary_round_trips_and_validates():
    run = _run("anda", "t", 1.0, 2.0, 3.0, gemms=[("L0.qkv", "qkv", 0, 10.0)])
    assert RunSummary.from_dict(json.loads(dumps_json(run.to_dict()))) == run
    with pytest.raises(ValueError, match="cycles must be positive"):
        _run("anda", "t", 0.0, 2.0, 3.0)


# --- figures -----------------------------------------------------------------------------------

def test_figures_written_as_png_and_svg_deterministically(tmp_path):
    gemms = [(f"L{layer}.{m}", m, layer, 1e6 * (j + 1))
             for layer in range(3) for j, m in enumerate(("qkv", "up"))]
    runs = [_run("fp_fp", "llama13b", 8.0, 8.0, 2.0, gemms=gemms), _run("anda", "llama13b", 2.0, 2.0, 2.0,
                                                                       gemms=gemms)]
    cmp = compare(runs, ["fp_fp", "anda"], ["llama13b"], "fp_fp")
    made = [
        *plot_comparison(cmp, tmp_path / "1", note="synthetic test data"),
        *plot_energy_breakdown(runs, tmp_path / "1"),
        *plot_layer_cycles(runs, tmp_path / "1"),
        *plot_profile_heatmap({"1%": {"LLaMA-13B": [7, 5, 6, 6]}}, tmp_path / "1"),
        *plot_tradeoff([("j", [{"bops_reduction": 2.0, "accuracy": 0.995, "feasible": True, "accepted": True},
                               {"bops_reduction": 3.0, "accuracy": 0.98, "feasible": False,
                                "accepted": False}], 0.99)], tmp_path / "1"),
    ]
    assert sorted(p.suffix for p in made) == [".png"] * 5 + [".svg"] * 5
    assert all(p.stat().st_size > 1000 for p in made)
    again = plot_comparison(cmp, tmp_path / "2", note="synthetic test data")
    svg1 = (tmp_path / "1" / "comparison.svg").read_bytes()
    assert again[1].read_bytes() == svg1
    assert b"FP-FP (GPU-like)" in svg1 and b"Speedup" in svg1  # full design names, labelled axes


# --- energy in the outputs of `andasim run` ----------------------------------------------------

@pytest.fixture(scope="module")
def small_run():
    from andasim.sim.simulate import simulate
    from andasim.workload.trace import load_trace

    trace = load_trace("opt1.3b")
    hw = load_hw("pe64")
    return hw, simulate(hw, trace, trace.profile(), seq_len=128, modules=("qkv", "o", "up", "down", "vector"))


def test_enriched_result_names_tables_and_units(small_run):
    from andasim.report.run_report import enrich_with_energy

    hw, result = small_run
    data = enrich_with_energy(result, hw)
    energy = data["energy"]
    assert energy["cost_table"] == "anda_16nm"
    assert "Table III" in energy["cost_table_source"]
    assert energy["dram_e_pj_per_bit"] == 3.9
    assert set(energy["energy_j"]["by_category"]) == {"compute", "sram", "dram"}
    assert energy["energy_j"]["total"] == pytest.approx(sum(energy["energy_j"]["by_component"].values()))
    assert energy["tokens"] == 128
    m = energy["metrics"]
    assert m["energy_per_token_j"] == pytest.approx(energy["energy_j"]["total"] / 128)
    assert dumps_json(data) == dumps_json(enrich_with_energy(result, hw))  # deterministic


def test_per_layer_energy_columns_sum_to_the_total(small_run):
    from andasim.report.per_layer import per_layer_csv
    from andasim.report.run_report import ENERGY_COLUMNS, append_energy_columns, energy_report, summary_text

    hw, result = small_run
    text = append_energy_columns(per_layer_csv(result), result, hw)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(result.entries)
    assert all(col in rows[0] for col in ENERGY_COLUMNS)
    report = energy_report(result, hw)
    total = sum(float(r["energy_total_j"]) for r in rows)
    assert total == pytest.approx(report.total_j, rel=1e-9)
    dram = sum(float(r["energy_dram_j"]) for r in rows)
    assert dram == pytest.approx(report.categories_j["dram"], rel=1e-9)
    summary = summary_text(result, hw, report)
    assert "mm2" in summary and "TOPS/W" in summary and "anda_16nm" in summary
    with pytest.raises(ValueError, match="rows but the result has"):
        append_energy_columns("a\n1\n", result, hw)


# --- sweep cache -------------------------------------------------------------------------------

def test_sweep_cache_reuses_matching_runs_and_recomputes_damaged_ones(tmp_path):
    from andasim.report.sweep import Sweep, Workload

    wl = Workload(seq_len=64)
    first = Sweep(tmp_path, wl)
    a = first.run("pe64", "opt1.3b", "anda-paper/wikitext2/1pct")
    b = first.run("fp_fp", "opt1.3b", "anda-paper/wikitext2/1pct")
    assert first.simulated == 2 and b.profile is None  # FP16 storage: profile not used, not keyed
    again = Sweep(tmp_path, wl)
    assert again.run("pe64", "opt1.3b", "anda-paper/wikitext2/1pct") == a
    assert again.run("fp_fp", "opt1.3b", "anda-paper/wikitext2/0.1pct") == b  # same FP16 run reused
    assert (again.simulated, again.reused) == (0, 2)
    for path in tmp_path.glob("pe64__*.json"):
        path.write_text("{ torn", encoding="utf-8")
    third = Sweep(tmp_path, wl)
    assert third.run("pe64", "opt1.3b", "anda-paper/wikitext2/1pct") == a
    assert third.simulated == 1
    other = Sweep(tmp_path, Workload(seq_len=32))  # another workload never reuses these files
    assert other.run("pe64", "opt1.3b", "anda-paper/wikitext2/1pct").cycles < a.cycles
    assert other.simulated == 1
