"""Functional PE models against straightforward numpy references of the same arithmetic.

Each reference below is written independently of andasim.sim.functional: vectorised numpy,
integer matmul instead of bit-planes, numpy's own float16/float32 rounding. Equality is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from andasim.formats import anda_integer_fields, int_weights
from andasim.sim import functional as F

GS = 64
SG = 128


def _operands(seed: int, m: int, k: int, n: int, act_scale: float = 1.0):
    rng = np.random.default_rng(seed)
    # heavy-tailed activations with outlier channels, as LLM activations have
    x = rng.standard_normal((m, k)) * act_scale
    x[:, rng.integers(0, k, 3)] *= 30.0
    x16 = x.astype(np.float16)
    w = rng.standard_normal((k, n)).astype(np.float32) * 0.05
    q, scale, zero = int_weights(w, bits=4, group=SG, axis=0, sym=True)
    assert not zero.any()
    return x16, q.astype(np.int64), scale


def _ref_bfp(signs, mants, exps, m_bits, q, scale, fp16_convert: bool) -> np.ndarray:
    """Group dot products by integer matmul, per-group conversion, FP32 accumulation in K order."""
    m, n_groups, gs = mants.shape
    k, n = q.shape
    w = np.zeros((n_groups * gs, n), dtype=np.int64)
    w[:k] = q
    signed = np.where(signs == 1, -1, 1) * mants.astype(np.int64)          # [m, G, gs]
    acc = np.einsum("mgl,gln->mgn", signed, w.reshape(n_groups, gs, n))    # exact integers
    p2 = np.exp2(exps.astype(np.float64) - 15 - (m_bits - 1))[:, :, None]
    g = acc * p2
    g = g.astype(np.float16).astype(np.float32) if fp16_convert else g.astype(np.float32)
    s16 = scale.astype(np.float16).astype(np.float32)
    out = np.zeros((m, n), dtype=np.float32)
    for gi in range(n_groups):
        out = (out + g[:, gi, :] * s16[(gi * gs) // SG][None, :]).astype(np.float32)
    return out.astype(np.float16).astype(np.float32)


@pytest.mark.parametrize("m_bits", [1, 4, 7, 11, 16])
def test_anda_apu_equals_reference(m_bits: int) -> None:
    x16, q, scale = _operands(m_bits, 5, 320, 7)
    signs, mants, exps = anda_integer_fields(x16, m_bits, GS)
    got = F.anda_apu_gemm(signs, mants, exps, m_bits, q, scale, SG)
    ref = _ref_bfp(signs, mants, exps, m_bits, q, scale, fp16_convert=True)
    np.testing.assert_array_equal(got, ref)


def test_anda_apu_partial_group_and_tiny_values() -> None:
    # K = 200 is not a multiple of 64: the last group is zero-padded; tiny activations make the
    # INT2Half conversion produce FP16 subnormals.
    x16, q, scale = _operands(3, 4, 200, 5, act_scale=1e-4)
    signs, mants, exps = anda_integer_fields(x16, 6, GS)
    got = F.anda_apu_gemm(signs, mants, exps, 6, q, scale, SG)
    np.testing.assert_array_equal(got, _ref_bfp(signs, mants, exps, 6, q, scale, True))


def test_anda_apu_close_to_float64_product() -> None:
    """Error bound from the formats: one FP16 rounding per group value (rel. 2^-11), FP32
    accumulation (rel. 2^-24 per add) and the final FP16 rounding (rel. 2^-11), plus half an FP16
    subnormal step (2^-25) per rounding for values below the normal range."""
    m_bits = 8
    x16, q, scale = _operands(11, 6, 512, 9)
    signs, mants, exps = anda_integer_fields(x16, m_bits, GS)
    got = F.anda_apu_gemm(signs, mants, exps, m_bits, q, scale, SG).astype(np.float64)
    x_hat = (np.where(signs == 1, -1.0, 1.0) * mants * np.exp2(exps[..., None] - 15.0 - (m_bits - 1)))
    x_hat = x_hat.reshape(6, -1)[:, :512]
    w_hat = q * np.repeat(scale.astype(np.float16).astype(np.float64), SG, axis=0)
    exact = x_hat @ w_hat
    groups = np.abs(np.einsum("mgl,gln->mgn", x_hat.reshape(6, 8, 64), w_hat.reshape(8, 64, 9))).sum(axis=1)
    n_groups = 8
    bound = (2.0**-11 * groups + 2.0**-11 * np.abs(exact) + n_groups * 2.0**-24 * groups
             + (n_groups + 1) * 2.0**-25)
    err = np.abs(got - exact)
    assert (err <= bound).all(), float((err - bound).max())
    # and the bound is not vacuous: it is a small fraction of the output magnitude
    assert np.median(bound / np.maximum(np.abs(exact), 1e-3)) < 0.01


def test_prealigned_equals_reference_and_is_at_least_as_precise() -> None:
    x16, q, scale = _operands(5, 4, 256, 6)
    signs, mants, exps = anda_integer_fields(x16, 13, GS)
    got = F.prealigned_gemm(signs, mants, exps, 13, q, scale, SG)
    np.testing.assert_array_equal(got, _ref_bfp(signs, mants, exps, 13, q, scale, fp16_convert=False))
    # FIGNA-M13 keeps every bit Anda-M13 keeps and rounds later: the Anda APU differs only by
    # its FP16 conversion, so the two agree to within that rounding
    anda = F.anda_apu_gemm(signs, mants, exps, 13, q, scale, SG)
    assert np.abs(anda - got).max() <= 2.0**-9 * np.abs(got).max() + 1e-6


def test_fp_int_equals_reference() -> None:
    x16, q, scale = _operands(7, 3, 256, 5)
    got = F.fp_int_gemm(x16, q, scale, SG, 64)
    a = x16.astype(np.float32)
    s16 = scale.astype(np.float16).astype(np.float32)
    out = np.zeros((3, 5), dtype=np.float32)
    for g0 in range(0, 256, 64):
        p = np.zeros((3, 5), dtype=np.float32)
        for kk in range(g0, g0 + 64):
            p = (p + a[:, kk, None] * q[kk].astype(np.float32)[None, :]).astype(np.float32)
        out = (out + p * s16[g0 // SG][None, :]).astype(np.float32)
    np.testing.assert_array_equal(got, out.astype(np.float16).astype(np.float32))


def test_fp_fp_equals_reference() -> None:
    x16, q, scale = _operands(9, 3, 192, 4)
    got = F.fp_fp_gemm(x16, q, scale, SG)
    a = x16.astype(np.float32)
    w16 = (q * np.repeat(scale.astype(np.float16).astype(np.float64), SG, axis=0)[:192]).astype(np.float16)
    w16 = w16.astype(np.float32)
    out = np.zeros((3, 4), dtype=np.float32)
    for kk in range(192):
        out = (out + a[:, kk, None] * w16[kk][None, :]).astype(np.float32)
    np.testing.assert_array_equal(got, out.astype(np.float16).astype(np.float32))


def test_fp16_round_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    h = rng.standard_normal(3000).astype(np.float16).astype(np.float64)
    ulp = np.spacing(h.astype(np.float16)).astype(np.float64)
    x = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-9, 5, 3000), h + ulp / 2,
                        h - ulp / 2, [65504.0, 65519.0, 65520.0, 2.0**-25, 3 * 2.0**-26, 0.0]])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).astype(np.float64)
    got = np.array([F.fp16_round(v) for v in x])
    np.testing.assert_array_equal(got, ref)


def test_bad_operands_refused() -> None:
    x16, q, scale = _operands(2, 2, 128, 3)
    signs, mants, exps = anda_integer_fields(x16, 4, GS)
    with pytest.raises(ValueError, match="fit 3 bits"):
        F.anda_apu_gemm(signs, mants, exps, 3, q, scale, SG)
    with pytest.raises(ValueError, match="K="):
        F.anda_apu_gemm(signs, mants, exps, 4, q[:64], scale[:1], SG)
