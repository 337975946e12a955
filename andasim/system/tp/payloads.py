"""Payload formats of a tensor-parallel collective: how one chip's partial sum (T x E) travels.

Two families:

- *Stateless* formats come from the formats layer (`andasim.formats.get`): `bf16`, `fp16`,
  per-token dynamic `int8_token` / `int4_token`, FlexGen-style group-wise `int:bits=4,g=64,asym`,
  Anda-format partials `anda:m=...`, any other formats-layer spec; plus `none` (identity, FP32).
- *Calibrated* formats hold static per-feature parameters that each chip fits once on
  calibration data (Dong et al. 2024 as reconstructed in tp_comm_and_flexgen.md §1.2):
  `static` (Int4 on every feature), `hybrid:k_frac=1/64` or `hybrid:k=80` (the top-k
  features by aggregated range stay BF16, the rest Int4) and `randomk:k_frac=1/64` (k random
  features in BF16: the equal-budget control). Options: `agg=sum|max` (how per-chip ranges are
  combined to rank features), `sym|asym` (Int4 grid), `decay=0.9` (EMA of per-chunk min/max),
  `seed=0` (random-k). The paper's exact choices are unverified, so all are options. Each chip's
  quantizer is the formats layer's `HybridFormat` with that chip's calibrated ranges and the
  shared BF16 set.

Static parameters never travel with the data (they are fixed at calibration, and the BF16
feature set is shared by all chips), so the calibrated formats cost exactly
`(16 k + 4 (E - k)) / E` bits per value: 4.1875 for k = E/64.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np

from andasim.errors import AndasimInputError, FormatSpecError

CALIBRATED_KINDS = ("static", "hybrid", "randomk")
PER_TOKEN_ALIASES = {"int8_token": 8, "int4_token": 4}
IDENTITY_NAMES = ("none", "fp32")
BF16_BITS = 16
INT_BITS = 4  # the formats layer's hybrid format quantizes the non-BF16 features to Int4

PAYLOAD_HELP = ("none | bf16 | fp16 | int8_token | int4_token | static[:sym|asym] | "
                "hybrid:k_frac=1/64|k=N[,agg=sum|max][,sym|asym][,decay=0.9] | "
                "randomk:k_frac=1/64[,seed=0] | int:bits=4,g=64,asym | anda:m=M | "
                "any other formats-layer spec")


@dataclass(frozen=True)
class PayloadSpec:
    """A parsed payload spec; `kind` is identity, stateless or one of CALIBRATED_KINDS."""

    spec: str
    kind: str
    formats_spec: str | None = None     # stateless kinds: the formats-layer spec
    sym: bool = False
    k_frac: Fraction | None = None
    k: int | None = None
    agg: str = "sum"
    decay: float = 0.9
    seed: int = 0

    @property
    def calibrated(self) -> bool:
        return self.kind in CALIBRATED_KINDS

    def k_for(self, e: int, e_full: int | None = None) -> int:
        """BF16 features among `e`. A count `k` refers to the full width `e_full` and is scaled
        to a sampled subset of `e` features as floor(k * e / e_full); a fraction gives
        floor(e * k_frac)."""
        if self.kind == "static":
            return 0
        if self.k_frac is not None:
            return int(np.floor(e * self.k_frac))
        assert self.k is not None
        full = e if e_full is None else e_full
        if self.k > full:
            raise AndasimInputError(f"payload {self.spec!r}: k = {self.k} exceeds the {full} features")
        return self.k * e // full

    def bits_per_value(self, e: int, e_full: int | None = None) -> float:
        """Wire bits per value for a calibrated format over `e` features (no per-token metadata)."""
        k = self.k_for(e, e_full)
        return (BF16_BITS * k + INT_BITS * (e - k)) / e


def _parse_fraction(text: str, spec: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise FormatSpecError(f"payload {spec!r}: k_frac must be a fraction like 1/64, "
                              f"got {text!r}") from None
    if not 0 <= value <= 1:
        raise FormatSpecError(f"payload {spec!r}: k_frac must be in [0, 1], got {text}")
    return value


def parse_payload(spec: str) -> PayloadSpec:
    """Parse a payload spec string (see PAYLOAD_HELP); raises FormatSpecError naming the problem."""
    text = spec.strip()
    if text in IDENTITY_NAMES:
        return PayloadSpec(spec=text, kind="identity")
    if text in PER_TOKEN_ALIASES:
        bits = PER_TOKEN_ALIASES[text]
        return PayloadSpec(spec=text, kind="stateless", formats_spec=per_token_formats_spec(bits))
    name, _, rest = text.partition(":")
    if name not in CALIBRATED_KINDS:
        _check_formats_spec(text)
        return PayloadSpec(spec=text, kind="stateless", formats_spec=text)
    opts: dict = {"sym": False, "k_frac": None, "k": None, "agg": "sum", "decay": 0.9, "seed": 0}
    seen: set[str] = set()
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if key in seen:
            raise FormatSpecError(f"payload {spec!r}: '{key}' given twice")
        seen.add(key)
        if not eq and key in ("sym", "asym"):
            opts["sym"] = key == "sym"
        elif key == "bits" and value == "4":
            pass
        elif key == "k_frac" and name != "static":
            opts["k_frac"] = _parse_fraction(value, spec)
        elif key == "k" and name != "static" and value.isdigit():
            opts["k"] = int(value)
        elif key == "agg" and value in ("sum", "max") and name == "hybrid":
            opts["agg"] = value
        elif key == "decay" and _is_decay(value):
            opts["decay"] = float(value)
        elif key == "seed" and name == "randomk" and value.isdigit():
            opts["seed"] = int(value)
        else:
            raise FormatSpecError(f"payload {spec!r}: bad option {item!r}; valid: {PAYLOAD_HELP}")
    if {"sym", "asym"} <= seen:
        raise FormatSpecError(f"payload {spec!r}: give sym or asym, not both")
    if name != "static" and (opts["k_frac"] is None) == (opts["k"] is None):
        raise FormatSpecError(f"payload {spec!r}: give exactly one of k_frac=... or k=...")
    return PayloadSpec(spec=text, kind=name, **opts)


def _is_decay(value: str) -> bool:
    try:
        return 0.0 <= float(value) < 1.0
    except ValueError:
        return False


def per_token_formats_spec(bits: int) -> str:
    """Formats-layer spec of symmetric IntB with one scale per token over the E features."""
    return f"int:bits={bits},g=channel,sym"


def _check_formats_spec(text: str) -> None:
    from andasim.formats import get

    get(text)  # raises FormatSpecError for a bad spec


# --- on-chip cost: vector-unit operations per value (docs/tensor_parallel.md, "On-chip cost") ---

def ops_per_value(ps: PayloadSpec) -> tuple[int, int]:
    """(quantize ops, dequantize ops) per value on the vector unit's FPUs.

    identity/bf16/fp16: 0/0 (the MXU output path writes BF16). Static Int4: asym sub, mul, round,
    2 clamps = 5 (sym 4: no sub); dequantize one FMA (sym one mul). Hybrid/random-k: one more op
    each way for the BF16/Int4 select. Per-token dynamic IntB: 2 more to quantize (min/max or
    abs/max statistics pass). Block formats (anda, bfp, mx, group int): 3 to quantize (max-exponent
    compare, align shift, truncate / group stats, scale, round), 1 to dequantize. The additions of
    the reduction are counted separately (1 op per add).
    """
    if ps.kind == "identity" or ps.formats_spec in ("bf16", "fp16"):
        return 0, 0
    if ps.calibrated:
        q, d = (4, 1) if ps.sym else (5, 1)
        return (q + 1, d + 1) if ps.kind != "static" else (q, d)
    if ps.spec in PER_TOKEN_ALIASES:
        return 6, 1
    return 3, 1


def uses_compressor(ps: PayloadSpec) -> bool:
    """Anda-format partials are encoded by the chip's bit-plane compressor, not the vector unit."""
    return ps.kind == "stateless" and (ps.formats_spec or "").startswith("anda:")


