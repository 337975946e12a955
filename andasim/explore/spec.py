"""What a sweep covers: base designs, design overrides, workloads and precision profiles.

A `SweepSpec` is built from the command line (`andasim sweep --hw ... --set ...`) or read from a
YAML file (`andasim sweep SPEC.yaml`) through the project's strict loader. Its points are the
cross product of every axis, in a fixed order (design, design overrides, workload, phase,
sequence length, batch, precision; the last one varies fastest), or a listed set of override
combinations (`points:`), or a seeded random sample of the product (`sample`, `seed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError, ConfigError
from andasim.explore.overrides import Override, parse_values
from andasim.strict_yaml import load_strict_yaml

PHASES = ("prefill", "decode")
DEFAULT_MODULES = ("qkv", "o", "up", "down")
# `--set` keys that are not design keys but workload or precision axes.
WORKLOAD_KEYS = ("phase", "seq_len", "batch", "precision")

SPEC_KEYS = ("hw", "trace", "model", "precision", "phase", "seq_len", "batch", "modules", "set",
             "points", "sample", "seed", "pareto")


@dataclass(frozen=True)
class SweepSpec:
    """The axes of a sweep. Tuples keep the order in which the user gave the values."""

    designs: tuple[str, ...]
    workloads: tuple[str, ...] = ()  # traces or model cards (`--trace`/`--model`, one flag)
    phases: tuple[str, ...] = ("prefill",)
    seq_lens: tuple[int, ...] = (2048,)
    batches: tuple[int, ...] = (1,)
    precisions: tuple[str, ...] = ("default",)
    modules: tuple[str, ...] = DEFAULT_MODULES
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # design overrides: (dotted key, values)
    points: tuple[tuple[Override, ...], ...] = ()        # a listed set of overrides instead of `axes`
    sample: int | None = None
    seed: int = 0
    pareto: tuple[str, ...] = ()
    source: str = "command line"

    def __post_init__(self) -> None:
        where = self.source
        if not self.designs:
            raise AndasimInputError(f"{where}: no design; give --hw NAME (repeatable) or `hw:` in the spec")
        if not self.workloads:
            raise AndasimInputError(f"{where}: no workload; give --trace NAME (or --model NAME)")
        for name, items in (("hw", self.designs), ("trace", self.workloads),
                            ("phase", self.phases), ("seq_len", self.seq_lens), ("batch", self.batches),
                            ("precision", self.precisions), ("modules", self.modules)):
            dup = sorted({str(x) for x in items if list(items).count(x) > 1})
            if dup:
                raise AndasimInputError(f"{where}: {name} lists {', '.join(dup)} twice")
            if name in ("phase", "seq_len", "batch", "precision", "modules") and not items:
                raise AndasimInputError(f"{where}: {name} needs at least one value")
        for phase in self.phases:
            if phase not in PHASES:
                raise AndasimInputError(f"{where}: phase {phase!r}; valid: {', '.join(PHASES)}")
        for name, items, limit in (("seq_len", self.seq_lens, 1 << 24), ("batch", self.batches, 1 << 20)):
            for v in items:  # the limits of `andasim run --seq-len/--batch`
                if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limit:
                    raise AndasimInputError(f"{where}: {name} must be integers in 1..{limit}, "
                                            f"got {str(v)[:40]}")
        keys = [k for k, _ in self.axes]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise AndasimInputError(f"{where}: --set {dup[0]} given twice; list its values once: "
                                    f"--set {dup[0]}=V1,V2")
        if self.axes and self.points:
            raise AndasimInputError(f"{where}: give design overrides as `set` (a cross product) or as "
                                    "`points` (a listed set), not both")
        if self.sample is not None and (isinstance(self.sample, bool) or not isinstance(self.sample, int)
                                        or self.sample < 1):
            raise AndasimInputError(f"{where}: sample must be an integer >= 1, got {self.sample!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise AndasimInputError(f"{where}: seed must be an integer >= 0, got {self.seed!r}")

    @property
    def swept_keys(self) -> tuple[str, ...]:
        """Design keys that vary, in the order given (table columns)."""
        if self.points:
            return tuple(dict.fromkeys(k for point in self.points for k, _ in point))
        return tuple(k for k, _ in self.axes)

    def override_sets(self) -> list[tuple[Override, ...]]:
        """Every combination of design overrides (one empty set when nothing is overridden)."""
        if self.points:
            return list(self.points)
        combos: list[tuple[Override, ...]] = [()]
        for key, values in self.axes:
            combos = [(*c, (key, v)) for c in combos for v in values]
        return combos

    def to_dict(self) -> dict[str, Any]:
        """The spec echoed into the sweep's outputs (and a spec file that reproduces it)."""
        data: dict[str, Any] = {"hw": list(self.designs), "trace": list(self.workloads),
                                "precision": list(self.precisions),
                                "phase": list(self.phases), "seq_len": list(self.seq_lens),
                                "batch": list(self.batches), "modules": list(self.modules),
                                "set": {k: list(v) for k, v in self.axes},
                                "points": [dict(p) for p in self.points], "seed": self.seed,
                                "pareto": list(self.pareto)}
        if self.sample is not None:
            data["sample"] = self.sample
        return data


