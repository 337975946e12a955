"""Energy and area in the outputs of one `andasim run` (result.json, per_layer.csv, summary.txt).

`enrich_with_energy(result, hw)` is the engine's result as a dict plus an `energy` section (energy
per component and per operand, area, average power, energy per token, area and energy efficiency,
and the cost table that priced it); `append_energy_columns` adds per-entry energy to the run's
per_layer.csv; `summary_text` is the human-readable summary. All numbers are computed by
andasim.hw.energy from the engine's counters; this module only lays them out.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from andasim.hw.config import HardwareConfig
from andasim.hw.energy import CATEGORIES, EnergyReport, energy_from_counters, estimate_energy, table_for
from andasim.report.sweep import run_tokens
from andasim.report.writers import csv_text
from andasim.workload.gemm import FP_INT_MODULES

# Columns `append_energy_columns` adds to the run's per_layer.csv.
ENERGY_COLUMNS = ("energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_total_j")


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


def entry_energies(result: Any, hw: HardwareConfig) -> list[tuple[float, float, float, float]]:
    """(compute, SRAM, DRAM, total) energy in J of each entry (GeMM or vector-unit layer).

    An entry's leakage is charged for its own cycles (entries run one after another), so the rows
    sum to the run's totals.
    """
    table = table_for(hw)
    out = []
    for entry in result.entries:
        repeat = int(entry.get("repeat", 1))
        c = {k: v * repeat for k, v in entry["counters"].items()}
        if c["cycles"] <= 0:
            out.append((0.0, 0.0, 0.0, 0.0))
            continue
        e = energy_from_counters(hw, c, tokens=1, table=table)
        cats = e.categories_j
        out.append((cats["compute"], cats["sram"], cats["dram"], e.total_j))
    return out


def append_energy_columns(per_layer_csv: str, result: Any, hw: HardwareConfig) -> str:
    """The run's per_layer.csv text (one row per entry, in order) with the energy columns appended."""
    rows = list(csv.reader(io.StringIO(per_layer_csv)))
    energies = entry_energies(result, hw)
    if len(rows) != len(energies) + 1:
        raise ValueError(f"per_layer.csv has {len(rows) - 1} rows but the result has {len(energies)} entries")
    body = [[*row, *e] for row, e in zip(rows[1:], energies, strict=True)]
    return csv_text([*rows[0], *ENERGY_COLUMNS], body)


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
        f"precision: {prec.get('name', 'none (FP16 activations)')} "
        f"{[prec['mantissa_bits'][m] for m in FP_INT_MODULES] if prec else ''}"
        + ("" if inp.get("precision_used", True) else " (echoed, unused by this design)"),
        f"cost table: {report.cost_table} ({table_for(hw).source})",
        "",
        f"cycles               {int(result.counters['cycles']):>16,d}",
        f"roofline cycles      {round(result.counters['roofline_cycles']):>16,d}  (cycles / roofline "
        f"{result.summary()['cycles_over_roofline']:.3f})",
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


def limiting_factor(counters: dict[str, float]) -> tuple[str, float]:
    """What most of the cycles beyond the ideal go to, and its share of all cycles.

    `mapping`: the PE array is not filled (e.g. decode's few rows against the array's rows), so
    compute cycles exceed the ideal at peak rate; `DRAM`/`compressor`: stall cycles. `compute`
    when none of them takes 10% of the cycles.
    """
    cycles = counters["cycles"] or 1
    losses = {"mapping": counters["compute_cycles"] - counters["ideal_compute_cycles"] - counters.get(
        "vector_cycles", 0), "DRAM": counters["stall_dram_cycles"],
        "compressor": counters["stall_compressor_cycles"]}
    name = max(losses, key=lambda k: losses[k])
    share = losses[name] / cycles
    return (name, share) if share >= 0.1 else ("compute", counters["ideal_compute_cycles"] / cycles)


def terminal_summary(result: Any, hw: HardwareConfig, trace: Any, profile: Any, report: EnergyReport,
                     written: list[Any]) -> str:
    """What `andasim run` prints: scaled units, utilization against a named peak, the limiting factor."""
    from andasim.units import data_size, duration, scaled

    inp = result.inputs
    s = result.summary()
    c = result.counters
    em = report.metrics()
    arr = hw.pe_array
    prof = f"{profile.name} {profile.as_list()} ({profile.source})" if profile else "none (FP16 activations)"
    if profile is not None and hw.activation_storage != "anda":
        prof += " [echoed only: this design stores FP16 activations]"
    model = getattr(getattr(trace, "card", None), "name", None)
    model_part = f" (model {model})" if model and model != trace.trace_id else ""
    shape_note = ("GeMM shapes as listed" if getattr(trace, "card", None) is None
                  else f"{inp['phase']}, seq_len {inp['seq_len']}, batch {inp['batch']}")
    bound, share = limiting_factor(c)
    bound_text = (f"compute-bound ({share:.0%} of cycles at the peak rate)" if bound == "compute" else
                  f"{bound}-bound: {share:.0%} of cycles "
                  + {"mapping": "lost to a PE array the GeMM shapes do not fill",
                     "DRAM": "stalled on DRAM", "compressor": "stalled on the output compressor"}[bound])
    cycles_per_s = hw.freq_mhz * 1e6
    lines = [
        f"design      {hw.name} ({arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz)",
        f"trace       {trace.trace_id}{model_part} [{trace.label}] {shape_note}, "
        f"modules {','.join(inp['modules'])}",
        f"precision   {prof}",
        f"latency     {duration(s['latency_s'])}  ({s['cycles']:,} cycles)",
        f"utilization {s['utilization']:.1%} of the peak MAC rate at each GeMM's mantissa width "
        f"({arr.rows}x{arr.cols} PEs x {arr.pe.lanes} lanes per group pass; {s['macs_per_cycle']:.1f} "
        "MACs/cycle achieved)",
        f"bound       {bound_text}",
        f"roofline    {round(s['roofline_cycles']):,} cycles = per GeMM max(compute at full array use, every "
        f"operand read once); this run takes {s['cycles_over_roofline']:.3f}x",
        f"stalls      DRAM {int(c['stall_dram_cycles']):,} cycles "
        f"({duration(c['stall_dram_cycles'] / cycles_per_s)}), compressor "
        f"{int(c['stall_compressor_cycles']):,} cycles",
        f"work        {scaled(s['macs'], 'MAC')}, {scaled(s['bops'], 'BOP')}",
        f"DRAM        read {data_size(s['dram_read_bytes'])}, write {data_size(s['dram_write_bytes'])}",
        f"energy      {scaled(report.total_j, 'J')} incl. DRAM ({scaled(report.on_chip_j, 'J')} on chip), "
        f"{scaled(em['energy_per_token_j'], 'J')}/token, "
        f"{scaled(em['avg_power_on_chip_mw'] * 1e-3, 'W')} on chip",
        f"area        {report.area.total_mm2:.4g} mm2, {em['area_efficiency_gops_per_mm2']:.4g} GOPS/mm2, "
        f"{em['energy_efficiency_tops_per_w']:.4g} TOPS/W incl. DRAM (cost table {report.cost_table})",
        f"wrote       {', '.join(str(p) for p in written) or 'nothing (no --out or --json)'}",
    ]
    return "\n".join(lines) + "\n"
