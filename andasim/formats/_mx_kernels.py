"""numba kernels of the OCP MX formats (quantize, decode), bit-exact against the numpy paths in `mx.py`.

Input is FP16 bit patterns (uint16) or float32 bit patterns (uint32), laid out as `rows x L` in C order;
blocks of 32 consecutive values along the last axis, the last block of a row possibly short (it behaves
like the zero padding of the reference: zeros never raise a block's maximum). The block maximum is an integer
max over magnitude bits (which order like the magnitudes, NaN/Inf on top). Every value step is done in
float64 exactly as the reference does: the exponents come from the float64 bit fields (exact floor(log2)),
scalings are multiplications by powers of two built from bits (exact: every intermediate is a normal
float64), rounding is `np.rint` (ties to even), saturation is min/max against ±max_norm (the sign of zero
survives). Blocks of 32 use a body with a compile-time length and no branches, which LLVM vectorises; the
body indexes slices of its block (`x[lo:lo + n][j]`): a signed `x[lo + j]` costs a negative-index
wraparound check per element that kept the prange kernels from vectorising (issue 17; see
`_anda_kernels.py`).
Kernels that read input return the flat index of the first NaN/Inf element, or -1.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload

BLOCK = 32


@njit(cache=True, inline="always")
def _pow2(k: int) -> float:
    """2^k as float64 for -1022 <= k <= 1023 (from the bit pattern; exact)."""
    return np.uint64((k + 1023) << 52).view(np.float64)


def _floor_log2(a: float) -> int:
    """floor(log2(a)) of a normal positive float32 or float64 (from its exponent field)."""
    raise NotImplementedError  # numba overloads below


@overload(_floor_log2)
def _floor_log2_ol(a):
    if a == types.float32:
        return lambda a: np.int64((np.float32(a).view(np.uint32) >> np.uint32(23)) & np.uint32(0xFF)) - 127
    return lambda a: np.int64((np.float64(a).view(np.uint64) >> np.uint64(52)) & np.uint64(0x7FF)) - 1023


@njit(cache=True, inline="always")
def _fp16_value(h: int) -> np.float32:
    """float32 value of finite FP16 bits `h` (exact, never subnormal), branch-free."""
    e = (h >> 10) & 0x1F
    f = h & 0x3FF
    sub = np.float32(np.float32(f) * np.float32(2.0**-24))
    normal = np.uint32(((e + 112) << 23) | (f << 13)).view(np.float32)
    mag = sub if e == 0 else normal
    return -mag if h & 0x8000 else mag


def _mag_bits(x: np.ndarray, i: int) -> int:
    """Magnitude bits of x[i] (sign cleared): ordered like the magnitudes, NaN and Inf largest."""
    raise NotImplementedError  # numba overloads below


def _nonfinite_from(x: np.ndarray) -> int:
    """Smallest magnitude bit pattern of Inf in x's format (NaN/Inf are >= it)."""
    raise NotImplementedError


def _value(x: np.ndarray, b: int) -> float:
    """Value of finite bits `b` in x's format, in the kernel's arithmetic type for that input."""
    raise NotImplementedError


def _calc(x: np.ndarray, v: float) -> float:
    """`v` in the arithmetic type for x's input format."""
    raise NotImplementedError


def _pow2c(x: np.ndarray, k: int) -> float:
    """2^k in the arithmetic type for x's input format (exact, from the bit pattern)."""
    raise NotImplementedError


@overload(_mag_bits)
def _mag_bits_ol(x, i):
    if x.dtype == types.uint16:
        return lambda x, i: np.int64(x[i]) & 0x7FFF
    return lambda x, i: np.int64(x[i]) & 0x7FFFFFFF


@overload(_nonfinite_from)
def _nonfinite_from_ol(x):
    if x.dtype == types.uint16:
        return lambda x: 0x7C00
    return lambda x: 0x7F800000


# Arithmetic type: float32 for FP16 input, float64 for float32 input. With FP16 input every
# intermediate is exact in float32: values have 11 significant bits and lie in [2^-24, 2^16), so the
# shared exponent is in [-39, 15] and every scaled value, element and result is a normal float32.
# float32 input can need shared exponents of ±127, whose scalings only float64 holds.

@overload(_value)
def _value_ol(x, b):
    if x.dtype == types.uint16:
        return lambda x, b: _fp16_value(b)
    return lambda x, b: np.float64(np.uint32(b).view(np.float32))


@overload(_calc)
def _calc_ol(x, v):
    if x.dtype == types.uint16:
        return lambda x, v: np.float32(v)
    return lambda x, v: np.float64(v)


@overload(_pow2c)
def _pow2c_ol(x, k):
    if x.dtype == types.uint16:
        return lambda x, k: np.uint32((k + 127) << 23).view(np.float32)
    return lambda x, k: _pow2(k)


