"""Group-wise INT (FlexGen), int_weights, hybrid top-k: hand-computed examples from their definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from andasim.errors import AndasimInputError
from andasim.formats import get, int_weights, int_weights_dequantize
from andasim.formats.fp16 import bf16_round


def test_flexgen_int4_asym_hand_example() -> None:
    # Group of 4: min -1, max 2.75 -> step (2.75 + 1)/15 = 0.25 (exact in FP16).
    # 0.6 is FP16 0.60009765625: (0.6001 + 1)/0.25 = 6.4 -> 6 -> -1 + 1.5 = 0.5; 0 -> 4 -> 0; 2.75 -> 15.
    fmt = get("int:bits=4,g=4,asym")
    x = np.array([[-1.0, 0.0, 0.6, 2.75]], dtype=np.float32)
    np.testing.assert_array_equal(fmt.quantize(x), [[-1.0, 0.0, 0.5, 2.75]])
    p = fmt.encode(x)
    assert p.codes.tolist() == [[[0, 4, 6, 15]]]
    assert p.step.dtype == np.float16 and p.step.tolist() == [[0.25]] and p.low.tolist() == [[-1.0]]


def test_flexgen_bits_per_value_is_4_5() -> None:
    # 4 bits + FP16 step + FP16 min per group of 64: 4 + 32/64 = 4.5 (tp_comm_and_flexgen.md §2.4).
    assert get("int:bits=4,g=64,asym").bits_per_value((16, 128)) == 4.5
    assert get("int:bits=4,g=64,sym").bits_per_value((16, 128)) == 4.25
    # 100 values along the axis -> 2 groups of 64 (28 padding values charged): 2·(64·4 + 32)/100.
    assert get("int:bits=4,g=64").bits_per_value((3, 100)) == pytest.approx(2 * (64 * 4 + 32) / 100)
    # Per-channel along axis 0 of a (128, 3) tensor: one group of 128 per column.
    assert get("int:bits=8,g=channel,sym,axis=0").bits_per_value((128, 3)) == 8 + 16 / 128


def test_sym_and_per_channel_hand_example() -> None:
    # sym 4-bit: step = max|x|/7. Column 0: max 7 -> step 1: [-7, 3.2, 0.4] -> [-7, 3, 0].
    # Column 1: max 1.75 -> step 0.25: 0.875 -> 3.5 -> 4 (ties to even) -> 1.0; -0.125 -> -0.5 -> 0.
    fmt = get("int:bits=4,g=channel,sym,axis=0")
    x = np.array([[-7.0, 1.75], [3.2, 0.875], [0.4, -0.125]], dtype=np.float32)
    q = fmt.quantize(x)
    np.testing.assert_array_equal(q[:, 0], [-7.0, 3.0, 0.0])
    np.testing.assert_array_equal(q[:, 1], [1.75, 1.0, 0.0])
    assert fmt.encode(x).step.tolist() == [[1.0], [0.25]]  # payload layout: [column, group]


def test_constant_group_and_roundtrip() -> None:
    fmt = get("int:bits=4,g=8,asym")
    x = np.full((2, 8), 3.5, dtype=np.float32)
    np.testing.assert_array_equal(fmt.quantize(x), x)  # step 0 -> code 0 -> x̂ = min


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 90)),
                    elements=st.floats(-1000, 1000, width=32)),
       bits=st.integers(2, 8), sym=st.booleans())
def test_int_properties(x: np.ndarray, bits: int, sym: bool) -> None:
    fmt = get(f"int:bits={bits},g=16,{'sym' if sym else 'asym'}")
    q = fmt.quantize(x)
    p = fmt.encode(x)
    assert (fmt.decode(p).view(np.uint32) == q.view(np.uint32)).all()
    lo, hi = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if sym else (0, 2**bits - 1)
    assert p.codes.min() >= lo and p.codes.max() <= hi
    # Error bound: half a step per element, plus what the FP16 rounding of the step costs: a step rounded
    # down clips the top codes by up to |range - qmax * step| (all of the range when the step underflows
    # to 0, e.g. a group [0, 1e-6] at 6 bits), plus the float32 rounding of q * step + low.
    x16 = x.astype(np.float16).astype(np.float32)
    step = np.repeat(p.step.astype(np.float32), 16, axis=-1)[..., : x.shape[-1]]
    span = np.zeros_like(x16)  # per element: its group's range (asym) or largest magnitude (sym)
    for g0 in range(0, x.shape[-1], 16):
        group = x16[..., g0:g0 + 16]
        extent = np.abs(group).max(-1) if sym else group.max(-1) - group.min(-1)
        span[..., g0:g0 + 16] = extent[..., None]
    clipped = np.abs(span - hi * step)
    assert (np.abs(q - x16) <= 0.5 * step * 1.01 + clipped + np.abs(x16) * 2.0**-10 + 1e-6).all()


def test_int_step_underflowing_fp16_collapses_the_group_to_its_minimum() -> None:
    """The case hypothesis found: range / 63 is below FP16's smallest subnormal, the step rounds to 0,
    every code is 0 and the group decodes to its minimum (the reference's definition, kept)."""
    fmt = get("int:bits=6,g=16,asym")
    x = np.array([[0.0, 1e-6]], dtype=np.float32)
    assert fmt.encode(x).step.item() == 0 and (fmt.quantize(x) == 0).all()


def test_int_weights_hand_example_and_dequant() -> None:
    # asym 2-bit, group 2 along axis 0. Column 0: [-1, 2] -> range [-1, 2], scale 1, zero 1:
    # q = clip(rint(w/1) + 1) = [0, 3]; ŵ = (q - 1)·1 = [-1, 2]. Column 1: [0.5, 1.0] -> range [0, 1]
    # (0 is always included), scale 1/3, zero 0: q = rint([1.5, 3]) = [2, 3] -> ŵ = [2/3, 1].
    w = np.array([[-1.0, 0.5], [2.0, 1.0]], dtype=np.float32)
    q, scale, zero = int_weights(w, bits=2, group=2, axis=0)
    assert q.dtype == np.int8 and q.tolist() == [[0, 2], [3, 3]]
    assert scale.shape == (1, 2) and zero.tolist() == [[1.0, 0.0]]
    np.testing.assert_allclose(int_weights_dequantize(q, scale, zero, group=2, axis=0),
                               [[-1.0, 2 / 3], [2.0, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("sym", [False, True])
def test_int_weights_error_bound_and_shapes(sym: bool) -> None:
    rng = np.random.default_rng(11)
    w = rng.standard_normal((300, 7)).astype(np.float32)
    q, scale, zero = int_weights(w, bits=4, group=128, axis=0, sym=sym)
    assert q.shape == w.shape and scale.shape == (3, 7) and zero.shape == (3, 7)
    w_hat = int_weights_dequantize(q, scale, zero, group=128, axis=0)
    per_row_scale = np.repeat(scale, 128, axis=0)[:300]
    assert (np.abs(w_hat - w) <= 0.5 * per_row_scale * (1 + 1e-5)).all()
    qt, st_, zt = int_weights(w.T, bits=4, group=128, axis=1, sym=sym)
    assert (qt == q.T).all() and (st_ == scale.T).all() and (zt == zero.T).all()


@pytest.mark.parametrize("kwargs", [dict(bits=1), dict(bits=8), dict(group=0), dict(axis=2)])
def test_int_weights_bad_args(kwargs: dict) -> None:
    with pytest.raises(AndasimInputError):
        int_weights(np.ones((4, 4), dtype=np.float32), **kwargs)


# ---- hybrid top-k (Dong et al.) ---------------------------------------------------------------------------

def test_hybrid_unfitted_raises_clear_error() -> None:
    fmt = get("hybrid:k_frac=1/64")
    with pytest.raises(AndasimInputError, match=r"not fitted.*fit"):
        fmt.quantize(np.ones((2, 128), dtype=np.float32))


def test_hybrid_bits_per_value_4_1875() -> None:
    # k = E/64 features in BF16, the rest Int4: (16·80 + 4·5040)/5120 = 4.1875.
    assert get("hybrid:k_frac=1/64").bits_per_value((8, 5120)) == 4.1875
    assert get("hybrid:k=80").bits_per_value((8, 5120)) == 4.1875
    assert get("hybrid:k=72").bits_per_value((1, 4608)) == 4.1875  # Gemma 2 27B, E = 4608
    fitted = get("hybrid:k_frac=1/64").fit(np.random.default_rng(0).standard_normal((16, 640)))
    assert fitted.bits_per_value((3, 640)) == 4.1875 and len(fitted.calibration.hi_idx) == 10


def test_hybrid_fit_picks_widest_features_and_quantizes_by_definition() -> None:
    rng = np.random.default_rng(1)
    calib = rng.uniform(-1, 1, (200, 128)).astype(np.float32)
    calib[:, 5] *= 50
    calib[:, 77] *= 20
    fmt = get("hybrid:k=2").fit(calib)
    assert fmt.calibration.hi_idx.tolist() == [5, 77]
    x = rng.uniform(-1.5, 1.5, (4, 128)).astype(np.float32)
    q = fmt.quantize(x)
    np.testing.assert_array_equal(q[:, [5, 77]], bf16_round(x[:, [5, 77]]))
    lo, hi = calib[:, 3].min(), calib[:, 3].max()
    step = np.float32((hi - lo) / np.float32(15))
    codes = np.clip(np.rint((x[:, 3] - lo) / step), 0, 15)
    np.testing.assert_array_equal(q[:, 3], (codes.astype(np.float32) * step + lo).astype(np.float32))
    assert (q[:, 3] >= lo - 1e-6).all() and (q[:, 3] <= hi + 1e-5).all()  # saturates to the fitted range
    assert (fmt.decode(fmt.encode(x)).view(np.uint32) == q.view(np.uint32)).all()


def test_hybrid_ema_over_batches_and_sym() -> None:
    # Two batches: per-feature max 1 then 6, min -1 then -6. EMA 0.5: 0.5·1 + 0.5·6 = 3.5 and -3.5.
    b1 = np.array([[1.0, -1.0], [-1.0, 1.0]], dtype=np.float32)
    calib = np.stack([b1, 6 * b1])
    fmt = get("hybrid:k=0,sym,ema=0.5").fit(calib)
    np.testing.assert_array_equal(fmt.calibration.hi, [3.5, 3.5])
    np.testing.assert_array_equal(fmt.calibration.lo, [-3.5, -3.5])
    # sym Int4: step 3.5/7 = 0.5; 0.75 -> 1.5 -> 2 (ties to even) -> 1.0; -1.25 -> -2.5 -> -2 -> -1.0;
    # 5.0 -> 10 saturates at 7 -> 3.5.
    q = fmt.quantize(np.array([[0.75, -1.25], [5.0, 0.2]], dtype=np.float32))
    np.testing.assert_array_equal(q, [[1.0, -1.0], [3.5, 0.0]])


def test_hybrid_shape_mismatch_and_bad_params() -> None:
    fmt = get("hybrid:k=1").fit(np.ones((3, 8), dtype=np.float32))
    with pytest.raises(AndasimInputError, match="fitted on 8"):
        fmt.quantize(np.ones((3, 9), dtype=np.float32))
    with pytest.raises(AndasimInputError, match="exceeds"):
        get("hybrid:k=9").fit(np.ones((3, 8), dtype=np.float32))
    assert get("hybrid:k_frac=1/64").k_frac == Fraction(1, 64)
