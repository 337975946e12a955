"""Energy and area of a simulated run: activity counts x per-action costs, plus leakage x time.

The per-action costs live in cost tables (`andasim/hw/cost_tables/<name>.yaml`, named by the
hardware config's `cost_table`), each entry with its value and where it comes from. The tables
are derived from the Anda paper's Table III and Fig. 15 by `scripts/derive_energy_tables.py`;
docs/energy_model.md explains every constant. This module only multiplies: it takes any result
object with the engine's flat additive `counters` (this layer does not import the engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from andasim.errors import ConfigError
from andasim.hw.config import HardwareConfig
from andasim.safe_read import InputFileError, short
from andasim.strict_yaml import Field, Schema, check_schema, load_strict_yaml

TABLE_SCHEMA_VERSION = 1

# SRAM buffers of a design and the cost class (table section) each one is charged at. The output
# staging buffer is an andasim assumption (not in Table III); it is charged at the activation
# buffer's per-bit energy and density.
BUFFER_CLASS = {"act_mantissa": "activation", "act_exponent": "activation", "weight": "weight",
                "output": "activation"}
# Fig. 15 of the Anda paper compares PEs at equal throughput, that of the FP-FP PE: one 64-lane
# group in 16 cycles (the bundled fp_fp `cycles_per_group`). A baseline PE that takes x cycles per
# group does 16/x times that work per cycle, so its area, leakage and energy per busy cycle are the
# Fig. 15 (iso-throughput) values times 16/x; the energy per MAC stays the Fig. 15 one, not credited
# twice (docs/energy_model.md §3; the 16/x FIGNA-Mx reading of anda.md §6.2b).
FIG15_CYCLES_PER_GROUP = 16
# DRAM traffic counters per operand (engine contract): (direction, operand).
DRAM_TRAFFIC = (("read", "activation"), ("read", "weight"), ("read", "kv"),
                ("write", "activation"), ("write", "output"))
# Components grouped as the energy-breakdown figures show them.
CATEGORIES = {
    "compute": ("pe_array", "compressor", "vector_unit", "others"),
    "sram": ("act_mantissa_buffer", "act_exponent_buffer", "weight_buffer", "output_buffer"),
    "dram": ("dram",),
}


class HasCounters(Protocol):
    """What `estimate_energy` needs from an engine result."""

    counters: Mapping[str, float]


# --- cost tables ------------------------------------------------------------------------------

def _cost(doc: str) -> Field:
    return Field("map", doc=doc, schema=Schema({
        "value": Field("float", min=0, max=1e6, doc="mm², pJ or mW as the key names"),
        "source": Field("str", doc="where the value comes from"),
    }))


def _pe_schema() -> Schema:
    return Schema({
        "pe_type": Field("str"),
        "compute_mantissa_bits": Field("int", required=False, min=1, max=16, unit="bits"),
        "area_mm2_per_pe_lane": _cost("PE area per lane (one element of a dot-product group)"),
        "e_pj_per_busy_pe_lane_cycle": _cost("dynamic energy of one lane in one busy PE cycle"),
        "leak_mw_per_pe_lane": _cost("leakage power per lane"),
    })


def _sram_schema() -> Schema:
    return Schema({
        "area_mm2_per_kib": _cost("SRAM area per KiB"),
        "e_pj_per_bit": _cost("energy per bit read or written"),
        "leak_mw_per_kib": _cost("leakage power per KiB"),
    })


_PE_VARIANTS = ("anda_apu", "fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8")

TABLE_SCHEMA = Schema({
    "schema_version": Field("int", min=1, doc=f"must be {TABLE_SCHEMA_VERSION}"),
    "name": Field("str"),
    "description": Field("str"),
    "generated_by": Field("str"),
    "source": Field("str"),
    "technology": Field("map", schema=Schema({
        "node_nm": Field("float", min=1, max=1000, unit="nm"),
        "voltage_v": Field("float", min=0.1, max=5, unit="V"),
    })),
    "clock": Field("map", schema=Schema({"freq_mhz": Field("float", min=1, max=10_000, unit="MHz")})),
    "calibration": Field("map", schema=Schema({
        "scenario": Field("str"),
        "cycles": Field("float", positive=True, max=1e18, unit="cycles"),
        **{k: Field("float", min=0, max=1e18, unit=unit) for k, unit in (
            ("pe_busy_cycles", "cycles"), ("compressor_cycles", "cycles"), ("vector_ops", "ops"),
            ("act_buffer_bits", "bits"), ("weight_buffer_bits", "bits"))},
        "leakage_fraction_logic": Field("float", min=0, max=1, doc="share of logic power that is leakage"),
        "leakage_fraction_sram": Field("float", min=0, max=1, doc="share of SRAM power that is leakage"),
    })),
    "pe": Field("map", schema=Schema({v: Field("map", required=False, schema=_pe_schema())
                                      for v in _PE_VARIANTS})),
    "compressor": Field("map", required=False, schema=Schema({
        "area_mm2_per_lane": _cost("BPC area per lane"),
        "e_pj_per_busy_cycle": _cost("dynamic energy per busy BPC cycle"),
        "leak_mw_per_lane": _cost("leakage power per BPC lane"),
    })),
    "vector_unit": Field("map", schema=Schema({
        "area_mm2_per_fpu": _cost("vector-unit area per FPU"),
        "e_pj_per_op": _cost("dynamic energy per vector-unit operation"),
        "leak_mw_per_fpu": _cost("leakage power per FPU"),
    })),
    "sram": Field("map", schema=Schema({
        "activation": Field("map", schema=_sram_schema()),
        "weight": Field("map", schema=_sram_schema()),
    })),
    "others": Field("map", schema=Schema({
        "area_mm2": _cost("top controller area"),
        "power_mw": _cost("top controller power, charged every second"),
    })),
})


@dataclass(frozen=True)
class CostTable:
    """A validated cost table; `value(path)` reads one constant, `source(path)` its provenance."""

    name: str
    node_nm: float
    voltage_v: float
    freq_mhz: float
    source: str
    data: Mapping[str, Any] = field(repr=False)
    file: str = ""

    def _leaf(self, path: str) -> Mapping[str, Any]:
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ConfigError(f"cost table has no entry '{path}'", file=self.file, key=path)
            node = node[part]
        return node

    def value(self, path: str) -> float:
        return float(self._leaf(path)["value"])

    def source_of(self, path: str) -> str:
        return str(self._leaf(path)["source"])

    def pe_variant(self, hw: HardwareConfig) -> str:
        """The PE entry matching the design's PE type (and mantissa width, for FIGNA variants)."""
        arr = hw.pe_array
        for name, entry in sorted(self.data["pe"].items()):
            if entry["pe_type"] != arr.pe_type:
                continue
            mbits = entry.get("compute_mantissa_bits")
            if mbits is None or mbits == arr.pe.compute_mantissa_bits:
                return name
        have = ", ".join(f"{n} ({e['pe_type']}, m={e.get('compute_mantissa_bits', '-')})"
                         for n, e in sorted(self.data["pe"].items()))
        raise ConfigError(f"cost table '{self.name}' has no PE entry for pe_type '{arr.pe_type}' with "
                          f"compute_mantissa_bits={arr.pe.compute_mantissa_bits}; it has: {have}",
                          file=hw.source, key="cost_table")


