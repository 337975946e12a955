"""Energy/area model on hand-made activity counts (no engine needed).

The calibration test against the real engine run lives in test_energy_calibration.py; here the
derivation and the estimator are checked against each other and against hand arithmetic.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from andasim.errors import ConfigError
from andasim.hw.config import load_hw
from andasim.hw.energy import (
    CATEGORIES,
    _parse_table,
    energy_from_counters,
    estimate_area,
    load_cost_table,
    table_for,
)
from andasim.hw.energy_calibration import (
    FIG15_PE_RATIOS,
    TABLE_III,
    build_tables,
    derive_anda_table,
)

# A made-up calibration run: the derivation must invert whatever counts it is given.
COUNTERS = {
    "cycles": 2.0e9, "compute_cycles": 1.9e9, "stall_dram_cycles": 0.1e9, "stall_compressor_cycles": 0.0,
    "macs": 1.0e12, "bops": 2.4e13, "pe_busy_cycles": 4.0e11, "pe_idle_cycles": 1.2e11,
    "sram_read_bits.act_mantissa": 3.0e13, "sram_read_bits.act_exponent": 2.0e12,
    "sram_read_bits.weight": 5.0e12, "sram_read_bits.output": 1.0e11,
    "sram_write_bits.act_mantissa": 1.0e12, "sram_write_bits.act_exponent": 1.0e11,
    "sram_write_bits.weight": 1.0e12, "sram_write_bits.output": 1.0e11,
    "dram_read_bytes.activation": 1.0e9, "dram_read_bytes.weight": 6.0e9, "dram_read_bytes.kv": 0.0,
    "dram_write_bytes.activation": 1.0e9, "dram_write_bytes.output": 0.0,
    "compressor_groups": 1.0e8, "compressor_cycles": 5.0e8, "vector_ops": 3.0e10, "vector_cycles": 4.0e8,
}


def _tables(counters=COUNTERS, **kw):
    tables = build_tables(load_hw("anda"), counters, **kw)
    return {name: _parse_table(copy.deepcopy(t), f"<derived {name}>") for name, t in tables.items()}


def _without_output_buffer(counters):
    """Counters with no traffic on the output staging buffer (not a Table III component)."""
    c = dict(counters)
    c["sram_read_bits.output"] = c["sram_write_bits.output"] = 0.0
    return c


def test_calibration_inverts_table_iii_power_and_area():
    hw = load_hw("anda")
    table = _tables()["anda_16nm"]
    rep = energy_from_counters(hw, _without_output_buffer(COUNTERS), tokens=2048, table=table)
    seconds = 2.0e9 / 285e6
    power_mw = {n: rep.component_j(n) / seconds * 1e3 for n in rep.components_j}
    assert power_mw["pe_array"] == pytest.approx(TABLE_III["pe_array"][1], rel=1e-12)
    assert power_mw["compressor"] == pytest.approx(TABLE_III["compressor"][1], rel=1e-12)
    assert power_mw["vector_unit"] == pytest.approx(TABLE_III["vector_unit"][1], rel=1e-12)
    act = power_mw["act_mantissa_buffer"] + power_mw["act_exponent_buffer"]
    assert act == pytest.approx(TABLE_III["act_buffer"][1], rel=1e-12)
    assert power_mw["weight_buffer"] == pytest.approx(TABLE_III["weight_buffer"][1], rel=1e-12)
    assert power_mw["others"] == pytest.approx(TABLE_III["others"][1], rel=1e-12)
    area = rep.area.components_mm2
    assert area["pe_array"] == pytest.approx(0.41, abs=1e-12)
    assert area["compressor"] == pytest.approx(0.07, abs=1e-12)
    assert area["vector_unit"] == pytest.approx(0.05, abs=1e-12)
    assert area["act_mantissa_buffer"] + area["act_exponent_buffer"] == pytest.approx(0.87, abs=1e-12)
    assert area["weight_buffer"] == pytest.approx(0.80, abs=1e-12)
    # The 64 KiB output staging buffer is extra (andasim assumption) at the activation density.
    assert area["output_buffer"] == pytest.approx(0.87 / 1152 * 64, rel=1e-12)


def test_leakage_split_follows_the_stated_fraction():
    table = _tables(leak_logic=0.25, leak_sram=0.5)["anda_16nm"]
    rep = energy_from_counters(load_hw("anda"), COUNTERS, tokens=1, table=table)
    pe = rep.leakage_j["pe_array"] / rep.component_j("pe_array")
    wb = rep.leakage_j["weight_buffer"] / rep.component_j("weight_buffer")
    assert pe == pytest.approx(0.25, rel=1e-12)
    assert wb == pytest.approx(0.5, rel=1e-12)


def test_energy_by_hand_on_a_small_run():
    hw = load_hw("anda")
    table = _tables()["anda_16nm"]
    small = dict.fromkeys(COUNTERS, 0.0)
    small.update({"cycles": 1000.0, "macs": 64.0, "pe_busy_cycles": 16.0, "vector_ops": 10.0,
                  "sram_read_bits.weight": 256.0, "dram_read_bytes.weight": 32.0, "compressor_cycles": 3.0})
    rep = energy_from_counters(hw, small, tokens=4, table=table)
    v = table.value
    t = 1000 / 285e6
    # 16 busy APU cycles x 64 lanes; leakage of 256 APUs x 64 lanes for 1000 cycles.
    e_lane, leak_lane = v("pe.anda_apu.e_pj_per_busy_pe_lane_cycle"), v("pe.anda_apu.leak_mw_per_pe_lane")
    assert rep.dynamic_j["pe_array"] == pytest.approx(16 * 64 * e_lane * 1e-12)
    assert rep.leakage_j["pe_array"] == pytest.approx(256 * 64 * leak_lane * 1e-3 * t)
    assert rep.dynamic_j["compressor"] == pytest.approx(3 * v("compressor.e_pj_per_busy_cycle") * 1e-12)
    assert rep.dynamic_j["weight_buffer"] == pytest.approx(256 * v("sram.weight.e_pj_per_bit") * 1e-12)
    assert rep.dynamic_j["act_mantissa_buffer"] == 0.0
    assert rep.dynamic_j["dram"] == pytest.approx(32 * 8 * 3.9e-12)  # 3.9 pJ/bit from the hw config
    assert rep.per_operand_j["dram.weight"] == pytest.approx(32 * 8 * 3.9e-12)
    assert rep.per_operand_j["sram.weight"] == rep.dynamic_j["weight_buffer"]
    cats = rep.categories_j
    assert sum(cats.values()) == pytest.approx(rep.total_j)
    assert cats["dram"] == pytest.approx(rep.component_j("dram"))
    assert set(rep.components_j) == {n for names in CATEGORIES.values() for n in names}
    m = rep.metrics()
    assert m["energy_per_token_j"] == pytest.approx(rep.total_j / 4)
    assert m["energy_efficiency_tops_per_w"] == pytest.approx(128 / rep.total_j / 1e12)
    assert m["area_efficiency_gops_per_mm2"] == pytest.approx(128 / t / 1e9 / rep.area.total_mm2)
    assert m["avg_power_on_chip_mw"] == pytest.approx(rep.on_chip_j / t * 1e3)


def test_dynamic_energy_is_linear_and_leakage_follows_time():
    hw = load_hw("anda")
    table = _tables()["anda_16nm"]
    one = energy_from_counters(hw, COUNTERS, tokens=1, table=table)
    two = energy_from_counters(hw, {k: 2 * v for k, v in COUNTERS.items()}, tokens=1, table=table)
    for name in one.components_j:
        assert two.dynamic_j.get(name, 0) == pytest.approx(2 * one.dynamic_j.get(name, 0))
        assert two.leakage_j.get(name, 0) == pytest.approx(2 * one.leakage_j.get(name, 0))


def test_baseline_pes_reproduce_fig15_ratios_at_full_activity():
    tables = _tables()
    base, anda = tables["baselines_16nm"], tables["anda_16nm"]
    f = 285.0

    def full_mw(table, variant):  # one lane busy every cycle: dynamic at f MHz + leakage
        v = table.value
        dyn = v(f"pe.{variant}.e_pj_per_busy_pe_lane_cycle") * f * 1e-3
        return dyn + v(f"pe.{variant}.leak_mw_per_pe_lane")

    fp_power = full_mw(base, "fp_fp")
    fp_area = base.value("pe.fp_fp.area_mm2_per_pe_lane")
    for variant, (a_ratio, p_ratio) in FIG15_PE_RATIOS.items():
        table, key = (anda, "anda_apu") if variant == "anda" else (base, variant)
        assert full_mw(table, key) / fp_power == pytest.approx(p_ratio, rel=1e-12), variant
        assert table.value(f"pe.{key}.area_mm2_per_pe_lane") / fp_area == pytest.approx(a_ratio, rel=1e-12)
    # Shared parts are copies of the Anda table.
    assert base.value("sram.weight.e_pj_per_bit") == anda.value("sram.weight.e_pj_per_bit")
    assert "compressor" not in base.data


def test_baseline_designs_pick_their_pe_entry():
    base = _tables()["baselines_16nm"]
    for name in ("fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8"):
        assert base.pe_variant(load_hw(name)) == name
    hw = load_hw("figna")
    odd = dataclasses.replace(hw, pe_array=dataclasses.replace(
        hw.pe_array, pe=dataclasses.replace(hw.pe_array.pe, compute_mantissa_bits=9)))
    with pytest.raises(ConfigError, match="no PE entry for pe_type 'figna' with compute_mantissa_bits=9"):
        base.pe_variant(odd)


def test_bundled_tables_load_and_cover_every_design():
    for name in ("anda", "pe64", "fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8"):
        hw = load_hw(name)
        table = table_for(hw)
        assert table.name == hw.cost_table
        area = estimate_area(hw, table)
        assert area.total_mm2 > 0
        # Every constant states where it comes from.
        assert table.source_of("vector_unit.e_pj_per_op")
    pe64 = estimate_area(load_hw("pe64"))
    assert pe64.components_mm2["pe_array"] == pytest.approx(0.41 / 4)  # 8x8 of the 16x16 APUs


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_strict_loading_refuses_unknown_and_missing_keys(tmp_path):
    good = build_tables(load_hw("anda"), COUNTERS)["anda_16nm"]
    bad = copy.deepcopy(good)
    bad["vector_unit"]["e_pj_per_flop"] = {"value": 1.0, "source": "x"}
    with pytest.raises(ConfigError, match=r"vector_unit.e_pj_per_flop'.*unknown key"):
        load_cost_table(_write(tmp_path, bad))
    bad = copy.deepcopy(good)
    del bad["sram"]["weight"]["e_pj_per_bit"]["source"]
    with pytest.raises(ConfigError, match=r"sram.weight.e_pj_per_bit.source'.*missing"):
        load_cost_table(_write(tmp_path, bad))
    bad = copy.deepcopy(good)
    bad["sram"]["weight"]["e_pj_per_bit"]["value"] = -1.0
    with pytest.raises(ConfigError, match=r"must be in \[0, "):
        load_cost_table(_write(tmp_path, bad))
    (tmp_path / "dup.yaml").write_text("schema_version: 1\nschema_version: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate key"):
        load_cost_table(tmp_path / "dup.yaml")
    with pytest.raises(ConfigError, match="no bundled cost table"):
        load_cost_table("anda_7nm")


def test_node_or_voltage_mismatch_is_refused():
    hw = load_hw("anda")
    other = dataclasses.replace(hw, technology=dataclasses.replace(hw.technology, node_nm=7))
    with pytest.raises(ConfigError, match=r"16 nm / 0\.8 V but the design is 7 nm / 0\.8 V"):
        table_for(other)


def test_derivation_refuses_a_run_without_activity():
    counters = dict(COUNTERS, vector_ops=0.0)
    with pytest.raises(ValueError, match="no vector-unit ops"):
        derive_anda_table(load_hw("anda"), counters)


def test_faster_baseline_pe_costs_the_same_energy_per_mac_and_more_area():
    # FIGNA-M8 read as 16/8 the FP-FP throughput (8 cycles per group): the Fig. 15 PE power and area are
    # at iso-throughput, so per lane they scale by 16/8; energy per MAC stays put (not credited twice).
    from andasim.hw.energy import estimate_energy, throughput_scale
    from andasim.sim.engine import simulate_gemm
    from andasim.workload.gemm import GeMM

    fast = load_hw("figna_m8")
    iso = dataclasses.replace(fast, pe_array=dataclasses.replace(
        fast.pe_array, pe=dataclasses.replace(fast.pe_array.pe, cycles_per_group=16)))
    assert throughput_scale(fast) == 2.0 and throughput_scale(iso) == 1.0
    assert throughput_scale(load_hw("anda")) == 1.0
    gemm = GeMM("o", "o", 0, 256, 4096, 4096)
    e_fast, e_iso = (estimate_energy(hw, simulate_gemm(hw, gemm, None, None), tokens=256)
                     for hw in (fast, iso))
    assert e_fast.dynamic_j["pe_array"] == pytest.approx(e_iso.dynamic_j["pe_array"], rel=1e-12)
    assert e_fast.area.components_mm2["pe_array"] == pytest.approx(2 * e_iso.area.components_mm2["pe_array"])
    assert e_fast.latency_s < 0.55 * e_iso.latency_s
