"""SCALE-Sim's compute report next to andasim's DRAM-aware counters, and where the inputs came from.

For a design whose dataflow section lists `systolic` (e.g. one translated from a SCALE-Sim `.cfg`)
every GeMM entry carries `scalesim`: the compute cycles, mapping efficiency
and utilizations SCALE-Sim 3.0 reports for it (closed forms, andasim/sim/dataflows/systolic.py).
This module lays them out per layer (`scalesim_compare.csv`) and as summary lines, next to
andasim's own total, which adds the DRAM transfers and the buffer-limited blocking.
"""

from __future__ import annotations

from typing import Any

from andasim.report.writers import csv_text

COMPARE_COLUMNS = (
    "name",
    "m",
    "n",
    "k",
    "dataflow",
    "rows",
    "cols",
    "folds",
    "scalesim_compute_cycles",
    "scalesim_overall_util",
    "scalesim_mapping_eff",
    "scalesim_compute_util",
    "andasim_cycles",
    "andasim_compute_cycles",
    "andasim_stall_dram_cycles",
    "andasim_dram_read_bytes",
    "andasim_dram_write_bytes",
)


def has_scalesim(result: Any) -> bool:
    return any("scalesim" in e for e in result.entries)


def compare_csv(result: Any) -> str:
    """One row per GeMM: SCALE-Sim's compute report, then andasim's DRAM-aware counters."""
    rows = []
    for e in result.entries:
        s = e.get("scalesim")
        if s is None:
            continue
        c = e["counters"]
        rows.append(
            [
                e["name"],
                e["m"],
                e["n"],
                e["k"],
                s["dataflow"],
                s["rows"],
                s["cols"],
                s["folds"],
                s["compute_cycles"],
                f"{s['overall_utilization']:.6f}",
                f"{s['mapping_efficiency']:.6f}",
                f"{s['compute_utilization']:.6f}",
                int(c["cycles"]),
                int(c["compute_cycles"]),
                int(c["stall_dram_cycles"]),
                f"{sum(v for k, v in c.items() if k.startswith('dram_read_bytes.')):g}",
                f"{sum(v for k, v in c.items() if k.startswith('dram_write_bytes.')):g}",
            ]
        )
    return csv_text(COMPARE_COLUMNS, rows)


def compare_lines(result: Any) -> list[str]:
    """Summary lines: SCALE-Sim's totals (summed over layers as its report lists them) vs andasim's."""
    entries = [e for e in result.entries if "scalesim" in e]
    if not entries:
        return []
    s0 = entries[0]["scalesim"]
    cycles = sum(e["scalesim"]["compute_cycles"] for e in entries)
    macs = sum(e["m"] * e["n"] * e["k"] for e in entries)
    mapping = sum(e["scalesim"]["mapping_efficiency"] for e in entries) / len(entries)
    util = sum(e["scalesim"]["compute_utilization"] for e in entries) / len(entries)
    c = result.counters
    return [
        f"SCALE-Sim   {s0['dataflow']} on {s0['rows']}x{s0['cols']}: compute cycles {cycles:,} (sum of its "
        f"per-layer reports), overall util {macs / (cycles * s0['rows'] * s0['cols']):.4f}, mapping eff "
        f"{mapping:.4f} and compute util {util:.4f} (means over layers)",
        f"andasim     SCALE-Sim folds per buffer-sized block, DRAM-aware: cycles {int(c['cycles']):,} = "
        f"compute {int(c['compute_cycles']):,} "
        f"+ DRAM stalls {int(c['stall_dram_cycles']):,}",
    ]


def source_lines(hw: Any, workload_echo: dict[str, Any]) -> list[str]:
    """What was taken from, and ignored in, inputs translated from another tool's files."""
    lines = []
    prov = hw.provenance
    if prov.startswith("Translated by andasim") and "Taken: " in prov and "Ignored: " in prov:
        taken = prov.split("Taken: ", 1)[1].split(". Ignored: ", 1)[0]
        ignored = prov.split(". Ignored: ", 1)[1].split(". Assumed", 1)[0]
        assumed = prov.split("Assumed (andasim, not in the .cfg): ", 1)[-1].rstrip(".")
        lines += [
            f"design from {hw.source}",
            f"  taken     {taken}",
            f"  ignored   {ignored}",
            f"  assumed   {assumed}",
        ]
    src = workload_echo.get("source")
    if src:
        lines += [
            f"trace from  {src['file']} ({src['format']})",
            f"  taken     {'; '.join(src['notes'])}",
            f"  ignored   {'; '.join(src['ignored']) or 'nothing'}",
        ]
    return lines