def cost_table_names() -> list[str]:
    """Names of the bundled cost tables."""
    folder = resources.files("andasim.hw.cost_tables")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_cost_table(name_or_path: str | Path, *, relative_to: Path | None = None) -> CostTable:
    """Load a bundled table by name (`anda_16nm`) or a `.yaml` file, strictly.

    A relative path is taken relative to `relative_to` (the folder of the design that names the
    table), so a design validates the same wherever it is run from.
    """
    text_arg = str(name_or_path)
    if "/" in text_arg or "\\" in text_arg or text_arg.endswith((".yaml", ".yml")):
        if not text_arg.endswith((".yaml", ".yml")):
            raise ConfigError(f"a cost table file must be a .yaml file; got {short(text_arg, 60)}",
                              key="cost_table")
        path = Path(text_arg)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return _parse_table(load_strict_yaml(path), str(path))
    return _load_bundled(text_arg)


@lru_cache(maxsize=16)
def _load_bundled(name: str) -> CostTable:
    res = resources.files("andasim.hw.cost_tables").joinpath(f"{name}.yaml")
    if not res.is_file():
        raise ConfigError(f"no bundled cost table {short(name, 40)}; bundled: "
                          f"{', '.join(cost_table_names())}; or give a .yaml path", key="cost_table")
    label = f"<bundled>/cost_tables/{name}.yaml"
    return _parse_table(load_strict_yaml(label, res.read_text(encoding="utf-8")), label)


def _parse_table(data: Any, file: str) -> CostTable:
    check_schema(data, TABLE_SCHEMA, file=file)
    if data["schema_version"] != TABLE_SCHEMA_VERSION:
        raise ConfigError(f"unsupported version {data['schema_version']}; this andasim reads "
                          f"{TABLE_SCHEMA_VERSION}", file=file, key="schema_version")
    if not data["pe"]:
        raise ConfigError("a cost table needs at least one PE entry", file=file, key="pe")
    return CostTable(name=data["name"], node_nm=float(data["technology"]["node_nm"]),
                     voltage_v=float(data["technology"]["voltage_v"]),
                     freq_mhz=float(data["clock"]["freq_mhz"]), source=data["source"], data=data, file=file)


