"""Functional (numeric) models of the PE types: what each design actually computes.

All models take the same quantized operands: INT weights `w_int[k, n]` (already zero-point
corrected, e.g. symmetric INT4 from `andasim.formats.int_weights(..., sym=True)`) with one
scale per `scale_group` weights along K, stored as FP16 (andasim assumption: OmniQuant keeps FP16
scales; zero-point handling is not described by the paper, anda.md §2.2 — an integer zero-point
can be folded into `w_int` before the adder tree). Outputs are FP16 values (as float32 arrays).

- Anda APU (anda.md §2.2): per 64-element group, for each mantissa bit-plane MSB first, an
  adder tree sums the signed INT4 weights selected by the plane's bits; an INT32 accumulator
  shifts left and adds. INT2Half: g = fp16(acc * 2^(E - 15 - (M - 1))) (round to nearest even,
  as IEEE conversion does); g times the FP16 weight scale in FP32 (exact: 11 x 11 bits); FP32
  accumulation across groups in K order; final FP16.
- Pre-aligned BFP (FIGNA, iFPU; anda.md §6.3): the same integer dot product on activations
  aligned to `compute_mantissa_bits`, but INT -> FP32 (FIGNA: INT32 -> FP32 -> FP16).
- FP-INT: FP16 activations times INT weights per 64-lane group summed in FP32, times the
  scale, FP32 accumulation.
- FP-FP: FP16 activations times FP16-dequantized weights fp16(q * s), FP32 accumulation in K
  order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FP16_MAX_HALFWAY = 65520.0  # values at or above round to infinity in FP16 (65504 + half an ulp)


@njit(cache=True)
def fp16_round(x: float) -> float:
    """Round a float64 to the nearest FP16 value (ties to even; subnormals; overflow -> inf)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    a = abs(x)
    if a >= FP16_MAX_HALFWAY:
        return math.copysign(math.inf, x)
    _, ex = math.frexp(a)
    e = ex - 1
    if e < -14:
        e = -14
    q = 2.0 ** (e - 10)
    r = np.rint(a / q) * q
    return math.copysign(r, x)


@njit(cache=True)
def f32(x: float) -> float:
    """Round a float64 to FP32."""
    return float(np.float32(x))


@njit(cache=True)
def anda_group_value(acc: int, exp: int, m_bits: int) -> float:
    """INT2Half: the group's dot product as FP16, using the shared exponent."""
    return fp16_round(acc * 2.0 ** (exp - 15 - (m_bits - 1)))


@njit(cache=True)
def aligned_group_value(acc: int, exp: int, m_bits: int) -> float:
    """Pre-aligned BFP (FIGNA/iFPU): the group's dot product as FP32."""
    return f32(acc * 2.0 ** (exp - 15 - (m_bits - 1)))


@njit(cache=True)
def _plane_sum(signs, mants, w, i, g, gs, j, bit):  # pragma: no cover - compiled
    p = 0
    for lane in range(gs):
        if (mants[i, g, lane] >> bit) & 1:
            wv = w[g * gs + lane, j]
            p += -wv if signs[i, g, lane] else wv
    return p


