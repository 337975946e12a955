"""Partial-sum reconstruction, calibrated payloads and the TP error model, on synthetic data."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.system.payloads import (
    CalibratedPayload,
    ema_min_max,
    fit_payload,
    parse_payload,
    static_int_roundtrip,
)
from andasim.system.tp_error import layer_error, rebuild_partials, reduce_partials, split_bounds

U32 = 2.0 ** -24   # unit roundoff of float32
U64 = 2.0 ** -53


def _synthetic(t: int = 256, k: int = 192, e: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC: Gaussian X with a few large-range input features and W with outlier output columns,
    so that partials have consistent per-feature outliers (the property the hybrid format exploits)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, k)).astype(np.float32)
    x[:, :4] *= 8.0
    w = (rng.standard_normal((k, e)) * 0.05).astype(np.float32)
    w[:, rng.choice(e, 6, replace=False)] *= 20.0
    return x, w


def test_split_bounds_even_uneven_aligned() -> None:
    assert split_bounds(12, 3) == [(0, 4), (4, 8), (8, 12)]
    assert split_bounds(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    # 9 heads of 64 over 2 chips: 5 + 4 heads, boundaries on head multiples
    assert split_bounds(9 * 64, 2, align=64) == [(0, 320), (320, 576)]
    with pytest.raises(AndasimInputError, match="cannot split"):
        split_bounds(9 * 64, 16, align=64)


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_identity_partials_sum_to_unsplit_gemm(n: int) -> None:
    x, w = _synthetic()
    bounds = split_bounds(x.shape[1], n)
    parts = rebuild_partials(x, w, bounds)
    y = x.astype(np.float64) @ w.astype(np.float64)
    y_hat = reduce_partials(parts, fit_payload(parse_payload("none"), parts), "allgather")
    # Each partial is the float64 product rounded once to FP32 (error <= u32 |Y_i|), summed in
    # float64 (K-term reassociation error <= K u64 Σ|x||w|): a rigorous elementwise bound.
    bound = U32 * np.abs(parts).astype(np.float64).sum(axis=0) \
        + x.shape[1] * U64 * (np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64))
    assert np.all(np.abs(y_hat - y) <= bound)
    # The same property in pure float32 (chips accumulate in FP32): Higham's γ_K bound for a
    # K-term dot product, plus N - 1 float32 additions of the partials.
    parts32 = np.stack([x[:, a:b] @ w[a:b] for a, b in bounds])
    sum32 = parts32.sum(axis=0, dtype=np.float32)
    ref32 = x @ w
    gamma = (x.shape[1] + n) * U32
    assert np.allclose(sum32, ref32, rtol=0, atol=0) or np.all(
        np.abs(sum32.astype(np.float64) - ref32) <= 2 * gamma * (np.abs(x).astype(np.float64) @ np.abs(w)))


def test_ema_min_max_arithmetic() -> None:
    x = np.array([[0.0], [2.0], [-4.0], [6.0]])
    lo, hi = ema_min_max(x, chunk_tokens=2, decay=0.5)
    # chunk 1: min 0, max 2; chunk 2: min -4, max 6 -> 0.5*0 + 0.5*(-4) = -2; 0.5*2 + 0.5*6 = 4
    assert lo.tolist() == [-2.0] and hi.tolist() == [4.0]


def test_static_int4_grid_and_saturation() -> None:
    lo, hi = np.array([-1.0]), np.array([2.0])
    x = np.array([[-1.0], [0.0], [2.0], [5.0], [-3.0]])
    out = static_int_roundtrip(x, lo, hi, bits=4, sym=False)
    # asym: scale = 3/15 = 0.2; 0.0 -> q = 5 -> 0.0; out-of-range saturates to lo / hi
    assert np.allclose(out[:, 0], [-1.0, 0.0, 2.0, 2.0, -1.0], atol=1e-6)
    out = static_int_roundtrip(x, lo, hi, bits=4, sym=True)
    # sym: scale = 2/7; 5 saturates to 7 * 2/7 = 2; -3 to -2; -1 -> q = round(-3.5) = -4 (rint, even)
    assert np.allclose(out[:, 0], [-4 * 2 / 7, 0.0, 2.0, 2.0, -2.0], atol=1e-6)


def test_hybrid_bits_per_value_exact() -> None:
    ps = parse_payload("hybrid:k_frac=1/64")
    for e in (576, 4096, 4608, 5120):
        # (16 k + 4 (E - k)) / E with k = E / 64 = 4 + 12/64 = 4.1875 exactly
        assert ps.bits_per_value(e) == 4.1875
    assert parse_payload("hybrid:k=80").bits_per_value(5120) == 4.1875
    assert parse_payload("static:bits=4").bits_per_value(5120) == 4.0
    sweep = [Fraction(0), Fraction(1, 256), Fraction(1, 128), Fraction(1, 64), Fraction(1, 32),
             Fraction(1, 16)]
    got = [parse_payload(f"hybrid:k_frac={f}").bits_per_value(4096) for f in sweep]
    assert got == [4.0, 4.046875, 4.09375, 4.1875, 4.375, 4.75]


def test_fitted_hybrid_bits_and_topk_selection() -> None:
    x, w = _synthetic(e=128)
    parts = rebuild_partials(x, w, split_bounds(x.shape[1], 4))
    fitted = fit_payload(parse_payload("hybrid:k_frac=1/64"), parts)
    assert isinstance(fitted, CalibratedPayload)
    assert fitted.keep.size == 2 and fitted.bits_per_value((10, 128)) == 4.1875
    score = (fitted.hi - fitted.lo).sum(axis=0)
    assert set(fitted.keep) == set(np.argsort(-score)[:2])
    rk = fit_payload(parse_payload("randomk:k_frac=1/64,seed=3"), parts)
    assert rk.keep.size == 2 and rk.bits_per_value((10, 128)) == 4.1875


@pytest.mark.parametrize("bad", ["hybrid", "hybrid:k_frac=2", "hybrid:k_frac=1/64,k=2", "hybrid:k=3,agg=mean",
                                 "static:bits=4,sym,asym", "randomk:k_frac=1/64,agg=sum", "hybrid:k_frac=x",
                                 "hybrid:k=2,k=3", "static:bits=1"])
def test_bad_payload_specs(bad: str) -> None:
    with pytest.raises(FormatSpecError):
        parse_payload(bad)


def test_error_ordering_on_synthetic_outliers() -> None:
    """SYNTHETIC data with consistent outlier features: keeping the top-range features in BF16
    must beat keeping random ones at the same budget, and BF16 must beat both."""
    x, w = _synthetic(t=512, e=256, seed=1)
    errs = {}
    for spec in ("bf16", "static:bits=4", "randomk:k_frac=1/64", "hybrid:k_frac=1/64"):
        ps = parse_payload(spec)
        errs[spec] = layer_error(x, w, n_chips=4, payload=ps, collective="allgather").rel_error
    assert errs["bf16"] < errs["hybrid:k_frac=1/64"] < errs["randomk:k_frac=1/64"]
    assert errs["hybrid:k_frac=1/64"] < errs["static:bits=4"]


def test_twoshot_adds_second_quantization_and_ring_refuses_calibrated() -> None:
    x, w = _synthetic(t=256, e=128, seed=2)
    ps = parse_payload("hybrid:k_frac=1/64")
    one = layer_error(x, w, n_chips=4, payload=ps, collective="allgather").rel_error
    two = layer_error(x, w, n_chips=4, payload=ps, collective="twoshot").rel_error
    assert two > one
    with pytest.raises(AndasimInputError, match="ring_allreduce"):
        layer_error(x, w, n_chips=4, payload=ps, collective="ring_allreduce")


def test_bf16_ring_allreduce_rounds_every_hop() -> None:
    x, w = _synthetic(t=64, e=64, seed=3)
    exact = layer_error(x, w, n_chips=4, payload=parse_payload("none"), collective="ring_allreduce")
    bf = layer_error(x, w, n_chips=4, payload=parse_payload("bf16"), collective="ring_allreduce")
    assert exact.rel_error < 1e-6
    # BF16 keeps 8 significant bits (u = 2^-9); N = 4 roundings of partial sums stay within a few u
    assert 1e-4 < bf.rel_error < 4 * 2.0 ** -9
