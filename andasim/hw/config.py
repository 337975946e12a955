"""Hardware configuration: schema, strict loader and the typed, immutable `HardwareConfig`.

One YAML file describes one accelerator design. Every key carries its unit in its name, the
file states a `schema_version`, and anything the schema does not know is refused with the file,
the line and the key. Bundled designs live in the repository's `hw_configs/` folder, which is
installed as the package `andasim.bundled_hw_configs`.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from andasim.bundled import bundled_dir
from andasim.errors import ConfigError
from andasim.hw.dataflow_config import DEFAULT as DEFAULT_DATAFLOW
from andasim.hw.dataflow_config import SCHEMA as DATAFLOW_SCHEMA
from andasim.hw.dataflow_config import DataflowConfig, parse_dataflow
from andasim.hw.scalesim_cfg import looks_like_cfg, read_cfg_text, translate_cfg
from andasim.strict_yaml import Field, Schema, check_schema, load_strict_yaml
from andasim.suggest import did_you_mean

SCHEMA_VERSION = 1

# PE types the engine knows. `anda_apu` is the bit-serial Anda APU; the others are the
# baselines of the Anda paper (§4.1) read as in anda.md §6.2b.
PE_TYPES = ("anda_apu", "fp_fp", "fp_int", "ifpu", "figna")

# Which PE parameters each type takes: (required, optional). Anything else is refused.
_PE_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "anda_apu": ({"lanes", "extra_cycles_per_group"}, set()),
    "fp_fp": ({"lanes", "cycles_per_group"}, set()),
    "fp_int": ({"lanes", "cycles_per_group"}, set()),
    "ifpu": ({"lanes", "cycles_per_group", "compute_mantissa_bits"}, set()),
    "figna": ({"lanes", "cycles_per_group", "compute_mantissa_bits"}, set()),
}

TOPOLOGIES = ("ring", "fully_connected", "switch")


# Ranges: wide enough for any plausible accelerator, narrow enough that every cycle count, bit
# count and byte count the engine derives stays far inside int64 (a 10 GHz clock and a 1 ms DRAM
# latency are 1e7 cycles; a 1 GiB buffer is 8.6e12 bits). Power-of-two sizes are not needed:
# the engine rounds every division up and counts the idle PEs and lanes of edge tiles.
_COUNT = 1 << 16   # PEs along one side, lanes, FPUs: far above any published design


def _buffer_schema(what: str) -> Schema:
    return Schema({
        "size_kib": Field("float", min=1 / 16, max=1 << 20, unit="KiB", doc=f"{what} SRAM capacity"),
        "port_width_bits": Field("int", min=8, max=1 << 16, unit="bits/cycle",
                                 doc="bits read or written per cycle"),
    })


_PE_SCHEMA = Schema({
    "lanes": Field("int", required=False, min=1, max=4096, unit="elements",
                   doc="elements of one dot-product group handled per pass"),
    "extra_cycles_per_group": Field("int", required=False, min=0, max=64, unit="cycles",
                                    doc="Anda APU: cycles per group = M + this"),
    "cycles_per_group": Field("int", required=False, min=1, max=1024, unit="cycles",
                              doc="bit-parallel PE: cycles per group of `lanes` MACs"),
    "compute_mantissa_bits": Field("int", required=False, min=1, max=16, unit="bits",
                                   doc="mantissa bits of the pre-aligned activations (FP16 has 11 with "
                                       "the hidden one; 16 is the widest a 16-bit datapath holds)"),
})

SCHEMA = Schema({
    "schema_version": Field("int", min=1, doc=f"must be {SCHEMA_VERSION}"),
    "name": Field("str"),
    "description": Field("str"),
    "provenance": Field("str", doc="where the numbers in this file come from"),
    "technology": Field("map", schema=Schema({
        "node_nm": Field("float", min=1, max=1000, unit="nm", doc="process node"),
        "voltage_v": Field("float", min=0.1, max=5, unit="V", doc="supply voltage"),
    })),
    "clock": Field("map", schema=Schema({
        "freq_mhz": Field("float", min=1, max=10_000, unit="MHz", doc="clock of the whole chip"),
    })),
    "pe_array": Field("map", schema=Schema({
        "rows": Field("int", min=1, max=4096, unit="PEs", doc="rows take activation groups (tokens)"),
        "cols": Field("int", min=1, max=4096, unit="PEs", doc="columns take weight groups (features)"),
        "pe_type": Field("enum", choices=PE_TYPES),
        "pe": Field("map", schema=_PE_SCHEMA),
    })),
    "weights": Field("map", schema=Schema({
        "bits": Field("int", min=1, max=16, unit="bits", doc="INT weight width"),
        "scale_group_size": Field("int", min=1, max=1 << 16, unit="weights",
                                  doc="weights per scale factor along K; a multiple of pe_array.pe.lanes "
                                      "(a PE pass applies one scale: model limit)"),
    })),
    "activation_group_size": Field("int", min=1, max=4096, unit="values",
                                   doc="values sharing one exponent; divides the act_mantissa port width"),
    "buffers": Field("map", schema=Schema({
        "act_mantissa": Field("map", schema=_buffer_schema("activation mantissa")),
        "act_exponent": Field("map", schema=_buffer_schema("activation exponent")),
        "weight": Field("map", schema=_buffer_schema("weight")),
        "output": Field("map", schema=_buffer_schema("output staging")),
    })),
    "dram": Field("map", schema=Schema({
        "bw_gb_per_s": Field("float", positive=True, max=100_000, unit="GB/s", doc="GB = 1e9 bytes"),
        "latency_ns": Field("float", min=0, max=1e6, unit="ns", doc="latency of one DRAM request"),
        "e_pj_per_bit": Field("float", min=0, max=1000, unit="pJ/bit", doc="DRAM access energy"),
    })),
    "compressor": Field("map", required=False, schema=Schema({
        "lanes": Field("int", min=1, max=_COUNT, unit="lanes", doc="bit-plane compressor lanes"),
        "values_per_lane": Field("int", min=1, max=4096, unit="values", doc="values one lane takes per pass"),
    })),
    "vector_unit": Field("map", schema=Schema({
        "fpus": Field("int", min=1, max=_COUNT, unit="FPUs", doc="vector unit for the non-GeMM work"),
    })),
    "interconnect": Field("map", required=False, schema=Schema({
        "topology": Field("enum", choices=TOPOLOGIES),
        "link_bw_gb_per_s": Field("float", positive=True, max=100_000, unit="GB/s",
                                  doc="per link and direction"),
        "link_latency_ns": Field("float", min=0, max=1e6, unit="ns", doc="α per collective step"),
        "links_per_chip": Field("int", min=1, max=1024, unit="links"),
        "full_duplex": Field("bool"),
    })),
    "dataflow": Field("map", required=False, schema=DATAFLOW_SCHEMA,
                      doc="dataflows the mapper may choose and its objective (docs/engine.md §3)"),
    "cost_table": Field("str", doc="bundled cost table name, or a YAML path relative to this file"),
})


@dataclass(frozen=True)
class Technology:
    node_nm: float
    voltage_v: float


@dataclass(frozen=True)
class PEParams:
    """Parameters of one processing element; which ones are set depends on the PE type."""

    lanes: int
    extra_cycles_per_group: int | None = None
    cycles_per_group: int | None = None
    compute_mantissa_bits: int | None = None


@dataclass(frozen=True)
class PEArray:
    rows: int
    cols: int
    pe_type: str
    pe: PEParams

    @property
    def num_pes(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True)
class Weights:
    bits: int
    scale_group_size: int


@dataclass(frozen=True)
class Buffer:
    size_kib: float
    port_width_bits: int

    @property
    def size_bytes(self) -> int:
        return int(self.size_kib * 1024)


@dataclass(frozen=True)
class Buffers:
    act_mantissa: Buffer
    act_exponent: Buffer
    weight: Buffer
    output: Buffer


@dataclass(frozen=True)
class Dram:
    bw_gb_per_s: float
    latency_ns: float
    e_pj_per_bit: float


@dataclass(frozen=True)
class Compressor:
    lanes: int
    values_per_lane: int


@dataclass(frozen=True)
class VectorUnit:
    fpus: int


@dataclass(frozen=True)
class Interconnect:
    topology: str
    link_bw_gb_per_s: float
    link_latency_ns: float
    links_per_chip: int
    full_duplex: bool


@dataclass(frozen=True)
class HardwareConfig:
    """A validated accelerator design. Immutable; `to_dict()` echoes it into results."""

    schema_version: int
    name: str
    description: str
    provenance: str
    technology: Technology
    freq_mhz: float
    pe_array: PEArray
    weights: Weights
    activation_group_size: int
    buffers: Buffers
    dram: Dram
    compressor: Compressor | None
    vector_unit: VectorUnit
    interconnect: Interconnect | None
    cost_table: str
    source: str
    dataflow: DataflowConfig = DEFAULT_DATAFLOW

    @property
    def activation_storage(self) -> str:
        """How activations sit in memory: Anda bit-planes for the APU, FP16 for every baseline."""
        return "anda" if self.pe_array.pe_type == "anda_apu" else "fp16"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source")
        data["dataflow"] = self.dataflow.to_dict()
        return data


def bundled_config_names() -> list[str]:
    """Names of the designs shipped in `hw_configs/`."""
    return sorted(p.name[:-5] for p in bundled_dir("hw_configs").iterdir() if p.name.endswith(".yaml"))


def _bundled_text(name: str) -> str | None:
    res = bundled_dir("hw_configs").joinpath(f"{name}.yaml")
    return res.read_text(encoding="utf-8") if res.is_file() else None


LEGACY_PREFIX = "configs/"  # the original usage named designs `configs/NAME.yaml`


def load_hw(path_or_name: str | Path) -> HardwareConfig:
    """Load a design from a YAML path, a SCALE-Sim `.cfg` or a bundled name (`anda`, `pe64`, ...).

    A `.cfg` (or a file that starts with an INI `[section]`) is translated into the equivalent
    andasim YAML by `andasim.hw.scalesim_cfg` and then checked like any YAML design.

    A path that does not exist is an error that suggests the bundled name: silently simulating
    the stock design in its place would hide a typo in a script. The one exception is the
    literal `configs/NAME.yaml` of the original usage, which resolves to the bundled design
    with a one-line notice on stderr.
    The design's cost table is loaded and checked too (it exists, is a cost table, matches the
    node and voltage, prices this PE type), so that `andasim validate` and every command that
    takes `--hw` refuse exactly the same files.
    """
    return hw_from_mapping(*load_hw_mapping(path_or_name))


def load_hw_mapping(path_or_name: str | Path) -> tuple[Any, str]:
    """(the design's raw, not yet validated mapping, its source name), read as `load_hw` reads it.

    Design-space sweeps edit this mapping by dotted key and validate the result with
    `hw_from_mapping`, so an overridden design passes exactly the checks a YAML file passes.
    """
    text_arg = str(path_or_name)
    path = Path(text_arg)
    if path.exists() and looks_like_cfg(path):  # a SCALE-Sim .cfg: translated, then the same checks
        yaml_text, _, _ = translate_cfg(read_cfg_text(path), text_arg)
        return load_strict_yaml(f"{text_arg} [as andasim YAML]", yaml_text), text_arg
    bundled = bundled_config_names()
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in text_arg or "\\" in text_arg:
        if path.exists():
            return load_strict_yaml(path), str(path)
        legacy = text_arg.startswith(LEGACY_PREFIX) and text_arg.count("/") == 1 and path.suffix == ".yaml"
        if legacy and path.stem in bundled:
            print(f"andasim: {text_arg} is the old spelling of the bundled design '{path.stem}'; "
                  f"using it (write --hw {path.stem})", file=sys.stderr)
            return load_strict_yaml(f"<bundled>/{path.stem}.yaml", _bundled_text(path.stem)), \
                f"bundled:{path.stem}"
        hint = (f" the bundled design of that name is '{path.stem}' (--hw {path.stem})"
                if path.stem in bundled else did_you_mean(path.stem, bundled))
        raise ConfigError(f"file not found;{hint or ' no bundled design has that name'}; bundled: "
                          + ", ".join(bundled), file=text_arg)
    text = _bundled_text(text_arg) if text_arg in bundled else None
    if text is None:
        raise ConfigError(f"no such file or bundled design;{did_you_mean(text_arg, bundled)} bundled: "
                          + ", ".join(bundled), file=text_arg)
    return load_strict_yaml(f"<bundled>/{text_arg}.yaml", text), f"bundled:{text_arg}"


def hw_from_mapping(data: Any, file: str) -> HardwareConfig:
    """Validate a raw design mapping (as `load_hw_mapping` returns it): the schema, then its cost
    table (it exists, is a cost table, matches the node and voltage, prices this PE type)."""
    from andasim.hw.energy import table_for  # energy imports this module

    hw = _parse(data, file)
    table_for(hw).pe_variant(hw)
    return hw


def _parse(data: Any, file: str) -> HardwareConfig:
    check_schema(data, SCHEMA, file=file)
    lines = data.key_lines
    if data["schema_version"] != SCHEMA_VERSION:
        raise ConfigError(f"unsupported version {data['schema_version']}; this andasim reads "
                          f"{SCHEMA_VERSION}", file=file, line=lines["schema_version"], key="schema_version")
    arr = data["pe_array"]
    pe_type = arr["pe_type"]
    required, optional = _PE_PARAMS[pe_type]
    pe_data = arr["pe"]
    for key in pe_data:
        if key not in required | optional:
            raise ConfigError(f"not a parameter of pe_type '{pe_type}'; valid: {', '.join(sorted(required))}",
                              file=file, line=pe_data.key_lines[key], key=f"pe_array.pe.{key}")
    for key in sorted(required):
        if key not in pe_data:
            raise ConfigError(f"pe_type '{pe_type}' requires it", file=file,
                              line=arr.key_lines["pe"], key=f"pe_array.pe.{key}")
    gs = data["activation_group_size"]
    port = data["buffers"]["act_mantissa"]["port_width_bits"]
    if port % gs:
        raise ConfigError(f"{gs} does not divide buffers.act_mantissa.port_width_bits = {port}; "
                          "use a divisor of the port width", file=file,
                          line=lines["activation_group_size"], key="activation_group_size")
    lanes, sg = pe_data["lanes"], data["weights"]["scale_group_size"]
    if sg % lanes:
        raise ConfigError(f"{sg} is not a multiple of pe_array.pe.lanes = {lanes}: a PE pass applies one "
                          "weight scale", file=file, line=data["weights"].key_lines["scale_group_size"],
                          key="weights.scale_group_size")
    rows, cols = arr["rows"], arr["cols"]
    out = data["buffers"]["output"]
    if out["size_kib"] * 1024 < 2 * rows * cols * 2:
        raise ConfigError(f"{out['size_kib']:g} KiB cannot stage two {rows}x{cols} FP16 output tiles "
                          f"({2 * rows * cols * 2 / 1024:g} KiB needed)", file=file,
                          line=out.key_lines["size_kib"], key="buffers.output.size_kib")
    cpg = pe_data.get("cycles_per_group")
    if "systolic" in (data.get("dataflow") or {}) and cpg != lanes:
        raise ConfigError("the systolic dataflow times PEs of one MAC per cycle, as SCALE-Sim's: "
                          f"cycles_per_group must equal lanes ({lanes}), got {cpg}",
                          file=file, line=pe_data.key_lines.get("cycles_per_group", arr.key_lines["pe"]),
                          key="pe_array.pe.cycles_per_group")
    if pe_type == "anda_apu" and "compressor" not in data:
        raise ConfigError("pe_type 'anda_apu' needs the runtime bit-plane compressor section",
                          file=file, line=data.start_line, key="compressor")
    if pe_data["lanes"] != gs and pe_type == "anda_apu":
        raise ConfigError(f"an Anda APU reduces one activation group per pass: lanes must equal "
                          f"activation_group_size ({gs}), got {pe_data['lanes']}", file=file,
                          line=pe_data.key_lines["lanes"], key="pe_array.pe.lanes")
    buf = data["buffers"]
    return HardwareConfig(
        schema_version=data["schema_version"],
        name=data["name"],
        description=data["description"],
        provenance=data["provenance"],
        technology=Technology(**data["technology"]),
        freq_mhz=float(data["clock"]["freq_mhz"]),
        pe_array=PEArray(rows=arr["rows"], cols=arr["cols"], pe_type=pe_type, pe=PEParams(**pe_data)),
        weights=Weights(**data["weights"]),
        activation_group_size=gs,
        buffers=Buffers(**{k: Buffer(**v) for k, v in buf.items()}),
        dram=Dram(**data["dram"]),
        compressor=Compressor(**data["compressor"]) if data.get("compressor") else None,
        vector_unit=VectorUnit(**data["vector_unit"]),
        interconnect=Interconnect(**data["interconnect"]) if data.get("interconnect") else None,
        cost_table=data["cost_table"],
        source=file,
        dataflow=parse_dataflow(data.get("dataflow"), file=file, line=lines.get("dataflow"), rows=arr["rows"],
                                cols=arr["cols"], lanes=pe_data["lanes"]),
    )
