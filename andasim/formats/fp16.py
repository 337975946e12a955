"""FP16/BF16 bit fields and strict input validation shared by every format.

Why a module of its own: every format starts from the same question, "what exact values does the hardware
see?". Activations live in FP16 in the accelerator's memory, so Anda and BFP first snap any float input to
FP16 (round-to-nearest-even, as `numpy.astype(float16)` does) and then work on the 16-bit fields. NaN, Inf and
values outside the FP16 range are refused with an error that names the first offending index: a number format
must never silently turn bad input into a plausible answer.
"""

from __future__ import annotations

import numpy as np

from andasim.errors import AndasimInputError

FP16_MAX = 65504.0
FP16_FRAC_BITS = 10
EXP_MASK = 0x7C00


def _index_of(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape)) if shape else ()


def check_float_array(x: object, what: str = "input") -> np.ndarray:
    """Return `x` as a float ndarray; refuse integer, bool, complex and object arrays."""
    arr = np.asarray(x)
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (2, 4, 8):
        raise AndasimInputError(
            f"{what}: expected a float16/float32/float64 array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise AndasimInputError(f"{what}: expected an array with at least one axis, got a scalar")
    if arr.size == 0:
        raise AndasimInputError(f"{what}: expected a non-empty array, got shape {arr.shape}")
    return arr


def refuse_nonfinite(arr: np.ndarray, what: str = "input") -> None:
    """Raise naming the first NaN/Inf element of `arr` (any float dtype)."""
    bad = ~np.isfinite(arr)
    if bad.any():
        raise_bad_value(arr, int(np.flatnonzero(bad.ravel())[0]), what)


def raise_bad_value(arr: np.ndarray, flat_index: int, what: str = "input") -> None:
    """Raise the one-line error for element `flat_index` of `arr` (NaN, Inf, or beyond the FP16 range)."""
    value = float(arr.reshape(-1)[flat_index])
    idx = _index_of(flat_index, arr.shape)
    if np.isnan(value):
        kind = "is NaN"
    elif np.isinf(value):
        kind = "is infinite"
    else:
        kind = f"= {value!r} exceeds the FP16 range ±{FP16_MAX:g}"
    raise AndasimInputError(
        f"{what}: element at index {idx} {kind}; only finite FP16-range values are accepted")


def to_fp16(x: object, what: str = "input", *, check_finite: bool = True) -> np.ndarray:
    """Return `x` as a C-contiguous float16 array, validated finite.

    float32/float64 inputs are rounded to FP16 with round-to-nearest-even first (the accelerator stores
    activations as FP16); a value that overflows FP16 is refused rather than turned into Inf.
    `check_finite=False` skips the check for callers whose numba kernel finds the first NaN/Inf bit
    pattern itself (an overflow is Inf there) and reports it with `raise_bad_value` on the original
    array: one pass over the data instead of two.
    """
    arr = check_float_array(x, what)
    with np.errstate(over="ignore"):  # overflow becomes Inf and is reported below with its index
        h = np.ascontiguousarray(arr, dtype=np.float16)
    if not check_finite:
        return h
    bits = h.view(np.uint16)
    bad = (bits & EXP_MASK) == EXP_MASK
    if bad.any():
        raise_bad_value(arr, int(np.flatnonzero(bad.ravel())[0]), what)
    return h


def to_f32(x: object, what: str = "input") -> np.ndarray:
    """Return `x` as a finite float32 array (for formats that work on float32 values: MX, INT, hybrid)."""
    arr = check_float_array(x, what)
    refuse_nonfinite(arr, what)
    if arr.dtype == np.float64:
        big = np.abs(arr) > np.finfo(np.float32).max
        if big.any():
            first = int(np.flatnonzero(big.ravel())[0])
            raise AndasimInputError(
                f"{what}: element at index {_index_of(first, arr.shape)} = {float(arr.reshape(-1)[first])!r} "
                "exceeds the float32 range; only finite float32-range values are accepted")
    return np.ascontiguousarray(arr, dtype=np.float32)


def fp16_fields(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sign 0/1, biased 5-bit exponent field, 10-bit fraction) of a float16 array, as int64 arrays."""
    bits = h.view(np.uint16).astype(np.int64)
    return bits >> 15, (bits >> FP16_FRAC_BITS) & 0x1F, bits & 0x3FF


def bf16_round(x32: np.ndarray) -> np.ndarray:
    """Round finite float32 values to BF16 (round-to-nearest-even), returned as float32."""
    u = np.ascontiguousarray(x32, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def bf16_bits(x32: np.ndarray) -> np.ndarray:
    """Upper 16 bits of the BF16-rounded float32 values (the BF16 memory image)."""
    return (bf16_round(x32).view(np.uint32) >> 16).astype(np.uint16)


def bf16_from_bits(bits: np.ndarray) -> np.ndarray:
    """float32 values of BF16 bit patterns."""
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)
