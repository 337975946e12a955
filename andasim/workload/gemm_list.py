"""A workload given as an explicit list of GeMMs, read from a CSV file (shape-only).

Columns (header row required, names case-insensitive): `name`, `M`, `K`, `N`, `module`, and
optionally `layer` (default: the row index) and `count` (default 1). `module` is one of the
simulator's module types (qkv, o, up, down, qk, pv, lm_head): it decides which mantissa width of
a precision profile applies. The shapes are taken as given, so --phase/--seq-len/--batch do not
change them. Every row is checked; a bad one is refused with the file, the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from andasim.errors import ConfigError
from andasim.safe_read import MIB, read_text_file
from andasim.workload.gemm import MODULE_TYPES, GeMM

REQUIRED_COLUMNS = ("name", "m", "k", "n", "module")
OPTIONAL_COLUMNS = ("layer", "count")
MAX_BYTES = 16 * MIB  # a GeMM list of a whole model is a few hundred rows


@dataclass(frozen=True)
class GemmListWorkload:
    """Explicit GeMMs with a name and where they come from; iterating yields the GeMMs."""

    name: str
    gemms: tuple[GeMM, ...]
    source: str
    label: str = "shape-only: explicit GeMM list (no activations, no precision profiles)"
    profiles: dict = field(default_factory=dict)
    default_profile: None = None
    shape_only: bool = True
    card: None = None

    @property
    def trace_id(self) -> str:
        return self.name

    def __iter__(self) -> Iterator[GeMM]:
        return iter(self.gemms)

    def __len__(self) -> int:
        return len(self.gemms)


def _int_cell(row: dict[str, str], column: str, file: str, line: int) -> int:
    text = (row.get(column) or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"column '{column}': expected a positive integer, got {text!r}",
                          file=file, line=line) from None
    low = 0 if column == "layer" else 1
    if value < low:
        raise ConfigError(f"column '{column}': must be >= {low}, got {value}", file=file, line=line)
    return value


def load_gemm_list(path: Path | str) -> GemmListWorkload:
    """Read a GeMM-list CSV into a shape-only workload."""
    file = str(path)
    text = read_text_file(path, max_bytes=MAX_BYTES, what="GeMM-list CSV")
    reader = csv.DictReader(text.splitlines())
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"GeMM-list CSV needs the columns {', '.join(REQUIRED_COLUMNS)} "
                          f"(optional {', '.join(OPTIONAL_COLUMNS)}); missing '{missing[0]}'",
                          file=file, line=1)
    unknown = [c for c in header if c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown or len(set(header)) != len(header):
        what = f"unknown column '{unknown[0]}'" if unknown else "duplicate column"
        raise ConfigError(f"{what}; valid: {', '.join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))}",
                          file=file, line=1)
    reader.fieldnames = header
    gemms = []
    for index, row in enumerate(reader):
        line = index + 2
        if None in row or any(v is None for v in row.values()):
            raise ConfigError(f"expected {len(header)} cells", file=file, line=line)
        module = row["module"].strip()
        if module not in MODULE_TYPES:
            raise ConfigError(f"column 'module': {module!r}; valid: {', '.join(MODULE_TYPES)}",
                              file=file, line=line)
        name = row["name"].strip() or f"row{index}"
        m, k, n = (_int_cell(row, c, file, line) for c in ("m", "k", "n"))
        layer = _int_cell(row, "layer", file, line) if row.get("layer", "").strip() else index
        count = _int_cell(row, "count", file, line) if row.get("count", "").strip() else 1
        operand = "activation" if module in ("qk", "pv") else "int4"
        gemms.append(GeMM(name=name, module=module, layer=layer, m=m, k=k, n=n, count=count,
                          weight_operand=operand))
    if not gemms:
        raise ConfigError("no GeMM rows", file=file)
    return GemmListWorkload(name=Path(path).stem, gemms=tuple(gemms), source=f"GeMM-list CSV {file}")
