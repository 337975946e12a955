"""Paired bootstrap over windows: a confidence interval for the relative perplexity change.

Both perplexities are measured on the same windows, so the change is paired: window i contributes
its NLL sum under the baseline b_i and under the candidate q_i, over n_i predicted tokens. The
point estimate is the relative change of the pooled perplexity,

    r = exp((Σ q_i − Σ b_i) / Σ n_i) − 1,

and the bootstrap resamples whole windows with replacement (the same indices for b and q, which
keeps the pairing) and recomputes r. The interval is the percentile interval of the resampled r.
Windows, not tokens, are resampled because tokens inside a window are strongly correlated.
The resampling uses numpy's PCG64 generator seeded explicitly, so the interval is a pure function
of (per-window NLLs, seed, resamples, level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError

DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 10_000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class ChangeInterval:
    """Relative perplexity change (candidate / baseline − 1) with its bootstrap interval."""

    change: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int
    windows: int

    def to_dict(self) -> dict[str, float | int]:
        return {"relative_change": self.change, "ci_low": self.low, "ci_high": self.high,
                "ci_level": self.level, "bootstrap_resamples": self.resamples, "bootstrap_seed": self.seed,
                "windows": self.windows}


def _as_vector(values: np.ndarray | list[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise AndasimInputError(f"{name}: expected a non-empty list of per-window values, "
                                f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AndasimInputError(f"{name}: per-window values must be finite")
    return arr


def relative_change(baseline_nll: np.ndarray, candidate_nll: np.ndarray, tokens: np.ndarray) -> float:
    """exp((Σq − Σb) / Σn) − 1: candidate perplexity over baseline perplexity, minus one."""
    return float(np.expm1((np.sum(candidate_nll) - np.sum(baseline_nll)) / np.sum(tokens)))


def paired_bootstrap(baseline_nll: np.ndarray | list[float], candidate_nll: np.ndarray | list[float],
                     tokens: np.ndarray | list[float] | int, *, seed: int = DEFAULT_SEED,
                     resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL) -> ChangeInterval:
    """Relative perplexity change and its two-sided `level` percentile interval (paired over windows).

    `tokens`: predicted tokens per window (one number for equal windows).
    """
    base = _as_vector(baseline_nll, "baseline NLL")
    cand = _as_vector(candidate_nll, "candidate NLL")
    if base.shape != cand.shape:
        raise AndasimInputError(f"paired bootstrap: {base.size} baseline windows but {cand.size} candidate "
                                "windows; both must be measured on the same windows")
    n_tok = np.broadcast_to(np.asarray(tokens, dtype=np.float64), base.shape)
    if not np.all(n_tok > 0):
        raise AndasimInputError("paired bootstrap: every window must predict at least one token")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise AndasimInputError(f"bootstrap resamples must be a positive integer, got {resamples!r}")
    if not 0 < level < 1:
        raise AndasimInputError(f"confidence level must lie strictly between 0 and 1, got {level!r}")
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, base.size, size=(resamples, base.size))
    diff = cand - base
    changes = np.expm1(diff[idx].sum(axis=1) / n_tok[idx].sum(axis=1))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(changes, [alpha, 1.0 - alpha])
    return ChangeInterval(change=relative_change(base, cand, n_tok), low=float(low), high=float(high),
                          level=level, resamples=resamples, seed=seed, windows=int(base.size))
