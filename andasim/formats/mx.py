"""OCP Microscaling (MX v1.0) formats: blocks of 32 values along the last axis, one E8M0 scale per block.

Conversion as in microsoft/microxcaling `mx/mx_ops.py::_quantize_mx` (reference anda.md §6.2):
    shared_exp = floor(log2(max|x| in block)) − emax_elem   (an all-zero block uses log2(2^-126), as there)
    shared_exp clamped to [−127, 127]
    element    = quantize_elem(x / 2^shared_exp): round to nearest, ties to even, saturate to ±max_norm
    x̂          = element · 2^shared_exp
floor(log2) is taken exactly from the binary exponent (np.frexp), not from a float log2. Rounding is
ties-to-even as the OCP spec's conversion asks; microxcaling's default 'nearest' rounds ties away from zero,
so the two differ on exact ties only. Element parameters (microxcaling `formats.py`; mbits counts sign and
implicit bit): int8 (ebits 0, mbits 8, emax 0, max_norm 127/64), e4m3 (4, 5, 8, 448), e5m2 (5, 4, 15, 57344),
e3m2 (3, 4, 4, 28), e2m3 (2, 5, 2, 7.5), e2m1 (2, 3, 2, 6). All arithmetic is float64 and exact; every x̂ is a
multiple of 2^-143 so it is exact in float32 too. MXINT8 elements are two's complement, so an element
rounding to zero is +0.0; FP elements keep the sign of zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError
from andasim.formats import _mx_kernels as kernels
from andasim.formats.anda import check_out, parallel_plan
from andasim.formats.base import Format, grouped_bits_per_value
from andasim.formats.fp16 import check_float_array, to_f32

BLOCK = 32
SCALE_BITS = 8
SCALE_EMAX = 127


@dataclass(frozen=True)
class MxElement:
    """Element type of an MX format (microxcaling parameters)."""

    ebits: int  # exponent bits; 0 for the integer element
    mbits: int  # microxcaling mbits: explicit mantissa bits + sign + implicit bit
    emax: int  # largest element exponent
    max_norm: float
    bits: int  # storage bits per element


MX_ELEMENTS: dict[str, MxElement] = {
    "mxint8": MxElement(0, 8, 0, 127 / 64, 8),
    "mxfp8_e4m3": MxElement(4, 5, 8, 448.0, 8),
    "mxfp8_e5m2": MxElement(5, 4, 15, 57344.0, 8),
    "mxfp6_e3m2": MxElement(3, 4, 4, 28.0, 6),
    "mxfp6_e2m3": MxElement(2, 5, 2, 7.5, 6),
    "mxfp4_e2m1": MxElement(2, 3, 2, 6.0, 4),
}


def _floor_log2(a: np.ndarray) -> np.ndarray:
    """Exact floor(log2(a)) for a > 0 (int64)."""
    _, e = np.frexp(a)
    return e.astype(np.int64) - 1


@dataclass(frozen=True, eq=False)
class MxPayload:
    """MX memory image: element codes uint8 [..., B, 32] (sign|exponent|mantissa bit fields, or two's
    complement for int8; padding codes 0), E8M0 scales uint8 [..., B] (shared_exp + 127), original shape."""

    codes: np.ndarray
    scales: np.ndarray
    shape: tuple[int, ...]
    name: str


class MxFormat(Format):
    """One of mxint8, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1."""

    def __init__(self, name: str) -> None:
        self.spec = name
        self.elem = MX_ELEMENTS[name]

    def _blocks(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        x32 = to_f32(x, f"{self.spec} input")
        last = x32.shape[-1]
        n_blocks = -(-last // BLOCK)
        padded = np.zeros((*x32.shape[:-1], n_blocks * BLOCK), dtype=np.float64)
        padded[..., :last] = x32
        return padded.reshape(*x32.shape[:-1], n_blocks, BLOCK), x32.shape

    def _shared_exp(self, xb: np.ndarray) -> np.ndarray:
        amax = np.abs(xb).max(axis=-1)
        e = np.where(amax > 0, _floor_log2(np.where(amax > 0, amax, 1.0)), -126) - self.elem.emax
        return np.clip(e, -SCALE_EMAX, SCALE_EMAX)

    def _elements(self, a: np.ndarray) -> np.ndarray:
        """Quantize scaled values to the element grid (RNE, saturating), float64."""
        el = self.elem
        frac_bits = el.mbits - 2
        if el.ebits == 0:
            out = np.rint(np.ldexp(a, frac_bits))
            out = np.ldexp(out, -frac_bits) + 0.0  # two's complement: no negative zero
        else:
            min_exp = 2 - 2 ** (el.ebits - 1)
            mag = np.abs(a)
            private = np.maximum(_floor_log2(np.where(mag > 0, mag, 1.0)), min_exp)
            out = np.ldexp(np.rint(np.ldexp(a, frac_bits - private)), private - frac_bits)
        return np.clip(out, -el.max_norm, el.max_norm)

    def _quantize_blocks(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        xb, shape = self._blocks(x)
        shared = self._shared_exp(xb)
        elems = self._elements(np.ldexp(xb, -shared[..., None]))
        return elems, shared, shape

    def quantize(self, x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """numba kernel; FP16 and float32 inputs are read in place (NaN/Inf found by the kernel).
        `out` (optional, C-contiguous float32 of x's shape) is filled and returned."""
        what = f"{self.spec} input"
        arr = check_float_array(x, what)
        if arr.dtype == np.float64:
            arr = to_f32(arr, what)
        arr = np.ascontiguousarray(arr)
        flat = arr.reshape(-1).view(np.uint16 if arr.dtype == np.float16 else np.uint32)
        out = check_out(out, arr.shape, np.float32, f"{self.spec} quantize")
        el, row_len = self.elem, arr.shape[-1]
        params = (el.ebits, el.mbits - 2, el.emax, float(el.max_norm), out.reshape(-1))
        chunks, it_len = parallel_plan(flat.size, row_len, BLOCK)
        if chunks:
            bad = kernels.quantize_kernel_parallel(flat, it_len, *params, chunks)
        else:
            bad = kernels.quantize_kernel(flat, row_len, *params)
        if bad >= 0:
            to_f32(x, what)  # raises, naming the first NaN/Inf
        return out

    def quantize_reference(self, x: np.ndarray) -> np.ndarray:
        """numpy reference of `quantize` (float64 frexp/ldexp/rint on padded blocks)."""
        elems, shared, shape = self._quantize_blocks(x)
        vals = np.ldexp(elems, shared[..., None]).astype(np.float32)
        return np.ascontiguousarray(vals.reshape(*shape[:-1], -1)[..., : shape[-1]])

    def _codes(self, elems: np.ndarray) -> np.ndarray:
        el = self.elem
        frac_bits = el.mbits - 2
        if el.ebits == 0:
            return np.rint(np.ldexp(elems, frac_bits)).astype(np.int8).view(np.uint8)
        bias = 2 ** (el.ebits - 1) - 1
        min_exp = 1 - bias
        sign = np.signbit(elems).astype(np.int64)
        mag = np.abs(elems)
        normal = mag >= np.ldexp(1.0, min_exp)
        p = np.where(normal, _floor_log2(np.where(mag > 0, mag, 1.0)), min_exp)
        field = np.where(normal, p + bias, 0)
        mant = np.ldexp(mag, frac_bits - p).astype(np.int64) - np.where(normal, 1 << frac_bits, 0)
        return ((sign << (el.ebits + frac_bits)) | (field << frac_bits) | mant).astype(np.uint8)

    def _from_codes(self, codes: np.ndarray) -> np.ndarray:
        el = self.elem
        frac_bits = el.mbits - 2
        if el.ebits == 0:
            return np.ldexp(codes.view(np.int8).astype(np.float64), -frac_bits)
        bias = 2 ** (el.ebits - 1) - 1
        c = codes.astype(np.int64)
        sign = (c >> (el.ebits + frac_bits)) & 1
        field = (c >> frac_bits) & ((1 << el.ebits) - 1)
        mant = c & ((1 << frac_bits) - 1)
        sig = np.where(field > 0, mant + (1 << frac_bits), mant)
        mag = np.ldexp(sig.astype(np.float64), np.maximum(field, 1) - bias - frac_bits)
        return np.where(sign == 1, -mag, mag)

    def encode(self, x: np.ndarray) -> MxPayload:
        elems, shared, shape = self._quantize_blocks(x)
        return MxPayload(codes=self._codes(elems), scales=(shared + SCALE_EMAX).astype(np.uint8),
                         shape=tuple(shape), name=self.spec)

    def _check_payload(self, payload: MxPayload) -> None:
        if not isinstance(payload, MxPayload) or payload.name != self.spec:
            raise AndasimInputError(f"{self.spec} decode: expected an MxPayload of {self.spec}")
        want = (*payload.shape[:-1], -(-payload.shape[-1] // BLOCK))
        if (payload.codes.dtype != np.uint8 or payload.codes.shape != (*want, BLOCK)
                or payload.scales.dtype != np.uint8 or payload.scales.shape != want):
            raise AndasimInputError(
                f"{self.spec} decode: codes must be uint8 {(*want, BLOCK)} and scales uint8 {want}")

    def decode(self, payload: MxPayload, *, out: np.ndarray | None = None) -> np.ndarray:
        """numba kernel; `out` as in `quantize`."""
        self._check_payload(payload)
        shape = tuple(payload.shape)
        out = check_out(out, shape, np.float32, f"{self.spec} decode")
        rows = int(np.prod(shape[:-1], dtype=np.int64))
        kernels.decode_kernel(np.ascontiguousarray(payload.codes).reshape(-1),
                              np.ascontiguousarray(payload.scales).reshape(-1), rows, shape[-1],
                              self.elem.ebits, self.elem.mbits - 2, out.reshape(-1))
        return out

    def decode_reference(self, payload: MxPayload) -> np.ndarray:
        """numpy reference of `decode`."""
        self._check_payload(payload)
        shared = payload.scales.astype(np.int64) - SCALE_EMAX
        vals = np.ldexp(self._from_codes(payload.codes), shared[..., None]).astype(np.float32)
        shape = payload.shape
        return np.ascontiguousarray(vals.reshape(*shape[:-1], -1)[..., : shape[-1]])

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """d + 8/32 per value (d-bit elements, one 8-bit E8M0 scale per block of 32), padding charged."""
        return grouped_bits_per_value(shape, BLOCK, BLOCK * self.elem.bits + SCALE_BITS)
