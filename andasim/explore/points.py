"""A sweep spec expanded into points, each resolved and validated before anything runs.

Resolution happens once, in the process that drives the sweep: designs are loaded, overridden
and validated through the hardware schema (and priced by their cost table), workloads and
precision profiles are loaded, and each point gets its content hash. A malformed `--set`, an
unknown trace or an impossible profile therefore fails with one line before the first point is
simulated. Workers receive `Task`s: a validated design, a workload name and a resolved profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from andasim.errors import AndasimInputError
from andasim.explore.hashing import content_hash, engine_version
from andasim.explore.overrides import Override, lookup, validated_design
from andasim.explore.spec import SweepSpec
from andasim.hw.config import HardwareConfig, bundled_config_names, load_hw, load_hw_mapping
from andasim.hw.energy import table_for
from andasim.workload.gemm import MODULE_TYPES
from andasim.workload.precision import PRECISION_FORMS, PrecisionProfile
from andasim.workload.precision import resolve_precision as parse_precision

VECTOR_MODULE = "vector"


@dataclass(frozen=True)
class Task:
    """What a worker needs to evaluate one point (picklable, small)."""

    key: str
    hw: HardwareConfig
    workload: str  # a trace or model card, by any name `--trace` accepts
    phase: str
    seq_len: int
    batch: int
    modules: tuple[str, ...]
    profile: PrecisionProfile | None

    @property
    def tokens(self) -> int:
        """Tokens produced: the whole prompt in prefill, one per sequence in decode."""
        return self.seq_len * self.batch if self.phase == "prefill" else self.batch


@dataclass(frozen=True)
class Point:
    """One row of the sweep: what was asked (as the user wrote it) and the task that answers it."""

    index: int
    design: str
    design_name: str
    overrides: tuple[Override, ...]
    swept: tuple[tuple[str, Any], ...]  # every swept key's effective value in this point's design
    workload: str
    phase: str
    seq_len: int
    batch: int
    precision: str
    precision_bits: str  # "7,6,6,6", or "" when the design stores FP16 activations
    bundled_design: str  # name of the bundled design this point's design equals, else ""
    task: Task

    @property
    def key(self) -> str:
        return self.task.key


@lru_cache(maxsize=64)
def load_workload(name: str) -> Any:
    """A trace or model card by any name `--trace`/`--model` accepts, loaded once per process."""
    from andasim.workload.loaders import load_workload as load

    return load(name)


def _workload_identity(trace: Any) -> dict[str, Any]:
    return {"trace_id": trace.trace_id, "checksum": trace.checksum, "card": trace.card.to_dict()}


def resolve_precision(text: str, workload: Any) -> PrecisionProfile | None:
    """`default` (the trace's default profile, None when it has none) or whatever `--precision` accepts."""
    profiles = getattr(workload, "profiles", {}) or {}
    if text == "default":
        default = getattr(workload, "default_profile", None)
        return profiles[default] if default is not None else None
    return parse_precision(text, profiles, owner=f"trace {workload.trace_id}")


def _check_modules(modules: Sequence[str]) -> None:
    valid = (*MODULE_TYPES, VECTOR_MODULE)
    bad = [m for m in modules if m not in valid]
    if bad:
        raise AndasimInputError(f"--modules: unknown module {bad[0]!r}; valid: {', '.join(valid)}")


MAX_POINTS = 5_000_000  # a bigger sweep is almost certainly a typo; --sample explores it instead


def _sample_indices(total: int, sample: int | None, seed: int) -> np.ndarray:
    if total > 2**62:
        raise AndasimInputError(f"the sweep's cross product has {total:.3g} points, too many to index; "
                                "sweep fewer values")
    if sample is None and total > MAX_POINTS:
        raise AndasimInputError(f"the sweep's cross product has {total:,} points (more than {MAX_POINTS:,}); "
                                "sweep fewer values or simulate a random sample of it with --sample N")
    if sample is None or sample >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(total, size=sample, replace=False))


