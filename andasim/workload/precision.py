"""`PrecisionProfile`: the Anda mantissa width of each FP-INT module type.

A profile is the output of the precision search and an input of the engine. The paper applies
one width per module type identically in every layer (anda.md §3.1); `per_layer` optionally
overrides single layers (andasim's per-layer refinement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from andasim.atomic_io import write_atomic
from andasim.errors import AndasimInputError, ConfigError
from andasim.safe_read import short
from andasim.strict_yaml import load_strict_yaml
from andasim.suggest import did_you_mean
from andasim.workload.gemm import FP_INT_MODULES

M_MIN, M_MAX = 1, 16


@dataclass(frozen=True)
class PrecisionProfile:
    """Mantissa bits per module type (`qkv`, `o`, `up`, `down`), with where they come from."""

    name: str
    mantissa_bits: dict[str, int]
    source: str
    per_layer: dict[int, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.mantissa_bits) != set(FP_INT_MODULES):
            raise ValueError(f"profile {short(self.name, 40)} must give exactly {', '.join(FP_INT_MODULES)}; "
                             f"got {short(', '.join(map(str, self.mantissa_bits)), 60)}")
        for layer_map in (self.mantissa_bits, *self.per_layer.values()):
            for module, bits in layer_map.items():
                if module not in FP_INT_MODULES:
                    raise ValueError(f"unknown module {short(module)}; valid: {', '.join(FP_INT_MODULES)}")
                if isinstance(bits, bool) or not isinstance(bits, int) or not M_MIN <= bits <= M_MAX:
                    raise ValueError(f"mantissa bits for {module!r} must be an integer in "
                                     f"{M_MIN}..{M_MAX}, got {short(bits)}")

    @classmethod
    def from_list(cls, bits: list[int] | tuple[int, ...], name: str = "custom",
                  source: str = "user") -> PrecisionProfile:
        """Build from the paper's `[M_qkv, M_o, M_u, M_d]` notation."""
        if len(bits) != len(FP_INT_MODULES):
            raise ValueError(f"expected 4 widths [M_qkv, M_o, M_u, M_d], got {list(bits)}")
        return cls(name=name, mantissa_bits=dict(zip(FP_INT_MODULES, bits, strict=True)), source=source)

    def as_list(self) -> list[int]:
        return [self.mantissa_bits[m] for m in FP_INT_MODULES]

    def bits_for(self, module: str, layer: int | None = None) -> int:
        """Mantissa width of `module` in `layer` (per-layer override first)."""
        if layer is not None and layer in self.per_layer and module in self.per_layer[layer]:
            return self.per_layer[layer][module]
        return self.mantissa_bits[module]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "source": self.source,
                                "mantissa_bits": dict(self.mantissa_bits)}
        if self.per_layer:
            data["per_layer"] = {int(k): dict(v) for k, v in sorted(self.per_layer.items())}
        return data

    @classmethod
    def from_dict(cls, data: Any, file: str = "<profile>") -> PrecisionProfile:
        if not isinstance(data, dict):
            raise ConfigError("a precision profile must be a mapping", file=file)
        unknown = set(data) - {"name", "source", "mantissa_bits", "per_layer"}
        if unknown:
            raise ConfigError("unknown key; valid: name, source, mantissa_bits, per_layer",
                              file=file, key=sorted(unknown)[0])
        for key in ("name", "source", "mantissa_bits"):
            if key not in data:
                raise ConfigError("missing required key", file=file, key=key)
        try:
            per_layer = {int(k): dict(v) for k, v in (data.get("per_layer") or {}).items()}
            return cls(name=str(data["name"]), source=str(data["source"]),
                       mantissa_bits=dict(data["mantissa_bits"]), per_layer=per_layer)
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc), file=file, key="mantissa_bits") from None

    def save(self, path: Path | str) -> None:
        """Write atomically as YAML (temp file + rename)."""
        write_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def parse_m_bits(text: str, option: str = "--m-bits") -> PrecisionProfile:
    """Parse a CLI width list: one width for every module, or `M_qkv,M_o,M_u,M_d` in that order.

    The order is the paper's notation and is kept exactly as written: `7,6,5,4` is qkv=7, o=6,
    up=5, down=4; repeated widths (`6,6,6,7`) are fine. Anything else is an `AndasimInputError`.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (1, len(FP_INT_MODULES)):
        raise AndasimInputError(f"{option} takes one width or {len(FP_INT_MODULES)} widths "
                                f"{','.join('M_' + m for m in FP_INT_MODULES)} (e.g. 6 or 7,6,5,4), "
                                f"got {len(parts)} values")
    bits = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or not M_MIN <= int(part) <= M_MAX:
            raise AndasimInputError(f"{option}: each width must be an integer in {M_MIN}..{M_MAX}, "
                                    f"got {part[:20]!r}")
        bits.append(int(part))
    return PrecisionProfile.from_list(bits * len(FP_INT_MODULES) if len(bits) == 1 else bits,
                                      name="cli", source=option)


def load_profile(path: Path | str) -> PrecisionProfile:
    """Read a profile YAML written by `PrecisionProfile.save` or by hand."""
    return PrecisionProfile.from_dict(load_strict_yaml(path), file=str(path))


_NUMERIC_RE = re.compile(r"^[\d\s,]+$")
PRECISION_FORMS = "a profile name, a profile YAML file, M_qkv,M_o,M_up,M_down (e.g. 7,6,6,6) or one uniform M"


def resolve_precision(spec: str | PrecisionProfile | list[int] | tuple[int, ...] | int,
                      profiles: dict[str, PrecisionProfile] | None = None,
                      owner: str = "the workload", option: str = "--precision") -> PrecisionProfile:
    """Whatever `--precision` accepts, as a profile: a name among `profiles`, a YAML file,
    `M_qkv,M_o,M_up,M_down`, one uniform `M`, or a profile object / list of four widths.

    `owner` names where `profiles` come from (for the error message). Widths keep the order
    written (the paper's M_qkv, M_o, M_u, M_d), see `parse_m_bits`.
    """
    profiles = profiles or {}
    if isinstance(spec, PrecisionProfile):
        return spec
    if isinstance(spec, list | tuple) or (isinstance(spec, int) and not isinstance(spec, bool)):
        spec = ",".join(map(str, spec)) if isinstance(spec, list | tuple) else str(spec)
    if not isinstance(spec, str):
        raise AndasimInputError(f"{option}: expected {PRECISION_FORMS}, got {type(spec).__name__}")
    if spec in profiles:
        return profiles[spec]
    if _NUMERIC_RE.match(spec):
        bits = parse_m_bits(spec, option).as_list()
        label = ",".join(p.strip() for p in spec.split(","))
        return PrecisionProfile.from_list(bits, name=f"custom:{label}", source=f"command line {option}")
    if Path(spec).is_file():
        return load_profile(spec)
    names = ", ".join(sorted(profiles)) or "none"
    hint = did_you_mean(spec, profiles) if profiles else ""
    where = "no such file" if spec.endswith((".yaml", ".yml")) else f"not a profile of {owner} ({names})"
    raise AndasimInputError(f"{option} {spec[:40]!r}: {where};{hint} valid: {PRECISION_FORMS}")
