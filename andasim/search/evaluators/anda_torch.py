"""Anda truncation in torch, bit-identical to `andasim.formats.anda_quantize` (tested against it).

Used as fake quantization inside a real model's forward pass, where a numpy round trip per Linear
would dominate the run time. Same definition as anda.md §1.2 and the formats layer: round to FP16,
shared exponent E = the largest 5-bit biased exponent field of the group (subnormals and zeros
count as field 1), quantum q = 2^(E − 15 − (M − 1)), x̂ = sign(x) · floor(|x| / q) · q, sign kept
(so truncated negatives are −0.0), groups of `gs` along the last axis (a short last group behaves
as if zero-padded). Every step is exact in float32: |x|/q and the product are power-of-two scalings
of integers below 2^24.
"""

from __future__ import annotations

import torch

from andasim.errors import AndasimInputError


def fp16_round(x: torch.Tensor) -> torch.Tensor:
    """Round to FP16 (RNE) and back to float32; refuses values outside the FP16 range."""
    h = x.to(torch.float16).to(torch.float32)
    if not bool(torch.isfinite(h).all()):
        raise AndasimInputError("activation outside the FP16 range (or NaN) at a quantized Linear input; "
                                "the model cannot run with FP16 activations")
    return h


def anda_quantize_torch(x: torch.Tensor, m: int, gs: int = 64) -> torch.Tensor:
    """Anda-quantize `x` along its last axis; float32 result with x's shape."""
    h = fp16_round(x)
    k = h.shape[-1]
    pad = (-k) % gs
    if pad:
        h = torch.nn.functional.pad(h, (0, pad))
    g = h.reshape(*h.shape[:-1], -1, gs)
    _, exp2 = torch.frexp(g)  # |g| = f · 2^exp2 with f in [0.5, 1): FP16 field e = exp2 + 14 for normals
    field = torch.where(g == 0, torch.ones_like(exp2), torch.clamp(exp2 + 14, min=1))
    shared = field.amax(dim=-1, keepdim=True)
    quantum = torch.ldexp(torch.ones_like(g[..., :1]), (shared - 15 - (m - 1)).to(torch.float32))
    out = torch.copysign(torch.floor(g.abs() / quantum) * quantum, g)
    out = out.reshape(*h.shape)
    return out[..., :k] if pad else out
