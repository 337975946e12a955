"""numba kernels for the Anda hot paths (quantize, integer fields, bit-plane encode/decode).

All kernels work on FP16 bit patterns (uint16) laid out as `rows x L` in C order, with groups of `gs`
consecutive values along the last axis; the last group of a row may be short (it behaves exactly like a
zero-padded group, because a zero never raises the shared exponent and always quantizes to zero).
Kernels that read input return the flat index of the first NaN/Inf element, or -1.

The quantize kernel uses the float shortcut of the issue: with shared exponent E the quantum is
q = 2^(E - 15 - (M - 1)) and x̂ = sign · floor(|x| / q) · q. Every step is exact in float32: |x| is an FP16
value (at most 11 significant bits), q is a power of two in [2^-29, 2^15], so the scalings are exact and
floor removes exactly the truncated bits. The FP16 -> float32 conversion never creates a float32 subnormal
(normals: rebias the exponent field; FP16 subnormals: integer fraction · 2^-24), so the kernels stay exact
when a library has switched the CPU to flush-to-zero / denormals-are-zero (torch.set_flush_denormal; tested).
The numpy references in `anda.py` and `bitplanes.py` (integer shifts on the bit fields) are what the tests
hold these kernels to.

Speed notes: each per-group body is generated twice by a small factory, once with the group length fixed at
64 (a closure constant, so LLVM sees a constant trip count and vectorises/unrolls the loops completely) and
once with a runtime length (other group sizes and the short last group of a row). On the benchmark machine
the constant-64 body is several times faster. Each body indexes slices of its group (`u[lo:lo + n][j]`), not
`u[lo + j]`: a signed `lo + j` makes numba emit a negative-index wraparound check per element, which kept
LLVM from vectorising the loops inside the prange kernels (2.4-7x slower, measured in issue 17). The bit
planes of encode and decode are vector bit tests and shifts of 32 lanes (`_bitplane_simd.py`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from andasim.formats._bitplane_simd import plane_bits32, push_plane32

_TWO_M24 = np.float32(2.0**-24)


@njit(cache=True, inline="always")
def _f32(bits: int) -> np.float32:
    return np.uint32(bits).view(np.float32)


@njit(cache=True, inline="always")
def _fp16_mag(h: int) -> np.float32:
    """|x| as float32 from FP16 bits `h` (finite), exact, with no subnormal intermediate."""
    a = h & 0x7FFF
    if a < 0x0400:
        return np.float32(np.float32(a) * _TWO_M24)
    return _f32((a << 13) + (112 << 23))


@njit(cache=True)
def _first_bad(u: np.ndarray, lo: int, hi: int) -> int:
    for j in range(lo, hi):
        if (np.int64(u[j]) & 0x7C00) == 0x7C00:
            return j
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


@njit(cache=True, inline="always")
def _round_mag(t: np.float32, rne: bool, top: np.float32) -> np.float32:
    """The M-bit magnitude |x|/q: truncated (Anda, BFP trunc) or rounded half to even and saturated at
    2^M - 1 (BFP rne). Truncation never exceeds 2^M - 1, so the saturation is shared; both candidates are
    computed and one selected, a form LLVM keeps vectorised."""
    r = np.float32(np.rint(t))
    f = np.float32(np.floor(t))
    return min(r if rne else f, top)


@njit(cache=True, inline="always")
def _word64(values: np.ndarray, lo: int, bit: int) -> np.uint64:
    """Bit `bit` of the 64 uint16 values values[lo:lo + 64] as one plane word (value j in bit j)."""
    return np.uint64(plane_bits32(values, lo, bit)) | (np.uint64(plane_bits32(values, lo + 32, bit))
                                                       << np.uint64(32))


def _group_kernels(fixed: int) -> tuple:
    """Per-group bodies; `fixed` > 0 pins the group length to that compile-time constant."""

    @njit(cache=True, inline="always")
    def shared_exp(u: np.ndarray, lo: int, n: int) -> int:
        """Largest effective exponent max(field, 1) of the group, or -1 - index of its first NaN/Inf."""
        nn = fixed if fixed > 0 else n
        ug = u[lo:lo + nn]
        mx = 0
        for j in range(nn):
            mx = max(mx, np.int64(ug[j]) & 0x7FFF)
        if mx >= 0x7C00:
            return -1 - _first_bad(u, lo, lo + nn)
        return max(mx >> 10, 1)

    @njit(cache=True, inline="always")
    def quantize(u: np.ndarray, lo: int, n: int, m: int, rne: bool, out_bits: np.ndarray) -> int:
        nn = fixed if fixed > 0 else n
        e_shared = shared_exp(u, lo, nn)
        if e_shared < 0:
            return e_shared
        q_exp = e_shared - 15 - (m - 1)
        q = _f32((q_exp + 127) << 23)
        inv_q = _f32((127 - q_exp) << 23)
        top = np.float32((1 << m) - 1)
        ug = u[lo:lo + nn]
        og = out_bits[lo:lo + nn]
        for j in range(nn):
            h = np.int64(ug[j])
            y = np.float32(_round_mag(_fp16_mag(h) * inv_q, rne, top) * q)
            og[j] = y.view(np.uint32) | np.uint32((h & 0x8000) << 16)
        return e_shared

    @njit(cache=True, inline="always")
    def fields(u: np.ndarray, lo: int, n: int, m: int, signs: np.ndarray, mants: np.ndarray, o0: int) -> int:
        nn = fixed if fixed > 0 else n
        e_shared = shared_exp(u, lo, nn)
        if e_shared < 0:
            return e_shared
        ug = u[lo:lo + nn]
        sg = signs[o0:o0 + nn]
        mg = mants[o0:o0 + nn]
        for j in range(nn):
            h = np.int64(ug[j])
            sg[j] = h >> 15
            mg[j] = _mantissa(h, e_shared, m)
        return e_shared

    @njit(cache=True, inline="always")
    def encode(u: np.ndarray, lo: int, n: int, m: int, rne: bool, planes: np.ndarray, w0: int,
               mant: np.ndarray) -> int:
        # m_j = round(|x_j| / q) exactly as in quantize, staged in the 64-value uint16 buffer `mant` (zero
        # beyond the group); each plane is then one vector bit test (`_bitplane_simd`).
        nn = fixed if fixed > 0 else n
        e_shared = shared_exp(u, lo, nn)
        if e_shared < 0:
            return e_shared
        inv_q = _f32((127 - (e_shared - 15 - (m - 1))) << 23)
        top = np.float32((1 << m) - 1)
        ug = u[lo:lo + nn]
        if fixed == 64:  # a whole group: its sign plane is bit 15 of the input itself
            planes[w0] = _word64(u, lo, 15)
        else:
            acc = np.uint64(0)
            for j in range(nn):
                acc |= np.uint64(np.int64(ug[j]) >> 15) << np.uint64(j)
            planes[w0] = acc
        for j in range(nn):
            mant[j] = np.uint16(_round_mag(_fp16_mag(np.int64(ug[j])) * inv_q, rne, top))
        for j in range(nn, 64):
            mant[j] = 0
        for t in range(m):
            planes[w0 + 1 + t] = _word64(mant, 0, m - 1 - t)
        return e_shared

    @njit(cache=True, inline="always")
    def decode(planes: np.ndarray, w0: int, e_shared: int, n: int, m: int, mant: np.ndarray,
               out_bits: np.ndarray, o0: int) -> None:
        nn = fixed if fixed > 0 else n
        for j in range(64):
            mant[j] = 0
        for t in range(m):  # MSB first: shift in one plane at a time, 32 values per vector step
            plane = planes[w0 + 1 + t]
            push_plane32(mant, 0, plane & np.uint64(0xFFFFFFFF))
            push_plane32(mant, 32, plane >> np.uint64(32))
        scale = _f32((e_shared - 15 - (m - 1) + 127) << 23)
        sign_plane = planes[w0]
        og = out_bits[o0:o0 + nn]
        for j in range(nn):
            v = np.float32(np.float32(mant[j]) * scale)
            sign = np.uint32((sign_plane >> np.uint64(j)) & np.uint64(1)) << np.uint32(31)
            og[j] = v.view(np.uint32) | sign

    return quantize, fields, encode, decode


_q64, _fields64, _enc64, _dec64 = _group_kernels(64)
_qn, _fieldsn, _encn, _decn = _group_kernels(0)


# The row loops run the full 64-groups first (constant-length body) and the rest with the runtime-length
# body. Choosing the body per group with an `if` inside one loop measured ~9x slower: LLVM then no longer
# vectorised the constant-length body. Each loop covers rows [r0, r1): the serial kernels call it once, the
# parallel ones (numba prange over chunks of rows) once per chunk; a chunk returns its first bad index, and
# the earliest chunk with one wins, so both report the same element.

@njit(cache=True)
def _quantize_rows(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, out_bits: np.ndarray,
                   r0: int, r1: int) -> int:
    for r in range(r0, r1):
        base = r * row_len
        g0 = 0
        if gs == 64:
            while g0 + 64 <= row_len:
                e = _q64(u, base + g0, 64, m, rne, out_bits)
                if e < 0:
                    return -1 - e
                g0 += 64
        while g0 < row_len:
            e = _qn(u, base + g0, min(gs, row_len - g0), m, rne, out_bits)
            if e < 0:
                return -1 - e
            g0 += gs
    return -1


@njit(cache=True)
def _encode_rows(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, planes: np.ndarray,
                 exps: np.ndarray, r0: int, r1: int) -> int:
    n_groups = (row_len + gs - 1) // gs
    mant = np.zeros(64, dtype=np.uint16)  # staging for the vector plane transposes (_bitplane_simd)
    for r in range(r0, r1):
        base = r * row_len
        g0 = 0
        if gs == 64:
            while g0 + 64 <= row_len:
                gidx = r * n_groups + g0 // 64
                e = _enc64(u, base + g0, 64, m, rne, planes, gidx * (1 + m), mant)
                if e < 0:
                    return -1 - e
                exps[gidx] = e
                g0 += 64
        while g0 < row_len:
            gidx = r * n_groups + g0 // gs
            e = _encn(u, base + g0, min(gs, row_len - g0), m, rne, planes, gidx * (1 + m), mant)
            if e < 0:
                return -1 - e
            exps[gidx] = e
            g0 += gs
    return -1


@njit(cache=True)
def _decode_rows(planes: np.ndarray, exps: np.ndarray, row_len: int, gs: int, m: int, out_bits: np.ndarray,
                 r0: int, r1: int) -> int:
    n_groups = (row_len + gs - 1) // gs
    mant = np.zeros(64, dtype=np.uint16)  # staging for the vector plane transposes (_bitplane_simd)
    for r in range(r0, r1):
        base = r * row_len
        g0 = 0
        if gs == 64:
            while g0 + 64 <= row_len:
                gidx = r * n_groups + g0 // 64
                _dec64(planes, gidx * (1 + m), np.int64(exps[gidx]), 64, m, mant, out_bits, base + g0)
                g0 += 64
        while g0 < row_len:
            gidx = r * n_groups + g0 // gs
            _decn(planes, gidx * (1 + m), np.int64(exps[gidx]), min(gs, row_len - g0), m, mant, out_bits,
                  base + g0)
            g0 += gs
    return -1


@njit(cache=True)
def _first_of_chunks(bad: np.ndarray) -> int:
    for c in range(bad.size):
        if bad[c] >= 0:
            return bad[c]
    return -1


@njit(cache=True)
def quantize_kernel(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, out_bits: np.ndarray) -> int:
    """Quantize FP16 bits `u` (1-D, rows of `row_len`) into float32 bit patterns `out_bits` (uint32):
    Anda / BFP trunc (rne False) or BFP rne. Returns the flat index of the first NaN/Inf, or -1."""
    return _quantize_rows(u, row_len, gs, m, rne, out_bits, 0, u.size // row_len)


@njit(cache=True, parallel=True)
def quantize_kernel_parallel(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, out_bits: np.ndarray,
                             n_chunks: int) -> int:
    """`quantize_kernel` over `n_chunks` chunks of rows in parallel (same output, same error index)."""
    rows = u.size // row_len
    bad = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        bad[c] = _quantize_rows(u, row_len, gs, m, rne, out_bits, rows * c // n_chunks,
                                rows * (c + 1) // n_chunks)
    return _first_of_chunks(bad)


@njit(cache=True)
def fields_kernel(u: np.ndarray, row_len: int, gs: int, m: int, signs: np.ndarray, mants: np.ndarray,
                  exps: np.ndarray) -> int:
    """Integer operands of the APU: signs/mants [rows*G*gs] (zero-padded by the caller), exps [rows*G]."""
    n_groups = (row_len + gs - 1) // gs
    for r in range(u.size // row_len):
        base = r * row_len
        g0 = 0
        if gs == 64:
            while g0 + 64 <= row_len:
                gidx = r * n_groups + g0 // 64
                e = _fields64(u, base + g0, 64, m, signs, mants, gidx * 64)
                if e < 0:
                    return -1 - e
                exps[gidx] = e
                g0 += 64
        while g0 < row_len:
            gidx = r * n_groups + g0 // gs
            e = _fieldsn(u, base + g0, min(gs, row_len - g0), m, signs, mants, gidx * gs)
            if e < 0:
                return -1 - e
            exps[gidx] = e
            g0 += gs
    return -1


@njit(cache=True)
def encode_kernel(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, planes: np.ndarray,
                  exps: np.ndarray) -> int:
    """Bit-plane image: planes [rows*G*(1+M)] uint64 (sign plane, then mantissa planes MSB first; element j
    of the group is bit j of each word; padding bits 0), exps [rows*G] uint8."""
    return _encode_rows(u, row_len, gs, m, rne, planes, exps, 0, u.size // row_len)


@njit(cache=True, parallel=True)
def encode_kernel_parallel(u: np.ndarray, row_len: int, gs: int, m: int, rne: bool, planes: np.ndarray,
                           exps: np.ndarray, n_chunks: int) -> int:
    """`encode_kernel` over `n_chunks` chunks of rows in parallel."""
    rows = u.size // row_len
    bad = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        bad[c] = _encode_rows(u, row_len, gs, m, rne, planes, exps, rows * c // n_chunks,
                              rows * (c + 1) // n_chunks)
    return _first_of_chunks(bad)


@njit(cache=True)
def decode_kernel(planes: np.ndarray, exps: np.ndarray, rows: int, row_len: int, gs: int, m: int,
                  out_bits: np.ndarray) -> None:
    """Inverse of `encode_kernel`: x̂ = (-1)^s · m · 2^(E - 15 - (M - 1)) as float32 bit patterns
    `out_bits` (uint32 [rows*row_len])."""
    _decode_rows(planes, exps, row_len, gs, m, out_bits, 0, rows)


@njit(cache=True, parallel=True)
def decode_kernel_parallel(planes: np.ndarray, exps: np.ndarray, rows: int, row_len: int, gs: int, m: int,
                           out_bits: np.ndarray, n_chunks: int) -> None:
    """`decode_kernel` over `n_chunks` chunks of rows in parallel."""
    for c in prange(n_chunks):
        _decode_rows(planes, exps, row_len, gs, m, out_bits, rows * c // n_chunks, rows * (c + 1) // n_chunks)
