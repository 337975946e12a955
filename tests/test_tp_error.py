"""Partial-sum reconstruction, calibrated payloads and the TP error model, on synthetic data."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from andasim.errors import AndasimInputError, FormatSpecError
from andasim.system.tp.error import layer_error, rebuild_partials, reduce_partials, split_bounds
from andasim.system.tp.payloads import CalibratedPayload, fit_payload, parse_payload

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
    # Each of the two results is within γ_(K+N) |X||W| of the exact product (γ_n = n u / (1 - n u)
    # <= 1.01 n u here), so they differ by at most twice that.
    gamma = 1.01 * (x.shape[1] + n) * U32
    ref64 = np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64)
    assert np.all(np.abs(sum32.astype(np.float64) - ref32) <= 2 * gamma * ref64)


def _ema_reference(x: np.ndarray, chunk: int, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """Slow obvious per-feature EMA of chunk min/max (ragged tail dropped, as the library does)."""
    lo = hi = None
    for start in range(0, x.shape[0] - chunk + 1, chunk):
        c = x[start:start + chunk].astype(np.float64)
        if lo is None:
            lo, hi = c.min(0), c.max(0)
        else:
            lo, hi = decay * lo + (1 - decay) * c.min(0), decay * hi + (1 - decay) * c.max(0)
    return lo, hi


def test_per_chip_calibration_matches_reference_ema() -> None:
    x, w = _synthetic(t=200, e=64)
    parts = rebuild_partials(x, w, split_bounds(x.shape[1], 2))
    fitted = fit_payload(parse_payload("hybrid:k_frac=1/32,decay=0.8"), parts, chunk_tokens=64)
    for i in range(2):
        lo, hi = _ema_reference(parts[i], 64, 0.8)
        np.testing.assert_allclose(fitted.lo[i], lo, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fitted.hi[i], hi, rtol=1e-5, atol=1e-6)
    # the BF16 set is shared by both chips: the top-2 of the summed per-chip ranges
    score = (fitted.hi - fitted.lo).sum(axis=0)
    assert set(fitted.keep) == set(np.argsort(-score)[:2])
    assert np.array_equal(fitted.formats[0].calibration.hi_idx, fitted.formats[1].calibration.hi_idx)
    mx = fit_payload(parse_payload("hybrid:k_frac=1/32,agg=max"), parts, chunk_tokens=64)
    assert set(mx.keep) == set(np.argsort(-(mx.hi - mx.lo).max(axis=0))[:2])


def test_static_roundtrip_saturates_outside_calibrated_range() -> None:
    calib = np.array([[[-1.0, 0.0], [2.0, 1.0]]], dtype=np.float32)  # 1 chip, 2 tokens, 2 features
    fitted = fit_payload(parse_payload("static"), calib)
    y = np.array([[0.0, 0.55], [5.0, -3.0]], dtype=np.float32)
    out = fitted.roundtrip(0, y)
    # feature 0: asym step 3/15 = 0.2, 0.0 -> q = 5 -> 0.0, 5.0 saturates at 2.0; feature 1:
    # step 1/15, 0.55 -> q = rint(8.25) = 8 -> 8/15, -3.0 saturates at 0.0
    np.testing.assert_allclose(out, [[0.0, 0.0 + 8 / 15], [2.0, 0.0]], atol=1e-6)


def test_hybrid_bits_per_value_exact() -> None:
    ps = parse_payload("hybrid:k_frac=1/64")
    for e in (576, 4096, 4608, 5120):
        # (16 k + 4 (E - k)) / E with k = E / 64 = 4 + 12/64 = 4.1875 exactly
        assert ps.bits_per_value(e) == 4.1875
    assert parse_payload("hybrid:k=80").bits_per_value(5120) == 4.1875
    assert parse_payload("static").bits_per_value(5120) == 4.0
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
                                 "static:sym,asym", "randomk:k_frac=1/64,agg=sum", "hybrid:k_frac=x",
                                 "hybrid:k=2,k=3", "static:bits=8", "static:k=3"])
def test_bad_payload_specs(bad: str) -> None:
    with pytest.raises(FormatSpecError):
        parse_payload(bad)


def test_error_ordering_on_synthetic_outliers() -> None:
    """SYNTHETIC data with consistent outlier features: keeping the top-range features in BF16
    must beat keeping random ones at the same budget, and BF16 must beat both."""
    x, w = _synthetic(t=512, e=256, seed=1)
    errs = {}
    for spec in ("bf16", "static", "randomk:k_frac=1/64", "hybrid:k_frac=1/64"):
        ps = parse_payload(spec)
        errs[spec] = layer_error(x, w, n_chips=4, payload=ps, collective="allgather").rel_error
    assert errs["bf16"] < errs["hybrid:k_frac=1/64"] < errs["randomk:k_frac=1/64"]
    assert errs["hybrid:k_frac=1/64"] < errs["static"]


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


@pytest.mark.parametrize("collective", ["allgather", "oneshot", "twoshot", "ring_allreduce"])
def test_identity_payload_is_exact_for_every_collective(collective: str) -> None:
    x, w = _synthetic(t=64, k=96, e=32, seed=4)
    row = layer_error(x, w, n_chips=4, payload=parse_payload("none"), collective=collective)
    # only the one FP32 rounding of each partial (and of the sum for two-shot/ring) remains
    assert row.rel_error < 4 * U32


def test_per_token_payload_bits_from_formats_layer() -> None:
    from andasim.system.tp.model import payload_bits

    # symmetric Int8 with one FP16 scale per token of E = 4096 values: 8 + 16/4096
    assert payload_bits(parse_payload("int8_token"), 16, 4096) == 8 + 16 / 4096
    assert payload_bits(parse_payload("int:bits=4,g=64,asym"), 16, 4096) == 4.5
    assert payload_bits(parse_payload("hybrid:k=80"), 16, 5120) == 4.1875
    assert payload_bits(parse_payload("none"), 16, 4096) == 32.0


def test_calibration_split_is_checked() -> None:
    x, w = _synthetic(t=10, e=16)
    with pytest.raises(AndasimInputError, match="calib_frac"):
        layer_error(x, w, n_chips=2, payload=parse_payload("static"), collective="allgather", calib_frac=1.0)
    with pytest.raises(AndasimInputError, match="cannot be split"):
        layer_error(x[:1], w, n_chips=2, payload=parse_payload("static"), collective="allgather")


class _CountingPayload:
    """Identity payload that counts the values passed through encode/decode (one roundtrip = one
    encode and one decode of `y.size` values)."""

    spec = "counting"

    def __init__(self) -> None:
        self.values = 0

    def roundtrip(self, rank: int, y: np.ndarray) -> np.ndarray:
        self.values += y.size
        return np.asarray(y, dtype=np.float32)

    def bits_per_value(self, shape: tuple[int, int]) -> float:
        return 32.0


@pytest.mark.parametrize("topology", ["ring", "fully_connected", "switch"])
@pytest.mark.parametrize("collective", ["allgather", "oneshot", "twoshot", "ring_allreduce"])
def test_numerics_run_the_exchange_that_is_priced(topology: str, collective: str) -> None:
    """The encodes the numerics perform equal the encodes `collective_cost` charges, on every topology.

    Per chip and collective the price counts `quantized_values` encodes; the numerics encode N partials
    (or, on the ring, N hops of a partial-sized chunk set) plus, for two-shot, the reduced sum once:
    over N chips that is N * quantized_values values."""
    from andasim.system.tp.collectives import collective_cost
    from andasim.system.tp.links import LinkModel

    n, t, e = 4, 8, 16
    link = LinkModel(topology=topology, link_bw_gb_per_s=10.0, link_latency_ns=100.0, links_per_chip=6,
                     full_duplex=True)
    try:
        cost = collective_cost(collective, n, t * e, 16.0, link)
    except AndasimInputError:
        assert (collective, topology) == ("oneshot", "ring")   # no direct links on a ring
        return
    partials = np.random.default_rng(0).standard_normal((n, t, e)).astype(np.float32)
    first, second = _CountingPayload(), _CountingPayload()
    reduce_partials(partials, first, collective, second if collective == "twoshot" else None)
    assert first.values + second.values == pytest.approx(n * cost.quantized_values)
    assert cost.exchange == {"ring_allreduce": "ring_hop_by_hop", "twoshot": "direct_two_stage"}.get(
        collective, "gather")


def test_gain_table_per_module_and_layer() -> None:
    from andasim.system.tp.error import ErrorRow, gain_table

    def row(layer: int, payload: str, err: float) -> ErrorRow:
        return ErrorRow(layer, "down", 2, payload, "allgather", 4.0, 0, 64, 8, 8, err, None)

    rows = [row(0, "hybrid", 0.1), row(0, "static", 0.2), row(1, "hybrid", 0.3), row(1, "static", 0.3)]
    (g,) = gain_table(rows, "hybrid", "static")
    # mean errors 0.2 vs 0.25: gain 1 - 0.2/0.25 = 0.2; layer 0 halves its error, layer 1 gains nothing
    assert g["mean_gain"] == pytest.approx(0.2)
    assert g["per_layer_gain"] == {0: pytest.approx(0.5), 1: pytest.approx(0.0)}