def _block_kernel(fixed: int):
    """Per-block body; `fixed` > 0 pins the block length to that compile-time constant (vectorised)."""

    @njit(cache=True, inline="always")
    def block(x: np.ndarray, lo: int, n: int, ebits: int, frac_bits: int, emax: int, min_exp: int,
              max_norm: float, out: np.ndarray) -> bool:
        """Quantize one block into `out`; False (nothing written) if it holds a NaN/Inf."""
        nn = fixed if fixed > 0 else n
        xg = x[lo:lo + nn]  # slices, not x[lo + j]: see the module docstring
        og = out[lo:lo + nn]
        top = 0
        for j in range(nn):
            top = max(top, _mag_bits(xg, j))
        if top >= _nonfinite_from(x):
            return False
        if top == 0:  # all zeros: ±0 out (+0 for the two's complement element); no scaling needed
            for j in range(nn):
                og[j] = np.float32(0.0) if ebits == 0 else np.float32(_value(x, np.int64(xg[j])))
            return True
        shared = _floor_log2(_value(x, top)) - emax if top > 0 else -126 - emax
        shared = min(max(shared, -127), 127)
        scale = _pow2c(x, shared)
        top_norm = _calc(x, max_norm)
        if ebits == 0:
            up, down, zero = _pow2c(x, frac_bits - shared), _pow2c(x, -frac_bits), _calc(x, 0.0)
            for j in range(nn):
                o = np.rint(_value(x, np.int64(xg[j])) * up) * down + zero  # two's complement: no -0
                og[j] = np.float32(min(max(o, -top_norm), top_norm) * scale)
        else:
            for j in range(nn):
                v = _value(x, np.int64(xg[j]))
                # private exponent of v / 2^shared (a zero gets min_exp; it rounds to ±0 whatever it is)
                private = max(_floor_log2(abs(v)) - shared, min_exp)
                o = np.rint(v * _pow2c(x, frac_bits - private - shared)) * _pow2c(x, private - frac_bits)
                og[j] = np.float32(min(max(o, -top_norm), top_norm) * scale)
        return True

    return block


_block32 = _block_kernel(BLOCK)
_blockn = _block_kernel(0)


@njit(cache=True)
def _first_nonfinite(x: np.ndarray, lo: int, n: int) -> int:
    for j in range(n):
        if _mag_bits(x, lo + j) >= _nonfinite_from(x):
            return lo + j
    return -1


@njit(cache=True)
def _quantize_rows(x: np.ndarray, row_len: int, ebits: int, frac_bits: int, emax: int, max_norm: float,
                   out: np.ndarray, r0: int, r1: int) -> int:
    min_exp = 2 - (1 << (ebits - 1)) if ebits > 0 else 0
    for r in range(r0, r1):
        base = r * row_len
        b0 = 0
        while b0 + BLOCK <= row_len:
            if not _block32(x, base + b0, BLOCK, ebits, frac_bits, emax, min_exp, max_norm, out):
                return _first_nonfinite(x, base + b0, BLOCK)
            b0 += BLOCK
        if b0 < row_len and not _blockn(x, base + b0, row_len - b0, ebits, frac_bits, emax, min_exp,
                                        max_norm, out):
            return _first_nonfinite(x, base + b0, row_len - b0)
    return -1


@njit(cache=True)
def quantize_kernel(x: np.ndarray, row_len: int, ebits: int, frac_bits: int, emax: int, max_norm: float,
                    out: np.ndarray) -> int:
    """MX-quantize `x` (FP16 bits uint16, or float32 bits uint32; 1-D, rows of `row_len`) into float32
    `out`."""
    return _quantize_rows(x, row_len, ebits, frac_bits, emax, max_norm, out, 0, x.size // row_len)


@njit(cache=True, parallel=True)
def quantize_kernel_parallel(x: np.ndarray, row_len: int, ebits: int, frac_bits: int, emax: int,
                             max_norm: float, out: np.ndarray, n_chunks: int) -> int:
    """`quantize_kernel` over `n_chunks` chunks of rows in parallel (same output, same error index)."""
    rows = x.size // row_len
    bad = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        bad[c] = _quantize_rows(x, row_len, ebits, frac_bits, emax, max_norm, out,
                                rows * c // n_chunks, rows * (c + 1) // n_chunks)
    for c in range(n_chunks):
        if bad[c] >= 0:
            return bad[c]
    return -1


@njit(cache=True)
def decode_kernel(codes: np.ndarray, scales: np.ndarray, rows: int, row_len: int, ebits: int, frac_bits: int,
                  out: np.ndarray) -> None:
    """float32 values of MX codes [rows * B * 32] (uint8) and E8M0 scales [rows * B] into `out`
    [rows * row_len]; the padding codes of a short last block are skipped."""
    n_blocks = (row_len + BLOCK - 1) // BLOCK
    bias = (1 << (ebits - 1)) - 1 if ebits > 0 else 0
    for r in range(rows):
        for b in range(n_blocks):
            scale = _pow2(np.int64(scales[r * n_blocks + b]) - 127)
            c0 = (r * n_blocks + b) * BLOCK
            o0 = r * row_len + b * BLOCK
            for j in range(min(BLOCK, row_len - b * BLOCK)):
                c = np.int64(codes[c0 + j])
                if ebits == 0:
                    v = np.float64(c - 256 if c >= 128 else c) * _pow2(-frac_bits)
                else:
                    field = (c >> frac_bits) & ((1 << ebits) - 1)
                    mant = c & ((1 << frac_bits) - 1)
                    sig = mant + (1 << frac_bits) if field > 0 else mant
                    v = np.float64(sig) * _pow2(max(field, 1) - bias - frac_bits)
                    if (c >> (ebits + frac_bits)) & 1:
                        v = -v
                out[o0 + j] = np.float32(v * scale)
