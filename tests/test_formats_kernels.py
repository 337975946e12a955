"""numba kernels of BFP, MX and INT (and the Anda out=/parallel paths) bit for bit against the numpy
references they replaced, on every finite FP16 value, edge values, float32/float64 inputs and random data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from andasim import threads
from andasim.errors import AndasimInputError
from andasim.formats import anda, anda_decode, anda_encode, anda_quantize, anda_quantize_reference, get
from andasim.formats.mx import MX_ELEMENTS


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype == np.float32 and bool(
        (a.view(np.uint32) == b.view(np.uint32)).all())


def all_finite_fp16() -> np.ndarray:
    bits = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
    return bits[(bits & 0x7C00) != 0x7C00].view(np.float16)  # 63488 values: both zeros, all subnormals


def fp16_layouts() -> list[np.ndarray]:
    """Every finite FP16 value in bit order (narrow groups) and shuffled (wide groups, short last groups)."""
    values = all_finite_fp16()
    shuffled = values[np.random.default_rng(1).permutation(values.size)]
    return [values.reshape(992, 64), shuffled.reshape(992, 64), shuffled[:62000].reshape(31, 2000)]


def wide_float32(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 over the whole range: normals of every exponent, subnormals, ±0, the extremes."""
    n = int(np.prod(shape))
    x = rng.uniform(1, 2, n) * np.exp2(rng.integers(-149, 128, n)) * rng.choice([-1, 1], n)
    x = x.astype(np.float32)
    x[::7] = 0.0
    x[1::11] = -0.0
    x[2::13] = np.float32(1.4e-45) * rng.integers(1, 2**23, x[2::13].size)
    x[:4] = [np.finfo(np.float32).max, -np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.4e-45]
    return x.reshape(shape)


# --- BFP ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("m", range(1, 17))
def test_bfp_kernels_match_reference_on_every_fp16_value(m: int) -> None:
    for rounding in ("rne", "trunc"):
        for gs in (64, 5):
            fmt = get(f"bfp:gs={gs},m={m},round={rounding}")
            for x in fp16_layouts():
                q = fmt.quantize(x)
                assert same_bits(q, fmt.quantize_reference(x))
                if rounding == "rne":
                    p, pr = fmt.encode(x), fmt.encode_reference(x)
                    assert (p.planes == pr.planes).all() and (p.exponents == pr.exponents).all()
                    assert same_bits(fmt.decode(p), fmt.decode_reference(p))
                    assert same_bits(fmt.decode(p), q)


@settings(max_examples=25, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=70),
                    elements=st.floats(-65504, 65504, width=32)),
       m=st.integers(1, 16), gs=st.sampled_from([1, 3, 32, 64]))
def test_bfp_rne_float32_input(x: np.ndarray, m: int, gs: int) -> None:
    fmt = get(f"bfp:gs={gs},m={m},round=rne")
    assert same_bits(fmt.quantize(x), fmt.quantize_reference(x))


# --- MX -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MX_ELEMENTS))
def test_mx_kernels_match_reference(name: str) -> None:
    fmt = get(name)
    rng = np.random.default_rng(3)
    zeros = np.zeros((3, 70), np.float16)
    zeros[1, ::3] = -0.0  # all-zero blocks keep the signs of their zeros (FP elements)
    zeros[2, 40] = 2.0**-24  # the smallest block maximum
    inputs = [*fp16_layouts(), wide_float32(rng, (64, 97)), wide_float32(rng, (3, 32)).astype(np.float64),
              (rng.standard_normal((5, 33)) * 1e-40).astype(np.float32),  # float32-subnormal blocks
              zeros, zeros.astype(np.float32)]
    for x in inputs:
        q = fmt.quantize(x)
        assert same_bits(q, fmt.quantize_reference(x)), x.dtype
        p = fmt.encode(x)
        assert same_bits(fmt.decode(p), fmt.decode_reference(p))
        assert same_bits(fmt.decode(p), q)


@settings(max_examples=25, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=80),
                    elements=st.floats(width=32, allow_nan=False, allow_infinity=False)),
       name=st.sampled_from(sorted(MX_ELEMENTS)))
def test_mx_kernel_random_float32(x: np.ndarray, name: str) -> None:
    fmt = get(name)
    assert same_bits(fmt.quantize(x), fmt.quantize_reference(x))


# --- INT ----------------------------------------------------------------------------------------------

