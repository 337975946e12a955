"""The Anda variable-length grouped activation format (Fang et al., HPCA 2025; reference anda.md §1.2).

Definition (groups of `gs` consecutive values along the LAST axis, FP16 inputs):

    E   = max_i e_i                      shared exponent: largest effective 5-bit biased exponent
    d_i = E - e_i                        alignment shift
    m_i = floor(sig_i · 2^(M - 11 - d_i))  M-bit unsigned mantissa, truncation (also right for M > 11)
    x̂_i = (-1)^s_i · m_i · 2^(E - 15 - (M - 1))

Decisions the paper leaves open (documented in docs/formats.md):
* FP16 subnormals keep their IEEE meaning: exponent field 0 has hidden bit 0 and the exponent of field 1, so
  e_i = max(field, 1) and the stored shared exponent is never below 1.
* A group of zeros (or of zeros and subnormals) stores E = 1; its mantissas are all zero.
* Sign-magnitude: the sign bit is kept even when the mantissa truncates to zero, so x̂ is -0.0 there.
* Inputs that are not FP16 are rounded to FP16 first (RNE); NaN/Inf/out-of-range values are refused with the
  first offending index; non-float arrays are refused.
* A last axis that is not a multiple of gs is zero-padded; bits_per_value charges the padding.
"""

from __future__ import annotations

import numpy as np

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats import _anda_kernels as kernels
from andasim.formats.base import Format, grouped_bits_per_value
from andasim.formats.bitplanes import WORD_BITS, BitPlanePayload, unpad_last
from andasim.formats.fp16 import fp16_fields, raise_bad_value, to_fp16
from andasim.threads import numba_threads

M_MIN, M_MAX = 1, 16
EXP_BITS = 5


def check_m_gs(m: int, gs: int, who: str = "anda") -> tuple[int, int]:
    """Validate the mantissa length and group size (integers, M in 1..16, gs >= 1)."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not M_MIN <= m <= M_MAX:
        raise FormatSpecError(f"{who}: m must be an integer in {M_MIN}..{M_MAX}, got {m!r}")
    if isinstance(gs, bool) or not isinstance(gs, (int, np.integer)) or gs < 1:
        raise FormatSpecError(f"{who}: gs must be a positive integer, got {gs!r}")
    return int(m), int(gs)


def _bits_rows(h: np.ndarray) -> tuple[np.ndarray, int]:
    """FP16 array -> (flat uint16 bits, row length)."""
    return h.reshape(-1).view(np.uint16), h.shape[-1]


def _raise_if_bad(bad: int, original: np.ndarray) -> None:
    if bad >= 0:
        raise_bad_value(np.asarray(original), bad, "anda input")


def _fp16_bits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(FP16 array, flat uint16 bits, row length); NaN/Inf are left for the kernel to find (one pass)."""
    h = to_fp16(x, "anda input", check_finite=False)
    u, row_len = _bits_rows(h)
    return h, u, row_len


# Tensors of at least this many values run through the prange kernels on `andasim.threads` threads
# (`--threads`), one thread included: numba's parfor lowering proves the chunk arrays do not alias and marks
# them noalias, which lets LLVM vectorise the group bodies. The serial kernels lack that and measured 2.4x
# slower on an (8192, 8192) tensor and 1.4x on (16, 576) (docs/performance.md, issue 17); below the
# threshold the ~1 us launch of a parallel region costs more than it saves. Each thread gets
# CHUNKS_PER_THREAD chunks of whole rows so that a thread slowed by a neighbour's job does not hold the
# others up.
PARALLEL_MIN_VALUES = 1 << 12
CHUNKS_PER_THREAD = 4


