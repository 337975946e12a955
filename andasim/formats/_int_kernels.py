"""numba kernels of the group-wise integer format `IntFormat` (encode, decode, fused quantize).

Bit-exact against the numpy paths in `intq.py`, which stay as the tested references. Input is FP16 bit
patterns (uint16), rows of `row_len` in C order, groups of `g` along the row (the short last group of a row
behaves like the reference's padding by repetition of its last value: same min, max and max|x|; its
padding codes are that value's code). Arithmetic follows the reference step by step in float32:
    asym: step = fp16((max - min) / (2^b - 1)), low = min, q = clip(rint((x - low) / step), 0, 2^b - 1)
    sym:  step = fp16(max|x| / (2^(b-1) - 1)), low = 0, q = clip(rint(x / step), -(2^(b-1) - 1), 2^(b-1) - 1)
    a step of 0 gives q = 0;  x̂ = q · step + low (two float32 roundings, no fused multiply-add).
min and max are integer reductions over order-preserving keys of the FP16 bits (so they vectorise); a zero
extreme takes the sign of the group's first zero, as numpy's float16 min/max keep the first of equal values.
The group body indexes slices of its group (`u[lo:lo + n][j]`): a signed `u[lo + j]` costs a negative-index
wraparound check per element that kept the prange kernels from vectorising (`_anda_kernels.py`).
Kernels that read input return the flat index of the first NaN/Inf element, or -1.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from andasim.formats._anda_kernels import _fp16_mag


@njit(cache=True, inline="always")
def _f32_of_fp16(h: int) -> np.float32:
    """float32 value of finite FP16 bits (exact, no float32 subnormal)."""
    bits = np.float32(_fp16_mag(h)).view(np.uint32) | np.uint32((h & 0x8000) << 16)
    return np.uint32(bits).view(np.float32)


@njit(cache=True, inline="always")
def _fp16_bits_rne(f: np.float32) -> int:
    """FP16 bits of a finite float32 rounded to nearest even (overflow -> Inf, as numpy's astype)."""
    u = np.int64(np.float32(f).view(np.uint32))
    sign = (u >> 16) & 0x8000
    a = u & 0x7FFFFFFF
    if a >= 0x477FF000:  # >= 65520: rounds to Inf
        return sign | 0x7C00
    if a < 0x38800000:  # below 2^-14: FP16 subnormal (or zero); f * 2^24 is exact, rint is RNE
        return sign | np.int64(np.rint(np.float32(abs(f)) * np.float32(2.0**24)))
    return sign | (((a + 0xFFF + ((a >> 13) & 1)) >> 13) - (112 << 10))


@njit(cache=True, inline="always")
def _key(h: int) -> int:
    """Integer ordered like the FP16 value (both zeros map to 0)."""
    mag = h & 0x7FFF
    return -mag if h & 0x8000 else mag


@njit(cache=True, inline="always")
def _bits_of_key(u: np.ndarray, lo: int, n: int, k: int) -> int:
    """FP16 bits of key `k` in the group; a zero takes the sign of the group's first zero."""
    if k != 0:
        return (-k) | 0x8000 if k < 0 else k
    for j in range(n):
        if np.int64(u[lo + j]) & 0x7FFF == 0:
            return np.int64(u[lo + j])
    return 0


@njit(cache=True, inline="always")
def _code(h: int, low: np.float32, safe: np.float32, s: np.float32, qlo: np.float32,
          qhi: np.float32) -> np.float32:
    """The integer code of FP16 bits `h` as a float32 (+0 for a zero; 0 when the step is 0)."""
    q = np.float32(np.rint(np.float32(_f32_of_fp16(h) - low) / safe))
    return min(max(q, qlo), qhi) + np.float32(0) if s > 0 else np.float32(0)


def _group_kernel(fixed: int):
    """Per-group body; `fixed` > 0 pins the group length to that compile-time constant (vectorised)."""

    @njit(cache=True, inline="always")
    def group(u: np.ndarray, lo: int, n: int, bits: int, sym: bool, codes: np.ndarray, c0: int, g: int,
              step_bits: np.ndarray, low_bits: np.ndarray, gidx: int, out: np.ndarray, o0: int) -> bool:
        """Parameters, codes (if codes.size) and values (if out.size) of one group; False on NaN/Inf."""
        nn = fixed if fixed > 0 else n
        ug = u[lo:lo + nn]  # slices, not u[lo + j]: see the module docstring
        kmin, kmax, top = 0x7FFF, -0x7FFF, 0
        for j in range(nn):
            h = np.int64(ug[j])
            k = _key(h)
            kmin = min(kmin, k)
            kmax = max(kmax, k)
            top = max(top, h & 0x7FFF)
        if top >= 0x7C00:
            return False
        if sym:
            qmax = (1 << (bits - 1)) - 1
            s16 = _fp16_bits_rne(np.float32(_fp16_mag(top) / np.float32(qmax)))
            l16 = 0
            qlo = np.float32(-qmax)
        else:
            qmax = (1 << bits) - 1
            l16 = _bits_of_key(ug, 0, nn, kmin)
            hi = _f32_of_fp16(_bits_of_key(ug, 0, nn, kmax))
            s16 = _fp16_bits_rne(np.float32(np.float32(hi - _f32_of_fp16(l16)) / np.float32(qmax)))
            qlo = np.float32(0)
        step_bits[gidx] = s16
        low_bits[gidx] = l16
        s = _f32_of_fp16(s16)
        low = _f32_of_fp16(l16)
        safe = s if s > 0 else np.float32(1)
        qhi = np.float32(qmax)
        if out.size:
            og = out[o0:o0 + nn]
            for j in range(nn):
                q = _code(np.int64(ug[j]), low, safe, s, qlo, qhi)
                og[j] = np.float32(np.float32(q * s) + low)
        if codes.size:
            cg = codes[c0:c0 + g]
            for j in range(nn):
                cg[j] = np.int32(_code(np.int64(ug[j]), low, safe, s, qlo, qhi))
            last = np.int32(_code(np.int64(ug[nn - 1]), low, safe, s, qlo, qhi))
            for j in range(nn, g):
                cg[j] = last
        return True

    return group


_group64 = _group_kernel(64)
_groupn = _group_kernel(0)


@njit(cache=True)
def _first_nonfinite(u: np.ndarray, lo: int, n: int) -> int:
    for j in range(n):
        if np.int64(u[lo + j]) & 0x7C00 == 0x7C00:
            return lo + j
    return -1


@njit(cache=True)
def _rows(u: np.ndarray, row_len: int, g: int, bits: int, sym: bool, codes: np.ndarray, step_bits: np.ndarray,
          low_bits: np.ndarray, out: np.ndarray, r0: int, r1: int) -> int:
    n_groups = (row_len + g - 1) // g
    for r in range(r0, r1):
        base = r * row_len
        g0 = 0
        if g == 64:
            while g0 + 64 <= row_len:
                gidx = r * n_groups + g0 // 64
                if not _group64(u, base + g0, 64, bits, sym, codes, gidx * 64, 64, step_bits, low_bits, gidx,
                                out, base + g0):
                    return _first_nonfinite(u, base + g0, 64)
                g0 += 64
        while g0 < row_len:
            gidx = r * n_groups + g0 // g
            n = min(g, row_len - g0)
            if not _groupn(u, base + g0, n, bits, sym, codes, gidx * g, g, step_bits, low_bits, gidx, out,
                           base + g0):
                return _first_nonfinite(u, base + g0, n)
            g0 += g
    return -1


@njit(cache=True)
def int_kernel(u: np.ndarray, row_len: int, g: int, bits: int, sym: bool, codes: np.ndarray,
               step_bits: np.ndarray, low_bits: np.ndarray, out: np.ndarray) -> int:
    """Encode FP16 bits `u` (rows of `row_len`, groups of `g`): per-group step/low FP16 bits [rows*G], codes
    int32 [rows*G*g] (skipped if empty) and quantized values float32 [rows*row_len] (skipped if empty)."""
    return _rows(u, row_len, g, bits, sym, codes, step_bits, low_bits, out, 0, u.size // row_len)


@njit(cache=True, parallel=True)
def int_kernel_parallel(u: np.ndarray, row_len: int, g: int, bits: int, sym: bool, codes: np.ndarray,
                        step_bits: np.ndarray, low_bits: np.ndarray, out: np.ndarray, n_chunks: int) -> int:
    """`int_kernel` over `n_chunks` chunks of rows in parallel (same output, same error index)."""
    rows = u.size // row_len
    bad = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        bad[c] = _rows(u, row_len, g, bits, sym, codes, step_bits, low_bits, out, rows * c // n_chunks,
                       rows * (c + 1) // n_chunks)
    for c in range(n_chunks):
        if bad[c] >= 0:
            return bad[c]
    return -1


@njit(cache=True)
def decode_kernel(codes: np.ndarray, step_bits: np.ndarray, low_bits: np.ndarray, rows: int, row_len: int,
                  g: int, out: np.ndarray) -> None:
    """x̂ = q · step + low (float32) of codes [rows*G*g] into `out` [rows*row_len] (padding skipped)."""
    n_groups = (row_len + g - 1) // g
    for r in range(rows):
        for gi in range(n_groups):
            gidx = r * n_groups + gi
            s = _f32_of_fp16(np.int64(step_bits[gidx]))
            low = _f32_of_fp16(np.int64(low_bits[gidx]))
            o0 = r * row_len + gi * g
            c0 = gidx * g
            for j in range(min(g, row_len - gi * g)):
                out[o0 + j] = np.float32(np.float32(np.float32(codes[c0 + j]) * s) + low)
