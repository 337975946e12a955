"""Tiers and links of a memory-limited (offloading) system: schema, strict loader, presets.

FlexGen models three tiers -- device ("GPU"), host ("CPU") and disk -- joined by links whose
bandwidths differ per direction and, in the fitted constants of the released cost model, per
traffic class (KV cache against hidden states, prefill against decode). One YAML file holds one
such system; bundled presets live in `hw_configs/systems/`. Units are in the key names:
capacities in GiB and bandwidths in GiB/s (FlexGen's cost model uses GB = 2^30), FLOP rates in
TFLOP/s (1e12).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from andasim.bundled import bundled_dir
from andasim.errors import ConfigError
from andasim.strict_yaml import Field, Schema, check_schema, load_strict_yaml

SCHEMA_VERSION = 1
GIB = 2**30
TFLOP = 1e12


def _version(value: int) -> str | None:
    return None if value == SCHEMA_VERSION else f"unsupported schema_version {value}; valid: {SCHEMA_VERSION}"


_LINK_KEYS = (
    "host_to_device_gib_per_s", "device_to_host_cache_gib_per_s", "device_to_host_hidden_gib_per_s",
    "disk_to_host_gib_per_s", "host_to_disk_cache_prefill_gib_per_s",
    "host_to_disk_hidden_prefill_gib_per_s", "host_to_disk_decode_gib_per_s",
)
_COMPUTE_KEYS = ("mm_prefill_tflop_per_s", "mm_decode_tflop_per_s", "bmm_prefill_tflop_per_s",
                 "bmm_decode_tflop_per_s", "host_tflop_per_s")

# Ranges: far above any machine of today (1 PiB of host memory, 100 TiB/s links, an exaFLOP/s),
# far below what makes the policy search's arithmetic overflow or lose all precision.
SCHEMA = Schema({
    "schema_version": Field("int", check=_version),
    "name": Field("str"),
    "description": Field("str"),
    "provenance": Field("str", doc="where the numbers in this file come from"),
    "memory": Field("map", schema=Schema({
        "device_gib": Field("float", positive=True, max=1 << 20, unit="GiB",
                            doc="device (accelerator/GPU) memory"),
        "host_gib": Field("float", positive=True, max=1 << 20, unit="GiB", doc="host DRAM"),
        "disk_gib": Field("float", positive=True, max=1 << 30, unit="GiB", doc="disk (NVMe) capacity"),
    })),
    "relaxation": Field("map", required=False, doc="usable share of each capacity (default 0.8)",
                        schema=Schema({
                            k: Field("float", required=False, positive=True, max=1,
                                     doc=f"usable share of the {k} capacity (default 0.8)")
                            for k in ("device", "host", "disk")})),
    "links": Field("map", schema=Schema({k: Field("float", positive=True, max=100_000, unit="GiB/s")
                                         for k in _LINK_KEYS})),
    "compute": Field("map", schema=Schema({
        **{k: Field("float", positive=True, max=1e6, unit="TFLOP/s") for k in _COMPUTE_KEYS},
        "memory_bandwidth_gib_per_s": Field(
            "float", required=False, positive=True, max=1e6, unit="GiB/s",
            doc="device-memory bandwidth; enables the roofline compute model (--compute roofline)"),
        "kernel_overhead_us": Field("float", required=False, non_negative=True, max=1e6, unit="us",
                                    doc="fixed time per kernel in the roofline model (default 0)"),
        "host_scaling": Field("map", required=False,
                              doc="FlexGen's non-linear CPU throughput coefficients",
                              schema=Schema({c: Field("float", min=0, max=10,
                                                      doc="FlexGen CPU-throughput coefficient "
                                                          "(fitted values 0.017-0.062)")
                                             for c in ("c1", "c2", "c3")})),
    })),
})

DEFAULT_RELAXATION = 0.8


@dataclass(frozen=True)
class SystemConfig:
    """One offloading system. Bandwidths in GiB/s, rates in TFLOP/s, as in the YAML."""

    name: str
    description: str
    provenance: str
    device_gib: float
    host_gib: float
    disk_gib: float
    relax_device: float
    relax_host: float
    relax_disk: float
    host_to_device_gib_per_s: float
    device_to_host_cache_gib_per_s: float
    device_to_host_hidden_gib_per_s: float
    disk_to_host_gib_per_s: float
    host_to_disk_cache_prefill_gib_per_s: float
    host_to_disk_hidden_prefill_gib_per_s: float
    host_to_disk_decode_gib_per_s: float
    mm_prefill_tflop_per_s: float
    mm_decode_tflop_per_s: float
    bmm_prefill_tflop_per_s: float
    bmm_decode_tflop_per_s: float
    host_tflop_per_s: float
    host_c1: float = 0.0
    host_c2: float = 0.0
    host_c3: float = 0.0
    memory_bandwidth_gib_per_s: float | None = None
    kernel_overhead_us: float = 0.0
    source: str = ""

    def usable_bytes(self) -> dict[str, float]:
        """Capacity times relaxation factor per tier, in bytes (FlexGen's gmem/cmem/nmem)."""
        return {"device": self.device_gib * self.relax_device * GIB,
                "host": self.host_gib * self.relax_host * GIB,
                "disk": self.disk_gib * self.relax_disk * GIB}

    def with_relaxation(self, device: float | None = None, host: float | None = None,
                        disk: float | None = None, max_alpha: float = 1.0) -> SystemConfig:
        """A copy with some relaxation factors replaced (FlexGen's --alpha-g/--alpha-c/--alpha-n).

        andasim's own memory model caps them at 1 (it counts what the runtime allocates); FlexGen's
        cost model checks fixed policies at 1.2 because its peak estimate is imprecise
        (cost_model.py:11-16, 28-29), so `--memory-model flexgen-code` passes a larger cap.
        """
        vals = {"--alpha-g": device, "--alpha-c": host, "--alpha-n": disk}
        fields = {"--alpha-g": "relax_device", "--alpha-c": "relax_host", "--alpha-n": "relax_disk"}
        out = asdict(self)
        for key, val in vals.items():
            if val is not None:
                if not (isinstance(val, int | float) and math.isfinite(val) and 0 < val <= max_alpha):
                    raise ConfigError(f"must be in (0, {max_alpha:g}], got {val}", key=key)
                out[fields[key]] = float(val)
        return SystemConfig(**out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bundled_systems_dir() -> Any:
    return bundled_dir("hw_configs") / "systems"


def bundled_system_names() -> list[str]:
    return sorted(p.name[:-5] for p in bundled_systems_dir().iterdir() if p.name.endswith(".yaml"))


def load_system(name_or_path: str | Path) -> SystemConfig:
    """Load a system YAML by path, or a bundled preset by name (e.g. `t4-flexgen`)."""
    text = None
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        names = bundled_system_names()
        if str(name_or_path) not in names:
            raise ConfigError(f"no such system file or preset; bundled presets: {', '.join(names)}",
                              file=str(name_or_path))
        text = (bundled_systems_dir() / f"{name_or_path}.yaml").read_text(encoding="utf-8")
        path = Path(f"hw_configs/systems/{name_or_path}.yaml")
    data = load_strict_yaml(path, text=text)
    check_schema(data, SCHEMA, file=str(path))
    relax = data.get("relaxation") or {}
    comp = data["compute"]
    scaling = comp.get("host_scaling") or {}
    return SystemConfig(
        name=data["name"], description=data["description"], provenance=data["provenance"],
        **{k: float(v) for k, v in data["memory"].items()},
        relax_device=float(relax.get("device", DEFAULT_RELAXATION)),
        relax_host=float(relax.get("host", DEFAULT_RELAXATION)),
        relax_disk=float(relax.get("disk", DEFAULT_RELAXATION)),
        **{k: float(data["links"][k]) for k in _LINK_KEYS},
        **{k: float(comp[k]) for k in _COMPUTE_KEYS},
        host_c1=float(scaling.get("c1", 0.0)), host_c2=float(scaling.get("c2", 0.0)),
        host_c3=float(scaling.get("c3", 0.0)),
        memory_bandwidth_gib_per_s=(float(comp["memory_bandwidth_gib_per_s"])
                                    if "memory_bandwidth_gib_per_s" in comp else None),
        kernel_overhead_us=float(comp.get("kernel_overhead_us", 0.0)), source=str(path),
    )
