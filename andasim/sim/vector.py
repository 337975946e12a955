"""Vector-unit work of one decoder layer (opt-in module `vector`).

The paper runs the non-linear functions on a 64-FPU vector unit (anda.md §2.3) but evaluates
only the FP-INT GeMMs, so this work is off by default. When asked for, it is counted as element
operations per layer and run serially after the layer's GeMMs at one operation per FPU per
cycle. The per-element operation counts are andasim assumptions (no source gives them); they are
named here so a reader can change them.
"""

from __future__ import annotations

import math
from typing import Any

NORM_OPS_PER_ELEMENT = 4      # square-accumulate, normalise, scale by gamma, (shift/bias)
RESIDUAL_OPS_PER_ELEMENT = 1  # one add
ACT_OPS_PER_ELEMENT = 4       # SiLU/GELU approximated by ~4 FP ops
GATE_OPS_PER_ELEMENT = 1      # gate * up multiply (gated FFNs)
SOFTMAX_OPS_PER_ELEMENT = 5   # scale, max, subtract+exp, sum, divide
NORMS_PER_LAYER = 2
RESIDUALS_PER_LAYER = 2


def softmax_elements(card: Any, phase: str, seq_len: int, batch: int, kv_len: int | None) -> dict[int, int]:
    """Attention-score elements per layer (the QK^T outputs the softmax runs over)."""
    out: dict[int, int] = {}
    for g in card.gemms(phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len, modules=("qk",)):
        out[g.layer] = out.get(g.layer, 0) + g.m * g.n * g.count
    return out


def layer_vector_ops(card: Any, rows: int, scores: int) -> int:
    """Element operations of the vector unit in one layer of `rows` tokens with `scores` softmax inputs."""
    ops = rows * card.hidden * (NORMS_PER_LAYER * NORM_OPS_PER_ELEMENT
                                + RESIDUALS_PER_LAYER * RESIDUAL_OPS_PER_ELEMENT)
    ops += rows * card.ffn * (ACT_OPS_PER_ELEMENT + (GATE_OPS_PER_ELEMENT if card.gated else 0))
    return ops + scores * SOFTMAX_OPS_PER_ELEMENT


def vector_cycles(ops: int, fpus: int) -> int:
    return math.ceil(ops / fpus)
