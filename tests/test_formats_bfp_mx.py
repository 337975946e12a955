"""BFP (truncation, RNE) and OCP MX v1.0 formats against hand-computed examples and independent references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from andasim.errors import FormatSpecError
from andasim.formats import anda_quantize, get


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a.astype(np.float32).view(np.uint32) == b.view(np.uint32)).all())


def bfp_rne_reference(x16: np.ndarray, m: int, gs: int) -> np.ndarray:
    """Independent BFP-RNE reference on one row: float64 ldexp + np.rint (ties to even), saturation at
    2^M − 1."""
    out = []
    for g0 in range(0, x16.size, gs):
        grp = x16[g0:g0 + gs]
        bits = grp.view(np.uint16).astype(np.int64)
        field = (bits >> 10) & 31
        sig = ((bits & 1023) + np.where(field > 0, 1024, 0)).astype(np.float64)
        e = np.maximum(field, 1)
        big_e = e.max()
        mant = np.minimum(np.rint(np.ldexp(sig, m - 11 - (big_e - e))), 2**m - 1)
        mag = np.ldexp(mant, big_e - 15 - (m - 1))
        out.append(np.where(bits >> 15 == 1, -mag, mag))
    return np.concatenate(out).astype(np.float32)


def test_bfp_trunc_with_5_bit_exponent_is_anda() -> None:
    x = (np.random.default_rng(0).standard_normal((9, 150)) * 8).astype(np.float16)
    for m in (1, 5, 8, 13, 16):
        bfp = get(f"bfp:gs=64,m={m},exp_bits=5,round=trunc")
        anda = get(f"anda:m={m}")
        assert same_bits(bfp.quantize(x), anda.quantize(x))
        assert bfp.bits_per_value(x.shape) == anda.bits_per_value(x.shape)
        pb, pa = bfp.encode(x), anda.encode(x)  # numpy plane packer vs numba encode kernel
        assert (pb.planes == pa.planes).all() and (pb.exponents == pa.exponents).all()
        assert same_bits(bfp.decode(pb), anda.quantize(x))


def test_bfp_rne_hand_example() -> None:
    # gs=2, M=2. 1.75 = sig 1792 at field 15: 1792·2^-9 = 3.5 -> tie -> 4 = 2^M -> saturates to 3
    # -> 3·2^-1 = 1.5.
    # 0.375 = sig 1536 at field 13 (d=2): 1536·2^-11 = 0.75 -> 1 -> 0.5. Truncation gives 1.5 and 0.
    # 1.25 = sig 1280: 2.5 -> tie -> 2 (even) -> 1.0; 0.625 (field 14, d=1): 1280·2^-10 = 1.25 -> 1 -> 0.5.
    x = np.array([1.75, 0.375, 1.25, -0.625], dtype=np.float16)
    np.testing.assert_array_equal(get("bfp:gs=2,m=2,round=rne").quantize(x), [1.5, 0.5, 1.0, -0.5])
    np.testing.assert_array_equal(get("bfp:gs=2,m=2,round=trunc").quantize(x), [1.5, 0.0, 1.0, -0.5])


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float16, st.integers(1, 150),
                    elements=st.floats(-65504, 65504, width=16, allow_nan=False, allow_infinity=False)),
       m=st.integers(1, 16), gs=st.sampled_from([1, 5, 32, 64]))
def test_bfp_rne_matches_reference_and_roundtrips(x: np.ndarray, m: int, gs: int) -> None:
    fmt = get(f"bfp:gs={gs},m={m},exp_bits=8,round=rne")
    q = fmt.quantize(x)
    assert same_bits(q, bfp_rne_reference(x, m, gs))
    assert same_bits(fmt.decode(fmt.encode(x)), q)
    # Error <= half a quantum 2^(E-15-(M-1)), except on the saturated top code (2^M - 1): < 1 quantum.
    quantum = np.exp2(fmt.encode(x).exponents.astype(np.float64) - 15 - (m - 1))
    quantum = np.repeat(quantum, gs)[: x.size]
    err = np.abs(q.astype(np.float64) - x.astype(np.float64))
    saturated = np.abs(q) == (2**m - 1) * quantum
    assert (err <= np.where(saturated, 1.0, 0.5) * quantum).all()
    assert (err <= np.abs(anda_quantize(x, m, gs).astype(np.float64) - x) + 0.5 * quantum).all()


def test_bfp_bits_and_bad_params() -> None:
    assert get("bfp:gs=32,m=4,exp_bits=8").bits_per_value((2, 64)) == 1 + 4 + 8 / 32
    for bad in ("bfp:exp_bits=4", "bfp:exp_bits=9", "bfp:round=floor", "bfp:m=0", "bfp:gs=0", "bfp:m=17"):
        with pytest.raises(FormatSpecError):
            get(bad)


# ---- MX (OCP v1.0; element parameters from microxcaling formats.py) ----------------------------------------

def block(values: list[float]) -> np.ndarray:
    x = np.zeros(32, dtype=np.float32)
    x[: len(values)] = values
    return x


def test_mxint8_hand_example() -> None:
    # max|x| = 1.0 -> floor(log2) = 0, emax(int8) = 0 -> shared_exp 0. Elements are k/64, k in [-127, 127]:
    # 0.3·64 = 19.2 -> 19 -> 0.296875; 1.0 -> 64/64; 0.5 -> 0.5; 0.0078125·64 = 0.5 -> tie -> 0 (even).
    q = get("mxint8").quantize(block([1.0, 0.5, -0.3, 0.0078125]))
    np.testing.assert_array_equal(q[:4], [1.0, 0.5, -0.296875, 0.0])
    # max|x| = 3 -> floor(log2 3) = 1 -> shared 1: elements k/64·2 ; 1.01 / 2 = 0.505·64 = 32.32 -> 32 -> 1.0.
    q = get("mxint8").quantize(block([3.0, 1.01]))
    np.testing.assert_array_equal(q[:2], [3.0, 1.0])


def test_mxfp8_e4m3_hand_example_and_codes() -> None:
    # max 300 -> floor(log2 300) = 8, emax 8 -> shared 0. 300: exponent 8, quantum 2^(8-3) = 32,
    # 9.375 -> 9 -> 288. 304 = 9.5·32 -> tie -> 10 -> 320; 272 = 8.5·32 -> 8 -> 256; -1.0 exact;
    # 2^-9 = smallest subnormal (exact);
    # 2^-11 -> quantum 2^-9 (private exp clamps at -6): 0.25 -> 0.
    fmt = get("mxfp8_e4m3")
    x = block([300.0, 304.0, 272.0, -1.0, 2.0**-9, 2.0**-11])
    np.testing.assert_array_equal(fmt.quantize(x)[:6], [288.0, 320.0, 256.0, -1.0, 2.0**-9, 0.0])
    p = fmt.encode(x)
    # codes: 288 = 1.001b·2^8 -> S0 E(8+7=15)=1111 M001 = 0x79; -1.0 -> 1 0111 000 = 0xB8; 2^-9 -> 0x01.
    assert p.codes[0, 0] == 0x79 and p.codes[0, 3] == 0xB8 and p.codes[0, 4] == 0x01 and p.scales[0] == 127
    # Saturation: 500 in a block whose max is 500: shared 0, 500 -> 512 > 448 -> clamps to 448 (code 0x7E).
    p = fmt.encode(block([500.0]))
    assert fmt.decode(p)[0] == 448.0 and p.codes[0, 0] == 0x7E


def test_mxfp4_e2m1_hand_example() -> None:
    # Grid {0, 0.5, 1, 1.5, 2, 3, 4, 6}; max 6 -> floor(log2 6) = 2, emax 2 -> shared 0.
    # 2.5 -> tie between 2 and 3 -> 2 (even significand); 0.25 -> tie 0/0.5 -> 0; -0.75 -> tie 0.5/1 -> -1;
    # 1.25 -> tie 1/1.5 -> 1; 5 -> tie 4/6 -> 4; 7 in a block with max 7: shared 0, 7 -> 8 -> clamps to 6.
    fmt = get("mxfp4_e2m1")
    q = fmt.quantize(block([6.0, 2.5, 0.25, -0.75, 1.25, 5.0]))
    np.testing.assert_array_equal(q[:6], [6.0, 2.0, 0.0, -1.0, 1.0, 4.0])
    assert fmt.quantize(block([7.0]))[0] == 6.0
    # Scale: max 96 -> floor(log2 96) = 6 -> shared 4: 96/16 = 6 -> 96; 40/16 = 2.5 -> 2 -> 32.
    q = fmt.quantize(block([96.0, 40.0]))
    np.testing.assert_array_equal(q[:2], [96.0, 32.0])
    assert fmt.encode(block([96.0])).scales[0] == 127 + 4


@pytest.mark.parametrize("name, x, expected", [
    # e5m2: max 1.0 -> shared 0 - 15 = -15, so 1.0 -> element 2^15 (exact); 0.3 -> 0.3·2^15 = 9830.4:
    # exponent 13, quantum 2^11 = 2048 -> 4.8 -> 5 -> 10240 -> 10240·2^-15 = 0.3125.
    ("mxfp8_e5m2", [1.0, 0.3], [1.0, 0.3125]),
    # e3m2: emax 4; max 1.0 -> shared -4: 0.3·16 = 4.8, exponent 2, quantum 2^0 -> 5 -> 5/16 = 0.3125.
    ("mxfp6_e3m2", [1.0, 0.3], [1.0, 0.3125]),
    # e2m3: emax 2; max 1.0 -> shared -2: 0.3·4 = 1.2, exponent 0, quantum 1/8 -> 9.6 -> 10
    # -> 1.25/4 = 0.3125;
    # 0.1·4 = 0.4 -> subnormal grid 1/8: 3.2 -> 3 -> 0.375/4 = 0.09375.
    ("mxfp6_e2m3", [1.0, 0.3, 0.1], [1.0, 0.3125, 0.09375]),
])
def test_other_mx_elements_hand_examples(name: str, x: list[float], expected: list[float]) -> None:
    fmt = get(name)
    xb = block(x)
    q = fmt.quantize(xb)
    np.testing.assert_array_equal(q[: len(x)], np.array(expected, dtype=np.float32))
    assert same_bits(fmt.decode(fmt.encode(xb)), q)


ELEM_BITS = {"mxint8": 8, "mxfp8_e4m3": 8, "mxfp8_e5m2": 8, "mxfp6_e3m2": 6, "mxfp6_e2m3": 6, "mxfp4_e2m1": 4}


@pytest.mark.parametrize("name", sorted(ELEM_BITS))
def test_mx_roundtrip_power_of_two_equivariance_and_bits(name: str) -> None:
    fmt = get(name)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((5, 70)) * np.exp2(rng.integers(-8, 8, (5, 70)))).astype(np.float32)
    x[0, :32] = 0.0  # an all-zero block
    q = fmt.quantize(x)
    assert same_bits(fmt.decode(fmt.encode(x)), q)
    assert same_bits(fmt.quantize(q), q)  # idempotent
    assert same_bits(fmt.quantize(x * np.float32(2.0**10)), q * np.float32(2.0**10))
    assert (q[0, :32] == 0).all()
    elem_bits = ELEM_BITS
    assert fmt.bits_per_value((4, 64)) == elem_bits[name] + 8 / 32
    # 70 values per row -> 3 blocks of 32 (26 padding elements charged).
    assert fmt.bits_per_value((5, 70)) == pytest.approx(3 * (32 * elem_bits[name] + 8) / 70)


# Independent MX reference: enumerate every element value from its bit fields (OCP definitions), then pick the
# nearest grid value of |x| / 2^shared_exp, ties to the even code, beyond the grid -> the largest value.
MX_FIELDS = {  # name: (exponent bits, mantissa bits, bias, codes excluded as Inf/NaN, element emax)
    "mxfp8_e4m3": (4, 3, 7, {0x7F}, 8),
    "mxfp8_e5m2": (5, 2, 15, set(range(0x7C, 0x80)), 15),
    "mxfp6_e3m2": (3, 2, 3, set(), 4),
    "mxfp6_e2m3": (2, 3, 1, set(), 2),
    "mxfp4_e2m1": (2, 1, 1, set(), 2),
}


def mx_grid(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(non-negative element values in code order, their codes) for `name`."""
    if name == "mxint8":
        codes = np.arange(128)
        return codes / 64.0, codes  # two's complement k/64, k = 0..127
    ebits, mbits, bias, excluded, _ = MX_FIELDS[name]
    values, codes = [], []
    for code in range(2 ** (ebits + mbits)):
        if code in excluded:
            continue
        e, m = code >> mbits, code & (2**mbits - 1)
        values.append(m * 2.0 ** (1 - bias - mbits) if e == 0 else (1 + m / 2**mbits) * 2.0 ** (e - bias))
        codes.append(code)
    return np.array(values), np.array(codes)


