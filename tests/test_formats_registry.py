"""Spec parsing (strict), FP16/BF16 formats and error metrics."""

from __future__ import annotations

import numpy as np
import pytest

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.formats import VALID_SPECS, get, metrics

GOOD = ["fp16", "bf16", "anda:m=6", "anda:m=6,gs=32", "bfp:gs=64,m=8,exp_bits=5,round=trunc",
        "bfp:gs=16,m=4,exp_bits=8,round=rne", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2",
        "mxfp6_e2m3", "mxfp4_e2m1", "int:bits=4,g=64,asym", "int:bits=8,g=channel,sym,axis=0",
        "hybrid:k_frac=1/64",
        "hybrid:k=80,sym,ema=0.5"]


@pytest.mark.parametrize("spec", GOOD)
def test_canonical_spec_reparses_to_the_same_format(spec: str) -> None:
    fmt = get(spec)
    assert get(fmt.spec) == fmt and get(fmt.spec).spec == fmt.spec


def test_defaults() -> None:
    assert get("anda:m=6").spec == "anda:m=6,gs=64"
    assert get("int:bits=4,g=64,asym").spec == "int:bits=4,g=64,asym,axis=-1"
    assert get(" ANDA:m=6 ").spec == "anda:m=6,gs=64"


@pytest.mark.parametrize("spec, fragment", [
    ("foo", "unknown format 'foo'"),
    ("anda", "needs m"),
    ("anda:m=0", "1..16"),
    ("anda:m=17", "1..16"),
    ("anda:m=6,gs=0", "gs must be a positive"),
    ("anda:m=6,gs=-3", "gs must be a positive"),
    ("anda:m=six", "not an integer"),
    ("anda:m=6,m=7", "given twice"),
    ("anda:m=6,size=3", "unknown parameter 'size'"),
    ("anda:m=", "no value"),
    ("mxint8:gs=16", "unknown parameter"),
    ("fp16:", "empty parameter"),
    ("anda:m=6,", "empty parameter"),
    ("int:bits=1", "bits must be in 2..16"),
    ("int:bits=17", "bits must be in 2..16"),
    ("int:g=0", "g must be"),
    ("int:g=row", "not an integer"),
    ("int:sym,asym", "only one of"),
    ("int:fast", "unknown flag 'fast'"),
    ("hybrid:sym", "exactly one of"),
    ("hybrid:k=3,k_frac=1/64", "exactly one of"),
    ("hybrid:k_frac=1/0", "not a fraction"),
    ("hybrid:k_frac=2", "k_frac must be in"),
    ("hybrid:k=80,ema=1.5", "ema must be in"),
    ("bfp:round=up", "round must be one of"),
])
def test_bad_specs_list_the_valid_ones(spec: str, fragment: str) -> None:
    with pytest.raises(FormatSpecError) as info:
        get(spec)
    msg = str(info.value)
    assert fragment in msg and "valid specs:" in msg and "\n" not in msg
    assert all(v in msg for v in VALID_SPECS)


def test_non_string_spec() -> None:
    with pytest.raises(FormatSpecError, match="must be a string"):
        get(6)  # type: ignore[arg-type]


def test_fp16_and_bf16() -> None:
    x = np.array([1.0 + 2.0**-12, 3.0e38, -2.0**-130], dtype=np.float32)
    bf = get("bf16")
    # bf16 keeps 8 significant bits: 1 + 2^-12 -> 1.0; 3e38 -> nearest bf16; tiny values keep their 8-bit
    # exponent.
    q = bf.quantize(x)
    assert q[0] == 1.0 and q[2] == np.float32(-2.0**-130)
    assert abs(q[1] - 3.0e38) / 3.0e38 < 2.0**-8
    assert (bf.decode(bf.encode(x)).view(np.uint32) == q.view(np.uint32)).all()
    with pytest.raises(AndasimInputError, match="FP16 range"):
        get("fp16").quantize(x)
    h = get("fp16")
    y = np.array([1.0 + 2.0**-11, -0.0, 65504.0], dtype=np.float32)  # 1 + 2^-11 ties to even -> 1.0
    np.testing.assert_array_equal(h.quantize(y), [1.0, 0.0, 65504.0])
    assert h.bits_per_value((3,)) == 16.0 == bf.bits_per_value((2, 2))
    with pytest.raises(AndasimInputError, match=r"index \(1,\) = .* overflows BF16"):
        bf.quantize(np.array([1.0, np.finfo(np.float32).max], dtype=np.float32))  # rounds up past bf16 max