@njit(cache=True)
def _bfp_gemm(signs, mants, exps, m_bits, w, scale16, sg, fp16_convert):  # pragma: no cover - compiled
    m, n_groups, gs = mants.shape
    n = w.shape[1]
    out = np.zeros((m, n), dtype=np.float32)
    for i in range(m):
        for j in range(n):
            acc32 = 0.0
            for g in range(n_groups):
                acc = 0
                for t in range(m_bits):          # MSB plane first
                    acc = (acc << 1) + _plane_sum(signs, mants, w, i, g, gs, j, m_bits - 1 - t)
                if fp16_convert:
                    gv = anda_group_value(acc, exps[i, g], m_bits)
                else:
                    gv = aligned_group_value(acc, exps[i, g], m_bits)
                acc32 = f32(acc32 + f32(gv * scale16[(g * gs) // sg, j]))
            out[i, j] = fp16_round(acc32)
    return out


@njit(cache=True)
def _fp_int_gemm(a16, w, scale16, sg, lanes):  # pragma: no cover - compiled
    m, k = a16.shape
    n = w.shape[1]
    out = np.zeros((m, n), dtype=np.float32)
    for i in range(m):
        for j in range(n):
            acc32 = 0.0
            for g0 in range(0, k, lanes):
                p = 0.0
                for kk in range(g0, min(g0 + lanes, k)):
                    p = f32(p + a16[i, kk] * w[kk, j])
                acc32 = f32(acc32 + f32(p * scale16[g0 // sg, j]))
            out[i, j] = fp16_round(acc32)
    return out


@njit(cache=True)
def _fp_fp_gemm(a16, w16):  # pragma: no cover - compiled
    m, k = a16.shape
    n = w16.shape[1]
    out = np.zeros((m, n), dtype=np.float32)
    for i in range(m):
        for j in range(n):
            acc32 = 0.0
            for kk in range(k):
                acc32 = f32(acc32 + a16[i, kk] * w16[kk, j])
            out[i, j] = fp16_round(acc32)
    return out


def fp16_scales(scale: np.ndarray) -> np.ndarray:
    """Weight scales as stored (FP16), as float64 for the kernels."""
    return np.asarray(scale, dtype=np.float32).astype(np.float16).astype(np.float64)


def _check_fields(signs: np.ndarray, mants: np.ndarray, exps: np.ndarray, m_bits: int, w_int: np.ndarray,
                  scale: np.ndarray, scale_group: int) -> tuple[np.ndarray, ...]:
    if mants.ndim != 3 or signs.shape != mants.shape or exps.shape != mants.shape[:2]:
        raise ValueError(f"fields must be signs/mants [m, G, gs] and exps [m, G]; got {signs.shape}, "
                         f"{mants.shape}, {exps.shape}")
    if not 1 <= m_bits <= 16 or int(mants.max(initial=0)) >= 1 << m_bits:
        raise ValueError(f"mantissas must fit {m_bits} bits")
    _, n_groups, gs = mants.shape
    k = w_int.shape[0]
    if k > n_groups * gs or k <= (n_groups - 1) * gs:
        raise ValueError(f"weights have K={k} rows but the activations hold {n_groups} groups of {gs}")
    w = np.zeros((n_groups * gs, w_int.shape[1]), dtype=np.int64)
    w[:k] = w_int
    if scale.shape != (math.ceil(k / scale_group), w_int.shape[1]):
        raise ValueError(f"scale must be [ceil(K/{scale_group}), n] = [{math.ceil(k / scale_group)}, "
                         f"{w_int.shape[1]}], got {scale.shape}")
    n_scale = math.ceil(n_groups * gs / scale_group)
    s = np.zeros((n_scale, w_int.shape[1]), dtype=np.float64)
    s[: scale.shape[0]] = fp16_scales(scale)
    return (np.ascontiguousarray(signs, dtype=np.uint8), np.ascontiguousarray(mants, dtype=np.int64),
            np.ascontiguousarray(exps, dtype=np.int64), w, s)


def anda_apu_gemm(signs: np.ndarray, mants: np.ndarray, exps: np.ndarray, m_bits: int, w_int: np.ndarray,
                  scale: np.ndarray, scale_group: int = 128) -> np.ndarray:
    """Anda APU array output (FP16 values as float32 [m, n]) for Anda activations x INT weights.

    signs/mants: [m, G, gs] (x = (-1)^s * mant * 2^(E - 15 - (M - 1))), exps: [m, G] biased
    5-bit shared exponents; w_int: [K, n] integers; scale: [ceil(K / scale_group), n].
    """
    s, mt, e, w, sc = _check_fields(signs, mants, exps, m_bits, w_int, scale, scale_group)
    return _bfp_gemm(s, mt, e, m_bits, w, sc, scale_group, True)


def prealigned_gemm(signs: np.ndarray, mants: np.ndarray, exps: np.ndarray, m_bits: int, w_int: np.ndarray,
                    scale: np.ndarray, scale_group: int = 128) -> np.ndarray:
    """FIGNA / iFPU output: the same operands aligned to `m_bits`, INT -> FP32 per group."""
    s, mt, e, w, sc = _check_fields(signs, mants, exps, m_bits, w_int, scale, scale_group)
    return _bfp_gemm(s, mt, e, m_bits, w, sc, scale_group, False)


def fp_int_gemm(a: np.ndarray, w_int: np.ndarray, scale: np.ndarray, scale_group: int = 128,
                lanes: int = 64) -> np.ndarray:
    """FP-INT output: FP16 activations [m, K] x INT weights [K, n] with FP16 group scales."""
    a16 = np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float64)
    if scale_group % lanes:
        raise ValueError(f"scale group {scale_group} must be a multiple of the lanes {lanes}")
    return _fp_int_gemm(a16, np.asarray(w_int, dtype=np.int64), fp16_scales(scale), scale_group, lanes)


def dequantized_fp16_weights(w_int: np.ndarray, scale: np.ndarray, scale_group: int = 128) -> np.ndarray:
    """fp16(q * s): the FP16 weights an FP-FP design stores after dequantizing INT4 weights."""
    s = np.repeat(fp16_scales(scale), scale_group, axis=0)[: w_int.shape[0]]
    return (np.asarray(w_int, dtype=np.float64) * s).astype(np.float16).astype(np.float64)


def fp_fp_gemm(a: np.ndarray, w_int: np.ndarray, scale: np.ndarray, scale_group: int = 128) -> np.ndarray:
    """FP-FP output: FP16 activations x FP16-dequantized weights, FP32 accumulation in K order."""
    a16 = np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float64)
    return _fp_fp_gemm(a16, dequantized_fp16_weights(w_int, scale, scale_group))
