"""`andasim reproduce anda`: the JSON, the published-vs-simulated table and the figures.

The default test runs two of the nine models and two designs through the same code path; the
full nine-model, seven-design CLI run is marked slow (about 15-30 s on the 2-core machine).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.hw.energy_calibration import TABLE_III
from andasim.report.reproduce import LABEL, PUBLISHED_AVERAGES, reproduce_anda
from andasim.report.sweep import Sweep

TRACES = ("opt1.3b", "llama13b")
DESIGNS = ("fp_fp", "anda")


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro")
    data, text = reproduce_anda(out, Sweep(out / "cache"), traces=TRACES, designs=DESIGNS)
    return out, data, text


def test_json_per_design_and_tolerance(subset):
    _, data, _ = subset
    assert data["label"] == LABEL and "shape-only" in LABEL.lower() and "published" in LABEL
    assert data["cost_tables"] == {"fp_fp": "baselines_16nm", "anda": "anda_16nm"}
    for tol in ("0.1pct", "1pct"):
        t = data["tolerances"][tol]
        per = t["per_model_over_baseline"]["anda"]
        for metric in ("speedup", "area_efficiency", "energy_efficiency"):
            vals = [per[m][metric] for m in TRACES]
            assert t["geomean_over_baseline"]["anda"][metric] == pytest.approx((vals[0] * vals[1]) ** 0.5)
            assert t["geomean_over_baseline"]["fp_fp"][metric] == pytest.approx(1.0)
        # both readings of FP-FP (issue 12): GPU-like tiled and least traffic, side by side
        assert set(t["energy_breakdown_llama13b_j"]) == {*DESIGNS, "fp_fp_least_traffic"}
        assert set(t["energy_breakdown_llama13b_j"]["anda"]) == {"compute", "sram", "dram"}
        readings = t["anda_over_fp_fp_readings"]
        assert set(readings) == {"gpu_tiled", "least_traffic"}
        anda = t["geomean_over_baseline"]["anda"]
        assert readings["gpu_tiled"]["speedup"] == pytest.approx(anda["speedup"])
        ratios = t["category_ratios_anda_over"]
        for reading in readings:
            assert set(ratios[reading]) == {"compute", "sram", "dram"}
            assert all(0 < v < 1 for v in ratios[reading].values())  # Anda saves in every category
        # the GPU-like tiling re-reads operands per tile: FP-FP moves more DRAM bytes than least-traffic
        assert ratios["gpu_tiled"]["dram"] < ratios["least_traffic"]["dram"]
    # LLaMA-13B at 1%: [7, 5, 6, 6] with the card's MAC shares (anda.md §3.4: 0.2479, 0.0826, 0.4463,
    # 0.2231) gives 16 / (0.2479*7 + 0.0826*5 + 0.4463*6 + 0.2231*6) = 16 / 6.1637 ~ 2.596.
    assert data["tolerances"]["1pct"]["profiles"]["llama13b"] == [7, 5, 6, 6]
    assert data["tolerances"]["1pct"]["bops_reduction"]["llama13b"] == pytest.approx(2.596, abs=2e-3)


def test_sensitivity_to_gpu_tile_and_sram_energy(subset):
    _, data, text = subset
    sens = data["sensitivity"]
    tiles = {(r["tile_m_tokens"], r["tile_n_features"], r["tile_k_elements"]): r for r in sens["tile_sizes"]}
    assert tiles[(128, 128, 64)]["bundled"]
    bundled = tiles[(128, 128, 64)]["anda_over_fp_fp"]["energy_efficiency"]
    main = data["tolerances"]["1pct"]["geomean_over_baseline"]["anda"]
    assert bundled == pytest.approx(main["energy_efficiency"])
    # smaller GPU tiles re-read more: FP-FP costs more energy, Anda's advantage grows
    assert tiles[(64, 64, 64)]["anda_over_fp_fp"]["energy_efficiency"] > bundled
    sram = {r["sram_e_pj_per_bit_factor"]: r["anda_over_fp_fp"] for r in sens["sram_energy_per_bit"]}
    assert sram[1.0]["energy_efficiency"] == pytest.approx(bundled)
    assert sram[0.5]["speedup"] == sram[2.0]["speedup"]        # energy per bit changes no cycle
    assert "Sensitivity" in text and "least_traffic" in text


def test_figna_mx_run_at_16_over_x_the_fp_fp_throughput(tmp_path):
    # Issue 12 acceptance: FIGNA-M11/M8 trade mantissa width for throughput (anda.md §6.2b). Prefill
    # is compute-bound on every design, so the speedup over FP-FP is 16/x on any model.
    sweep = Sweep(tmp_path / "cache")
    for design, x in (("figna_m11", 11), ("figna_m8", 8)):
        base, run = sweep.run("fp_fp", "opt1.3b", None), sweep.run(design, "opt1.3b", None)
        assert base.latency_s / run.latency_s == pytest.approx(16 / x, rel=2e-3)


def test_published_beside_simulated(subset):
    _, data, text = subset
    rows = {r["metric"]: r for r in data["published_vs_simulated"]}
    for metric, pub in PUBLISHED_AVERAGES.items():
        r = rows[metric]
        assert r["published"] == pub
        assert r["rel_diff_1pct"] == pytest.approx((r["simulated_1pct"] - pub) / pub)
    t3 = {r["component"]: r for r in data["table_iii"]["rows"]}
    for comp, (area, power) in TABLE_III.items():
        assert t3[comp]["simulated_area_mm2"] == pytest.approx(area, abs=1e-9)
        assert t3[comp]["simulated_power_mw"] == pytest.approx(power, rel=0.05)
    assert t3["output_buffer"]["published_area_mm2"] is None  # andasim's extra, never compared
    assert "Table III" in text and "published" in text


def test_figures_and_determinism(subset, tmp_path):
    out, _, _ = subset
    figs = {p.name for p in (out / "figures").iterdir()}
    for stem in ("comparison_1pct", "comparison_0.1pct", "energy_breakdown_llama13b_1pct",
                 "layer_cycles_llama13b_1pct", "profile_heatmap"):
        assert {f"{stem}.png", f"{stem}.svg"} <= figs
    fresh = tmp_path / "fresh"
    reproduce_anda(fresh, Sweep(fresh / "cache"), traces=TRACES, designs=DESIGNS)
    assert (fresh / "reproduction.json").read_bytes() == (out / "reproduction.json").read_bytes()


@pytest.mark.slow
def test_full_reproduction_cli(tmp_path):
    json_path = tmp_path / "copy" / "repro.json"
    args = ["reproduce", "anda", "--out", str(tmp_path / "o"), "--json", str(json_path)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(json_path.read_text())
    assert len(data["models"]) == 9 and len(data["designs"]) == 7
    speedup = data["tolerances"]["1pct"]["geomean_over_baseline"]
    assert speedup["figna_m11"]["speedup"] == pytest.approx(16 / 11, rel=2e-3)
    assert speedup["figna_m8"]["speedup"] == pytest.approx(16 / 8, rel=2e-3)
    assert set(data["tolerances"]["1pct"]["anda_over_fp_fp_readings"]) == {"gpu_tiled", "least_traffic"}
    assert set(data["tolerances"]["1pct"]["bops_reduction"]) == set(data["models"])
