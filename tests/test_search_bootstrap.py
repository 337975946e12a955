"""Paired bootstrap over windows (search/bootstrap.py): deterministic, paired, and a valid interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from andasim.errors import AndasimInputError
from andasim.search.bootstrap import paired_bootstrap, relative_change


def _windows(seed: int = 3, n: int = 24, tokens: int = 511):
    rng = np.random.default_rng(seed)
    base = rng.normal(2.6, 0.3, n) * tokens  # per-window NLL sums, SYNTHETIC
    cand = base + rng.normal(0.004, 0.01, n) * tokens
    return base, cand, tokens


def test_interval_is_deterministic_for_a_seed_and_contains_the_point_estimate():
    base, cand, tokens = _windows()
    a = paired_bootstrap(base, cand, tokens, seed=7)
    b = paired_bootstrap(list(base), list(cand), tokens, seed=7)
    assert a == b  # bit-identical, not merely close
    assert a.low <= a.change <= a.high and a.low < a.high
    assert a.change == pytest.approx(math.expm1((cand.sum() - base.sum()) / (tokens * base.size)), rel=1e-12)
    c = paired_bootstrap(base, cand, tokens, seed=8)
    assert (c.low, c.high) != (a.low, a.high)  # the seed matters
    assert c.low <= c.change <= c.high


def test_pairing_removes_the_between_window_spread():
    # Huge spread between windows, a constant per-token shift inside each: the paired interval is a point.
    base = np.array([100.0, 900.0, 400.0, 2000.0])
    cand = base + 0.01 * 100
    ci = paired_bootstrap(base, cand, 100, seed=0, resamples=500)
    assert ci.low == pytest.approx(ci.change) and ci.high == pytest.approx(ci.change)
    assert ci.change == pytest.approx(math.expm1(0.01))


def test_more_windows_narrow_the_interval_and_level_widens_it():
    base, cand, tokens = _windows(n=200)
    wide = paired_bootstrap(base[:20], cand[:20], tokens)
    narrow = paired_bootstrap(base, cand, tokens)
    assert narrow.high - narrow.low < wide.high - wide.low
    ci99 = paired_bootstrap(base, cand, tokens, level=0.99)
    assert ci99.low < narrow.low and ci99.high > narrow.high


def test_unequal_windows_weight_by_tokens():
    assert relative_change(np.array([10.0, 30.0]), np.array([11.0, 31.0]), np.array([10, 30])) == \
        pytest.approx(math.expm1(2.0 / 40))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"candidate_nll": [1.0, 2.0]}, "same windows"),
    ({"baseline_nll": [1.0, float("nan"), 2.0]}, "finite"),
    ({"tokens": 0}, "at least one token"),
    ({"level": 1.0}, "strictly between"),
    ({"resamples": 0}, "positive integer"),
    ({"baseline_nll": []}, "non-empty"),
])
def test_bad_input_is_refused(kwargs, match):
    args = {"baseline_nll": [1.0, 2.0, 3.0], "candidate_nll": [1.1, 2.1, 3.1], "tokens": 10, **kwargs}
    tokens = args.pop("tokens")
    with pytest.raises(AndasimInputError, match=match):
        paired_bootstrap(args.pop("baseline_nll"), args.pop("candidate_nll"), tokens, **args)