def int_inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    return [*fp16_layouts()[1:],
            (rng.standard_normal((37, 77)) * np.exp(rng.normal(0, 2, (37, 77)))).astype(np.float32),
            np.maximum(rng.standard_normal((40, 130)), 0).astype(np.float16),  # zero minima (ReLU-like)
            -np.maximum(rng.standard_normal((40, 130)), 0).astype(np.float16),  # zero maxima
            np.where(rng.random((20, 96)) < 0.5, 0.0, -0.0).astype(np.float16),  # zeros of both signs
            (rng.standard_normal((6, 5, 70)) * 1e-6).astype(np.float16),  # subnormal steps
            np.full((3, 64), 7.0, np.float16)]  # constant groups: step 0


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("sym", ["asym", "sym"])
def test_int_kernels_match_reference(bits: int, sym: str) -> None:
    for g in ("64", "5", "channel"):
        for axis in (-1, 0):
            fmt = get(f"int:bits={bits},g={g},{sym},axis={axis}")
            for x in int_inputs():
                q = fmt.quantize(x)
                assert same_bits(q, fmt.quantize_reference(x)), (fmt.spec, x.shape)
                p, pr = fmt.encode(x), fmt.encode_reference(x)
                assert (p.codes == pr.codes).all()
                assert (p.step.view(np.uint16) == pr.step.view(np.uint16)).all()
                assert (p.low.view(np.uint16) == pr.low.view(np.uint16)).all()
                assert same_bits(fmt.decode(p), q)
                assert same_bits(fmt.decode(p), fmt.decode_reference(p))


def test_int_decode_refuses_mismatched_payload() -> None:
    fmt = get("int:bits=4,g=64,asym")
    p = fmt.encode(np.ones((2, 100), np.float16))
    bad = type(p)(codes=p.codes[:, :1], step=p.step, low=p.low, shape=p.shape, axis=p.axis)
    with pytest.raises(AndasimInputError, match="codes must be"):
        fmt.decode(bad)


# --- NaN / Inf: the kernels find them, the message is the one of the numpy checks ---------------------

