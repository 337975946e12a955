"""Activation statistics that matter for a grouped shared-exponent format like Anda.

- range: min / max / abs-max of the FP16 values;
- exponent spread per group: for each group of `group` consecutive input channels of one token
  (the Anda grouping, GS = 64 along k), the max minus the min of the 5-bit FP16 exponent field
  over its non-zero elements. A spread of s means the smallest non-zero element loses s mantissa
  bits to alignment against the shared (max) exponent;
- outlier channels: input channels whose abs-max over the tokens exceeds `outlier_ratio` times
  the median channel abs-max (the LLM.int8()-style channel outliers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

OUTLIER_RATIO = 6.0


@dataclass(frozen=True)
class ActivationStats:
    tokens: int
    channels: int
    min: float
    max: float
    abs_max: float
    exp_spread_mean: float
    exp_spread_p50: float
    exp_spread_max: int
    outlier_channels: tuple[int, ...]
    outlier_ratio: float

    def to_dict(self) -> dict:
        return asdict(self)


def exponent_spread(x_fp16: np.ndarray, group: int = 64) -> np.ndarray:
    """Per-(token, group) spread of the FP16 exponent field over non-zero elements; -1 if all zero."""
    if x_fp16.dtype != np.float16 or x_fp16.ndim != 2:
        raise ValueError("expected a 2-D float16 array [tokens, channels]")
    tokens, channels = x_fp16.shape
    n_groups = -(-channels // group)
    exps = ((x_fp16.view(np.uint16) >> 10) & 0x1F).astype(np.int16)
    nonzero = (x_fp16.view(np.uint16) & 0x7FFF) != 0
    pad = n_groups * group - channels
    if pad:
        exps = np.pad(exps, ((0, 0), (0, pad)))
        nonzero = np.pad(nonzero, ((0, 0), (0, pad)))
    exps = exps.reshape(tokens, n_groups, group)
    nonzero = nonzero.reshape(tokens, n_groups, group)
    high = np.where(nonzero, exps, -1).max(axis=2)
    low = np.where(nonzero, exps, 99).min(axis=2)
    return np.where(high >= 0, high - low, -1)


def activation_stats(x_fp16: np.ndarray, group: int = 64,
                     outlier_ratio: float = OUTLIER_RATIO) -> ActivationStats:
    """Statistics of one recorded activation matrix [tokens, channels] (see module doc)."""
    values = x_fp16.astype(np.float32)
    spread = exponent_spread(x_fp16, group)
    valid = spread[spread >= 0]
    channel_max = np.abs(values).max(axis=0)
    median = float(np.median(channel_max))
    outliers = np.flatnonzero(channel_max > outlier_ratio * median) if median > 0 else np.array([], int)
    order = outliers[np.argsort(-channel_max[outliers], kind="stable")]
    return ActivationStats(
        tokens=int(values.shape[0]), channels=int(values.shape[1]),
        min=float(values.min()), max=float(values.max()), abs_max=float(np.abs(values).max()),
        exp_spread_mean=float(valid.mean()) if valid.size else 0.0,
        exp_spread_p50=float(np.median(valid)) if valid.size else 0.0,
        exp_spread_max=int(valid.max()) if valid.size else 0,
        outlier_channels=tuple(int(c) for c in order), outlier_ratio=outlier_ratio)
