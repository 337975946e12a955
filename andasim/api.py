"""`andasim.simulate`: the Python entry point, taking names as readily as objects.

The layers below take typed values only (`andasim.sim.simulate.simulate`); this module turns
what a user writes into them: the same names and files the command line accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from andasim.hw.config import HardwareConfig, load_hw
from andasim.sim.result import Result
from andasim.sim.simulate import simulate as simulate_typed
from andasim.workload.loaders import load_workload
from andasim.workload.precision import PrecisionProfile, resolve_precision

DEFAULT = "default"


def resolve_inputs(hw: HardwareConfig | str | Path, workload: Any,
                   precision: PrecisionProfile | str | Sequence[int] | int | None = DEFAULT
                   ) -> tuple[HardwareConfig, Any, PrecisionProfile | None]:
    """(design, workload, profile) from objects, names, paths or width lists."""
    design = hw if isinstance(hw, HardwareConfig) else load_hw(hw)
    work = load_workload(workload) if isinstance(workload, str | Path) else workload
    profiles = getattr(work, "profiles", None) or {}
    if isinstance(precision, str) and precision == DEFAULT and DEFAULT not in profiles:
        default = getattr(work, "default_profile", None)
        return design, work, profiles[default] if default is not None else None
    if precision is None or isinstance(precision, PrecisionProfile):
        return design, work, precision
    owner = f"workload {getattr(work, 'trace_id', '') or 'given'}"
    return design, work, resolve_precision(precision, profiles, owner=owner, option="precision")


def simulate(hw: HardwareConfig | str | Path, workload: Any,
             precision: PrecisionProfile | str | Sequence[int] | int | None = DEFAULT,
             **options: Any) -> Result:
    """Simulate `workload` on `hw` with `precision`; every argument by object or by name.

    `hw`: a `HardwareConfig`, a bundled design name (`anda`, `pe64`, ...) or a YAML path.
    `workload`: a Trace, ModelCard or list of GeMMs, or anything `--trace` accepts (`llama-7b`,
    `opt-175b`, a card YAML, a Hugging Face config.json, a GeMM-list CSV).
    `precision`: a `PrecisionProfile`, a profile name of the trace, a YAML file, `"7,6,6,6"`,
    `[7, 6, 6, 6]` or one uniform `6`; default: the trace's default profile; None: no profile
    (FP16-storage designs only). `options`: phase, seq_len, batch, kv_len, modules, progress.
    The `Result` carries the design: `result.energy`, `result.area`, `print(result.summary())`.
    """
    design, work, profile = resolve_inputs(hw, workload, precision)
    return simulate_typed(design, work, profile, **options)
