"""Error metrics between a reference tensor and its quantized version (computed in float64).

Conventions: `ref` first, `x` (the approximation) second; shapes must match exactly; NaN/Inf refused.
"""

from __future__ import annotations

import numpy as np

from andasim.errors import AndasimInputError
from andasim.formats.fp16 import check_float_array, refuse_nonfinite


def _pair(ref: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = check_float_array(ref, "metrics ref")
    a = check_float_array(x, "metrics x")
    if r.shape != a.shape:
        raise AndasimInputError(f"metrics: shapes differ: ref {r.shape} vs x {a.shape}")
    refuse_nonfinite(r, "metrics ref")
    refuse_nonfinite(a, "metrics x")
    return r.astype(np.float64), a.astype(np.float64)


def mse(ref: np.ndarray, x: np.ndarray) -> float:
    """Mean squared error."""
    r, a = _pair(ref, x)
    return float(np.mean((a - r) ** 2))


def sqnr_db(ref: np.ndarray, x: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio 10·log10(Σ ref² / Σ (x − ref)²) in dB; +inf when x == ref
    (no noise), -inf when ref is all zero but x is not."""
    r, a = _pair(ref, x)
    signal = float(np.sum(r * r))
    noise = float(np.sum((a - r) ** 2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(signal / noise))


def cosine(ref: np.ndarray, x: np.ndarray) -> float:
    """Cosine similarity of the flattened tensors; 1.0 if both are all zero, 0.0 if exactly one is."""
    r, a = _pair(ref, x)
    nr = float(np.linalg.norm(r))
    na = float(np.linalg.norm(a))
    if nr == 0.0 and na == 0.0:
        return 1.0
    if nr == 0.0 or na == 0.0:
        return 0.0
    return float(np.dot(r.ravel(), a.ravel()) / (nr * na))


def max_rel_error(ref: np.ndarray, x: np.ndarray) -> float:
    """max_i |x_i − ref_i| / |ref_i|; an element with ref_i == 0 counts 0 if x_i == 0 and +inf otherwise."""
    r, a = _pair(ref, x)
    err = np.abs(a - r)
    denom = np.abs(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(denom > 0, err / np.where(denom > 0, denom, 1.0), np.where(err > 0, np.inf, 0.0))
    return float(rel.max()) if rel.size else 0.0
