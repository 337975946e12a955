"""What-if collectives price exactly what `andasim tp` prices when the chip numbers are the design's."""

from __future__ import annotations

import pytest

from andasim.errors import AndasimInputError
from andasim.hw.config import load_hw
from andasim.system.tp.collectives import collective_cost
from andasim.system.tp.links import link_model
from andasim.system.tp.model import onchip_cycles, payload_bits, pipelined_s
from andasim.system.tp.payloads import parse_payload
from andasim.system.tp.whatif import ChipAssumptions, collective_whatif, ttft_whatif


@pytest.mark.parametrize("alg,fmt", [("ring_allreduce", "int8_token"), ("allgather", "hybrid:k_frac=1/64"),
                                     ("twoshot", "int:bits=8,g=256,sym"), ("ring_allreduce", "bf16")])
def test_whatif_with_anda_numbers_matches_the_tp_model(alg: str, fmt: str) -> None:
    hw = load_hw("anda")
    link = link_model(hw)
    chip = ChipAssumptions("anda", clock_hz=hw.freq_mhz * 1e6, codec_ops_per_cycle=hw.vector_unit.fpus)
    t, e, n = 512, 4096, 8
    w = collective_whatif(chip, link, algorithm=alg, payload=fmt, n_chips=n, tokens=t, features=e)
    ps = parse_payload(fmt)
    cost = collective_cost(alg, n, t * e, payload_bits(ps, t, e), link)
    enc, dec = onchip_cycles(hw, ps, cost)
    cycle = 1 / chip.clock_hz
    assert w.link_s == cost.link_time_s
    assert w.encode_s == pytest.approx(enc * cycle, abs=cycle)     # the TP model rounds up to whole cycles
    assert w.decode_sum_s == pytest.approx(dec * cycle, abs=cycle)
    assert w.exposed_s == pytest.approx(w.encode_s + w.link_s + w.decode_sum_s)


def test_pipelining_bounds() -> None:
    stages = (3.0, 5.0, 1.0)
    assert pipelined_s(stages, 1) == 9.0
    # 4 chunks: 9/4 + 3/4 * 5 = 6.0, between the slowest stage and the serial sum
    assert pipelined_s(stages, 4) == pytest.approx(6.0)
    assert 5.0 < pipelined_s(stages, 1000) < 5.01
    with pytest.raises(AndasimInputError, match="chunks"):
        pipelined_s(stages, 0)


def test_ttft_gain_grows_as_the_link_slows() -> None:
    """Compression only removes communication, so its TTFT gain must grow monotonically as the link
    gets slower (compute fixed)."""
    from andasim.system.tp.links import LinkModel

    chip = ChipAssumptions("gpu", clock_hz=2e9, codec_ops_per_cycle=4096, matmul_flop_per_s=5e13)
    gains = []
    for bw in (4.0, 16.0, 64.0, 256.0):
        link = LinkModel(topology="switch", link_bw_gb_per_s=bw, link_latency_ns=5000.0, links_per_chip=1,
                         full_duplex=True)
        kw = dict(n_chips=4, prefill_flop=2.7e13, tokens=2048, features=4096, collectives=64)
        base = ttft_whatif(chip, link, algorithm="twoshot", payload="bf16", **kw)
        comp = ttft_whatif(chip, link, algorithm="twoshot", payload="mxfp4_e2m1", **kw)
        assert comp["compute_s"] == base["compute_s"]
        gains.append(base["ttft_s"] / comp["ttft_s"])
    assert gains == sorted(gains, reverse=True) and gains[0] > 1.0


def test_chip_assumptions_refuse_nonsense() -> None:
    with pytest.raises(AndasimInputError, match="clock_hz"):
        ChipAssumptions("x", clock_hz=0.0, codec_ops_per_cycle=1)
    with pytest.raises(AndasimInputError, match="matmul_flop_per_s"):
        ttft_whatif(ChipAssumptions("x", 1e9, 64), link_model(load_hw("anda")), algorithm="allgather",
                    payload="bf16", n_chips=2, prefill_flop=1.0, tokens=1, features=64, collectives=2)