SPECS = ["anda:m=6", "bfp:gs=64,m=6,round=rne", "bfp:gs=5,m=3,round=trunc", "mxint8", "mxfp4_e2m1",
         "int:bits=4,g=64,asym", "int:bits=8,g=channel,sym,axis=0"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("bad, words", [(np.nan, "is NaN"), (np.inf, "is infinite"),
                                        (-np.inf, "is infinite")])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_nonfinite_refused_with_first_index(spec: str, bad: float, words: str, dtype: type) -> None:
    x = np.ones((3, 70), dtype=dtype)
    x[2, 5] = bad
    x[1, 69] = bad  # the first one in C order
    with pytest.raises(AndasimInputError, match=rf"index \(1, 69\) {words}"):
        get(spec).quantize(x)


def test_fp16_overflow_refused_by_kernel_path() -> None:
    x = np.ones((2, 64), np.float32)
    x[1, 3] = 70000.0
    for spec in ("anda:m=4", "bfp:m=4,round=rne", "int:bits=4,g=64,asym"):
        with pytest.raises(AndasimInputError, match=r"index \(1, 3\) = 70000.0 exceeds the FP16 range"):
            get(spec).quantize(x)


def test_anda_checks_fp16_input_once(monkeypatch) -> None:
    """Finding (issue 17): to_fp16 scanned FP16 input for NaN/Inf and then the kernel scanned it again."""
    calls = []
    real = anda.to_fp16

    def spy(x, what="input", **kw):
        calls.append(kw.get("check_finite", True))
        return real(x, what, **kw)

    monkeypatch.setattr(anda, "to_fp16", spy)
    x = np.ones((4, 64), np.float16)
    anda_quantize(x, 4)
    anda_encode(x, 4)
    assert calls == [False, False]


# --- out= and the parallel path ---------------------------------------------------------------------

def test_out_buffers() -> None:
    x = fp16_layouts()[1][:40]
    pay = anda_encode(x, 5)
    out = np.full(x.shape, np.nan, np.float32)
    assert anda_decode(pay, out=out) is out and same_bits(out, anda_quantize_reference(x, 5))
    reuse = anda_encode(x[::-1].copy(), 5)
    assert anda_encode(x, 5, out=reuse) is reuse
    assert (reuse.planes == pay.planes).all() and (reuse.exponents == pay.exponents).all()
    with pytest.raises(AndasimInputError, match="out must be a BitPlanePayload"):
        anda_encode(x, 6, out=reuse)
    for spec in ("bfp:m=5,round=rne", "mxfp8_e4m3"):
        fmt = get(spec)
        out = np.empty(x.shape, np.float32)
        assert fmt.quantize(x, out=out) is out and same_bits(out, fmt.quantize_reference(x))
        with pytest.raises(AndasimInputError, match="out must be"):
            fmt.quantize(x, out=np.empty(x.shape, np.float64))


@pytest.fixture
def two_threads(monkeypatch):
    """Force the parallel kernels on small tensors (the size threshold lowered), two numba threads."""
    monkeypatch.setattr(anda, "PARALLEL_MIN_VALUES", 1)
    monkeypatch.setattr(threads, "_requested", 2)
    if threads.numba_threads() < 2:
        pytest.skip("numba has a single thread here")


def test_parallel_paths_match_serial(two_threads) -> None:
    rng = np.random.default_rng(5)
    for x in (fp16_layouts()[1], fp16_layouts()[1].reshape(1, -1)[:, :63488]):  # many rows; one long row
        for m in (1, 7, 16):
            assert same_bits(anda_quantize(x, m), anda_quantize_reference(x, m))
            assert same_bits(anda_decode(anda_encode(x, m)), anda_quantize_reference(x, m))
        fmt = get("bfp:m=6,round=rne")
        assert same_bits(fmt.decode(fmt.encode(x)), fmt.quantize_reference(x))
        for spec in ("mxfp6_e3m2", "int:bits=4,g=64,asym"):
            fmt = get(spec)
            assert same_bits(fmt.quantize(x), fmt.quantize_reference(x))
    x = rng.standard_normal((300, 64)).astype(np.float16)
    x[250, 3], x[120, 60] = np.nan, np.inf  # the earlier chunk's error is reported
    for spec in ("anda:m=4", "mxint8", "int:bits=4,g=64,sym"):
        with pytest.raises(AndasimInputError, match=r"index \(120, 60\) is infinite"):
            get(spec).quantize(x)


def test_prange_kernels_run_on_one_thread_too(monkeypatch) -> None:
    """Issue 17: the serial kernels were 2.4x slower than the prange ones on one thread (numba marks the
    parfor's arrays noalias), so tensors of PARALLEL_MIN_VALUES or more take the prange kernels at any
    thread count; smaller ones stay serial (a parallel launch costs ~1 us)."""
    monkeypatch.setattr(threads, "_requested", 1)
    assert anda.parallel_plan(anda.PARALLEL_MIN_VALUES, 4096, 64) == (anda.CHUNKS_PER_THREAD, 64)
    assert anda.parallel_plan(64 * 4096, 4096, 64) == (anda.CHUNKS_PER_THREAD, 4096)
    assert anda.parallel_plan(anda.PARALLEL_MIN_VALUES - 1, 64, 64)[0] == 0


@pytest.mark.parametrize("min_values", [1, 1 << 40], ids=["prange", "serial"])
def test_both_kernel_paths_match_reference_on_one_thread(monkeypatch, min_values: int) -> None:
    monkeypatch.setattr(threads, "_requested", 1)
    monkeypatch.setattr(anda, "PARALLEL_MIN_VALUES", min_values)
    for x in fp16_layouts()[1:]:
        for m in (1, 6, 9, 16):
            assert same_bits(anda_quantize(x, m), anda_quantize_reference(x, m))
            assert same_bits(anda_decode(anda_encode(x, m)), anda_quantize_reference(x, m))
        for spec in ("bfp:m=6,round=rne", "mxfp4_e2m1", "mxint8", "int:bits=4,g=64,asym",
                     "int:bits=8,g=64,sym"):
            fmt = get(spec)
            assert same_bits(fmt.quantize(x), fmt.quantize_reference(x))


def test_bitplane_vector_transposes_match_plain_loops() -> None:
    """The two vector intrinsics of `_bitplane_simd` against the loops they replace, every bit and offset."""
    from numba import njit

    from andasim.formats._bitplane_simd import plane_bits32, push_plane32

    @njit
    def bits(values, offset, bit):
        return plane_bits32(values, offset, bit)

    @njit
    def push(values, offset, word):
        push_plane32(values, offset, word)

    rng = np.random.default_rng(11)
    values = rng.integers(0, 2**16, 96).astype(np.uint16)
    for offset in (0, 32, 64, 7):
        for bit in range(16):
            expect = sum(((int(values[offset + j]) >> bit) & 1) << j for j in range(32))
            assert int(bits(values, offset, bit)) == expect
        word = int(rng.integers(0, 2**32))
        before = values.copy()
        push(values, offset, np.uint64(word))
        lanes = [((int(before[offset + j]) << 1) & 0xFFFF) | ((word >> j) & 1) for j in range(32)]
        assert values[offset:offset + 32].tolist() == lanes
        untouched = np.r_[0:offset, offset + 32:values.size]
        assert (values[untouched] == before[untouched]).all()
