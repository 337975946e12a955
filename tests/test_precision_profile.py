"""PrecisionProfile and GeMM: the value types passed between layers."""

from __future__ import annotations

import pytest

from andasim.errors import ConfigError
from andasim.workload.gemm import GeMM
from andasim.workload.precision import PrecisionProfile, load_profile


def test_from_list_round_trip(tmp_path):
    prof = PrecisionProfile.from_list([7, 6, 6, 5], name="p", source="test")
    assert prof.as_list() == [7, 6, 6, 5]
    path = tmp_path / "p.yaml"
    prof.save(path)
    assert load_profile(path) == prof
    assert not list(tmp_path.glob("*.tmp"))


def test_per_layer_override():
    prof = PrecisionProfile(name="p", source="t", mantissa_bits={"qkv": 8, "o": 6, "up": 6, "down": 5},
                            per_layer={3: {"qkv": 10}})
    assert prof.bits_for("qkv", 3) == 10
    assert prof.bits_for("qkv", 2) == 8
    assert prof.bits_for("down", 3) == 5


@pytest.mark.parametrize("bits", [[0, 6, 6, 6], [17, 6, 6, 6], [7, 6, 6]])
def test_invalid_widths_refused(bits):
    with pytest.raises(ValueError):
        PrecisionProfile.from_list(bits)


def test_bad_profile_file_names_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsource: y\nmantissa_bits: {qkv: 7, o: 6, up: 6}\n")
    with pytest.raises(ConfigError, match="mantissa_bits"):
        load_profile(path)
    path.write_text("name: x\nsource: y\nbits: [1]\nmantissa_bits: {qkv: 7, o: 6, up: 6, down: 6}\n")
    with pytest.raises(ConfigError, match="bits"):
        load_profile(path)


def test_gemm_macs_and_validation():
    g = GeMM(name="L0.qk", module="qk", layer=0, m=16, k=64, n=16, count=4, weight_operand="activation")
    assert g.macs == 16 * 64 * 16 * 4
    with pytest.raises(ValueError, match="sizes must be positive"):
        GeMM(name="x", module="qkv", layer=0, m=0, k=1, n=1)
    with pytest.raises(ValueError, match="unknown module"):
        GeMM(name="x", module="attn", layer=0, m=1, k=1, n=1)
