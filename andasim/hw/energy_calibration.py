"""Derivation of the per-action energy and area tables from the Anda paper's published totals.

The paper gives component totals, not per-action costs: Table III (area and power of each Anda
component for LLaMA-13B at the 1% profile, 285 MHz, 0.8 V, 16 nm) and Fig. 15 (PE area and power
of every baseline, normalised to FP-FP, iso-throughput). This module turns those totals and the
engine's activity counts of the calibration scenario into per-action energies, leakage powers and
per-unit areas. It is pure arithmetic on plain numbers: `scripts/derive_energy_tables.py` runs the
engine and writes the result to `andasim/hw/cost_tables/*.yaml`; a test re-derives and compares.
docs/energy_model.md states every step. Nothing here depends on the model being simulated later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from andasim.hw.config import HardwareConfig

PAPER = "Fang et al., Anda, HPCA 2025 (arXiv 2411.15982)"

# Table III of the Anda paper (anda.md §2.6): component -> (area mm², power mW), measured for
# LLaMA-13B at the 1% WikiText-2 profile, 285 MHz, 0.8 V, 16 nm (Genus + VCD power).
TABLE_III: dict[str, tuple[float, float]] = {
    "pe_array": (0.41, 54.34),       # MXU, 16x16 APUs
    "compressor": (0.07, 1.06),      # BPC, 16 lanes
    "vector_unit": (0.05, 0.87),     # 64 FPUs
    "act_buffer": (0.87, 16.94),     # 1 MB mantissa + 0.125 MB exponent
    "weight_buffer": (0.80, 7.96),   # 1 MB
    "others": (0.01, 0.01),          # top controller
}
# The printed totals. The area rows sum to 2.21 mm², not 2.17 (the printed percentages sum to
# 101.8%); the power rows sum to 81.18 mW exactly. andasim reproduces the rows.
TABLE_III_TOTAL_AREA_MM2 = 2.17
TABLE_III_TOTAL_POWER_MW = 81.18
TABLE_III_CLOCK_MHZ = 285.0
TABLE_III_NODE_NM = 16.0
TABLE_III_VOLTAGE_V = 0.8
TABLE_III_SOURCE = f"{PAPER}, Table III (LLaMA-13B, 1% loss, 285 MHz, 0.8 V, 16 nm)"

# The scenario Table III was measured on, as andasim runs it (anda.md §2.5/§2.6, §3.5). Table III is
# a whole-chip measurement, so the vector unit's non-linear work (`vector`) is included next to the four
# FP-INT GeMM types; the attention matmuls are not (the paper evaluates FP-INT GeMMs only).
CALIBRATION_SCENARIO: dict[str, Any] = {
    "hw": "anda", "trace": "llama13b", "profile": "anda-paper/wikitext2/1pct",
    "phase": "prefill", "seq_len": 2048, "batch": 1, "modules": ("qkv", "o", "up", "down", "vector"),
}

# Fig. 15 of the Anda paper (anda.md §4.3): PE (area, power) normalised to the FP-FP PE, for PEs
# of equal computational throughput per cycle. "anda" is the APU at any M.
FIG15_PE_RATIOS: dict[str, tuple[float, float]] = {
    "fp_fp": (1.00, 1.00),
    "fp_int": (0.63, 0.52),
    "ifpu": (0.26, 0.28),
    "figna": (0.18, 0.17),
    "figna_m11": (0.15, 0.12),
    "figna_m8": (0.12, 0.10),
    "anda": (0.23, 0.20),
}
FIG15_SOURCE = f"{PAPER}, Fig. 15 (PE area/power normalised to FP-FP, iso-throughput)"

# Baseline PE variants: name -> (pe_type, compute_mantissa_bits or None), as in hw_configs/.
BASELINE_PE_VARIANTS: dict[str, tuple[str, int | None]] = {
    "fp_fp": ("fp_fp", None),
    "fp_int": ("fp_int", None),
    "ifpu": ("ifpu", None),
    "figna": ("figna", 13),
    "figna_m11": ("figna", 11),
    "figna_m8": ("figna", 8),
}

# ASSUMPTIONS (andasim, no published source): the share of each Table III power that is leakage
# (static) at the calibration point. The paper gives total power only. docs/energy_model.md shows
# how the headline ratios move when these change.
LEAKAGE_FRACTION_LOGIC = 0.10  # PE array, compressor, vector unit (16 nm FinFET logic at 0.8 V)
LEAKAGE_FRACTION_SRAM = 0.30   # SRAM macros: large arrays, mostly idle cells
LEAKAGE_SOURCE = ("andasim assumption (no published split): leakage = {frac:.2f} of the Table III power "
                  "at the calibration point")


def _entry(value: float, source: str) -> dict[str, Any]:
    return {"value": float(value), "source": source}


def _pj(power_mw: float, seconds: float) -> float:
    return power_mw * 1e-3 * seconds * 1e12


def calibration_activity(counters: Mapping[str, float]) -> dict[str, float]:
    """The activity counts of the calibration run that the derivation divides by."""
    def total(prefix: str, names: tuple[str, ...]) -> float:
        return float(sum(counters[f"{prefix}.{n}"] for n in names))

    act = ("act_mantissa", "act_exponent")
    return {
        "cycles": float(counters["cycles"]),
        "pe_busy_cycles": float(counters["pe_busy_cycles"]),
        "compressor_cycles": float(counters["compressor_cycles"]),
        "vector_ops": float(counters["vector_ops"]),
        "act_buffer_bits": total("sram_read_bits", act) + total("sram_write_bits", act),
        "weight_buffer_bits": float(counters["sram_read_bits.weight"] + counters["sram_write_bits.weight"]),
    }


def derive_anda_table(hw: HardwareConfig, counters: Mapping[str, float], *,
                      leak_logic: float = LEAKAGE_FRACTION_LOGIC,
                      leak_sram: float = LEAKAGE_FRACTION_SRAM) -> dict[str, Any]:
    """Per-action costs of the Anda design from Table III and the calibration run's counters.

    For a component with Table III power P and leakage fraction f, over the calibration runtime
    T: leakage power = f·P (spread per unit of size), dynamic energy per action = (1−f)·P·T /
    actions. Areas are Table III areas divided by the component's size in `hw`.
    """
    if hw.pe_array.pe_type != "anda_apu" or hw.compressor is None:
        raise ValueError("the calibration design must be the Anda accelerator")
    act = calibration_activity(counters)
    seconds = act["cycles"] / (hw.freq_mhz * 1e6)
    lanes = hw.pe_array.num_pes * hw.pe_array.pe.lanes
    bpc_lanes = hw.compressor.lanes
    fpus = hw.vector_unit.fpus
    act_kib = hw.buffers.act_mantissa.size_kib + hw.buffers.act_exponent.size_kib
    weight_kib = hw.buffers.weight.size_kib
    t3 = TABLE_III_SOURCE
    if not (0 <= leak_logic < 1 and 0 <= leak_sram < 1):
        raise ValueError("leakage fractions must be in [0, 1)")
    lg, ls = leak_logic, leak_sram

    def dyn(component: str, frac: float, actions: float, what: str) -> dict[str, Any]:
        if actions <= 0:
            raise ValueError(f"calibration run has no {what}; cannot derive {component} energy")
        power = TABLE_III[component][1]
        return _entry(_pj((1 - frac) * power, seconds) / actions,
                      f"(1 - {frac:.2f}) x {power} mW (Table III) x {seconds:.6g} s calibration runtime "
                      f"/ {actions:.6g} {what}")

    def leak(component: str, frac: float, units: float, unit: str) -> dict[str, Any]:
        power = TABLE_III[component][1]
        return _entry(frac * power / units, f"{frac:.2f} x {power} mW (Table III) / {units:g} {unit}; "
                      + LEAKAGE_SOURCE.format(frac=frac))

    def area(component: str, units: float, unit: str) -> dict[str, Any]:
        mm2 = TABLE_III[component][0]
        return _entry(mm2 / units, f"{mm2} mm2 ({t3}) / {units:g} {unit}")

    return {
        "pe": {"anda_apu": {
            "pe_type": "anda_apu",
            "area_mm2_per_pe_lane": area("pe_array", lanes, "APU lanes (16x16 APUs x 64)"),
            "e_pj_per_busy_pe_lane_cycle": dyn("pe_array", lg, act["pe_busy_cycles"] * hw.pe_array.pe.lanes,
                                               "busy APU lane-cycles"),
            "leak_mw_per_pe_lane": leak("pe_array", lg, lanes, "APU lanes"),
        }},
        "compressor": {
            "area_mm2_per_lane": area("compressor", bpc_lanes, "BPC lanes"),
            "e_pj_per_busy_cycle": dyn("compressor", lg, act["compressor_cycles"], "busy BPC cycles"),
            "leak_mw_per_lane": leak("compressor", lg, bpc_lanes, "BPC lanes"),
        },
        "vector_unit": {
            "area_mm2_per_fpu": area("vector_unit", fpus, "FPUs"),
            "e_pj_per_op": dyn("vector_unit", lg, act["vector_ops"], "vector-unit ops"),
            "leak_mw_per_fpu": leak("vector_unit", lg, fpus, "FPUs"),
        },
        "sram": {
            "activation": {
                "area_mm2_per_kib": area("act_buffer", act_kib, "KiB (mantissa + exponent buffers)"),
                "e_pj_per_bit": dyn("act_buffer", ls, act["act_buffer_bits"],
                                    "activation-buffer bits read + written"),
                "leak_mw_per_kib": leak("act_buffer", ls, act_kib, "KiB"),
            },
            "weight": {
                "area_mm2_per_kib": area("weight_buffer", weight_kib, "KiB"),
                "e_pj_per_bit": dyn("weight_buffer", ls, act["weight_buffer_bits"],
                                    "weight-buffer bits read + written"),
                "leak_mw_per_kib": leak("weight_buffer", ls, weight_kib, "KiB"),
            },
        },
        "others": {
            "area_mm2": _entry(TABLE_III["others"][0], f"{t3}, top controller"),
            "power_mw": _entry(TABLE_III["others"][1], f"{t3}, top controller; charged as constant power"),
        },
    }


def derive_baseline_table(anda: Mapping[str, Any], freq_mhz: float) -> dict[str, Any]:
    """Baseline PE costs from Fig. 15, anchored on the derived Anda APU; the rest as Anda.

    A baseline PE with Fig. 15 ratios (a, p) gets area a/a_Anda and full-activity power p/p_Anda
    of the Anda APU's (all at iso-throughput, one lane busy every cycle). Its leakage scales
    with area like the APU's; the rest of its full-activity power is dynamic, per busy lane-cycle.
    """
    apu = anda["pe"]["anda_apu"]
    area_apu = apu["area_mm2_per_pe_lane"]["value"]
    e_apu = apu["e_pj_per_busy_pe_lane_cycle"]["value"]
    leak_apu = apu["leak_mw_per_pe_lane"]["value"]
    mw_per_pj_cycle = freq_mhz * 1e-3  # 1 pJ every cycle at freq_mhz = freq_mhz·1e-3 mW
    full_apu = leak_apu + e_apu * mw_per_pj_cycle
    a_anda, p_anda = FIG15_PE_RATIOS["anda"]
    pe: dict[str, Any] = {}
    for name, (pe_type, mbits) in BASELINE_PE_VARIANTS.items():
        a_ratio, p_ratio = FIG15_PE_RATIOS[name]
        area_scale, power_scale = a_ratio / a_anda, p_ratio / p_anda
        leak = leak_apu * area_scale
        full = full_apu * power_scale
        if full <= leak:
            raise ValueError(f"{name}: leakage {leak} mW exceeds full-activity power {full} mW")
        fig = f"Fig. 15 {name} ({a_ratio}, {p_ratio}) / Anda ({a_anda}, {p_anda})"
        entry: dict[str, Any] = {"pe_type": pe_type}
        if mbits is not None:
            entry["compute_mantissa_bits"] = mbits
        entry["area_mm2_per_pe_lane"] = _entry(
            area_apu * area_scale, f"Anda APU lane area x {a_ratio}/{a_anda} ({FIG15_SOURCE})")
        entry["e_pj_per_busy_pe_lane_cycle"] = _entry(
            (full - leak) / mw_per_pj_cycle,
            f"(full-activity power - leakage) / {freq_mhz:g} MHz; full-activity power = Anda APU lane "
            f"{full_apu:.6g} mW x {p_ratio}/{p_anda} ({fig})")
        entry["leak_mw_per_pe_lane"] = _entry(
            leak, f"Anda APU lane leakage x {a_ratio}/{a_anda}: andasim assumption, leakage scales with area")
        pe[name] = entry
    same = "equal to anda_16nm (all designs share SRAM, vector unit and control; paper Sec. V-A)"
    shared = {k: _restamp(anda[k], same) for k in ("vector_unit", "sram", "others")}
    return {"pe": pe, **shared}


def _restamp(section: Mapping[str, Any], note: str) -> dict[str, Any]:
    """Copy a section of the Anda table, prefixing each source with where the copy comes from."""
    out: dict[str, Any] = {}
    for key, val in section.items():
        if isinstance(val, Mapping) and "value" in val:
            out[key] = _entry(val["value"], f"{note}: {val['source']}")
        else:
            out[key] = _restamp(val, note)
    return out


def build_tables(hw: HardwareConfig, counters: Mapping[str, float], *,
                 leak_logic: float = LEAKAGE_FRACTION_LOGIC,
                 leak_sram: float = LEAKAGE_FRACTION_SRAM) -> dict[str, dict[str, Any]]:
    """The complete `anda_16nm` and `baselines_16nm` tables, ready to be written as YAML."""
    if (hw.technology.node_nm, hw.technology.voltage_v, hw.freq_mhz) != (
            TABLE_III_NODE_NM, TABLE_III_VOLTAGE_V, TABLE_III_CLOCK_MHZ):
        raise ValueError("the calibration design must run at Table III's 16 nm, 0.8 V, 285 MHz")
    anda = derive_anda_table(hw, counters, leak_logic=leak_logic, leak_sram=leak_sram)
    base = derive_baseline_table(anda, hw.freq_mhz)
    scen = ", ".join(f"{k}={'+'.join(v) if isinstance(v, tuple) else v}"
                     for k, v in CALIBRATION_SCENARIO.items())
    calib = {"scenario": scen, **calibration_activity(counters),
             "leakage_fraction_logic": leak_logic, "leakage_fraction_sram": leak_sram}

    def header(name: str, description: str, source: str) -> dict[str, Any]:
        return {"schema_version": 1, "name": name, "description": description,
                "generated_by": "scripts/derive_energy_tables.py; do not edit by hand, re-run the script "
                                "(tests/test_energy_calibration.py checks that it reproduces this file)",
                "source": source,
                "technology": {"node_nm": TABLE_III_NODE_NM, "voltage_v": TABLE_III_VOLTAGE_V},
                "clock": {"freq_mhz": TABLE_III_CLOCK_MHZ}, "calibration": calib}

    return {
        "anda_16nm": {**header(
            "anda_16nm", "Per-action energy, leakage and area of the Anda accelerator's components",
            f"{TABLE_III_SOURCE}, divided by the engine's activity counts of the calibration scenario; "
            "see docs/energy_model.md"), **anda},
        "baselines_16nm": {**header(
            "baselines_16nm", "Per-action energy, leakage and area of the baseline designs (FP-FP, FP-INT, "
            "iFPU, FIGNA, FIGNA-M11, FIGNA-M8)",
            f"PEs: {FIG15_SOURCE}, anchored on the Anda APU of anda_16nm; vector unit, SRAM and control "
            "equal to anda_16nm; see docs/energy_model.md"), **base},
    }


def render_table(table: Mapping[str, Any]) -> str:
    """The YAML text of a derived table, exactly as committed (deterministic)."""
    head = "# GENERATED by scripts/derive_energy_tables.py; see docs/energy_model.md. Do not edit by hand.\n"
    return head + yaml.safe_dump(dict(table), sort_keys=False, width=100, allow_unicode=True)
