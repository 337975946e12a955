"""The sweep's results as one tidy table: a row per point, a column per swept key and metric.

The CSV is written by the standard library (the core install has no pandas), with floats as
Python's shortest round-trip repr and empty cells for missing numbers, so pandas reads it with
`pd.read_csv(path)` and no arguments. The Parquet copy needs the `sweep` extra (pandas + pyarrow).
Rows are in point order, and the numbers come from the journal, so a resumed sweep writes the
same bytes as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from andasim.atomic_io import write_atomic
from andasim.errors import AndasimInputError
from andasim.explore.executors import EXTRA_HINT
from andasim.explore.points import Point
from andasim.explore.worker import METRICS, OPTIONAL_METRICS

POINT_COLUMNS = ("point", "design", "design_name", "workload", "phase", "seq_len",
                 "batch", "precision", "precision_bits")
TAIL_COLUMNS = ("bundled_design", "error", "hash")

COLUMN_DOCS = {
    "point": "index of the point in the sweep's full cross product (sampled sweeps skip some)",
    "design": "base design as given (bundled name or path)",
    "design_name": "the design's `name`",
    "workload": "trace or model card as given (--trace/--model)",
    "precision": "precision as given (profile name, default, one uniform M, a list or a file)",
    "precision_bits": "M_qkv,M_o,M_up,M_down used; empty for designs that store FP16 activations",
    "cycles": "clock cycles", "latency_s": "seconds", "throughput_gops": "1e9 ops/s (1 MAC = 2 ops)",
    "energy_j": "joules, DRAM included", "energy_on_chip_j": "joules without DRAM",
    "energy_per_token_j": "joules per token, DRAM included", "area_mm2": "mm2 of the design's components",
    "energy_efficiency_tops_per_w": "1e12 ops/J with DRAM", "area_efficiency_gops_per_mm2": "GOPS/mm2",
    "utilization": "MACs over the design's peak MAC rate at the GeMMs' widths",
    "roofline_cycles": "the engine's roofline bound (when the engine reports one)",
    "pareto": "on the front of the --pareto objectives", "bundled_design": "bundled design equal to this "
    "point's design (marked in figures)", "error": "why the point failed (empty when it ran)",
    "hash": "content hash of design, workload, profile and engine version",
}


def build_rows(points: Sequence[Point], done: dict[str, dict[str, Any]],
               swept_keys: Sequence[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) from the points and their journal records."""
    optional = [m for m in OPTIONAL_METRICS if any(m in done[p.key].get("metrics", {}) for p in points)]
    columns = [*POINT_COLUMNS, *swept_keys, *METRICS, *optional, *TAIL_COLUMNS]
    rows = []
    for p in points:
        record = done[p.key]
        metrics = record.get("metrics", {})
        row: dict[str, Any] = {
            "point": p.index, "design": p.design, "design_name": p.design_name, "workload": p.workload,
            "phase": p.phase, "seq_len": p.seq_len, "batch": p.batch,
            "precision": p.precision, "precision_bits": p.precision_bits, **dict(p.swept),
            **{m: metrics.get(m) for m in (*METRICS, *optional)},
            "bundled_design": p.bundled_design, "error": record.get("error", ""), "hash": p.key,
        }
        rows.append(row)
    return columns, rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"refusing to write a non-finite number ({value}) into results.csv")
        return repr(value)
    return str(value)


def csv_text(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def have_parquet() -> bool:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def require_pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise AndasimInputError(f"{what} needs pandas, which is not installed; {EXTRA_HINT}") from None
    return pandas


def dataframe(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Any:
    """The table as a pandas DataFrame (the `sweep` extra)."""
    pd = require_pandas("a sweep DataFrame")
    return pd.DataFrame.from_records([[r.get(c) for c in columns] for r in rows], columns=list(columns))


def write_parquet(path: Path | str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    """results.parquet, atomically (deterministic for the same rows and library versions)."""
    if not have_parquet():
        raise AndasimInputError(f"Parquet output needs pandas and pyarrow; {EXTRA_HINT}")
    buf = io.BytesIO()
    dataframe(columns, rows).to_parquet(buf, index=False)
    return write_atomic(path, buf.getvalue())
