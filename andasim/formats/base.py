"""The one interface every number format implements.

A `Format` is a pure value: its `spec` string (canonical, re-parseable by `andasim.formats.get`) fixes its
numerics completely, except for hybrid formats, which also carry calibration state from `fit`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from andasim.errors import AndasimInputError


class Format(ABC):
    """A number format: quantize to the exact values the hardware computes with, encode/decode its memory
    image, and account its storage cost including metadata (scales, exponents, padding)."""

    spec: str

    @abstractmethod
    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Same shape as `x`, float32: the values the hardware would compute with."""

    @abstractmethod
    def encode(self, x: np.ndarray) -> Any:
        """The memory image (a small dataclass of numpy arrays); `decode(encode(x)) == quantize(x)`."""

    @abstractmethod
    def decode(self, payload: Any) -> np.ndarray:
        """float32 values of a memory image produced by `encode`."""

    @abstractmethod
    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """Storage bits per original value for a tensor of `shape`, metadata and padding included."""

    def __repr__(self) -> str:
        return f"andasim.formats.get({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Format) and type(other) is type(self) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec))


def check_shape(shape: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Validate a tensor shape for `bits_per_value`: a non-empty tuple of positive integers."""
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise AndasimInputError(f"shape must be a tuple of positive integers, got {shape!r}") from None
    if not out or any(s <= 0 for s in out) or any(int(s) != s for s in shape):
        raise AndasimInputError(f"shape must be a non-empty tuple of positive integers, got {shape!r}")
    return out


def grouped_bits_per_value(shape: tuple[int, ...], gs: int, bits_per_group: float) -> float:
    """Bits per value when the last axis is cut into groups of `gs` (the last one zero-padded)."""
    shape = check_shape(shape)
    rows = math.prod(shape[:-1])
    groups = rows * math.ceil(shape[-1] / gs)
    return groups * bits_per_group / math.prod(shape)
