"""Results as values: per-GeMM and per-model counters that add, scale and serialise exactly.

Every counter is additive (cycles, bits, bytes, MACs, ...), so a layer result plus a layer
result is a two-layer result and a layer result times 32 is a 32-layer result. Derived ratios
(latency, utilization) are computed from the counters, never stored and summed. The JSON form
echoes every input and is byte-identical across runs (sorted keys, no timestamps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from andasim import __version__

BUFFERS = ("act_mantissa", "act_exponent", "weight", "output")

# Every counter a result carries (flat, dotted keys). All additive.
COUNTER_KEYS: tuple[str, ...] = (
    "cycles", "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles",
    "ideal_compute_cycles",  # MACs / peak MAC rate of the design at the GeMM's M (utilization numerator)
    "macs", "bops", "pe_busy_cycles", "pe_idle_cycles",
    *(f"sram_read_bits.{b}" for b in BUFFERS), *(f"sram_write_bits.{b}" for b in BUFFERS),
    "dram_read_bytes.activation", "dram_read_bytes.weight", "dram_read_bytes.kv",
    "dram_write_bytes.activation", "dram_write_bytes.output",
    "dram_busy_cycles", "compressor_groups", "compressor_cycles", "vector_ops", "vector_cycles",
    "reduction_cycles",  # array cycles spent in cross-row adder trees (part of compute_cycles)
    "roofline_cycles",   # max(compute at full array use, compulsory DRAM traffic) per GeMM, summed
    "tiles", "blocks", "gemms",
)


def zero_counters() -> dict[str, float]:
    return dict.fromkeys(COUNTER_KEYS, 0)


def _add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: a[key] + b[key] for key in COUNTER_KEYS}


def _scale(a: dict[str, float], factor: int) -> dict[str, float]:
    return {key: a[key] * factor for key in COUNTER_KEYS}


class _TimedCounters:
    """Figures derived from `counters` and `freq_mhz`, shared by per-GeMM and per-model results."""

    counters: dict[str, float]
    freq_mhz: float

    @property
    def cycles(self) -> int:
        return int(self.counters["cycles"])

    @property
    def latency_s(self) -> float:
        return self.counters["cycles"] / (self.freq_mhz * 1e6)

    @property
    def utilization(self) -> float:
        """MACs over the design's peak MAC rate at the GeMMs' mantissa widths, per cycle."""
        cycles = self.counters["cycles"]
        return self.counters["ideal_compute_cycles"] / cycles if cycles else 0.0


@dataclass(frozen=True)
class GemmResult(_TimedCounters):
    """One GeMM (all `count` repetitions) on one design: counters plus what the mapper chose."""

    counters: dict[str, float]
    mapping: dict[str, Any]
    job: dict[str, Any]
    freq_mhz: float

    @property
    def dram_bytes(self) -> float:
        return sum(v for k, v in self.counters.items() if k.startswith("dram_") and k.endswith(
            ("activation", "weight", "kv", "output")))


class Summary(dict):
    """The headline figures as a dict; `str()` of it is the human-readable summary with scaled units."""

    text: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass(repr=False)
class Result(_TimedCounters):
    """A model (or any list of GeMMs) on one design: per-entry rows, totals and the inputs.

    `hw` is the design it ran on (set by `simulate`; not serialised): with it, `energy` and `area`
    price the run with the design's cost table.
    """

    inputs: dict[str, Any]
    freq_mhz: float
    entries: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=zero_counters)
    hw: Any = field(default=None, compare=False)

    # --- energy and area -----------------------------------------------------------------------

    @property
    def tokens(self) -> int:
        """Tokens the run produces: the whole prompt in prefill, one per sequence in decode."""
        inp = self.inputs
        batch = int(inp.get("batch", 1))
        return int(inp.get("seq_len", 1)) * batch if inp.get("phase", "prefill") == "prefill" else batch

    def _design(self) -> Any:
        if self.hw is None:
            raise ValueError("this Result carries no design (it was loaded from JSON or built by hand): "
                             "use andasim.hw.energy.estimate_energy(hw, result, tokens=result.tokens)")
        return self.hw

    @property
    def energy(self) -> Any:
        """The run's `EnergyReport` (J per component and operand, power, efficiency, area)."""
        from andasim.hw.energy import estimate_energy

        return estimate_energy(self._design(), self, tokens=self.tokens)

    @property
    def area(self) -> Any:
        """The design's `AreaReport` (mm² per component)."""
        from andasim.hw.energy import estimate_area

        return estimate_area(self._design())

    def __repr__(self) -> str:
        inp = self.inputs
        workload = inp.get("workload") or {}
        name = workload.get("trace_id") or workload.get("model") or "GeMM list"
        hw = (inp.get("hw") or {}).get("name", "?")
        return (f"Result({hw} on {name}, {inp.get('phase', '?')} seq_len={inp.get('seq_len')} "
                f"batch={inp.get('batch')}: {self.cycles} cycles, {self.latency_s:.4g} s, "
                f"{len(self.entries)} entries)")

    # --- derived figures -------------------------------------------------------------------

    def summary(self) -> Summary:
        """Headline figures derived from the counters; `print(result.summary())` shows them as text."""
        c = self.counters
        dram_read = c["dram_read_bytes.activation"] + c["dram_read_bytes.weight"] + c["dram_read_bytes.kv"]
        dram_write = c["dram_write_bytes.activation"] + c["dram_write_bytes.output"]
        cycles = c["cycles"]
        figures = Summary({
            "cycles": int(cycles),
            "latency_s": self.latency_s,
            "utilization": self.utilization,
            "macs": int(c["macs"]),
            "bops": int(c["bops"]),
            "dram_read_bytes": dram_read,
            "dram_write_bytes": dram_write,
            "stall_dram_share": c["stall_dram_cycles"] / cycles if cycles else 0.0,
            "stall_compressor_share": c["stall_compressor_cycles"] / cycles if cycles else 0.0,
            "macs_per_cycle": c["macs"] / cycles if cycles else 0.0,
            "roofline_cycles": c["roofline_cycles"],
            "cycles_over_roofline": cycles / c["roofline_cycles"] if c["roofline_cycles"] else 0.0,
        })
        figures.text = self._summary_text(figures)
        return figures

    def _summary_text(self, s: dict[str, Any]) -> str:
        from andasim.units import data_size, duration, scaled

        inp = self.inputs
        lines = [repr(self),
                 f"latency {duration(s['latency_s'])}, utilization {s['utilization']:.1%} of the peak MAC "
                 f"rate at each GeMM's mantissa width, {scaled(s['macs'], 'MAC')}",
                 f"DRAM read {data_size(s['dram_read_bytes'])}, write {data_size(s['dram_write_bytes'])}; "
                 f"stalls: DRAM {s['stall_dram_share']:.1%}, compressor {s['stall_compressor_share']:.1%} "
                 "of cycles"]
        if self.hw is not None:
            e = self.energy
            lines.append(f"energy {scaled(e.total_j, 'J')} incl. DRAM ({scaled(e.on_chip_j, 'J')} on chip), "
                         f"area {e.area.total_mm2:.4g} mm2 (cost table {e.cost_table})")
        precision = inp.get("precision")
        if precision:
            lines.append(f"precision {precision['name']} {list(precision['mantissa_bits'].values())}")
        return "\n".join(lines)

    # --- algebra -----------------------------------------------------------------------------

    def __add__(self, other: Result) -> Result:
        if not isinstance(other, Result):
            return NotImplemented
        if self.freq_mhz != other.freq_mhz:
            raise ValueError("cannot add results at different clock frequencies")
        inputs = self.inputs if self.inputs == other.inputs else {"sum_of": [self.inputs, other.inputs]}
        return Result(inputs=inputs, freq_mhz=self.freq_mhz, entries=[*self.entries, *other.entries],
                      counters=_add(self.counters, other.counters),
                      hw=self.hw if self.hw == other.hw else None)

    def __mul__(self, factor: int) -> Result:
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 0:
            raise TypeError(f"a Result scales by a non-negative int, got {factor!r}")
        entries = [{**e, "repeat": e.get("repeat", 1) * factor} for e in self.entries]
        return Result(inputs=self.inputs, freq_mhz=self.freq_mhz, entries=entries,
                      counters=_scale(self.counters, factor), hw=self.hw)

    __rmul__ = __mul__

    # --- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "andasim_version": __version__,
            "inputs": self.inputs,
            "freq_mhz": self.freq_mhz,
            "totals": {"counters": dict(self.counters), **self.summary()},
            "entries": self.entries,
            "units": {"cycles": "clock cycles", "latency_s": "seconds", "bits": "bits", "bytes": "bytes",
                      "utilization": "MACs / (cycles x peak MACs per cycle at the GeMM's M)"},
        }

    def to_json(self) -> str:
        """Deterministic JSON: sorted keys, fixed indentation, no timestamps."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        counters = {key: data["totals"]["counters"][key] for key in COUNTER_KEYS}
        return cls(inputs=data["inputs"], freq_mhz=data["freq_mhz"], entries=list(data["entries"]),
                   counters=counters)


def entry_from_gemm(gemm_info: dict[str, Any], res: GemmResult) -> dict[str, Any]:
    """One per-GeMM row of a model result: the GeMM, what the mapper chose, and its counters."""
    return {**gemm_info, "repeat": 1, "mapping": dict(res.mapping), "counters": dict(res.counters),
            "latency_s": res.latency_s, "utilization": res.utilization}