def table_for(hw: HardwareConfig) -> CostTable:
    """The design's cost table, refused when its node or voltage differ from the design's.

    Per-action energies do not depend on the clock to first order, so another clock is allowed;
    node and voltage change every constant, and no scaling rule is modelled.
    """
    folder = None if hw.source.startswith("bundled:") else Path(hw.source).resolve().parent
    try:
        table = load_cost_table(hw.cost_table, relative_to=folder)
    except ConfigError as exc:
        if exc.file is not None:  # a problem inside the table file: the table names itself
            raise
        raise ConfigError(exc.detail, file=hw.source, key="cost_table") from None
    except InputFileError as exc:  # missing, not a regular file, too large
        raise ConfigError(f"cost table {exc}", file=hw.source, key="cost_table") from None
    if (table.node_nm, table.voltage_v) != (hw.technology.node_nm, hw.technology.voltage_v):
        raise ConfigError(f"cost table '{table.name}' is for {table.node_nm:g} nm / {table.voltage_v:g} V "
                          f"but the design is {hw.technology.node_nm:g} nm / {hw.technology.voltage_v:g} V; "
                          "use a table of the same node and voltage", file=hw.source, key="cost_table")
    if hw.compressor is not None and "compressor" not in table.data:
        raise ConfigError(f"the design has a compressor but cost table '{table.name}' has no compressor "
                          "section", file=hw.source, key="cost_table")
    return table


# --- area -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AreaReport:
    """Area per component in mm² (components of the design only) and their sum."""

    cost_table: str
    components_mm2: dict[str, float]

    @property
    def total_mm2(self) -> float:
        return sum(self.components_mm2.values())

    def to_dict(self) -> dict[str, Any]:
        return {"cost_table": self.cost_table, "components_mm2": dict(sorted(self.components_mm2.items())),
                "total_mm2": self.total_mm2}


def throughput_scale(hw: HardwareConfig) -> float:
    """Work per cycle of the design's PE relative to the Fig. 15 iso-throughput PE (1 for the Anda APU)."""
    cps = hw.pe_array.pe.cycles_per_group
    return 1.0 if hw.pe_array.pe_type == "anda_apu" or cps is None else FIG15_CYCLES_PER_GROUP / cps


def estimate_area(hw: HardwareConfig, table: CostTable | None = None) -> AreaReport:
    table = table or table_for(hw)
    pe = f"pe.{table.pe_variant(hw)}"
    arr = hw.pe_array
    comp = {"pe_array": table.value(f"{pe}.area_mm2_per_pe_lane") * arr.num_pes * arr.pe.lanes
            * throughput_scale(hw)}
    if hw.compressor is not None:
        comp["compressor"] = table.value("compressor.area_mm2_per_lane") * hw.compressor.lanes
    comp["vector_unit"] = table.value("vector_unit.area_mm2_per_fpu") * hw.vector_unit.fpus
    for buf, cls in BUFFER_CLASS.items():
        size_kib = getattr(hw.buffers, buf).size_kib
        comp[f"{buf}_buffer"] = table.value(f"sram.{cls}.area_mm2_per_kib") * size_kib
    comp["others"] = table.value("others.area_mm2")
    return AreaReport(cost_table=table.name, components_mm2=comp)


# --- energy -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnergyReport:
    """Energy of one run by component (dynamic + leakage) and by operand, with the derived metrics.

    Units are in the names: joules, seconds, mW, mm². `per_operand_j` splits the dynamic SRAM and
    DRAM energy by the operand moved; leakage cannot be attributed to an operand.
    """

    cost_table: str
    latency_s: float
    dynamic_j: dict[str, float]
    leakage_j: dict[str, float]
    per_operand_j: dict[str, float]
    area: AreaReport
    macs: float
    tokens: int

    def component_j(self, name: str) -> float:
        return self.dynamic_j.get(name, 0.0) + self.leakage_j.get(name, 0.0)

    @property
    def components_j(self) -> dict[str, float]:
        return {n: self.component_j(n) for n in sorted(set(self.dynamic_j) | set(self.leakage_j))}

    @property
    def categories_j(self) -> dict[str, float]:
        return {cat: sum(self.component_j(n) for n in names) for cat, names in CATEGORIES.items()}

    @property
    def total_j(self) -> float:
        return sum(self.components_j.values())

    @property
    def on_chip_j(self) -> float:
        return self.total_j - self.component_j("dram")

    def metrics(self) -> dict[str, float]:
        """Average power, energy per token, area and energy efficiency (ops = 2 per MAC)."""
        ops = 2.0 * self.macs
        t, area = self.latency_s, self.area.total_mm2
        return {
            "avg_power_on_chip_mw": self.on_chip_j / t * 1e3,
            "avg_power_with_dram_mw": self.total_j / t * 1e3,
            "energy_per_token_j": self.total_j / self.tokens,
            "throughput_gops": ops / t / 1e9,
            "tokens_per_s": self.tokens / t,
            "area_efficiency_gops_per_mm2": ops / t / 1e9 / area,
            "area_efficiency_tokens_per_s_per_mm2": self.tokens / t / area,
            "energy_efficiency_tops_per_w": ops / self.total_j / 1e12,
            "energy_efficiency_on_chip_tops_per_w": ops / self.on_chip_j / 1e12,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_table": self.cost_table,
            "latency_s": self.latency_s,
            "macs": self.macs,
            "tokens": self.tokens,
            "energy_j": {"total": self.total_j, "on_chip": self.on_chip_j,
                         "by_category": self.categories_j, "by_component": self.components_j,
                         "dynamic_by_component": dict(sorted(self.dynamic_j.items())),
                         "leakage_by_component": dict(sorted(self.leakage_j.items())),
                         "by_operand": dict(sorted(self.per_operand_j.items()))},
            "area": self.area.to_dict(),
            "metrics": self.metrics(),
            "notes": "ops = 2 x MACs; energy efficiency and energy per token include DRAM unless named "
                     "on_chip; dynamic SRAM/DRAM energy is split by operand, leakage is not",
        }