@pytest.mark.parametrize("shape", [(), (0,), (2, -1), (2.5,), "ab"])
def test_bits_per_value_rejects_bad_shapes(shape: object) -> None:
    with pytest.raises(AndasimInputError):
        get("anda:m=4").bits_per_value(shape)  # type: ignore[arg-type]


def test_metrics_hand_values() -> None:
    ref = np.array([1.0, -2.0, 2.0, 0.0], dtype=np.float32)
    x = np.array([1.0, -2.0, 1.0, 0.0], dtype=np.float32)
    # error [0, 0, -1, 0]: MSE 1/4; SQNR 10·log10(9/1); cosine (1+4+2)/(3·sqrt(6)); max rel 1/2.
    assert metrics.mse(ref, x) == 0.25
    assert metrics.sqnr_db(ref, x) == pytest.approx(10 * np.log10(9.0))
    assert metrics.cosine(ref, x) == pytest.approx(7 / (3 * np.sqrt(6)))
    assert metrics.max_rel_error(ref, x) == 0.5
    assert metrics.sqnr_db(ref, ref) == float("inf")
    assert metrics.max_rel_error(ref, ref + np.array([0, 0, 0, 1e-3], dtype=np.float32)) == float("inf")
    assert metrics.cosine(np.zeros(3), np.zeros(3)) == 1.0


def test_metrics_refuse_bad_input() -> None:
    with pytest.raises(AndasimInputError, match="shapes differ"):
        metrics.mse(np.ones(3), np.ones(4))
    with pytest.raises(AndasimInputError, match="NaN"):
        metrics.sqnr_db(np.ones(3), np.array([1.0, np.nan, 1.0]))
    with pytest.raises(AndasimInputError, match="float"):
        metrics.cosine(np.ones(3, dtype=int), np.ones(3))


ALL_SPECS = ["fp16", "bf16", "anda:m=6", "bfp:round=rne", "mxint8", "mxfp8_e4m3", "mxfp4_e2m1",
             "int:bits=4,g=64,asym", "int:bits=4,g=channel,sym"]


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_every_format_refuses_nan_inf_and_non_float(spec: str) -> None:
    fmt = get(spec)
    for bad, what in ((np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")):
        x = np.ones((3, 40), dtype=np.float32)
        x[2, 17] = bad
        with pytest.raises(AndasimInputError, match=rf"index \(2, 17\) .*{what}"):
            fmt.quantize(x)
        with pytest.raises(AndasimInputError, match=rf"index \(2, 17\) .*{what}"):
            fmt.encode(x)
    with pytest.raises(AndasimInputError, match="float16/float32/float64"):
        fmt.quantize(np.ones((3, 40), dtype=np.int32))


def test_hybrid_refuses_nan_in_calibration_and_input() -> None:
    calib = np.ones((4, 8), dtype=np.float32)
    calib[1, 3] = np.nan
    with pytest.raises(AndasimInputError, match=r"index \(1, 3\) is NaN"):
        get("hybrid:k=1").fit(calib)
    fitted = get("hybrid:k=1").fit(np.ones((4, 8), dtype=np.float32))
    with pytest.raises(AndasimInputError, match=r"index \(0, 7\) is infinite"):
        fitted.quantize(np.array([[1, 1, 1, 1, 1, 1, 1, np.inf]], dtype=np.float32))


def test_float64_beyond_float32_range_refused() -> None:
    with pytest.raises(AndasimInputError, match=r"index \(1,\) = 1e\+300 exceeds the float32 range"):
        get("mxint8").quantize(np.array([1.0, 1e300]))


def test_corrupt_payloads_refused() -> None:
    fmt = get("anda:m=4")
    p = fmt.encode(np.ones((2, 64), dtype=np.float32))
    bad_exp = type(p)(planes=p.planes, exponents=np.full_like(p.exponents, 31), shape=p.shape, m=4, gs=64)
    with pytest.raises(AndasimInputError, match=r"1\.\.30"):
        fmt.decode(bad_exp)
    bad_shape = type(p)(planes=p.planes[:1], exponents=p.exponents, shape=p.shape, m=4, gs=64)
    with pytest.raises(AndasimInputError, match="planes must be"):
        fmt.decode(bad_shape)
    with pytest.raises(AndasimInputError, match="payload was encoded with m=4"):
        get("anda:m=5").decode(p)
    mx = get("mxint8")
    mp = mx.encode(np.ones((2, 64), dtype=np.float32))
    with pytest.raises(AndasimInputError, match="codes must be"):
        mx.decode(type(mp)(codes=mp.codes[:, :1], scales=mp.scales, shape=mp.shape, name="mxint8"))
