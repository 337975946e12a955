"""Side-by-side comparison of designs: ratios to a baseline per model, and their geometric means.

A `RunSummary` is what one (design, trace, profile) simulation contributes to a comparison: its
latency, energy by category, area and per-GeMM cycles. Ratios are taken against the baseline
design on the same trace and profile:

* speedup            = latency_baseline / latency
* area efficiency    = (ops / latency / area) / same of the baseline
* energy efficiency  = (ops / energy) / same of the baseline (energy includes DRAM)
* on-chip energy efficiency: the same without the DRAM energy

The averages are geometric means over models, as for ratios.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from andasim.report.designs import design_label, model_label

METRICS = ("speedup", "area_efficiency", "energy_efficiency")
# Also computed and tabulated, not plotted: energy efficiency without the DRAM energy.
ALL_METRICS = (*METRICS, "energy_efficiency_on_chip")
METRIC_LABELS = {"speedup": "Speedup", "area_efficiency": "Area efficiency",
                 "energy_efficiency": "Energy efficiency", "energy_efficiency_on_chip": "On-chip energy eff."}


@dataclass(frozen=True)
class RunSummary:
    """The comparison-relevant figures of one simulated run (units in the names)."""

    design: str
    trace: str
    profile: str | None
    profile_bits: tuple[int, ...] | None
    cycles: float
    latency_s: float
    macs: float
    tokens: int
    energy_j: float
    on_chip_energy_j: float
    area_mm2: float
    energy_by_category_j: dict[str, float]
    energy_by_component_j: dict[str, float] = field(default_factory=dict)
    gemm_cycles: tuple[tuple[str, str, int, float], ...] = field(default=())  # name, module, layer, cycles
    trace_label: str = ""
    cost_table: str = ""

    def __post_init__(self) -> None:
        for name in ("cycles", "latency_s", "macs", "energy_j", "area_mm2"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{self.design}/{self.trace}: {name} must be positive and finite, "
                                 f"got {value}")

    @property
    def ops(self) -> float:
        return 2.0 * self.macs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gemm_cycles"] = [list(g) for g in self.gemm_cycles]
        data["profile_bits"] = list(self.profile_bits) if self.profile_bits is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        d = dict(data)
        d["gemm_cycles"] = tuple((str(a), str(b), int(c), float(e))
                                 for a, b, c, e in d.get("gemm_cycles", ()))
        bits = d.get("profile_bits")
        d["profile_bits"] = tuple(int(b) for b in bits) if bits is not None else None
        for name in ("energy_by_category_j", "energy_by_component_j"):
            d[name] = {str(k): float(v) for k, v in d.get(name, {}).items()}
        return cls(**d)


def ratio(run: RunSummary, base: RunSummary, metric: str) -> float:
    """`run` over `base` for one metric (higher is better for all three)."""
    if metric == "speedup":
        return base.latency_s / run.latency_s
    if metric == "area_efficiency":
        return (run.ops / run.latency_s / run.area_mm2) / (base.ops / base.latency_s / base.area_mm2)
    if metric == "energy_efficiency":
        return (run.ops / run.energy_j) / (base.ops / base.energy_j)
    if metric == "energy_efficiency_on_chip":
        return (run.ops / run.on_chip_energy_j) / (base.ops / base.on_chip_energy_j)
    raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(ALL_METRICS)}")


def geomean(values: Iterable[float]) -> float:
    vals = list(values)
    if not vals or any(v <= 0 for v in vals):
        raise ValueError(f"geometric mean needs positive values, got {vals}")
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


@dataclass(frozen=True)
class Comparison:
    """Ratios of each design to `baseline`, per trace, for one profile setting.

    `per_model[metric][design][trace]` and `geomean[metric][design]`.
    """

    baseline: str
    designs: tuple[str, ...]
    traces: tuple[str, ...]
    per_model: dict[str, dict[str, dict[str, float]]]
    geomean: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "designs": list(self.designs), "traces": list(self.traces),
                "per_model": self.per_model, "geomean": self.geomean}


def compare(runs: Sequence[RunSummary], designs: Sequence[str], traces: Sequence[str],
            baseline: str) -> Comparison:
    """Normalise every (design, trace) run to the baseline's run on the same trace."""
    if baseline not in designs:
        raise ValueError(f"baseline {baseline!r} is not among the designs {list(designs)}")
    index: dict[tuple[str, str], RunSummary] = {}
    for run in runs:
        key = (run.design, run.trace)
        if key in index:
            raise ValueError(f"two runs for design {run.design!r} on trace {run.trace!r}")
        index[key] = run
    missing = [f"{d}/{t}" for d in designs for t in traces if (d, t) not in index]
    if missing:
        raise ValueError(f"missing runs: {', '.join(missing)}")
    per_model: dict[str, dict[str, dict[str, float]]] = {m: {} for m in ALL_METRICS}
    means: dict[str, dict[str, float]] = {m: {} for m in ALL_METRICS}
    for metric in ALL_METRICS:
        for design in designs:
            vals = {t: ratio(index[(design, t)], index[(baseline, t)], metric) for t in traces}
            per_model[metric][design] = vals
            means[metric][design] = geomean(vals.values())
    return Comparison(baseline=baseline, designs=tuple(designs), traces=tuple(traces),
                      per_model=per_model, geomean=means)


def comparison_table(cmp: Comparison, metric: str) -> str:
    """Plain-text table of one metric: models as rows, designs as columns, geomean last."""
    heads = [design_label(d) for d in cmp.designs]
    width = max(10, *(len(h) for h in heads))
    first = max(10, *(len(model_label(t)) for t in cmp.traces))
    lines = [f"{METRIC_LABELS[metric]} over {design_label(cmp.baseline)} (x, higher is better)",
             "model".ljust(first) + "".join(h.rjust(width + 2) for h in heads)]
    for trace in cmp.traces:
        cells = "".join(f"{cmp.per_model[metric][d][trace]:.2f}".rjust(width + 2) for d in cmp.designs)
        lines.append(model_label(trace).ljust(first) + cells)
    cells = "".join(f"{cmp.geomean[metric][d]:.2f}".rjust(width + 2) for d in cmp.designs)
    lines.append("geomean".ljust(first) + cells)
    return "\n".join(lines) + "\n"