def expand(spec: SweepSpec, progress: Callable[[int, int], None] | None = None) -> list[Point]:
    """Every point of `spec`, resolved and validated, in the spec's fixed order."""
    _check_modules(spec.modules)
    combos = spec.override_sets()
    workloads = spec.workloads
    radices = [len(spec.designs), len(combos), len(workloads), len(spec.phases), len(spec.seq_lens),
               len(spec.batches), len(spec.precisions)]
    total = int(np.prod(radices, dtype=object))
    indices = _sample_indices(total, spec.sample, spec.seed)
    engine = engine_version()
    bundled = {name: load_hw(name).to_dict() for name in bundled_config_names()}
    raw: dict[str, tuple[Any, str]] = {}
    designs: dict[tuple[str, int], tuple[HardwareConfig, str, tuple[tuple[str, Any], ...], str]] = {}
    profiles: dict[tuple[str, str], PrecisionProfile | None] = {}
    ident: dict[str, dict[str, Any]] = {}

    def design(d: int, c: int) -> tuple[HardwareConfig, str, tuple[tuple[str, Any], ...], str]:
        base = spec.designs[d]
        if (base, c) not in designs:
            if base not in raw:
                raw[base] = load_hw_mapping(base)
            mapping, file = raw[base]
            hw = validated_design(mapping, file, combos[c], base)
            table = table_for(hw)  # the cost table must fit the overridden design too
            hw_dict = hw.to_dict()
            key = content_hash({"hw": hw_dict, "cost_table": table.data})
            given = dict(combos[c])
            swept = tuple((k, given[k] if k in given else lookup(mapping, k)) for k in spec.swept_keys)
            match = next((n for n, data in bundled.items() if data == hw_dict), "")
            designs[(base, c)] = (hw, key, swept, match)
        return designs[(base, c)]

    def workload_ident(name: str) -> dict[str, Any]:
        if name not in ident:
            ident[name] = _workload_identity(load_workload(name))
        return ident[name]

    def profile(name: str, text: str, hw: HardwareConfig) -> PrecisionProfile | None:
        if (name, text) not in profiles:
            profiles[(name, text)] = resolve_precision(text, load_workload(name))
        prof = profiles[(name, text)]
        if prof is None and hw.activation_storage == "anda":
            raise AndasimInputError(f"{name} has no default precision profile and design {hw.name} needs "
                                    f"one; give --precision: {PRECISION_FORMS}")
        return prof

    points = []
    for n, flat in enumerate(indices):
        digits = []
        rest = int(flat)
        for radix in reversed(radices):
            digits.append(rest % radix)
            rest //= radix
        d, c, w, ph, sl, b, pr = reversed(digits)
        hw, design_key, swept, match = design(d, c)
        name = workloads[w]
        prof = profile(name, spec.precisions[pr], hw)
        used = prof if hw.activation_storage == "anda" else None
        phase, seq_len, batch = spec.phases[ph], spec.seq_lens[sl], spec.batches[b]
        key = content_hash({"engine": engine, "design": design_key, "workload": workload_ident(name),
                            "phase": phase, "seq_len": seq_len, "batch": batch, "modules": list(spec.modules),
                            "precision": used.to_dict() if used is not None else None})
        task = Task(key=key, hw=hw, workload=name, phase=phase, seq_len=seq_len,
                    batch=batch, modules=tuple(spec.modules), profile=used)
        points.append(Point(index=int(flat), design=spec.designs[d], design_name=hw.name,
                            overrides=combos[c], swept=swept, workload=name,
                            phase=phase, seq_len=seq_len, batch=batch, precision=spec.precisions[pr],
                            precision_bits=",".join(map(str, used.as_list())) if used is not None else "",
                            bundled_design=match, task=task))
        if progress is not None and (n + 1) % 1000 == 0:
            progress(n + 1, len(indices))
    return points
