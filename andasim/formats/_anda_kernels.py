"""numba kernels for the Anda hot paths (quantize, integer fields, bit-plane encode/decode).

All kernels work on FP16 bit patterns (uint16) laid out as `rows x L` in C order, with groups of `gs`
consecutive values along the last axis; the last group of a row may be short (it behaves exactly like a
zero-padded group, because a zero never raises the shared exponent and always quantizes to zero).
Kernels that read input return the flat index of the first NaN/Inf element, or -1.

The quantize kernel uses the float shortcut of the issue: with shared exponent E the quantum is
q = 2^(E - 15 - (M - 1)) and x̂ = sign · floor(|x| / q) · q. Every step is exact in float32: |x| is an FP16
value (at most 11 significant bits), q is a power of two in [2^-29, 2^15], so the scalings are exact and
floor removes exactly the truncated bits. The FP16 -> float32 conversion is the classic bit trick:
reinterpret `(h & 0x7FFF) << 13` as float32 (a value 2^-112 times too small, subnormal for FP16
subnormals) and multiply by 2^112, which is exact because float32 subnormals are not flushed.
The numpy reference in `anda_ref.py` (integer shifts on the bit fields) is what the tests hold these to.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TWO_112 = np.float32(2.0**112)


@njit(cache=True, inline="always")
def _f32(bits: int) -> np.float32:
    return np.uint32(bits).view(np.float32)


@njit(cache=True)
def _group_max_mag(u: np.ndarray, lo: int, hi: int) -> int:
    mx = 0
    for j in range(lo, hi):
        a = np.int64(u[j]) & 0x7FFF
        mx = max(mx, a)
    return mx


@njit(cache=True)
def _first_bad(u: np.ndarray, lo: int, hi: int) -> int:
    for j in range(lo, hi):
        if (np.int64(u[j]) & 0x7C00) == 0x7C00:
            return j
    return -1


@njit(cache=True)
def quantize_kernel(u: np.ndarray, row_len: int, gs: int, m: int, out_bits: np.ndarray) -> int:
    """Anda-quantize FP16 bits `u` (1-D, rows of `row_len`) into float32 bit patterns `out_bits` (uint32)."""
    rows = u.size // row_len
    for r in range(rows):
        base = r * row_len
        for g0 in range(0, row_len, gs):
            lo = base + g0
            hi = base + min(g0 + gs, row_len)
            mx = _group_max_mag(u, lo, hi)
            if mx >= 0x7C00:
                return _first_bad(u, lo, hi)
            e_shared = max(mx >> 10, 1)
            q_exp = e_shared - 15 - (m - 1)
            q = _f32((q_exp + 127) << 23)
            inv_q = _f32((127 - q_exp) << 23)
            for j in range(lo, hi):
                h = np.int64(u[j])
                mag = _f32((h & 0x7FFF) << 13) * _TWO_112
                y = np.float32(np.floor(mag * inv_q) * q)
                out_bits[j] = y.view(np.uint32) | np.uint32((h & 0x8000) << 16)
    return -1


@njit(cache=True, inline="always")
def _mantissa(h: int, e_shared: int, m: int) -> int:
    """m_i = floor(sig_i * 2^(M - 11 - d_i)) from FP16 bits (subnormal: hidden bit 0, exponent of field 1)."""
    e = (h >> 10) & 0x1F
    sig = (h & 0x3FF) | (1024 if e > 0 else 0)
    shift = m - 11 - (e_shared - max(e, 1))
    if shift >= 0:
        return sig << shift
    if shift <= -11:
        return 0
    return sig >> (-shift)


@njit(cache=True)
def fields_kernel(u: np.ndarray, row_len: int, gs: int, m: int, signs: np.ndarray, mants: np.ndarray,
                  exps: np.ndarray) -> int:
    """Integer operands of the APU: signs/mants [rows*G*gs] (zero-padded), exps [rows*G]."""
    rows = u.size // row_len
    n_groups = (row_len + gs - 1) // gs
    for r in range(rows):
        base = r * row_len
        for g in range(n_groups):
            g0 = g * gs
            lo = base + g0
            hi = base + min(g0 + gs, row_len)
            mx = _group_max_mag(u, lo, hi)
            if mx >= 0x7C00:
                return _first_bad(u, lo, hi)
            e_shared = max(mx >> 10, 1)
            gidx = r * n_groups + g
            exps[gidx] = e_shared
            out0 = gidx * gs
            for j in range(lo, hi):
                h = np.int64(u[j])
                signs[out0 + j - lo] = h >> 15
                mants[out0 + j - lo] = _mantissa(h, e_shared, m)
    return -1


@njit(cache=True)
def encode_kernel(u: np.ndarray, row_len: int, gs: int, m: int, planes: np.ndarray, exps: np.ndarray) -> int:
    """Bit-plane image: planes [rows*G*(1+M)] uint64 (sign plane, then mantissa planes MSB first; element j
    of the group is bit j of each word), exps [rows*G] uint8."""
    rows = u.size // row_len
    n_groups = (row_len + gs - 1) // gs
    words = 1 + m
    for r in range(rows):
        base = r * row_len
        for g in range(n_groups):
            g0 = g * gs
            lo = base + g0
            hi = base + min(g0 + gs, row_len)
            mx = _group_max_mag(u, lo, hi)
            if mx >= 0x7C00:
                return _first_bad(u, lo, hi)
            e_shared = max(mx >> 10, 1)
            gidx = r * n_groups + g
            exps[gidx] = e_shared
            w0 = gidx * words
            sign_plane = np.uint64(0)
            for j in range(lo, hi):
                h = np.int64(u[j])
                bit = np.uint64(j - lo)
                sign_plane |= np.uint64(h >> 15) << bit
                mj = _mantissa(h, e_shared, m)
                if mj == 0:
                    continue
                for t in range(m):
                    planes[w0 + 1 + t] |= np.uint64((mj >> (m - 1 - t)) & 1) << bit
            planes[w0] = sign_plane
    return -1


@njit(cache=True)
def decode_kernel(planes: np.ndarray, exps: np.ndarray, rows: int, row_len: int, gs: int, m: int,
                  out: np.ndarray) -> None:
    """Inverse of `encode_kernel`: x̂ = (-1)^s · m · 2^(E - 15 - (M - 1)) into float32 `out` [rows*row_len]."""
    n_groups = (row_len + gs - 1) // gs
    words = 1 + m
    for r in range(rows):
        for g in range(n_groups):
            gidx = r * n_groups + g
            w0 = gidx * words
            scale = _f32((np.int64(exps[gidx]) - 15 - (m - 1) + 127) << 23)
            g0 = g * gs
            n = min(gs, row_len - g0)
            for j in range(n):
                bit = np.uint64(j)
                mj = np.int64(0)
                for t in range(m):
                    mj = (mj << 1) | np.int64((planes[w0 + 1 + t] >> bit) & np.uint64(1))
                v = np.float32(mj) * scale
                if (planes[w0] >> bit) & np.uint64(1):
                    v = -v
                out[r * row_len + g0 + j] = v
