"""Plain FP16 and BF16 storage formats (the uncompressed baselines)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError
from andasim.formats.base import Format, check_shape
from andasim.formats.fp16 import bf16_bits, bf16_from_bits, to_f32, to_fp16


@dataclass(frozen=True, eq=False)
class Bits16Payload:
    """16-bit memory image: one uint16 pattern per value (FP16 or BF16), original shape."""

    bits: np.ndarray
    kind: str


class Fp16Format(Format):
    """`fp16`: IEEE binary16, round-to-nearest-even from wider floats; out-of-range values are refused."""

    spec = "fp16"

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return to_fp16(x, "fp16 input").astype(np.float32)

    def encode(self, x: np.ndarray) -> Bits16Payload:
        return Bits16Payload(bits=to_fp16(x, "fp16 input").view(np.uint16).copy(), kind="fp16")

    def decode(self, payload: Bits16Payload) -> np.ndarray:
        if not isinstance(payload, Bits16Payload) or payload.kind != "fp16":
            raise AndasimInputError("fp16 decode: expected a Bits16Payload of kind 'fp16'")
        return payload.bits.view(np.float16).astype(np.float32)

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        check_shape(shape)
        return 16.0


class Bf16Format(Format):
    """`bf16`: bfloat16 (8-bit exponent, 7-bit fraction), round-to-nearest-even from float32."""

    spec = "bf16"

    def encode(self, x: np.ndarray) -> Bits16Payload:
        x32 = to_f32(x, "bf16 input")
        bits = bf16_bits(x32)
        overflow = (bits & 0x7F80) == 0x7F80
        if overflow.any():
            first = int(np.flatnonzero(overflow.ravel())[0])
            idx = tuple(int(i) for i in np.unravel_index(first, x32.shape))
            raise AndasimInputError(
                f"bf16 input: element at index {idx} = {float(x32.reshape(-1)[first])!r} overflows BF16 "
                "when rounded; only values below about 3.39e38 in magnitude are accepted")
        return Bits16Payload(bits=bits, kind="bf16")

    def decode(self, payload: Bits16Payload) -> np.ndarray:
        if not isinstance(payload, Bits16Payload) or payload.kind != "bf16":
            raise AndasimInputError("bf16 decode: expected a Bits16Payload of kind 'bf16'")
        return bf16_from_bits(payload.bits)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(x))

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        check_shape(shape)
        return 16.0