def mx_reference(name: str, x: np.ndarray) -> np.ndarray:
    emax = 0 if name == "mxint8" else MX_FIELDS[name][4]
    grid, codes = mx_grid(name)
    out = np.zeros(x.size)
    for b0 in range(0, x.size, 32):
        blk = x[b0:b0 + 32].astype(np.float64)
        amax = float(np.abs(blk).max())
        shared = (np.frexp(amax)[1] - 1 if amax > 0 else -126) - emax
        shared = min(max(shared, -127), 127)
        a = np.abs(blk) / 2.0**shared
        hi = np.clip(np.searchsorted(grid, a), 1, len(grid) - 1)
        lo = hi - 1
        d_lo, d_hi = a - grid[lo], grid[hi] - a
        pick = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, np.where(codes[lo] % 2 == 0, lo, hi)))
        pick = np.where(a >= grid[-1], len(grid) - 1, pick)
        out[b0:b0 + 32] = np.copysign(grid[pick], blk) * 2.0**shared
    if name == "mxint8":
        out = out + 0.0  # two's complement has no -0
    return out.astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(1, 100),
                    elements=st.floats(-1e6, 1e6, width=32, allow_subnormal=False)),
       name=st.sampled_from(["mxint8", *MX_FIELDS]))
def test_mx_matches_grid_search_reference(x: np.ndarray, name: str) -> None:
    fmt = get(name)
    q = fmt.quantize(x)
    assert same_bits(q, mx_reference(name, x))
    assert same_bits(fmt.decode(fmt.encode(x)), q)