def anda_mantissa_bits(ps: PayloadSpec) -> int:
    """M of an `anda:m=M,...` payload (the compressor needs M cycles per 16 groups)."""
    for item in (ps.formats_spec or "").partition(":")[2].split(","):
        key, _, value = item.partition("=")
        if key.strip() == "m":
            return int(value)
    raise FormatSpecError(f"payload {ps.spec!r}: an anda payload needs m=...")


# --- fitted payloads: what a chip applies to its partial --------------------------------------

class FittedPayload(Protocol):
    spec: str

    def roundtrip(self, rank: int, y: np.ndarray) -> np.ndarray:
        """Encode then decode chip `rank`'s partial y [T, E]; float32 out."""
        ...

    def bits_per_value(self, shape: tuple[int, int]) -> float:
        ...


@dataclass(frozen=True)
class IdentityPayload:
    spec: str = "none"

    def roundtrip(self, rank: int, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float32)

    def bits_per_value(self, shape: tuple[int, int]) -> float:
        return 32.0


@dataclass(frozen=True)
class StatelessPayload:
    """A formats-layer format applied to each token's E features."""

    spec: str
    formats_spec: str

    def _fmt(self):
        from andasim.formats import get

        return get(self.formats_spec)

    def roundtrip(self, rank: int, y: np.ndarray) -> np.ndarray:
        return np.asarray(self._fmt().quantize(np.asarray(y, dtype=np.float32)), dtype=np.float32)

    def bits_per_value(self, shape: tuple[int, int]) -> float:
        return float(self._fmt().bits_per_value(shape))


