"""BOPs accounting (anda.md §3.4): 16 / Σ f_m·M_m against FP16×INT4."""

from __future__ import annotations

from fractions import Fraction

import pytest

from andasim.errors import AndasimInputError
from andasim.search.bops import anda_bops_per_mac, bops_reduction, relative_cost
from andasim.workload.card import bundled_card_names, load_card
from andasim.workload.precision import PrecisionProfile


@pytest.mark.parametrize("name", bundled_card_names())
def test_uniform_profiles_on_every_card(name):
    card = load_card(name)
    # Uniform M: Σ f_m·M = M·Σ f_m, so the reduction is 16/M whatever the shares.
    assert bops_reduction(card, [13, 13, 13, 13]) == 16 / 13
    assert bops_reduction(card, [4, 4, 4, 4]) == 4.0
    assert bops_reduction(card, PrecisionProfile.from_list([8, 8, 8, 8])) == 2.0


def test_mac_costs():
    assert anda_bops_per_mac(16) == 64  # the FP16×INT4 MAC of the paper: 16·4
    assert anda_bops_per_mac(7) == 28


def test_opt_shares_by_hand():
    # OPT (FFN = 4d), per layer: qkv 3d², o d², fc1 4d², fc2 4d² → shares 3/12, 1/12, 4/12, 4/12.
    card = load_card("opt-125m")
    assert card.mac_share() == pytest.approx({"qkv": 0.25, "o": 1 / 12, "up": 1 / 3, "down": 1 / 3})
    # [7,7,6,5]: Σ f·M = (3·7 + 7 + 4·6 + 4·5)/12 = 72/12 = 6 → 16/6.
    assert bops_reduction(card, [7, 7, 6, 5]) == pytest.approx(16 / 6, rel=1e-15)
    # OPT-1.3B WikiText2 1% [8,5,5,4] (Fig. 14): (24 + 5 + 20 + 16)/12 = 65/12 → 192/65.
    assert bops_reduction(load_card("opt-1.3b"), [8, 5, 5, 4]) == pytest.approx(192 / 65, rel=1e-15)


def test_llama7b_shares_by_hand():
    # LLaMA-7B, d = 4096, FFN = 11008 gated: qkv 3d², o d², gate+up 2·d·F, down d·F (MACs per token).
    d, f = 4096, 11008
    macs = {"qkv": 3 * d * d, "o": d * d, "up": 2 * d * f, "down": d * f}
    total = sum(macs.values())
    card = load_card("llama-7b")
    # anda.md §3.4 prints the shares to 4 digits: 0.2487, 0.0829, 0.4456, 0.2228.
    assert card.mac_share() == pytest.approx({"qkv": 0.2487, "o": 0.0829, "up": 0.4456, "down": 0.2228},
                                             abs=5e-5)
    comb = {"qkv": 7, "o": 6, "up": 6, "down": 6}  # LLaMA-7B WikiText2 1% (Fig. 14)
    expected = 16 * total / sum(macs[m] * comb[m] for m in macs)  # = 2.5605…
    assert bops_reduction(card, [7, 6, 6, 6]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(2.5605, abs=1e-4)


def test_plain_share_mapping_and_exact_ties():
    shares = {"qkv": 0.25, "o": 1 / 12, "up": 1 / 3, "down": 1 / 3}
    # f_u == f_d exactly, so moving a bit between up and down must tie exactly (the search relies on it).
    assert relative_cost(shares, [7, 7, 6, 7]) == relative_cost(shares, [7, 7, 7, 6])
    assert relative_cost(shares, [4, 4, 4, 4]) == Fraction(1, 4)


def test_per_layer_profile_weights_layers_equally():
    card = load_card("opt-125m")  # 12 layers
    base = PrecisionProfile.from_list([8, 8, 8, 8])
    half = PrecisionProfile(name="h", source="t", mantissa_bits=base.mantissa_bits,
                            per_layer={layer: {"qkv": 4, "o": 4, "up": 4, "down": 4} for layer in range(6)})
    # Half the layers at 4, half at 8 → average width 6 → 16/6.
    assert bops_reduction(card, half) == pytest.approx(16 / 6, rel=1e-15)
    with pytest.raises(AndasimInputError, match="layer count"):
        bops_reduction(card.mac_share(), half)


@pytest.mark.parametrize("bad", [[7, 7, 7], [0, 7, 7, 7], [17, 7, 7, 7], [7.0, 7, 7, 7], [True, 7, 7, 7]])
def test_bad_combinations_refused(bad):
    with pytest.raises(AndasimInputError):
        bops_reduction(load_card("opt-125m"), bad)


def test_bad_shares_refused():
    with pytest.raises(AndasimInputError, match="exactly"):
        bops_reduction({"qkv": 1.0}, [7, 7, 7, 7])
    with pytest.raises(AndasimInputError, match="positive"):
        bops_reduction({"qkv": 0.5, "o": 0.5, "up": float("nan"), "down": 0.1}, [7, 7, 7, 7])
