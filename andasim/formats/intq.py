"""Group-wise integer formats: the FlexGen weight/KV format and the weight quantizer of the engine.

`IntFormat` (`int:bits=4,g=64,asym`) follows FlexGen's `compression.py` (tp_comm_and_flexgen.md §2.4):
groups of g consecutive values along one axis, asymmetric min–max, per-group FP16 parameters,
RNE rounding, codes clamped to [0, 2^b − 1]; 4 + 2·16/64 = 4.5 bits/value for b = 4, g = 64.
One documented difference: FlexGen stores the reciprocal scale 15/(max − min) in FP16, which overflows to
Inf for ranges below ~2.3e-4; we store the step Δ = (max − min)/(2^b − 1) in FP16 instead (same 16 bits).
Arithmetic, fixed so that decode(encode(x)) == quantize(x) bit for bit (all float32 ops):
    asym: Δ = fp16((max − min)/(2^b − 1)), lo = fp16(min) = min, q = clip(rint((x − lo)/Δ), 0, 2^b − 1),
          x̂ = q·Δ + lo  (Δ == 0 -> q = 0)
    sym:  Δ = fp16(max|x|/(2^(b−1) − 1)), q = clip(rint(x/Δ), −(2^(b−1) − 1), 2^(b−1) − 1), x̂ = q·Δ
Inputs are snapped to FP16 first (FlexGen compresses FP16 tensors), so min and max are exact FP16 values.

`int_weights` is the weight quantizer the engine, search and offload layers call (GPTQ/Omniquant style,
float32 scales, integer zero-points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats import _int_kernels as int_kernels
from andasim.formats.anda import parallel_plan
from andasim.formats.base import Format, check_shape
from andasim.formats.fp16 import to_f32, to_fp16

BITS_MIN, BITS_MAX = 2, 16
PARAM_BITS = 16  # FP16 step and FP16 minimum per group


def _check_axis(axis: int, ndim: int, who: str) -> int:
    if not -ndim <= axis < ndim:
        raise AndasimInputError(f"{who}: axis={axis} is out of range for an array with {ndim} axes")
    return axis % ndim


def _grouped(x: np.ndarray, axis: int, g: int) -> tuple[np.ndarray, int]:
    """Move `axis` last and cut it into groups of g -> ([..., G, g], n). The short last group is padded by
    repeating its last value, which changes neither min, max nor max|x|."""
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    n_groups = -(-n // g)
    pad = n_groups * g - n
    if pad:
        moved = np.concatenate([moved, np.repeat(moved[..., -1:], pad, axis=-1)], axis=-1)
    return np.ascontiguousarray(moved).reshape(*moved.shape[:-1], n_groups, g), n


def _ungrouped(xg: np.ndarray, axis: int, n: int) -> np.ndarray:
    flat = xg.reshape(*xg.shape[:-2], -1)[..., :n]
    return np.ascontiguousarray(np.moveaxis(flat, -1, axis))


@dataclass(frozen=True, eq=False)
class IntPayload:
    """Memory image of a group-wise integer tensor: codes int32 [..., G, g] (b-bit values, unpacked; axis
    moved last, padded), step and low float16 [..., G] (low is 0 for symmetric), original shape and axis."""

    codes: np.ndarray
    step: np.ndarray
    low: np.ndarray
    shape: tuple[int, ...]
    axis: int


class IntFormat(Format):
    """`int:bits=B,g=G|channel,asym|sym[,axis=N]`: group-wise integer quantization with FP16 parameters."""

    def __init__(self, bits: int = 4, g: int | None = 64, sym: bool = False, axis: int = -1) -> None:
        if not BITS_MIN <= bits <= BITS_MAX:
            raise FormatSpecError(f"int: bits must be in {BITS_MIN}..{BITS_MAX}, got {bits}")
        if g is not None and g < 1:
            raise FormatSpecError(f"int: g must be a positive integer or 'channel', got {g}")
        self.bits, self.g, self.sym, self.axis = bits, g, sym, axis
        group = "channel" if g is None else str(g)
        self.spec = f"int:bits={bits},g={group},{'sym' if sym else 'asym'},axis={axis}"

    def _group_size(self, n: int) -> int:
        return n if self.g is None else self.g

    def _params(self, xg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(step, low) as float16 per group."""
        with np.errstate(over="ignore"):
            if self.sym:
                amax = np.abs(xg).max(axis=-1).astype(np.float32)
                step = (amax / np.float32(2 ** (self.bits - 1) - 1)).astype(np.float16)
                return step, np.zeros_like(step)
            lo = xg.min(axis=-1)
            hi = xg.max(axis=-1)
            step = ((hi.astype(np.float32) - lo.astype(np.float32)) / np.float32(2**self.bits - 1))
            return step.astype(np.float16), lo.astype(np.float16)

    def _codes(self, xg: np.ndarray, step: np.ndarray, low: np.ndarray) -> np.ndarray:
        s = step.astype(np.float32)[..., None]
        lo = low.astype(np.float32)[..., None]
        safe = np.where(s > 0, s, np.float32(1))
        if self.sym:
            qmax = 2 ** (self.bits - 1) - 1
            q = np.clip(np.rint(xg.astype(np.float32) / safe), -qmax, qmax)
        else:
            q = np.clip(np.rint((xg.astype(np.float32) - lo) / safe), 0, 2**self.bits - 1)
        return np.where(s > 0, q, 0).astype(np.int32)

    @staticmethod
    def _values(codes: np.ndarray, step: np.ndarray, low: np.ndarray) -> np.ndarray:
        step32 = step.astype(np.float32)[..., None]
        return codes.astype(np.float32) * step32 + low.astype(np.float32)[..., None]

    def _moved(self, x: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
        """(original FP16 array, axis, FP16 array with the axis moved last, C-contiguous); NaN/Inf are
        left for the kernel to find."""
        h = to_fp16(x, f"{self.spec} input", check_finite=False)
        axis = _check_axis(self.axis, h.ndim, self.spec)
        return h, axis, np.ascontiguousarray(np.moveaxis(h, axis, -1))

    def _run(self, x: np.ndarray, want_codes: bool, want_values: bool
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        h, axis, moved = self._moved(x)
        n = moved.shape[-1]
        g = self._group_size(n)
        lead = moved.shape[:-1]
        n_groups = -(-n // g)
        codes = np.empty((*lead, n_groups, g) if want_codes else 0, dtype=np.int32)
        step = np.empty((*lead, n_groups), dtype=np.float16)
        low = np.empty((*lead, n_groups), dtype=np.float16)
        values = np.empty(moved.shape if want_values else 0, dtype=np.float32)
        u = moved.reshape(-1).view(np.uint16)
        args = (g, self.bits, self.sym, codes.reshape(-1), step.reshape(-1).view(np.uint16),
                low.reshape(-1).view(np.uint16), values.reshape(-1))
        chunks, it_len = parallel_plan(u.size, n, g)
        if chunks and it_len == n:
            bad = int_kernels.int_kernel_parallel(u, n, *args, chunks)
        else:
            bad = int_kernels.int_kernel(u, n, *args)
        if bad >= 0:
            to_fp16(x, f"{self.spec} input")  # raises, naming the first NaN/Inf in x's own layout
        return h, codes, step, low, values, axis

    def encode(self, x: np.ndarray) -> IntPayload:
        """numba kernel; FP16 input is read in place."""
        h, codes, step, low, _, axis = self._run(x, want_codes=True, want_values=False)
        return IntPayload(codes=codes, step=step, low=low, shape=tuple(h.shape), axis=axis)

    def decode(self, payload: IntPayload) -> np.ndarray:
        """numba kernel."""
        self._check_payload(payload)
        moved_shape = tuple(np.moveaxis(np.empty(payload.shape, dtype=np.uint8), payload.axis, -1).shape)
        n = moved_shape[-1]
        rows = math.prod(moved_shape[:-1])
        vals = np.empty(moved_shape, dtype=np.float32)
        int_kernels.decode_kernel(np.ascontiguousarray(payload.codes, dtype=np.int32).reshape(-1),
                                  np.ascontiguousarray(payload.step).reshape(-1).view(np.uint16),
                                  np.ascontiguousarray(payload.low).reshape(-1).view(np.uint16), rows, n,
                                  payload.codes.shape[-1], vals.reshape(-1))
        return np.ascontiguousarray(np.moveaxis(vals, -1, payload.axis))

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Fused numba kernel, equal to decode(encode(x)) bit for bit."""
        _, _, _, _, values, axis = self._run(x, want_codes=False, want_values=True)
        return np.ascontiguousarray(np.moveaxis(values, -1, axis))

    def _check_payload(self, payload: IntPayload) -> None:
        if not isinstance(payload, IntPayload):
            raise AndasimInputError(
                f"{self.spec} decode: expected an IntPayload, got {type(payload).__name__}")
        shape = tuple(payload.shape)
        if not shape or not 0 <= payload.axis < len(shape):
            raise AndasimInputError(
                f"{self.spec} decode: payload axis {payload.axis} does not fit shape {shape}")
        moved = shape[:payload.axis] + shape[payload.axis + 1:]
        n = shape[payload.axis]
        g = self._group_size(n)
        want = (*moved, -(-n // g))
        if (payload.codes.shape != (*want, g) or payload.step.shape != want or payload.low.shape != want
                or payload.step.dtype != np.float16 or payload.low.dtype != np.float16):
            raise AndasimInputError(
                f"{self.spec} decode: codes must be {(*want, g)} and step/low float16 {want}")

    # --- numpy references (the tests hold the kernels to these) ---

    def encode_reference(self, x: np.ndarray) -> IntPayload:
        h = to_fp16(x, f"{self.spec} input")
        axis = _check_axis(self.axis, h.ndim, self.spec)
        xg, _ = _grouped(h, axis, self._group_size(h.shape[axis]))
        step, low = self._params(xg)
        return IntPayload(codes=self._codes(xg, step, low), step=step, low=low, shape=tuple(h.shape),
                          axis=axis)

    def decode_reference(self, payload: IntPayload) -> np.ndarray:
        if not isinstance(payload, IntPayload):
            raise AndasimInputError(
                f"{self.spec} decode: expected an IntPayload, got {type(payload).__name__}")
        vals = self._values(payload.codes, payload.step, payload.low)
        return _ungrouped(vals, payload.axis, payload.shape[payload.axis])

    def quantize_reference(self, x: np.ndarray) -> np.ndarray:
        return self.decode_reference(self.encode_reference(x))

    def bits_per_value(self, shape: tuple[int, ...]) -> float:
        """b + (16 or 32)/g per value, charging the padding of the last group along the axis."""
        shape = check_shape(shape)
        axis = _check_axis(self.axis, len(shape), self.spec)
        n = shape[axis]
        g = self._group_size(n)
        groups = math.prod(shape) // n * (-(-n // g))
        params = PARAM_BITS if self.sym else 2 * PARAM_BITS
        return (groups * (g * self.bits + params)) / math.prod(shape)


def int_weights(w: np.ndarray, bits: int = 4, group: int = 128, axis: int = 0,
                sym: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group-wise integer weight quantization along the reduction `axis` (GPTQ/Omniquant style).

    Returns (q int8 with w's shape, scale float32, zero float32), scale/zero shaped like w with `axis`
    replaced by the number of groups ceil(k/group); dequantize with `int_weights_dequantize`:
    ŵ = (q − zero)·scale.
    asym (bits 2..7): the range [min(w, 0), max(w, 0)] (zero always representable, as in GPTQ),
        scale = range/(2^b − 1), zero = rint(−lo/scale) in [0, 2^b − 1],
        q = clip(rint(w/scale) + zero, 0, 2^b − 1)
    sym (bits 2..8): scale = max|w|/(2^(b−1) − 1), zero = 0, q = clip(rint(w/scale), ±(2^(b−1) − 1))
    An all-zero group gets scale 1. Arithmetic in float32, rounding half to even.
    """
    top = 8 if sym else 7
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= top:
        raise AndasimInputError(
            f"int_weights: bits must be an integer in 2..{top} for {'sym' if sym else 'asym'} (int8 codes), "
            f"got {bits!r}")
    if isinstance(group, bool) or not isinstance(group, (int, np.integer)) or group < 1:
        raise AndasimInputError(f"int_weights: group must be a positive integer, got {group!r}")
    w32 = to_f32(w, "int_weights w")
    ax = _check_axis(axis, w32.ndim, "int_weights")
    wg, n = _grouped(w32, ax, int(group))
    if sym:
        qmax = 2 ** (bits - 1) - 1
        scale = np.abs(wg).max(axis=-1) / np.float32(qmax)
        scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
        zero = np.zeros_like(scale)
        q = np.clip(np.rint(wg / scale[..., None]), -qmax, qmax)
    else:
        qmax = 2**bits - 1
        lo = np.minimum(wg.min(axis=-1), np.float32(0))
        hi = np.maximum(wg.max(axis=-1), np.float32(0))
        scale = ((hi - lo) / np.float32(qmax)).astype(np.float32)
        scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
        zero = np.clip(np.rint(-lo / scale), 0, qmax).astype(np.float32)
        q = np.clip(np.rint(wg / scale[..., None]) + zero[..., None], 0, qmax)
    q8 = _ungrouped(q.astype(np.int8), ax, n)
    return q8, np.moveaxis(scale, -1, ax).copy(), np.moveaxis(zero, -1, ax).copy()


def int_weights_dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, group: int = 128,
                           axis: int = 0) -> np.ndarray:
    """ŵ = (q − zero)·scale (float32), broadcasting each group's scale/zero over its `group` rows."""
    ax = _check_axis(axis, q.ndim, "int_weights_dequantize")
    n = q.shape[ax]
    idx = np.arange(n) // group
    s = np.take(scale, idx, axis=ax)
    z = np.take(zero, idx, axis=ax)
    return ((q.astype(np.float32) - z) * s).astype(np.float32)