@dataclass(frozen=True)
class CalibratedPayload:
    """Per-chip fitted formats-layer hybrid formats sharing one BF16 feature set `keep`."""

    spec: str
    formats: tuple  # one fitted andasim.formats HybridFormat per chip
    keep: np.ndarray

    def roundtrip(self, rank: int, y: np.ndarray) -> np.ndarray:
        return np.asarray(self.formats[rank].quantize(np.asarray(y, dtype=np.float32)), dtype=np.float32)

    def bits_per_value(self, shape: tuple[int, int]) -> float:
        return float(self.formats[0].bits_per_value(shape))

    @property
    def lo(self) -> np.ndarray:
        return np.stack([f.calibration.lo for f in self.formats])

    @property
    def hi(self) -> np.ndarray:
        return np.stack([f.calibration.hi for f in self.formats])


def _ema_batches(x: np.ndarray, chunk_tokens: int) -> np.ndarray:
    """x [T, E] as [B, chunk, E] for the formats layer's EMA fit; a ragged tail is dropped."""
    t = x.shape[0]
    if t == 0:
        raise AndasimInputError("calibration needs at least one token")
    chunk = min(chunk_tokens, t)
    b = t // chunk
    return x[: b * chunk].reshape(b, chunk, x.shape[1])


def fit_payload(ps: PayloadSpec, calib: np.ndarray, *, chunk_tokens: int = 64,
                e_full: int | None = None) -> FittedPayload:
    """Fit `ps` on calibration partials `calib` [N, T_cal, E] (chip i's partials in calib[i]).

    Stateless formats ignore the data. Calibrated ones take each chip's EMA min/max, rank the
    features by the per-chip range aggregated over chips (sum or max) and keep the top k (hybrid)
    or k random ones (random-k, seeded) in BF16.
    """
    if ps.kind == "identity":
        return IdentityPayload(ps.spec)
    if ps.kind == "stateless":
        assert ps.formats_spec is not None
        return StatelessPayload(ps.spec, ps.formats_spec)
    from andasim.formats.hybrid import HybridCalibration, HybridFormat

    if calib.ndim != 3:
        raise AndasimInputError(f"calibration partials must be [chips, tokens, features], got {calib.shape}")
    n, _, e = calib.shape
    # per-chip EMA of chunk min/max, by the formats layer's hybrid fit (k = 0: ranges only)
    ranged = [HybridFormat(k=0, sym=ps.sym, ema=ps.decay).fit(_ema_batches(calib[i], chunk_tokens))
              for i in range(n)]
    k = ps.k_for(e, e_full)
    if ps.kind == "static" or k == 0:
        keep = np.zeros(0, dtype=np.int64)
    elif ps.kind == "randomk":
        keep = np.sort(np.random.default_rng(ps.seed).choice(e, size=k, replace=False))
    else:
        ranges = np.stack([f.calibration.hi - f.calibration.lo for f in ranged]).astype(np.float64)
        score = ranges.sum(axis=0) if ps.agg == "sum" else ranges.max(axis=0)
        keep = np.sort(np.argsort(-score, kind="stable")[:k])  # ties go to the lower feature index
    keep = keep.astype(np.int64)
    fitted = tuple(HybridFormat(k=int(keep.size), sym=ps.sym, ema=ps.decay,
                                calibration=HybridCalibration(lo=f.calibration.lo, hi=f.calibration.hi,
                                                              hi_idx=keep))
                   for f in ranged)
    return CalibratedPayload(ps.spec, fitted, keep)
