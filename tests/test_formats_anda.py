"""Anda format: bit-exact against an independent reference written here from the definition (anda.md §1.2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats import (
    anda_decode,
    anda_encode,
    anda_fields_reference,
    anda_integer_fields,
    anda_quantize,
    anda_quantize_reference,
    get,
)
from andasim.formats.bitplanes import fields_from_planes, planes_from_fields, unpad_last, values_from_fields


def bitfield_reference(x16: np.ndarray, m: int, gs: int) -> np.ndarray:
    """Independent reference, straight from the definition on the FP16 bit fields (float64 arithmetic,
    unlike the library's integer shifts): groups of gs along the last axis, zero padding,
    e_i = max(field, 1), sig_i = frac + 1024·[field > 0], E = max e_i, m_i = floor(sig_i·2^(M−11−(E−e_i))),
    x̂_i = (−1)^s_i · m_i · 2^(E − 15 − (M − 1))."""
    last = x16.shape[-1]
    n_groups = -(-last // gs)
    bits = np.zeros((*x16.shape[:-1], n_groups * gs), dtype=np.uint16)
    bits[..., :last] = x16.view(np.uint16)
    bits = bits.reshape(*x16.shape[:-1], n_groups, gs).astype(np.int64)
    sign = bits >> 15
    field = (bits >> 10) & 31
    frac = bits & 1023
    sig = (frac + np.where(field != 0, 1024, 0)).astype(np.float64)
    e = np.maximum(field, 1)
    e_shared = e.max(axis=-1, keepdims=True)
    mant = np.floor(np.ldexp(sig, m - 11 - (e_shared - e)))
    mag = np.ldexp(mant, e_shared - 15 - (m - 1))
    val = np.where(sign == 1, -mag, mag)
    return val.reshape(*x16.shape[:-1], -1)[..., :last].astype(np.float32)


def spanning_data(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """FP16 data with normals over the whole exponent range, subnormals, ±0, both signs, and groups whose
    exponents spread widely (a huge value next to tiny ones)."""
    n = int(np.prod(shape))
    exps = rng.integers(-24, 16, n)
    vals = rng.uniform(1.0, 2.0, n) * np.exp2(exps) * rng.choice([-1.0, 1.0], n)
    kind = rng.integers(0, 10, n)
    vals = np.where(kind == 0, 0.0, vals)
    vals = np.where(kind == 1, -0.0, vals)
    subnormal = rng.integers(1, 1024, n) * 2.0**-24 * rng.choice([-1.0, 1.0], n)
    vals = np.where(kind == 2, subnormal, vals)
    vals = np.where(kind == 3, rng.uniform(-65504, 65504, n), vals)
    x = np.clip(vals, -65504, 65504).astype(np.float16).reshape(shape)
    flat = x.reshape(-1)
    flat[: n // 3] = np.float16(0.0)  # a stretch of all-zero groups
    flat[-5:] = np.array([65504, -2.0**-24, 1.0, -1.0, 2.0**-14], dtype=np.float16)
    return x


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype == np.float32 and bool(
        (a.view(np.uint32) == b.view(np.uint32)).all())


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return spanning_data(np.random.default_rng(20250101), (37, 200))  # 200 = 3·64 + 8: a padded group


@pytest.mark.parametrize("m", range(1, 17))
@pytest.mark.parametrize("gs", [64, 32, 7])
def test_quantize_and_encode_match_bitfield_reference(data: np.ndarray, m: int, gs: int) -> None:
    ref = bitfield_reference(data, m, gs)
    assert same_bits(anda_quantize(data, m, gs), ref)
    assert same_bits(anda_quantize_reference(data, m, gs), ref)
    payload = anda_encode(data, m, gs)
    assert payload.planes.shape == (37, -(-200 // gs), 1 + m)
    assert same_bits(anda_decode(payload), ref)
    # numba encode/decode kernels against the numpy plane packer/unpacker
    r_signs, r_mants, r_exps = anda_fields_reference(data, m, gs)
    assert (planes_from_fields(r_signs, r_mants, m) == payload.planes).all()
    assert (r_exps == payload.exponents).all()
    signs, mants = fields_from_planes(payload.planes, gs, m)
    assert same_bits(unpad_last(values_from_fields(signs, mants, payload.exponents, m), data.shape), ref)
    fmt = get(f"anda:m={m},gs={gs}")
    assert same_bits(fmt.decode(fmt.encode(data)), fmt.quantize(data))


@pytest.mark.parametrize("m", [1, 4, 11, 12, 16])
def test_integer_fields_match_reference_and_rebuild_values(data: np.ndarray, m: int) -> None:
    signs, mants, exps = anda_integer_fields(data, m, 64)
    r_signs, r_mants, r_exps = anda_fields_reference(data, m, 64)
    assert (signs == r_signs).all() and (mants == r_mants).all() and (exps == r_exps).all()
    assert mants.dtype == np.uint16 and int(mants.max()) < 2**m
    assert exps.min() >= 1 and exps.max() <= 30
    scale = np.exp2(exps.astype(np.int64) - 15 - (m - 1))[..., None]
    rebuilt = np.where(signs == 1, -1.0, 1.0) * mants * scale
    assert same_bits(rebuilt.reshape(37, -1)[:, :200].astype(np.float32), bitfield_reference(data, m, 64))


def test_hand_example_group_of_three() -> None:
    # gs=3, M=4: 1.5 (field 15, sig 1536), 0.375 (field 13, sig 1536), -0.1 -> FP16 0.0999755859375
    # (field 11, sig 1638). E = 15. m = floor(1536·2^-7) = 12, floor(1536·2^-9) = 3, floor(1638·2^-11) = 0.
    # x̂ = m·2^(15-15-3): 1.5, 0.375, -0.0 (the sign plane keeps the sign of a truncated-to-zero value).
    x = np.array([1.5, 0.375, -0.1], dtype=np.float32)
    q = anda_quantize(x, 4, 3)
    np.testing.assert_array_equal(q, [1.5, 0.375, 0.0])
    assert np.signbit(q[2])
    signs, mants, exps = anda_integer_fields(x, 4, 3)
    assert signs.tolist() == [[0, 0, 1]] and mants.tolist() == [[12, 3, 0]] and exps.tolist() == [15]


def test_subnormals_and_zero_groups_documented_choices() -> None:
    # All-zero group -> stored exponent 1. Subnormal-only group: E = 1 (field 0 acts as exponent 1, hidden 0):
    # 2^-24 = sig 1 at E=1; with M=11, m = floor(1·2^0) = 1 -> x̂ = 1·2^(1-15-10) = 2^-24 (exact).
    zeros = np.zeros((1, 64), dtype=np.float16)
    _, mants, exps = anda_integer_fields(zeros, 8, 64)
    assert exps.tolist() == [[1]] and not mants.any()
    sub = np.full((1, 64), 2.0**-24, dtype=np.float16)
    assert (anda_quantize(sub, 11, 64) == np.float32(2.0**-24)).all()
    # Mixed with the smallest normal 2^-14 (field 1, sig 1024): same E=1, so M=1 keeps only the hidden bit:
    # m = floor(1024·2^-10) = 1 -> 2^-14; the subnormal 2^-24 -> floor(1·2^-10) = 0.
    mixed = np.array([[2.0**-14, 2.0**-24]], dtype=np.float16)
    np.testing.assert_array_equal(anda_quantize(mixed, 1, 64), [[2.0**-14, 0.0]])


def test_float32_input_is_rounded_to_fp16_first() -> None:
    x32 = np.array([1.0 + 2.0**-11 + 2.0**-13], dtype=np.float32)  # rounds up to 1 + 2^-10 in FP16 (RNE)
    np.testing.assert_array_equal(anda_quantize(x32, 16, 64), [1.0 + 2.0**-10])


def test_bits_per_value_counts_padding() -> None:
    fmt = get("anda:m=6")
    assert fmt.bits_per_value((8, 128)) == 1 + 6 + 5 / 64  # 7.078125
    # 100 values per row -> 2 groups of 64 per row: 2·(64·7 + 5)/100 bits per value.
    assert fmt.bits_per_value((3, 100)) == pytest.approx(2 * (64 * 7 + 5) / 100)
    assert get("anda:m=4,gs=32").bits_per_value((4, 64)) == 1 + 4 + 5 / 32


def test_bit_plane_layout_by_hand() -> None:
    # Group of 64: element 0 = -1.0, element 1 = 0.75, element 63 = 0.5, rest 0; M = 3, E = 15.
    # m: 1.0 -> 0b100, 0.75 -> 0b011, 0.5 -> 0b010. Planes (bit j = element j):
    # sign = bit0; plane MSB = bit0; plane 2 = bit1 | bit63; plane LSB = bit1.
    x = np.zeros(64, dtype=np.float16)
    x[0], x[1], x[63] = -1.0, 0.75, 0.5
    p = anda_encode(x, 3, 64)
    assert p.exponents.tolist() == [15]
    assert p.planes.tolist() == [[1, 1, 2 | (1 << 63), 2]]
    signs, mants = fields_from_planes(p.planes, 64, 3)
    assert (planes_from_fields(signs, mants, 3) == p.planes).all()


@pytest.mark.parametrize("bad, what", [(np.nan, "is NaN"), (np.inf, "is infinite"), (-np.inf, "is infinite"),
                                       (1e6, "= 1000000.0 exceeds the FP16 range")])
def test_nonfinite_and_out_of_range_refused_with_index(bad: float, what: str) -> None:
    x = np.ones((2, 70), dtype=np.float32)
    x[1, 2] = bad
    x[1, 60] = np.nan
    for fn in (lambda: anda_quantize(x, 4), lambda: anda_encode(x, 4), lambda: anda_integer_fields(x, 4),
               lambda: anda_quantize_reference(x, 4)):
        with pytest.raises(AndasimInputError, match=rf"index \(1, 2\) {what}"):
            fn()


def test_fp16_input_nan_refused_by_kernel() -> None:
    x = np.ones(130, dtype=np.float16)
    x[129] = np.inf
    with pytest.raises(AndasimInputError, match=r"index \(129,\) is infinite"):
        anda_quantize(x, 8)


@pytest.mark.parametrize("x", [np.arange(64), np.ones(64, dtype=bool), np.ones(64, dtype=np.complex64),
                               np.array(["a"] * 64), np.float32(1.0)])
def test_non_float_input_refused(x: np.ndarray) -> None:
    with pytest.raises(AndasimInputError, match=r"float16/float32/float64 array|at least one axis"):
        anda_quantize(x, 4)


@pytest.mark.parametrize("spec", ["anda:m=4", "bfp:round=rne", "mxint8", "int:bits=4", "fp16", "bf16"])
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 64)])
def test_empty_arrays_refused(spec: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(AndasimInputError, match="non-empty"):
        get(spec).quantize(np.zeros(shape, dtype=np.float32))
    with pytest.raises(AndasimInputError, match="non-empty"):
        anda_integer_fields(np.zeros(shape, dtype=np.float16), 4)


@pytest.mark.parametrize("m, gs", [(0, 64), (17, 64), (4, 0), (4, -64), (2.5, 64), (True, 64)])
def test_bad_parameters_refused(m: object, gs: object) -> None:
    with pytest.raises(FormatSpecError):
        anda_quantize(np.ones(64, dtype=np.float16), m, gs)  # type: ignore[arg-type]


def test_encode_refuses_group_wider_than_a_word() -> None:
    with pytest.raises(AndasimInputError, match="gs <= 64"):
        anda_encode(np.ones(256, dtype=np.float16), 4, 128)
    assert anda_quantize(np.ones(256, dtype=np.float16), 4, 128).shape == (256,)


def test_non_contiguous_and_nd_input() -> None:
    x = spanning_data(np.random.default_rng(3), (4, 6, 130))
    view = x[:, ::2, 1:]
    expected = bitfield_reference(np.ascontiguousarray(view), 5, 64)
    np.testing.assert_array_equal(anda_quantize(view, 5), expected)


fp16_arrays = hnp.arrays(
    np.float16, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=70),
    elements=st.floats(-65504, 65504, width=16, allow_nan=False, allow_infinity=False))


@settings(max_examples=60, deadline=None)
@given(x=fp16_arrays, m=st.integers(1, 16), gs=st.sampled_from([1, 3, 16, 64]))
def test_properties(x: np.ndarray, m: int, gs: int) -> None:
    q = anda_quantize(x, m, gs)
    x32 = x.astype(np.float32)
    assert same_bits(q, bitfield_reference(x, m, gs))
    assert same_bits(anda_quantize(q, m, gs), q)  # idempotent
    assert (np.abs(q) <= np.abs(x32)).all()  # truncation never increases magnitude
    assert (q[x32 == 0] == 0).all()  # zero stays zero
    assert (np.signbit(q) == np.signbit(x32)).all()  # signs kept (sign-magnitude)
    if m < 16:
        q_next = anda_quantize(x, m + 1, gs)
        assert (np.abs(x32 - q_next) <= np.abs(x32 - q)).all()  # error non-increasing in M


@settings(max_examples=25, deadline=None)
@given(x=fp16_arrays, m=st.integers(1, 16))
def test_decode_encode_property(x: np.ndarray, m: int) -> None:
    assert same_bits(anda_decode(anda_encode(x, m, 64)), anda_quantize(x, m, 64))


def test_m13_plus_is_lossless_for_narrow_groups() -> None:
    # With all exponents equal, M >= 11 keeps every significand bit: x̂ == x.
    x = (np.random.default_rng(5).uniform(1, 2, (4, 64))).astype(np.float16)
    np.testing.assert_array_equal(anda_quantize(x, 11), x.astype(np.float32))


def test_quantize_into_preallocated_out() -> None:
    x = spanning_data(np.random.default_rng(9), (3, 130))
    out = np.full((3, 130), np.nan, dtype=np.float32)
    assert anda_quantize(x, 6, out=out) is out
    assert same_bits(out, bitfield_reference(x, 6, 64))
    wrong = (np.empty((3, 129), np.float32), np.empty((3, 130), np.float64), np.empty((130, 3), np.float32).T)
    for bad in wrong:
        with pytest.raises(AndasimInputError, match="out must be"):
            anda_quantize(x, 6, out=bad)


def all_finite_fp16() -> np.ndarray:
    """Every finite FP16 bit pattern (63488 = 992 · 64 values, both zeros, all subnormals)."""
    bits = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
    return bits[(bits & 0x7C00) != 0x7C00].view(np.float16)


@pytest.mark.parametrize("m", range(1, 17))
def test_every_finite_fp16_value_sorted_and_shuffled(m: int) -> None:
    # In bit order the groups are narrow (neighbouring values); shuffled they spread over the whole range.
    values = all_finite_fp16()
    shuffled = values[np.random.default_rng(m).permutation(values.size)]
    for x in (values.reshape(992, 64), shuffled.reshape(992, 64), shuffled.reshape(31, 2048)):
        assert same_bits(anda_quantize(x, m), bitfield_reference(x, m, 64))
        assert same_bits(anda_decode(anda_encode(x, m)), bitfield_reference(x, m, 64))


@pytest.mark.slow
def test_large_random_tensor_every_m() -> None:
    x = spanning_data(np.random.default_rng(77), (1024, 4096 + 17))
    for m in range(1, 17):
        ref = bitfield_reference(x, m, 64)
        assert same_bits(anda_quantize(x, m), ref)
        assert same_bits(anda_decode(anda_encode(x, m)), ref)
        signs, mants, exps = anda_integer_fields(x, m)
        r = anda_fields_reference(x, m)
        assert (signs == r[0]).all() and (mants == r[1]).all() and (exps == r[2]).all()


def test_exact_under_flush_to_zero() -> None:
    # Libraries may switch the CPU to flush-to-zero / denormals-are-zero; FP16 subnormals must survive.
    torch = pytest.importorskip("torch")
    x = all_finite_fp16().reshape(992, 64)
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        for m in (1, 11, 16):
            ref = bitfield_reference(x, m, 64)
            assert same_bits(anda_quantize(x, m), ref)
            assert same_bits(anda_decode(anda_encode(x, m)), ref)
    finally:
        torch.set_flush_denormal(False)
