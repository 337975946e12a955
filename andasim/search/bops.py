"""BOPs accounting of the FP-INT GeMMs (anda.md §3.4).

The Anda paper minimises bit operations: one FP16×INT4 MAC costs 16·4 = 64 BOPs, one Anda MAC with
an M-bit mantissa and INT4 weights costs 4·M. Weighting each module type by its share of the
prefill MACs (qkv/o/up/down only; lm_head and the attention matmuls are excluded, as in §3.4)
gives the reduction against the FP16-activation baseline

    BOPs_reduction = 16 / Σ_m f_m · M_m.

The search ranks candidates by this cost, so ties must be exact: costs are kept as `Fraction`s of
the shares' exact binary values, which makes two combinations with equal cost compare equal no
matter in which order the terms were added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from andasim.errors import AndasimInputError
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile

FP16_INT4_BOPS_PER_MAC = 64  # 16-bit activation × 4-bit weight (anda.md §3.4 [C])
FP16_MANTISSA_EQUIV_BITS = 16  # the baseline's activation width in the 4·M accounting


def anda_bops_per_mac(m_bits: int) -> int:
    """BOPs of one Anda MAC: an M-bit mantissa times an INT4 weight (anda.md §3.4 [D])."""
    return 4 * m_bits


def module_shares(card_or_shares: Any) -> dict[str, float]:
    """Prefill MAC share of each FP-INT module type, from a ModelCard or a ready mapping."""
    if isinstance(card_or_shares, Mapping):
        shares = dict(card_or_shares)
    elif hasattr(card_or_shares, "mac_share"):
        shares = dict(card_or_shares.mac_share())
    else:
        raise TypeError("expected a ModelCard or a mapping of MAC shares, "
                        f"got {type(card_or_shares).__name__}")
    if set(shares) != set(FP_INT_MODULES):
        raise AndasimInputError(f"MAC shares must name exactly {', '.join(FP_INT_MODULES)}; "
                                f"got {', '.join(sorted(shares))}")
    for module, share in shares.items():
        if not (isinstance(share, int | float) and share > 0 and share == share and share != float("inf")):
            raise AndasimInputError(f"MAC share of {module!r} must be a positive finite number, "
                                    f"got {share!r}")
    return {m: float(shares[m]) for m in FP_INT_MODULES}


def as_combination(profile: PrecisionProfile | Sequence[int]) -> tuple[int, ...]:
    """`[M_qkv, M_o, M_u, M_d]` of a profile or a list (per-layer overrides are not included)."""
    if isinstance(profile, PrecisionProfile):
        return tuple(profile.as_list())
    comb = tuple(profile)
    if len(comb) != len(FP_INT_MODULES):
        raise AndasimInputError(f"a combination is [M_qkv, M_o, M_u, M_d]; got {list(comb)}")
    for bits in comb:
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise AndasimInputError(f"mantissa widths must be integers in 1..16; got {list(comb)}")
    return comb


def relative_cost(card_or_shares: Any, profile: PrecisionProfile | Sequence[int],
                  n_layers: int | None = None) -> Fraction:
    """BOPs of `profile` divided by the BOPs of FP16×INT4, exactly: (Σ f_m·M_m) / (16·Σ f_m).

    A PrecisionProfile with `per_layer` overrides weighs every layer equally (all decoder layers of
    a card have the same shapes); that needs the layer count, taken from the card or `n_layers`.
    """
    shares = {m: Fraction(f) for m, f in module_shares(card_or_shares).items()}
    total = sum(shares.values())
    if isinstance(profile, PrecisionProfile) and profile.per_layer:
        layers = n_layers if n_layers is not None else getattr(card_or_shares, "n_layers", None)
        if not layers:
            raise AndasimInputError("a per-layer profile needs the layer count "
                                    "(pass a ModelCard or n_layers)")
        if max(profile.per_layer) >= layers or min(profile.per_layer) < 0:
            raise AndasimInputError(f"profile {profile.name!r} overrides layers outside 0..{layers - 1}")
        weighted = sum(shares[m] * profile.bits_for(m, layer)
                       for layer in range(layers) for m in FP_INT_MODULES) / layers
    else:
        comb = as_combination(profile)
        weighted = sum(shares[m] * bits for m, bits in zip(FP_INT_MODULES, comb, strict=True))
    return weighted / (FP16_MANTISSA_EQUIV_BITS * total)


def bops_reduction(card_or_shares: Any, profile: PrecisionProfile | Sequence[int],
                   n_layers: int | None = None) -> float:
    """Reduction in FP-INT GeMM bit operations against FP16×INT4: 16 / Σ_m f_m·M_m (anda.md §3.4)."""
    return float(1 / relative_cost(card_or_shares, profile, n_layers))
