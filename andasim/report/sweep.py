"""Run a grid of (design, trace, profile) simulations for comparisons, with a resumable cache.

Each finished run is stored as one small JSON file (written atomically) under the cache folder,
keyed by everything that determines it: the design config, its cost table, the workload, the
andasim version and a hash of the engine's source. A rerun (or a resumed, interrupted one)
reuses matching files and simulates only what is missing. Designs whose activations are stored
as FP16 ignore the mantissa profile (the engine runs them with `m_bits=None`), so they are
simulated once per trace, not per profile.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from andasim import __version__
from andasim.hw.config import HardwareConfig, load_hw
from andasim.hw.energy import estimate_energy, table_for
from andasim.report.comparison import RunSummary
from andasim.report.writers import dumps_json, write_text


@dataclass(frozen=True)
class Workload:
    """The workload settings shared by every run of a sweep."""

    phase: str = "prefill"
    seq_len: int = 2048
    batch: int = 1
    modules: tuple[str, ...] = ("qkv", "o", "up", "down")  # the FP-INT GeMMs the paper evaluates

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "seq_len": self.seq_len, "batch": self.batch,
                "modules": list(self.modules)}

    @property
    def tokens(self) -> int:
        """Tokens produced: the whole prompt in prefill, one per sequence in decode."""
        return self.seq_len * self.batch if self.phase == "prefill" else self.batch


def run_tokens(inputs: dict[str, Any]) -> int:
    """Tokens of a run from its echoed inputs (phase, seq_len, batch)."""
    return Workload(phase=inputs["phase"], seq_len=int(inputs["seq_len"]), batch=int(inputs["batch"])).tokens


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """Hash of the engine's source (andasim/sim with its dataflows, andasim/hw/pe.py): a changed engine
    invalidates the cache."""
    import andasim.hw.pe
    import andasim.sim

    sim_dir = Path(andasim.sim.__file__).parent
    files = [*sorted(sim_dir.rglob("*.py")), Path(andasim.hw.pe.__file__)]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(sim_dir.parent).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def summarize(hw: HardwareConfig, result: Any, *, design: str, trace_id: str, trace_label: str,
              profile_name: str | None, profile_bits: Sequence[int] | None, tokens: int) -> RunSummary:
    """Reduce an engine `Result` plus its energy estimate to the comparison figures."""
    energy = estimate_energy(hw, result, tokens=tokens)
    gemms = []
    for entry in result.entries:
        repeat = int(entry.get("repeat", 1))
        gemms.append((str(entry["name"]), str(entry["module"]), int(entry["layer"]),
                      float(entry["counters"]["cycles"]) * repeat))
    return RunSummary(
        design=design, trace=trace_id, profile=profile_name,
        profile_bits=tuple(profile_bits) if profile_bits is not None else None,
        cycles=float(result.counters["cycles"]), latency_s=energy.latency_s,
        macs=float(result.counters["macs"]),
        tokens=tokens, energy_j=energy.total_j, on_chip_energy_j=energy.on_chip_j,
        area_mm2=energy.area.total_mm2, energy_by_category_j=energy.categories_j,
        energy_by_component_j=energy.components_j,
        gemm_cycles=tuple(gemms), trace_label=trace_label, cost_table=energy.cost_table)


class Sweep:
    """Simulates (design, trace, profile) runs on demand, caching each one on disk."""

    def __init__(self, cache_dir: Path | str | None, workload: Workload = Workload(),
                 progress: Callable[[str], None] | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.workload = workload
        self.progress = progress
        self._traces: dict[str, Any] = {}
        self._hw: dict[str, HardwareConfig] = {}
        self.simulated = 0
        self.reused = 0

    def with_workload(self, workload: Workload) -> Sweep:
        """A sweep over another workload sharing this one's cache folder, loaded traces and designs."""
        other = Sweep(self.cache_dir, workload, self.progress)
        other._traces, other._hw = self._traces, self._hw
        return other

    def add_design(self, name: str, hw: HardwareConfig) -> None:
        """Make a design that is not a bundled file (e.g. a sensitivity variant) runnable as `name`."""
        self._hw[name] = hw

    def hw(self, design: str) -> HardwareConfig:
        if design not in self._hw:
            self._hw[design] = load_hw(design)
        return self._hw[design]

    def trace(self, name: str) -> Any:
        if name not in self._traces:
            from andasim.workload.loaders import load_workload

            self._traces[name] = load_workload(name)
        return self._traces[name]

    def _key(self, hw: HardwareConfig, trace: Any, profile: Any) -> dict[str, Any]:
        table = table_for(hw)
        table_text = json.dumps(table.data, sort_keys=True, default=str)
        return {"andasim_version": __version__, "engine_sha256": engine_fingerprint(), "hw": hw.to_dict(),
                "cost_table_sha256": hashlib.sha256(table_text.encode()).hexdigest(),
                "trace": trace.trace_id, "trace_checksum": getattr(trace, "checksum", ""),
                "profile": profile.to_dict() if profile is not None else None,
                "workload": self.workload.to_dict()}

    def run(self, design: str, trace_name: str, profile_name: str | None) -> RunSummary:
        """The summary of one run: from the cache when it matches, else simulated and stored.

        `profile_name` is anything `--precision` accepts (a profile of the trace, a YAML file,
        `7,6,6,6`, one uniform M); None means the trace's default profile.
        """
        from andasim.sim.simulate import simulate
        from andasim.workload.precision import resolve_precision

        hw = self.hw(design)
        trace = self.trace(trace_name)
        uses_profile = hw.activation_storage == "anda"
        profile = None
        if uses_profile:
            profile = (trace.profile(None) if profile_name is None else
                       resolve_precision(profile_name, trace.profiles, owner=f"trace {trace.trace_id}"))
        eff_name = profile_name if uses_profile else None
        key = self._key(hw, trace, profile)
        path = None
        if self.cache_dir is not None:
            digest = hashlib.sha256(dumps_json(key).encode()).hexdigest()[:16]
            stem = f"{_slug(design)}__{_slug(trace_name)}__{_slug(eff_name or 'fp16')}__{digest}"
            path = self.cache_dir / f"{stem}.json"
            if path.is_file():
                try:
                    cached = json.loads(path.read_text(encoding="utf-8"))
                    if cached.get("key") == json.loads(dumps_json(key)):
                        self.reused += 1
                        return RunSummary.from_dict(cached["summary"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    pass  # a damaged cache file is simply recomputed
        if self.progress is not None:
            self.progress(f"{design} / {trace_name} / {eff_name or 'FP16 activations'}")
        w = self.workload
        result = simulate(hw, trace, profile, phase=w.phase, seq_len=w.seq_len, batch=w.batch,
                          modules=w.modules)
        summary = summarize(hw, result, design=design, trace_id=trace.trace_id, trace_label=trace.label,
                            profile_name=eff_name, profile_bits=profile.as_list() if profile else None,
                            tokens=w.tokens)
        self.simulated += 1
        if path is not None:
            write_text(path, dumps_json({"key": key, "summary": summary.to_dict()}))
        return summary
