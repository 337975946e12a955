"""The bit-plane memory image of Anda (paper §2.1, Fig. 10) and of the generic BFP formats.

Per group of gs <= 64 values: one 64-bit sign plane, then M 64-bit mantissa planes, most significant plane
first, and one shared exponent (5 bits for Anda). Element j of a group is bit j of every word (bit 0 = the
first value of the group); unused bits (gs < 64, or the zero padding of a short last group) are 0.
Words per group = 1 + M. These numpy functions are the reference for the numba encode/decode kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError

WORD_BITS = 64


@dataclass(frozen=True, eq=False)
class BitPlanePayload:
    """Memory image of a block-floating-point tensor.

    planes: uint64 [..., G, 1 + M] (sign plane, mantissa planes MSB first); exponents: uint8 [..., G]
    (the biased shared exponent, FP16 bias 15); shape: the original tensor shape; m, gs, exp_bits: the format.
    """

    planes: np.ndarray
    exponents: np.ndarray
    shape: tuple[int, ...]
    m: int
    gs: int
    exp_bits: int = 5

    def check(self) -> None:
        """Refuse a payload whose arrays do not match its declared shape and format."""
        lead, last = self.shape[:-1], self.shape[-1]
        n_groups = -(-last // self.gs)
        want_planes = (*lead, n_groups, 1 + self.m)
        if self.planes.dtype != np.uint64 or self.planes.shape != want_planes:
            raise AndasimInputError(
                f"payload planes must be uint64 {want_planes}, got {self.planes.dtype} {self.planes.shape}")
        if self.exponents.dtype != np.uint8 or self.exponents.shape != want_planes[:-1]:
            raise AndasimInputError(
                f"payload exponents must be uint8 {want_planes[:-1]}, got {self.exponents.dtype} "
                f"{self.exponents.shape}")
        if self.exponents.size and not (int(self.exponents.min()) >= 1 and int(self.exponents.max()) <= 30):
            raise AndasimInputError("payload exponents must be FP16 biased exponents in 1..30")


def planes_from_fields(signs: np.ndarray, mants: np.ndarray, m: int) -> np.ndarray:
    """Pack sign/mantissa fields [..., G, gs] (gs <= 64) into planes [..., G, 1 + m] (numpy reference)."""
    gs = signs.shape[-1]
    weights = np.uint64(1) << np.arange(gs, dtype=np.uint64)
    planes = np.empty((*signs.shape[:-1], 1 + m), dtype=np.uint64)
    planes[..., 0] = (signs.astype(np.uint64) * weights).sum(axis=-1, dtype=np.uint64)
    mants64 = mants.astype(np.uint64)
    for t in range(m):
        bit = (mants64 >> np.uint64(m - 1 - t)) & np.uint64(1)
        planes[..., 1 + t] = (bit * weights).sum(axis=-1, dtype=np.uint64)
    return planes


def fields_from_planes(planes: np.ndarray, gs: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Unpack planes [..., G, 1 + m] into (signs uint8, mantissas uint32) [..., G, gs] (numpy reference)."""
    pos = np.arange(gs, dtype=np.uint64)
    signs = ((planes[..., 0:1] >> pos) & np.uint64(1)).astype(np.uint8)
    mants = np.zeros((*planes.shape[:-1], gs), dtype=np.uint32)
    for t in range(m):
        bit = ((planes[..., 1 + t: 2 + t] >> pos) & np.uint64(1)).astype(np.uint32)
        mants = (mants << np.uint32(1)) | bit
    return signs, mants


def values_from_fields(signs: np.ndarray, mants: np.ndarray, exps: np.ndarray, m: int) -> np.ndarray:
    """x̂ = (-1)^s · m · 2^(E - 15 - (M - 1)) as float32 (exact: m < 2^16, scale a power of two)."""
    scale = np.ldexp(np.float64(1.0), exps.astype(np.int64) - 15 - (m - 1))[..., None]
    mag = mants.astype(np.float64) * scale
    return np.where(signs.astype(bool), -mag, mag).astype(np.float32)


def unpad_last(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """[..., G, gs] -> the original shape (drops the zero padding of the last axis)."""
    flat = x.reshape(*shape[:-1], -1)
    return np.ascontiguousarray(flat[..., : shape[-1]])