def split_workload_sets(assignments: list[tuple[str, list[Any]]]) -> tuple[dict[str, list[Any]],
                                                                           list[tuple[str, tuple[Any, ...]]]]:
    """Separate `--set` workload axes (phase, seq_len, batch, precision) from design overrides."""
    workload: dict[str, list[Any]] = {}
    design: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in assignments:
        if key in WORKLOAD_KEYS:
            if key in workload:
                raise AndasimInputError(f"--set {key} given twice; list its values once")
            workload[key] = values
        else:
            design.append((key, tuple(values)))
    return workload, design


# --- spec files --------------------------------------------------------------------------------


def _fail(file: str, data: Any, key: str, message: str) -> None:
    lines = getattr(data, "key_lines", {})
    raise ConfigError(message, file=file, line=lines.get(key.split(".")[0]), key=key)


def _str_list(file: str, data: Any, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool)
                                              for v in value):
        _fail(file, data, key, f"must be a name or a list of names, got {value!r}")
    return tuple(str(v) for v in value)


def _int_list(file: str, data: Any, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        value = parse_values(file, key, value)
    if not isinstance(value, list):
        value = [value]
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        _fail(file, data, key, f"must be an integer >= 1 or a list of them, got {value!r}")
    return tuple(value)


def _values(file: str, data: Any, key: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        return tuple(parse_values(file, key, value))
    if not isinstance(value, list):
        value = [value]
    if not value or any(isinstance(v, dict | list) or v is None for v in value):
        _fail(file, data, f"set.{key}", f"must be a value or a list of values, got {value!r}")
    return tuple(value)


def load_spec(path: Path | str) -> SweepSpec:
    """Read a sweep spec YAML (see examples/sweep.yaml and docs/sweep.md)."""
    file = str(path)
    data = load_strict_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("a sweep spec must be a mapping of keys such as hw, trace, set", file=file)
    for key in data:
        if key not in SPEC_KEYS:
            _fail(file, data, key, f"unknown key; valid keys: {', '.join(SPEC_KEYS)}")
    axes: list[tuple[str, tuple[Any, ...]]] = []
    workload_sets: dict[str, list[Any]] = {}
    sets = data.get("set") or {}
    if not isinstance(sets, dict):
        _fail(file, data, "set", "must be a mapping of dotted design keys to values")
    for key, value in sets.items():
        values = _values(file, data, key, value)
        if key in WORKLOAD_KEYS:
            workload_sets[key] = list(values)
        else:
            axes.append((key, values))
    points: list[tuple[Override, ...]] = []
    raw_points = data.get("points") or []
    if not isinstance(raw_points, list):
        _fail(file, data, "points", "must be a list of mappings {dotted key: value}")
    for i, point in enumerate(raw_points):
        if not isinstance(point, dict) or not point or any(isinstance(v, dict | list) or v is None
                                                           for v in point.values()):
            _fail(file, data, f"points[{i}]", "must be a non-empty mapping {dotted key: value}")
        points.append(tuple(point.items()))
    sample = data.get("sample")
    seed = data.get("seed", 0)
    precisions = _str_list(file, data, "precision") or ("default",)
    if "precision" in workload_sets:
        precisions = tuple(str(v) for v in workload_sets["precision"])
    phases = _str_list(file, data, "phase") or ("prefill",)
    if "phase" in workload_sets:
        phases = tuple(str(v) for v in workload_sets["phase"])
    seq_lens = _int_list(file, data, "seq_len", (2048,))
    if "seq_len" in workload_sets:
        seq_lens = tuple(workload_sets["seq_len"])
    batches = _int_list(file, data, "batch", (1,))
    if "batch" in workload_sets:
        batches = tuple(workload_sets["batch"])
    workloads = _str_list(file, data, "trace") + _str_list(file, data, "model")
    return SweepSpec(designs=_str_list(file, data, "hw"), workloads=workloads, phases=phases,
                     seq_lens=seq_lens, batches=batches, precisions=precisions,
                     modules=_str_list(file, data, "modules") or DEFAULT_MODULES, axes=tuple(axes),
                     points=tuple(points), sample=sample, seed=seed,
                     pareto=_str_list(file, data, "pareto"), source=file)
