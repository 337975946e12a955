"""Where FlexGen's runtime actually puts the weights: whole tensors, not fractions.

`--percent WG WC ...` is a request. FlexGen's runtime (flex_opt.py:82-131, `init_weight_list`,
FMInference/FlexGen 19753bc) walks the tensors of each sub-layer (attention, MLP) in order and
puts each whole tensor on the tier whose cumulative percent range (disk, then CPU, then GPU)
contains the tensor's midpoint. So `--percent 20 80` on OPT-30B puts only `out_proj` on the
GPU: 8.3 % of the weights, not 20 %. `--weight-placement tensor` (the default) evaluates the
realised split; `fraction` keeps the request as a real number, as FlexGen's LP does.

Tensor order per sub-layer follows FlexGen's OPT specs (SelfAttention.init_weight: q, b_q, k,
b_k, v, b_v, out, b_out, ln_w, ln_b; MLP.init_weight: fc1, b1, fc2, b2, ln_w, ln_b). For cards
FlexGen does not run (gated MLPs, GQA, no biases) the same pattern is used with the card's own
tensors -- gate before up -- an andasim assumption. The realised fractions count projection
matrices only (the cost model's W); biases and norms move the midpoints but weigh nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.workload.card import ModelCard

PLACEMENTS = ("tensor", "fraction")


@dataclass(frozen=True)
class Tensor:
    name: str
    size: int       # values
    matrix: bool    # a projection (counted in W) rather than a bias or norm vector


def sublayer_tensors(card: ModelCard) -> tuple[list[Tensor], list[Tensor]]:
    """The attention and MLP tensors of one layer, in FlexGen's allocation order."""
    h, q, kv, f = card.hidden, card.q_dim, card.kv_dim, card.ffn
    norm = [Tensor("ln_w", h, False)] + ([Tensor("ln_b", h, False)] if card.norm == "layernorm" else [])
    attn_bias = card.linear_bias or card.qkv_bias
    attn: list[Tensor] = []
    for name, out in (("q", q), ("k", kv), ("v", kv)):
        attn.append(Tensor(f"w_{name}", out * h, True))
        if attn_bias:
            attn.append(Tensor(f"b_{name}", out, False))
    attn.append(Tensor("w_out", h * q, True))
    if card.linear_bias:
        attn.append(Tensor("b_out", h, False))
    mlp: list[Tensor] = []
    for name, size, bias in ((("w_gate", f * h, f),) if card.gated else ()) + (
            ("w_fc1", f * h, f), ("w_fc2", h * f, h)):
        mlp.append(Tensor(name, size, True))
        if card.linear_bias:
            mlp.append(Tensor(name.replace("w_", "b_"), bias, False))
    return attn + norm, mlp + norm


def _home(mid_percent: float, cum: np.ndarray) -> int:
    """FlexGen's get_choice: the first tier (0 disk, 1 CPU, 2 GPU) whose cumulative percent
    exceeds the midpoint; the last one if none does."""
    for i, edge in enumerate(cum):
        if mid_percent < edge:
            return i
    return len(cum) - 1


def tensor_homes(tensors: list[Tensor], wg: float, wc: float) -> list[int]:
    """Tier of each tensor (0 disk, 1 CPU, 2 GPU) under --percent wg wc (in percent)."""
    cum = np.cumsum([100.0 - wg - wc, wc, wg])
    sizes = np.array([t.size for t in tensors], dtype=float)
    csum = np.cumsum(sizes)
    return [_home(float((csum[i] - sizes[i] / 2) / csum[-1] * 100), cum) for i in range(len(tensors))]


def realised_weight_fractions(card: ModelCard, wg: float, wc: float) -> tuple[float, float, float]:
    """(wg, wc, wd) as fractions of the projection weights after whole-tensor placement."""
    on = [0.0, 0.0, 0.0]
    for tensors in sublayer_tensors(card):
        for t, home in zip(tensors, tensor_homes(tensors, wg, wc), strict=True):
            if t.matrix:
                on[home] += t.size
    total = sum(on)
    return on[2] / total, on[1] / total, on[0] / total
