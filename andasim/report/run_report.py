"""The outputs of one `andasim run`: result.json, per_layer.csv and summary.txt, with energy and area.

`enrich_with_energy(result, hw)` is the engine's result as a dict plus an `energy` section (energy
per component and per operand, area, average power, energy per token, area and energy efficiency,
and the cost table that priced it). `write_run_outputs` writes the three files atomically. All
numbers are computed by andasim.hw.energy from the engine's counters; this module only lays them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from andasim.hw.config import HardwareConfig
from andasim.hw.energy import CATEGORIES, EnergyReport, energy_from_counters, estimate_energy, table_for
from andasim.report.sweep import run_tokens
from andasim.report.writers import csv_text, dumps_json, write_text

PER_LAYER_COLUMNS = (
    "gemm", "layer", "module", "m", "k", "n", "count", "m_bits", "next_m_bits", "repeat",
    "cycles", "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles", "latency_s", "macs",
    "utilization", "pe_busy_cycles", "sram_read_bits", "sram_write_bits", "dram_read_bytes",
    "dram_write_bytes", "compressor_cycles", "vector_ops",
    "energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_total_j",
)


def energy_report(result: Any, hw: HardwareConfig) -> EnergyReport:
    return estimate_energy(hw, result, tokens=run_tokens(result.inputs))


def enrich_with_energy(result: Any, hw: HardwareConfig) -> dict[str, Any]:
    """`result.to_dict()` plus the `energy` section, naming the cost table and its source."""
    data = result.to_dict()
    report = energy_report(result, hw)
    table = table_for(hw)
    energy = report.to_dict()
    energy["cost_table_source"] = table.source
    energy["cost_table_file"] = table.file
    energy["dram_e_pj_per_bit"] = hw.dram.e_pj_per_bit
    energy["dram_e_pj_per_bit_source"] = "hw config dram.e_pj_per_bit"
    energy["units"] = {"_j": "joules", "_mw": "milliwatts", "_mm2": "square millimetres", "_s": "seconds",
                       "gops": "1e9 operations per second (1 MAC = 2 operations)",
                       "tops_per_w": "1e12 operations per joule"}
    data["energy"] = energy
    return data


def _entry_value(entry: dict[str, Any], key: str) -> Any:
    value = entry.get(key)
    return "" if value is None else value


def per_layer_rows(result: Any, hw: HardwareConfig) -> list[list[Any]]:
    """One tidy row per entry (GeMM or vector-unit layer), energy priced per entry.

    An entry's leakage is charged for its own cycles, so the rows sum to the run's totals.
    """
    table = table_for(hw)
    rows = []
    for entry in result.entries:
        repeat = int(entry.get("repeat", 1))
        c = {k: v * repeat for k, v in entry["counters"].items()}
        if c["cycles"] > 0:
            e = energy_from_counters(hw, c, tokens=1, table=table)
            cats = e.categories_j
            energy = [cats["compute"], cats["sram"], cats["dram"], e.total_j]
        else:
            energy = [0.0, 0.0, 0.0, 0.0]
        sram_r = sum(v for k, v in c.items() if k.startswith("sram_read_bits."))
        sram_w = sum(v for k, v in c.items() if k.startswith("sram_write_bits."))
        dram_r = sum(v for k, v in c.items() if k.startswith("dram_read_bytes."))
        dram_w = sum(v for k, v in c.items() if k.startswith("dram_write_bytes."))
        rows.append([
            entry["name"], entry["layer"], entry["module"],
            *(_entry_value(entry, k) for k in ("m", "k", "n", "count")),
            _entry_value(entry, "m_bits"), _entry_value(entry, "next_m_bits"), repeat,
            c["cycles"], c["compute_cycles"], c["stall_dram_cycles"], c["stall_compressor_cycles"],
            c["cycles"] / (hw.freq_mhz * 1e6), c["macs"],
            c["ideal_compute_cycles"] / c["cycles"] if c["cycles"] else 0.0,
            c["pe_busy_cycles"], sram_r, sram_w, dram_r, dram_w, c["compressor_cycles"], c["vector_ops"],
            *energy,
        ])
    return rows


def summary_text(result: Any, hw: HardwareConfig, report: EnergyReport) -> str:
    """A short human-readable summary; every number carries its unit."""
    inp = result.inputs
    wl = inp.get("workload", {})
    prec = inp.get("precision") or {}
    m = report.metrics()
    area = report.area
    lines = [
        f"andasim run: {hw.name} ({hw.description})",
        f"workload: {wl.get('model') or wl.get('trace_id')} [{wl.get('label', '')}], {inp['phase']}, "
        f"seq_len {inp['seq_len']}, batch {inp['batch']}, modules {', '.join(inp.get('modules', []))}",
        f"precision: {prec.get('name', 'none (FP16 activations)')} {prec.get('mantissa_bits', '')}"
        + ("" if inp.get("precision_used", True) else " (echoed, unused by this design)"),
        f"cost table: {report.cost_table} ({table_for(hw).source})",
        "",
        f"cycles               {int(result.counters['cycles']):>16,d}",
        f"latency              {report.latency_s:16.6g} s",
        f"MACs                 {int(result.counters['macs']):>16,d}",
        f"throughput           {m['throughput_gops']:16.4g} GOPS (1 MAC = 2 ops)",
        f"tokens per second    {m['tokens_per_s']:16.4g}",
        "",
        f"energy total         {report.total_j:16.6g} J  (on chip {report.on_chip_j:.6g} J, DRAM "
        f"{report.component_j('dram'):.6g} J)",
        f"energy per token     {m['energy_per_token_j']:16.6g} J",
        f"average power        {m['avg_power_on_chip_mw']:16.4g} mW on chip, "
        f"{m['avg_power_with_dram_mw']:.4g} mW with DRAM",
        f"area                 {area.total_mm2:16.4g} mm2",
        f"area efficiency      {m['area_efficiency_gops_per_mm2']:16.4g} GOPS/mm2 "
        f"({m['area_efficiency_tokens_per_s_per_mm2']:.4g} tokens/s/mm2)",
        f"energy efficiency    {m['energy_efficiency_tops_per_w']:16.4g} TOPS/W with DRAM "
        f"({m['energy_efficiency_on_chip_tops_per_w']:.4g} TOPS/W on chip)",
        "",
        f"{'component':22s}{'energy (J)':>14s}{'of which leakage (J)':>22s}{'area (mm2)':>12s}",
    ]
    for cat, names in CATEGORIES.items():
        for name in names:
            if name not in report.components_j:
                continue
            lines.append(f"{name:22s}{report.component_j(name):14.6g}{report.leakage_j.get(name, 0.0):22.6g}"
                         f"{area.components_mm2.get(name, 0.0):12.4g}")
        lines.append(f"  = {cat:18s}{report.categories_j[cat]:14.6g}")
    lines += ["", "dynamic traffic energy by operand (J):"]
    lines += [f"  {k:20s}{v:14.6g}" for k, v in sorted(report.per_operand_j.items())]
    return "\n".join(lines) + "\n"


def write_run_outputs(out_dir: Path | str, result: Any, hw: HardwareConfig) -> list[Path]:
    """Write result.json, per_layer.csv and summary.txt into `out_dir` (atomically, deterministically)."""
    out = Path(out_dir)
    report = energy_report(result, hw)
    return [
        write_text(out / "result.json", dumps_json(enrich_with_energy(result, hw))),
        write_text(out / "per_layer.csv", csv_text(PER_LAYER_COLUMNS, per_layer_rows(result, hw))),
        write_text(out / "summary.txt", summary_text(result, hw, report)),
    ]
