"""Deterministic, atomic writers for JSON, CSV and text reports.

Same inputs give byte-identical files: keys sorted, floats as Python's shortest round-trip repr,
no timestamps, NaN/Inf refused (a report with NaN in it is a bug upstream). Each file is written
to a temporary name and renamed, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from andasim.atomic_io import write_atomic


def _clean(obj: Any) -> Any:
    """Plain JSON types: tuples to lists, numpy scalars to Python numbers, keys to strings."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"refusing to write a non-finite number ({obj}) into a report")
        return float(obj)
    if hasattr(obj, "item"):  # numpy scalar
        return _clean(obj.item())
    raise TypeError(f"cannot write {type(obj).__name__} into a JSON report")


def dumps_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(_clean(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` atomically (temp file in the same folder + os.replace)."""
    return write_atomic(path, text)


def write_json(path: Path | str, obj: Any) -> Path:
    return write_text(path, dumps_json(obj))


def format_cell(value: Any) -> str:
    """CSV cell: floats as repr (exact, locale-free), everything else as str."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"refusing to write a non-finite number ({value}) into a report")
        return repr(value)
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"CSV row has {len(row)} cells, header has {len(header)}")
        writer.writerow([format_cell(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    return write_text(path, csv_text(header, rows))
