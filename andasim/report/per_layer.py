"""per_layer.csv of `andasim run`: one row per GeMM (or vector-unit layer), unit-suffixed columns.

Counts (cycles, MACs, bytes) are written exactly: an integer-valued count as an integer, any other
as Python's shortest round-trip float, so the column sums equal the totals in result.json.
"""

from __future__ import annotations

from typing import Any

from andasim.report.writers import csv_text

CSV_COLUMNS = (
    "name", "layer", "module", "m", "k", "n", "count", "repeat", "m_bits", "next_m_bits", "cycles_per_group",
    "mapping_order", "block_m", "block_n", "k_chunk", "cycles", "latency_s", "utilization",
    "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles", "macs", "bops",
    "dram_read_activation_bytes", "dram_read_weight_bytes", "dram_read_kv_bytes",
    "dram_write_activation_bytes", "dram_write_output_bytes", "compressor_cycles", "vector_ops",
    "vector_cycles", "dataflow", "k_ways", "act_slots", "weight_slots", "roofline_cycles", "mapping_reason",
)
_COUNTER_COLUMNS = {
    "cycles": "cycles", "compute_cycles": "compute_cycles", "stall_dram_cycles": "stall_dram_cycles",
    "stall_compressor_cycles": "stall_compressor_cycles", "macs": "macs", "bops": "bops",
    "dram_read_activation_bytes": "dram_read_bytes.activation",
    "dram_read_weight_bytes": "dram_read_bytes.weight", "dram_read_kv_bytes": "dram_read_bytes.kv",
    "dram_write_activation_bytes": "dram_write_bytes.activation",
    "dram_write_output_bytes": "dram_write_bytes.output", "compressor_cycles": "compressor_cycles",
    "vector_ops": "vector_ops", "vector_cycles": "vector_cycles", "roofline_cycles": "roofline_cycles",
}


def exact(value: float | int) -> int | float:
    """An integer-valued count as int (no exponent, no rounding); anything else unchanged."""
    return int(value) if float(value).is_integer() else float(value)


def per_layer_rows(result: Any) -> list[list[Any]]:
    """The rows of per_layer.csv, in the order of `CSV_COLUMNS`."""
    rows = []
    for e in result.entries:
        c = e["counters"]
        mp = e.get("mapping", {})
        row: dict[str, Any] = {
            "name": e["name"], "layer": e["layer"], "module": e["module"], "m": e.get("m", ""),
            "k": e.get("k", ""), "n": e.get("n", ""), "count": e.get("count", ""), "repeat": e["repeat"],
            "m_bits": e.get("m_bits") or "", "next_m_bits": e.get("next_m_bits") or "",
            "cycles_per_group": e.get("cycles_per_group", ""), "mapping_order": mp.get("order", ""),
            "block_m": mp.get("tm", ""), "block_n": mp.get("tn", ""), "k_chunk": mp.get("kc", ""),
            "latency_s": float(e["latency_s"]), "utilization": float(e.get("utilization", 0.0)),
            "dataflow": mp.get("dataflow", ""), "k_ways": mp.get("k_ways", ""),
            "act_slots": mp.get("act_slots", ""), "weight_slots": mp.get("weight_slots", ""),
            "mapping_reason": mp.get("reason", ""),
        }
        row.update({col: exact(c[key]) for col, key in _COUNTER_COLUMNS.items()})
        rows.append([row[col] for col in CSV_COLUMNS])
    return rows


def per_layer_csv(result: Any) -> str:
    """The per_layer.csv text (before the energy columns, see report.run_report)."""
    return csv_text(CSV_COLUMNS, per_layer_rows(result))
