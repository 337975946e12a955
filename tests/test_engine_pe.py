"""PE types: the iso-throughput readings carried by the bundled designs, and BOPs per MAC."""

from __future__ import annotations

import pytest

from andasim.hw.config import load_hw
from andasim.hw.pe import ATTENTION_CYCLES_PER_GROUP, pe_model


def _peak(name: str, m_bits: int | None = None) -> float:
    hw = load_hw(name)
    pe = pe_model(hw)
    return hw.pe_array.num_pes * pe.lanes / pe.cycles_per_group(m_bits)


def test_iso_peak_throughput_readings() -> None:
    # Issue 2 / Fig. 15: FP-INT, iFPU and FIGNA have FP-FP's peak; Anda equals it at M + 1 = 16.
    # Issue 12 / anda.md §6.2b: FIGNA-M11/M8 trade mantissa width for throughput, 16/x of FP-FP.
    fp = _peak("fp_fp")
    assert fp == 16 * 16 * 64 / 16 == 1024
    for name in ("fp_int", "ifpu", "figna"):
        assert _peak(name) == fp
    assert _peak("figna_m11") == fp * 16 / 11 and _peak("figna_m8") == fp * 16 / 8
    assert _peak("anda", 15) == fp
    # Anda: M + 1 cycles per group
    assert [pe_model(load_hw("anda")).cycles_per_group(m) for m in (4, 7, 13)] == [5, 8, 14]
    for name in ("anda", "fp_fp", "figna_m8"):
        assert pe_model(load_hw(name)).cycles_per_group(7, attention=True) == ATTENTION_CYCLES_PER_GROUP


def test_bops_per_mac() -> None:
    # anda.md §3.4: FP16 x INT4 = 64, Anda = 4 M; FIGNA 4 x 13 gives the paper's 16/13 = 1.23x
    assert pe_model(load_hw("fp_int")).bops_per_mac(None) == 64
    assert pe_model(load_hw("anda")).bops_per_mac(6) == 24
    assert pe_model(load_hw("figna")).bops_per_mac(None) == 52
    assert 64 / pe_model(load_hw("figna")).bops_per_mac(None) == pytest.approx(1.23, abs=0.005)
    assert pe_model(load_hw("fp_fp")).bops_per_mac(None) == 256
    with pytest.raises(ValueError, match="mantissa width"):
        pe_model(load_hw("anda")).cycles_per_group(None)