def parallel_plan(n_values: int, row_len: int, gs: int) -> tuple[int, int]:
    """(chunks, row length the kernel iterates): chunks 0 means run the serial kernel.

    When rows are too few to share out and every row is whole groups, the kernel iterates single groups
    as rows: the flat group order, and so the memory layout, is the same.
    """
    if n_values < PARALLEL_MIN_VALUES:
        return 0, row_len
    want = CHUNKS_PER_THREAD * numba_threads()
    if n_values // row_len < want and row_len % gs == 0:
        row_len = gs
    return min(n_values // row_len, want), row_len


def check_out(out: np.ndarray | None, shape: tuple[int, ...], dtype: type, who: str) -> np.ndarray:
    """`out` if it is a writeable C-contiguous array of `shape` and `dtype`, a new one if None."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not (isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == shape
            and out.flags.c_contiguous and out.flags.writeable):
        raise AndasimInputError(
            f"{who}: out must be a writeable C-contiguous {np.dtype(dtype).name} array of shape {shape}")
    return out


def quantize_fp16_bits(x: np.ndarray, m: int, gs: int, rne: bool, out: np.ndarray | None,
                       who: str) -> np.ndarray:
    """Group quantizer shared by Anda and BFP: truncation (rne False) or round-half-even, float32 out."""
    h, u, row_len = _fp16_bits(x)
    out = check_out(out, h.shape, np.float32, who)
    bits = out.reshape(-1).view(np.uint32)
    chunks, it_len = parallel_plan(u.size, row_len, gs)
    if chunks:
        bad = kernels.quantize_kernel_parallel(u, it_len, gs, m, rne, bits, chunks)
    else:
        bad = kernels.quantize_kernel(u, row_len, gs, m, rne, bits)
    _raise_if_bad(bad, x)
    return out


def anda_quantize(x: np.ndarray, m: int, gs: int = 64, *, out: np.ndarray | None = None) -> np.ndarray:
    """Anda-quantize `x` (groups along the last axis) with the numba kernel; float32, same shape.

    `out` (optional, C-contiguous float32 of x's shape) is filled and returned instead of a new array:
    for large tensors the page faults of a fresh output cost more than the quantization itself.
    Tensors of PARALLEL_MIN_VALUES values or more run on `andasim.threads.current_threads()` threads.
    """
    m, gs = check_m_gs(m, gs)
    return quantize_fp16_bits(x, m, gs, False, out, "anda_quantize")


def anda_integer_fields(x_fp16: np.ndarray, m: int,
                        gs: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer operands the APU consumes: (signs uint8 [..., G, gs], mantissas uint16 [..., G, gs],
    shared_exp uint8 [..., G]) with x̂ = (-1)^s · m · 2^(E - 15 - (M - 1)); padding elements are 0."""
    m, gs = check_m_gs(m, gs)
    h, u, row_len = _fp16_bits(x_fp16)
    n_groups = -(-row_len // gs)
    lead = h.shape[:-1]
    signs = np.zeros((*lead, n_groups, gs), dtype=np.uint8)
    mants = np.zeros((*lead, n_groups, gs), dtype=np.uint16)
    exps = np.empty((*lead, n_groups), dtype=np.uint8)
    bad = kernels.fields_kernel(u, row_len, gs, m, signs.reshape(-1), mants.reshape(-1), exps.reshape(-1))
    _raise_if_bad(bad, x_fp16)
    return signs, mants, exps


def check_payload_out(out: BitPlanePayload | None, shape: tuple[int, ...], m: int, gs: int, exp_bits: int,
                      who: str) -> BitPlanePayload:
    """`out` if it is a payload of this shape and format with writeable contiguous arrays, else a new one
    (its planes are fully written by the kernel, so they need no zeroing)."""
    n_groups = -(-shape[-1] // gs)
    if out is None:
        return BitPlanePayload(planes=np.empty((*shape[:-1], n_groups, 1 + m), dtype=np.uint64),
                               exponents=np.empty((*shape[:-1], n_groups), dtype=np.uint8),
                               shape=tuple(shape), m=m, gs=gs, exp_bits=exp_bits)
    if not (isinstance(out, BitPlanePayload) and (tuple(out.shape), out.m, out.gs, out.exp_bits)
            == (tuple(shape), m, gs, exp_bits)):
        raise AndasimInputError(f"{who}: out must be a BitPlanePayload with shape {tuple(shape)}, m={m}, "
                                f"gs={gs}, exp_bits={exp_bits}")
    for arr in (out.planes, out.exponents):
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            raise AndasimInputError(f"{who}: out's planes and exponents must be writeable and C-contiguous")
    out.check()
    return out


def encode_fp16_bits(x: np.ndarray, m: int, gs: int, rne: bool, exp_bits: int, out: BitPlanePayload | None,
                     who: str) -> BitPlanePayload:
    """Bit-plane image shared by Anda and BFP (truncation or round-half-even)."""
    if gs > WORD_BITS:
        raise AndasimInputError(
            f"{who}: gs={gs} does not fit one {WORD_BITS}-bit plane word; use gs <= {WORD_BITS} "
            "(quantize supports any gs)")
    h, u, row_len = _fp16_bits(x)
    out = check_payload_out(out, h.shape, m, gs, exp_bits, who)
    planes, exps = out.planes.reshape(-1), out.exponents.reshape(-1)
    chunks, it_len = parallel_plan(u.size, row_len, gs)
    if chunks:
        bad = kernels.encode_kernel_parallel(u, it_len, gs, m, rne, planes, exps, chunks)
    else:
        bad = kernels.encode_kernel(u, row_len, gs, m, rne, planes, exps)
    _raise_if_bad(bad, x)
    return out


def anda_encode(x: np.ndarray, m: int, gs: int = 64, *,
                out: BitPlanePayload | None = None) -> BitPlanePayload:
    """Bit-plane memory image of `x` (numba kernel); gs must be <= 64 (one 64-bit word per plane).

    `out` (optional): a payload of the same shape and format whose arrays are overwritten and returned.
    """
    m, gs = check_m_gs(m, gs)
    return encode_fp16_bits(x, m, gs, False, EXP_BITS, out, "anda encode")


def anda_decode(payload: BitPlanePayload, *, out: np.ndarray | None = None) -> np.ndarray:
    """float32 values of a bit-plane image (numba kernel); `out` as in `anda_quantize`."""
    if not isinstance(payload, BitPlanePayload):
        raise AndasimInputError(f"decode: expected a BitPlanePayload, got {type(payload).__name__}")
    payload.check()
    out = check_out(out, tuple(payload.shape), np.float32, "anda_decode")
    rows = int(np.prod(payload.shape[:-1], dtype=np.int64))
    planes = np.ascontiguousarray(payload.planes).reshape(-1)
    exps = np.ascontiguousarray(payload.exponents).reshape(-1)
    bits = out.reshape(-1).view(np.uint32)
    row_len = payload.shape[-1]
    chunks, it_len = parallel_plan(rows * row_len, row_len, payload.gs)
    if chunks:
        kernels.decode_kernel_parallel(planes, exps, rows * row_len // it_len, it_len, payload.gs, payload.m,
                                       bits, chunks)
    else:
        kernels.decode_kernel(planes, exps, rows, row_len, payload.gs, payload.m, bits)
    return out


# --- numpy references (obvious, vectorised; the tests hold the kernels to these) -------------------------

def aligned_significands(x: np.ndarray, m: int, gs: int, what: str
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group `x` along its last axis (zero-padded) and align it to each group's largest exponent.

    Returns (signs, significands with the hidden bit, shared exponent fields [..., G], and the
    left shift `m - 11 - gap` that turns each significand into an `m`-bit mantissa; negative
    means a right shift). Shared by Anda (truncation) and BFP (round-to-nearest-even).
    """
    h = to_fp16(x, what)
    last = h.shape[-1]
    n_groups = -(-last // gs)
    padded = np.zeros((*h.shape[:-1], n_groups * gs), dtype=np.float16)
    padded[..., :last] = h
    s, e, f = fp16_fields(padded.reshape(*h.shape[:-1], n_groups, gs))
    e_eff = np.maximum(e, 1)
    sig = f + np.where(e > 0, 1024, 0)
    e_shared = e_eff.max(axis=-1)
    return s, sig, e_shared, m - 11 - (e_shared[..., None] - e_eff)

def anda_fields_reference(x: np.ndarray, m: int, gs: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy reference of `anda_integer_fields` (integer shifts on the FP16 bit fields)."""
    m, gs = check_m_gs(m, gs)
    s, sig, e_shared, shift = aligned_significands(x, m, gs, "anda input")
    right = np.minimum(-shift, 62)
    mant = np.where(shift >= 0, sig << np.maximum(shift, 0), sig >> np.maximum(right, 0))
    return s.astype(np.uint8), mant.astype(np.uint16), e_shared.astype(np.uint8)


def anda_quantize_reference(x: np.ndarray, m: int, gs: int = 64) -> np.ndarray:
    """numpy reference of `anda_quantize`."""
    signs, mants, exps = anda_fields_reference(x, m, gs)
    scale = np.ldexp(np.float64(1.0), exps.astype(np.int64) - 15 - (m - 1))[..., None]
    mag = mants.astype(np.float64) * scale
    vals = np.where(signs.astype(bool), -mag, mag).astype(np.float32)
    return unpad_last(vals, np.shape(x))


class AndaFormat(Format):
    """`anda:m=M[,gs=G]`: Anda with mantissa length M (1..16) and group size G (default 64)."""

    def __init__(self, m: int, gs: int = 64) -> None:
        self.m, self.gs = check_m_gs(m, gs)
        self.spec = f"anda:m={self.m},gs={self.gs}"

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return anda_quantize(x, self.m, self.gs)

    def encode(self, x: np.ndarray) -> BitPlanePayload:
        return anda_encode(x, self.m, self.gs)

    def decode(self, payload: BitPlanePayload) -> np.ndarray:
        if payload.m != self.m or payload.gs != self.gs:
            raise AndasimInputError(
                f"{self.spec}: payload was encoded with m={payload.m}, gs={payload.gs}")
        return anda_decode(payload)

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """1 + M + 5/gs per value: sign plane + M mantissa planes + a 5-bit exponent per group of gs."""
        return grouped_bits_per_value(shape, self.gs, self.gs * (1 + self.m) + EXP_BITS)
