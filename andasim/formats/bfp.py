"""Generic block floating point: `bfp:gs=64,m=8,exp_bits=5,round=trunc|rne`.

Same grouping and alignment as Anda (groups along the last axis, shared exponent = largest effective FP16
exponent, significands aligned to it, sign-magnitude), with a choice of rounding for the FIGNA-style (trunc)
and VS-Quant/MSFP-style (rne) baselines. With round=trunc and exp_bits=5 it is Anda exactly.
* rne: m_i = round-half-to-even(sig_i · 2^(M − 11 − d_i)); a carry out of the top bit (the largest element
  rounding up to 2^M) saturates to 2^M − 1 — the shared exponent is never bumped. Documented choice.
* exp_bits (5..8) only changes storage: the FP16 biased exponent (1..30) always fits in 5 bits.
"""

from __future__ import annotations

import numpy as np

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats.anda import (
    aligned_significands,
    anda_decode,
    anda_integer_fields,
    anda_quantize_reference,
    check_m_gs,
    encode_fp16_bits,
    quantize_fp16_bits,
)
from andasim.formats.base import Format, grouped_bits_per_value
from andasim.formats.bitplanes import (
    WORD_BITS,
    BitPlanePayload,
    fields_from_planes,
    planes_from_fields,
    unpad_last,
    values_from_fields,
)

ROUNDINGS = ("trunc", "rne")
EXP_BITS_MIN, EXP_BITS_MAX = 5, 8


def bfp_fields_rne(x: np.ndarray, m: int, gs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signs uint8, mantissas uint16 [..., G, gs], shared exponents uint8 [..., G]) with RNE rounding."""
    s, sig, e_shared, shift = aligned_significands(x, m, gs, "bfp input")
    r = np.clip(-shift, 1, 62)  # right shift amount where shift < 0
    q = sig >> r
    rem = sig & ((np.int64(1) << r) - 1)
    half = np.int64(1) << (r - 1)
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    rounded = np.where(shift >= 0, sig << np.maximum(shift, 0), q + up)
    mant = np.minimum(rounded, 2**m - 1)
    return s.astype(np.uint8), mant.astype(np.uint16), e_shared.astype(np.uint8)


class BfpFormat(Format):
    """Parameterised BFP quantiser (group size, mantissa bits, exponent-field bits, rounding)."""

    def __init__(self, gs: int = 64, m: int = 8, exp_bits: int = 5, rounding: str = "trunc") -> None:
        self.m, self.gs = check_m_gs(m, gs, "bfp")
        if not EXP_BITS_MIN <= exp_bits <= EXP_BITS_MAX:
            raise FormatSpecError(
                f"bfp: exp_bits must be in {EXP_BITS_MIN}..{EXP_BITS_MAX} (the FP16 exponent needs 5), "
                f"got {exp_bits}")
        if rounding not in ROUNDINGS:
            raise FormatSpecError(f"bfp: round must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
        self.exp_bits, self.rounding = exp_bits, rounding
        self.spec = f"bfp:gs={self.gs},m={self.m},exp_bits={exp_bits},round={rounding}"

    def fields(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer fields (signs, mantissas, shared exponents), groups zero-padded."""
        if self.rounding == "trunc":
            return anda_integer_fields(x, self.m, self.gs)
        return bfp_fields_rne(x, self.m, self.gs)

    def quantize(self, x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """numba kernel (the Anda kernel with the rounding chosen); `out` as in `anda_quantize`."""
        return quantize_fp16_bits(x, self.m, self.gs, self.rounding == "rne", out, f"{self.spec} quantize")

    def quantize_reference(self, x: np.ndarray) -> np.ndarray:
        """numpy reference of `quantize` (integer fields, then values)."""
        if self.rounding == "trunc":
            return anda_quantize_reference(x, self.m, self.gs)
        signs, mants, exps = self.fields(x)
        return unpad_last(values_from_fields(signs, mants, exps, self.m), np.shape(x))

    def encode(self, x: np.ndarray, *, out: BitPlanePayload | None = None) -> BitPlanePayload:
        return encode_fp16_bits(x, self.m, self.gs, self.rounding == "rne", self.exp_bits, out,
                                f"{self.spec} encode")

    def encode_reference(self, x: np.ndarray) -> BitPlanePayload:
        """numpy reference of `encode` (plane packer on the integer fields)."""
        if self.gs > WORD_BITS:
            raise AndasimInputError(f"{self.spec} encode: gs must be <= {WORD_BITS} (one word per bit-plane)")
        signs, mants, exps = self.fields(x)
        return BitPlanePayload(planes=planes_from_fields(signs, mants, self.m), exponents=exps,
                               shape=tuple(np.shape(x)), m=self.m, gs=self.gs, exp_bits=self.exp_bits)

    def decode(self, payload: BitPlanePayload, *, out: np.ndarray | None = None) -> np.ndarray:
        self._check_payload(payload)
        return anda_decode(payload, out=out)

    def decode_reference(self, payload: BitPlanePayload) -> np.ndarray:
        """numpy reference of `decode`."""
        self._check_payload(payload)
        signs, mants = fields_from_planes(payload.planes, self.gs, self.m)
        return unpad_last(values_from_fields(signs, mants, payload.exponents, self.m), payload.shape)

    def _check_payload(self, payload: BitPlanePayload) -> None:
        if not isinstance(payload, BitPlanePayload) or (payload.m, payload.gs) != (self.m, self.gs):
            raise AndasimInputError(
                f"{self.spec} decode: expected a BitPlanePayload with m={self.m}, gs={self.gs}")
        payload.check()

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """1 + M + exp_bits/gs per value (sign, mantissa, shared exponent), padding charged."""
        return grouped_bits_per_value(shape, self.gs, self.gs * (1 + self.m) + self.exp_bits)

