"""Non-dominated points: the Pareto front of a sweep over chosen objectives.

A point is dominated when another point is at least as good in every objective and strictly
better in one. Each objective knows its direction (latency and energy: lower is better;
throughput and efficiency: higher is better). Points that failed have no numbers and are never
on the front.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from andasim.errors import AndasimInputError

LOWER_IS_BETTER = ("cycles", "latency_s", "energy_j", "energy_on_chip_j", "energy_dram_j",
                   "energy_per_token_j", "area_mm2", "dram_bytes", "dram_read_bytes", "dram_write_bytes",
                   "stall_dram_share")
HIGHER_IS_BETTER = ("throughput_gops", "tokens_per_s", "energy_efficiency_tops_per_w",
                    "energy_efficiency_on_chip_tops_per_w", "area_efficiency_gops_per_mm2", "utilization")
OBJECTIVES = (*LOWER_IS_BETTER, *HIGHER_IS_BETTER)
_CHUNK = 512


def check_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Validate `--pareto` names: known metrics, at least two, no repeats."""
    names = tuple(names)
    for name in names:
        if name not in OBJECTIVES:
            raise AndasimInputError(f"--pareto {name!r}: not an objective; valid: {', '.join(OBJECTIVES)}")
    if len(names) < 2 or len(set(names)) != len(names):
        raise AndasimInputError(f"--pareto needs at least two different objectives, got {','.join(names)}")
    return names


def pareto_mask(values: np.ndarray, objectives: Sequence[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `values` (n points x len(objectives); NaN = failed)."""
    v = np.asarray(values, dtype=float).copy()
    for j, name in enumerate(objectives):
        if name in HIGHER_IS_BETTER:
            v[:, j] = -v[:, j]  # minimise everything
    valid = ~np.isnan(v).any(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(valid)
    pts = v[idx]
    keep = np.ones(len(pts), dtype=bool)
    for start in range(0, len(pts), _CHUNK):
        block = pts[start:start + _CHUNK]
        # dominated[i] if any p: p <= block[i] everywhere and p < block[i] somewhere
        le = (pts[None, :, :] <= block[:, None, :]).all(axis=2)
        lt = (pts[None, :, :] < block[:, None, :]).any(axis=2)
        keep[start:start + _CHUNK] = ~(le & lt).any(axis=1)
    mask[idx] = keep
    return mask
