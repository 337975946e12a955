"""The `dataflow` section of a hardware config: which dataflows a design supports, their parameters,
and the mapper's objective.

    dataflow:
      objective: min_cycles            # or min_dram
      tie_fraction: 0.01               # min_cycles: within 1% of the fewest cycles counts as a tie
      output_stationary: {}
      gemv_k_split: {max_k_ways: 16, reduction_cycles_per_level: 1}
      weight_stationary: {reduction_cycles_per_level: 1}
      gpu_tiled: {tile_m_tokens: 128, tile_n_features: 128, tile_k_elements: 64}
      systolic: {stationary: ws}       # SCALE-Sim's systolic array (a .cfg design sets it)

Every dataflow key present is one the mapper may choose per GeMM; the schedules and candidate
tilings live in `andasim.sim.dataflows.<name>` (docs/engine.md §3 gives every formula). A config
without the section supports `output_stationary` only, with the `min_cycles` objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from andasim.errors import ConfigError
from andasim.strict_yaml import Field, Schema, check_schema

OBJECTIVES = ("min_cycles", "min_dram")


# Parameters of each dataflow (units in the names). Keep in step with andasim.sim.dataflows.DATAFLOWS.
DATAFLOW_PARAMS: dict[str, Schema] = {
    "output_stationary": Schema({}),
    "gemv_k_split": Schema({
        "max_k_ways": Field("int", min=2, max=4096, unit="rows",
                            doc="most array rows one token's K is split over (1 would be output_stationary)"),
        "reduction_cycles_per_level": Field("int", min=0, max=1000, unit="cycles",
                                            doc="cycles per level of the cross-row adder tree"),
    }),
    "weight_stationary": Schema({
        "reduction_cycles_per_level": Field("int", min=0, max=1000, unit="cycles",
                                            doc="cycles per level of the column adder tree"),
    }),
    "systolic": Schema({
        "stationary": Field("enum", choices=("os", "ws", "is"),
                            doc="SCALE-Sim's Dataflow: what stays in the PEs, outputs (os), weights (ws) or "
                                "inputs (is); folds with fill and drain as SCALE-Sim 3.0 counts them"),
    }),
    "gpu_tiled": Schema({
        "tile_m_tokens": Field("int", min=1, max=65536, unit="tokens", doc="TM, a multiple of pe_array.rows"),
        "tile_n_features": Field("int", min=1, max=65536, unit="features",
                                 doc="TN, a multiple of pe_array.cols"),
        "tile_k_elements": Field("int", min=1, max=1 << 20, unit="elements",
                                 doc="TK, a multiple of pe_array.pe.lanes"),
    }),
}

DEFAULT_TIE_FRACTION = 0.01
SCHEMA = Schema({
    "objective": Field("enum", required=False, choices=OBJECTIVES,
                       doc="min_cycles (default; DRAM traffic breaks ties) or min_dram (cycles break ties)"),
    "tie_fraction": Field("float", required=False, min=0, max=0.5, unit="fraction of cycles",
                          doc=f"min_cycles: tilings within this fraction of the fewest cycles tie, and the "
                              f"least DRAM traffic among them wins (default {DEFAULT_TIE_FRACTION})"),
    **{name: Field("map", required=False, schema=schema) for name, schema in DATAFLOW_PARAMS.items()},
})


@dataclass(frozen=True)
class DataflowConfig:
    """The dataflows a design supports (name -> parameters, in schema order) and the mapper's objective."""

    objective: str
    supported: tuple[tuple[str, tuple[tuple[str, int | str], ...]], ...]
    tie_fraction: float = DEFAULT_TIE_FRACTION

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.supported)

    def params(self, name: str) -> dict[str, int | str]:
        return dict(dict(self.supported)[name])

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "tie_fraction": self.tie_fraction,
                **{name: dict(p) for name, p in self.supported}}


DEFAULT = DataflowConfig(objective="min_cycles", supported=(("output_stationary", ()),))


def parse_dataflow(data: Any, *, file: str, line: int | None, rows: int, cols: int,
                   lanes: int) -> DataflowConfig:
    """A validated `DataflowConfig` from the (already schema-checked) section, with cross-key checks."""
    if data is None:
        return DEFAULT
    names = [n for n in DATAFLOW_PARAMS if n in data]
    for name in names:
        if data[name] is None:  # `weight_stationary:` with nothing after it: its parameters are missing
            check_schema({}, DATAFLOW_PARAMS[name], file=file, prefix=f"dataflow.{name}", line=line)
    if not names:
        raise ConfigError("lists no dataflow; give at least one of " + ", ".join(DATAFLOW_PARAMS),
                          file=file, line=line, key="dataflow")
    if "gpu_tiled" in data:
        p = data["gpu_tiled"]
        lines = getattr(p, "key_lines", {})
        for key, unit, what in (("tile_m_tokens", rows, "pe_array.rows"),
                                ("tile_n_features", cols, "pe_array.cols"),
                                ("tile_k_elements", lanes, "pe_array.pe.lanes")):
            if p[key] % unit:
                raise ConfigError(f"{p[key]} is not a multiple of {what} ({unit})", file=file,
                                  line=lines.get(key), key=f"dataflow.gpu_tiled.{key}")
    supported = tuple((n, tuple(sorted((k, v if isinstance(v, str) else int(v))  # enums stay strings
                                       for k, v in (data[n] or {}).items()))) for n in names)
    tie = data.get("tie_fraction")
    return DataflowConfig(objective=data.get("objective") or "min_cycles", supported=supported,
                          tie_fraction=DEFAULT_TIE_FRACTION if tie is None else float(tie))