def estimate_energy(hw: HardwareConfig, result: HasCounters, *, tokens: int,
                    table: CostTable | None = None) -> EnergyReport:
    """Energy of a simulated run of `hw` from its counters (engine contract, flat dotted keys)."""
    return energy_from_counters(hw, result.counters, tokens=tokens, table=table)


def energy_from_counters(hw: HardwareConfig, counters: Mapping[str, float], *, tokens: int,
                         table: CostTable | None = None) -> EnergyReport:
    table = table or table_for(hw)
    if tokens <= 0:
        raise ValueError(f"tokens must be positive, got {tokens}")
    c = counters
    seconds = c["cycles"] / (hw.freq_mhz * 1e6)
    if seconds <= 0:
        raise ValueError("a run with zero cycles has no energy to report")
    pj = 1e-12
    arr = hw.pe_array
    pe = f"pe.{table.pe_variant(hw)}"
    dyn: dict[str, float] = {}
    leak: dict[str, float] = {}

    def leakage(power_mw: float) -> float:
        return power_mw * 1e-3 * seconds

    scale = throughput_scale(hw)
    e_lane = table.value(f"{pe}.e_pj_per_busy_pe_lane_cycle") * scale
    dyn["pe_array"] = c["pe_busy_cycles"] * arr.pe.lanes * e_lane * pj
    leak["pe_array"] = leakage(table.value(f"{pe}.leak_mw_per_pe_lane") * arr.num_pes * arr.pe.lanes * scale)
    if hw.compressor is not None:
        dyn["compressor"] = c["compressor_cycles"] * table.value("compressor.e_pj_per_busy_cycle") * pj
        leak["compressor"] = leakage(table.value("compressor.leak_mw_per_lane") * hw.compressor.lanes)
    elif c.get("compressor_cycles", 0):
        raise ValueError("counters show compressor activity but the design has no compressor")
    dyn["vector_unit"] = c["vector_ops"] * table.value("vector_unit.e_pj_per_op") * pj
    leak["vector_unit"] = leakage(table.value("vector_unit.leak_mw_per_fpu") * hw.vector_unit.fpus)
    per_operand: dict[str, float] = {}
    for buf, cls in BUFFER_CLASS.items():
        e_bit = table.value(f"sram.{cls}.e_pj_per_bit") * pj
        bits = c[f"sram_read_bits.{buf}"] + c[f"sram_write_bits.{buf}"]
        per_operand[f"sram.{buf}"] = bits * e_bit
        dyn[f"{buf}_buffer"] = bits * e_bit
        leak[f"{buf}_buffer"] = leakage(table.value(f"sram.{cls}.leak_mw_per_kib")
                                        * getattr(hw.buffers, buf).size_kib)
    leak["others"] = leakage(table.value("others.power_mw"))
    e_dram_bit = hw.dram.e_pj_per_bit * pj
    dram = 0.0
    for direction, operand in DRAM_TRAFFIC:
        e = c[f"dram_{direction}_bytes.{operand}"] * 8 * e_dram_bit
        key = f"dram.{operand}"
        per_operand[key] = per_operand.get(key, 0.0) + e
        dram += e
    dyn["dram"] = dram
    return EnergyReport(cost_table=table.name, latency_s=seconds, dynamic_j=dyn, leakage_j=leak,
                        per_operand_j=per_operand, area=estimate_area(hw, table), macs=float(c["macs"]),
                        tokens=int(tokens))
