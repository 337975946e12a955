"""Hybrid top-k format for tensor-parallel collectives (Dong et al. 2024; tp_comm_and_flexgen.md Part 1 §1.2).

Static per-feature Int4 quantization fitted on calibration activations, with the k features of widest
calibrated range kept in BF16. With k = E/64: 16·k/E + 4·(E − k)/E = 4.1875 bits per value.
* fit(calib): calib [T, E] is one batch (per-feature min/max over tokens); [B, T, E] is B batches whose
  per-batch min/max are combined by an exponential moving average, r ← ema·r + (1 − ema)·r_batch, starting
  from the first batch (the paper's EMA; its momentum is not published, default 0.9 is our choice).
* Top-k: features sorted by calibrated range max − min, widest first, ties to the lower index.
* Int4 features: asym (default) Δ = (max − min)/15, q = clip(rint((x − min)/Δ), 0, 15), x̂ = q·Δ + min;
  sym: Δ = max(|min|, |max|)/7, q = clip(rint(x/Δ), −7, 7), x̂ = q·Δ. Values outside the calibrated range
  saturate. Parameters are float32, fixed at calibration, so no metadata travels with the data.
* BF16 features: round-to-nearest-even.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats.base import Format, check_shape
from andasim.formats.fp16 import bf16_bits, bf16_from_bits, check_float_array, refuse_nonfinite, to_f32

LO_BITS = 4
HI_BITS = 16


@dataclass(frozen=True, eq=False)
class HybridCalibration:
    """Fitted state: per-feature range [lo, hi] (float32 [E]) and the sorted BF16 feature indices [k]."""

    lo: np.ndarray
    hi: np.ndarray
    hi_idx: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.lo.shape[0])


@dataclass(frozen=True, eq=False)
class HybridPayload:
    """Memory image: codes int8 [..., E − k] (Int4 values, unpacked), bf16 uint16 [..., k], shape."""

    codes: np.ndarray
    bf16: np.ndarray
    shape: tuple[int, ...]


class HybridFormat(Format):
    """`hybrid:k_frac=1/64` or `hybrid:k=80` (optional `sym`/`asym`, `ema=0.9`)."""

    def __init__(self, k: int | None = None, k_frac: Fraction | None = None, sym: bool = False,
                 ema: float = 0.9, calibration: HybridCalibration | None = None) -> None:
        if (k is None) == (k_frac is None):
            raise FormatSpecError("hybrid: give exactly one of k=<int> or k_frac=<fraction such as 1/64>")
        if k is not None and k < 0:
            raise FormatSpecError(f"hybrid: k must be >= 0, got {k}")
        if k_frac is not None and not 0 <= k_frac <= 1:
            raise FormatSpecError(f"hybrid: k_frac must be in [0, 1], got {k_frac}")
        if not 0.0 <= ema < 1.0:
            raise FormatSpecError(f"hybrid: ema must be in [0, 1), got {ema}")
        self.k, self.k_frac, self.sym, self.ema = k, k_frac, sym, ema
        self.calibration = calibration
        size = f"k={k}" if k is not None else f"k_frac={k_frac.numerator}/{k_frac.denominator}"
        self.spec = f"hybrid:{size},{'sym' if sym else 'asym'},ema={ema:g}"

    @property
    def fitted(self) -> bool:
        return self.calibration is not None

    def k_for(self, n_features: int) -> int:
        """Number of BF16 features for E = n_features (k, or floor(E·k_frac))."""
        k = self.k if self.k is not None else math.floor(n_features * self.k_frac)
        if k > n_features:
            raise AndasimInputError(f"{self.spec}: k={k} exceeds the number of features E={n_features}")
        return k

    def fit(self, calib: np.ndarray) -> HybridFormat:
        """Return a fitted copy: per-feature ranges from calib [T, E] or [B, T, E] and the top-k set."""
        arr = check_float_array(calib, f"{self.spec} calibration")
        refuse_nonfinite(arr, f"{self.spec} calibration")
        if arr.ndim not in (2, 3) or 0 in arr.shape:
            raise AndasimInputError(
                f"{self.spec} fit: calibration must be [T, E] or [B, T, E] with no empty axis, "
                f"got {arr.shape}")
        batches = arr.astype(np.float32).reshape(-1, *arr.shape[-2:])
        lo = batches[0].min(axis=0)
        hi = batches[0].max(axis=0)
        a = np.float32(self.ema)
        for b in batches[1:]:
            lo = a * lo + (1 - a) * b.min(axis=0)
            hi = a * hi + (1 - a) * b.max(axis=0)
        k = self.k_for(arr.shape[-1])
        order = np.argsort(-(hi - lo), kind="stable")
        hi_idx = np.sort(order[:k]).astype(np.int64)
        cal = HybridCalibration(lo=lo.astype(np.float32), hi=hi.astype(np.float32), hi_idx=hi_idx)
        return HybridFormat(k=self.k, k_frac=self.k_frac, sym=self.sym, ema=self.ema, calibration=cal)

    def _check(self, x: np.ndarray) -> tuple[np.ndarray, HybridCalibration, np.ndarray]:
        if self.calibration is None:
            raise AndasimInputError(
                f"{self.spec} is not fitted: call fmt = fmt.fit(calibration_activations [T, E]) first")
        cal = self.calibration
        x32 = to_f32(x, f"{self.spec} input")
        if x32.shape[-1] != cal.n_features:
            raise AndasimInputError(
                f"{self.spec}: last axis has {x32.shape[-1]} features, the format was fitted on "
                f"{cal.n_features}")
        lo_mask = np.ones(cal.n_features, dtype=bool)
        lo_mask[cal.hi_idx] = False
        return x32, cal, lo_mask

    def _step(self, cal: HybridCalibration, lo_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = cal.lo[lo_mask], cal.hi[lo_mask]
        if self.sym:
            step = np.maximum(np.abs(lo), np.abs(hi)) / np.float32(2 ** (LO_BITS - 1) - 1)
            return step.astype(np.float32), np.zeros_like(step)
        return ((hi - lo) / np.float32(2**LO_BITS - 1)).astype(np.float32), lo

    def encode(self, x: np.ndarray) -> HybridPayload:
        x32, cal, lo_mask = self._check(x)
        step, base = self._step(cal, lo_mask)
        safe = np.where(step > 0, step, np.float32(1))
        xl = x32[..., lo_mask]
        if self.sym:
            qmax = 2 ** (LO_BITS - 1) - 1
            q = np.clip(np.rint(xl / safe), -qmax, qmax)
        else:
            q = np.clip(np.rint((xl - base) / safe), 0, 2**LO_BITS - 1)
        q = np.where(step > 0, q, 0).astype(np.int8)
        return HybridPayload(codes=q, bf16=bf16_bits(x32[..., cal.hi_idx]), shape=tuple(x32.shape))

    def decode(self, payload: HybridPayload) -> np.ndarray:
        if not isinstance(payload, HybridPayload):
            raise AndasimInputError(f"{self.spec} decode: expected a HybridPayload")
        if self.calibration is None:
            raise AndasimInputError(f"{self.spec} is not fitted: call fmt.fit(calibration_activations) first")
        cal = self.calibration
        lo_mask = np.ones(cal.n_features, dtype=bool)
        lo_mask[cal.hi_idx] = False
        step, base = self._step(cal, lo_mask)
        out = np.empty(payload.shape, dtype=np.float32)
        out[..., lo_mask] = payload.codes.astype(np.float32) * step + base
        out[..., cal.hi_idx] = bf16_from_bits(payload.bf16)
        return out

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(x))

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """(16·k + 4·(E − k))/E: no per-token metadata (parameters are static)."""
        shape = check_shape(shape)
        n = shape[-1]
        if self.calibration is not None and n != self.calibration.n_features:
            raise AndasimInputError(
                f"{self.spec}: shape has E={n}, fitted on E={self.calibration.n_features}")
        k = self.k_for(n)
        return (HI_BITS * k + LO_BITS * (n - k)) / n

    def __eq__(self, other: object) -> bool:
        if self.calibration is not None:
            return other is self
        return super().__eq__(other)

    def __hash__(self) -> int:
        return id(self) if self.calibration is not None else super().__hash__()
