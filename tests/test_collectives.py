"""α–β link model and collective formulas (exact arithmetic, written out per case)."""

from __future__ import annotations

import pytest

from andasim.errors import AndasimInputError, ConfigError
from andasim.hw.config import load_hw
from andasim.system.tp.collectives import COLLECTIVES, collective_cost
from andasim.system.tp.links import LinkModel, link_model

RING = LinkModel(topology="ring", link_bw_gb_per_s=25.0, link_latency_ns=1000.0, links_per_chip=2,
                 full_duplex=True)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_ring_allreduce_bytes_and_time(n: int) -> None:
    values = 2048 * 4096
    m_bytes = values * 16 / 8                       # BF16 message
    c = collective_cost("ring_allreduce", n, values, 16.0, RING)
    assert c.bytes_sent_per_rank == pytest.approx(2 * (n - 1) / n * m_bytes, rel=1e-15)
    assert c.steps == 2 * (n - 1)
    # ring: 2 ports x 25 GB/s, full duplex -> 50e9 B/s; α = 1 µs per step
    assert c.bw_bytes_per_s == 50e9
    assert c.link_time_s == pytest.approx(2 * (n - 1) * 1e-6 + c.bytes_sent_per_rank / 50e9, rel=1e-15)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_allgather_bytes_and_traffic_ratio(n: int) -> None:
    values, b = 4096, 4.1875
    c = collective_cost("allgather", n, values, b, RING)
    assert c.bytes_sent_per_rank == pytest.approx((n - 1) * values * b / 8, rel=1e-15)
    assert c.steps == n - 1
    ref = collective_cost("ring_allreduce", n, values, 16.0, RING)
    # V-A2: all-gather / BF16 ring all-reduce traffic = N * b / 32
    assert c.bytes_sent_per_rank / ref.bytes_sent_per_rank == pytest.approx(n * b / 32, rel=1e-12)


SWITCH = LinkModel(topology="switch", link_bw_gb_per_s=25.0, link_latency_ns=1000.0, links_per_chip=2,
                   full_duplex=True)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_twoshot_ratio_is_b_over_16_over_direct_links(n: int) -> None:
    b = 4.1875
    c = collective_cost("twoshot", n, 1000, b, SWITCH)
    ref = collective_cost("ring_allreduce", n, 1000, 16.0, SWITCH)
    assert c.bytes_sent_per_rank / ref.bytes_sent_per_rank == pytest.approx(b / 16, rel=1e-12)
    assert c.steps == 2


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 16])
def test_twoshot_on_a_ring_is_routed_hop_by_hop(n: int) -> None:
    """Two-shot is a direct exchange; on a ring each chunk of m = M/N travels the shortest path.

    Distances to the N-1 peers on a bidirectional ring: N=4: 1+2+1 = 4 = floor(16/4); N=5: 1+2+2+1 = 6
    = floor(25/4); N=8: 1+2+3+4+3+2+1 = 16. Two stages, so 2 * floor(N^2/4) * m bytes through a chip's
    ports, and floor(N/2) hops (one α each) per stage for the farthest chunk."""
    values, b = 2048 * 4096, 4.1875
    m = values * b / 8 / n
    c = collective_cost("twoshot", n, values, b, RING)
    assert c.bytes_sent_per_rank == pytest.approx(2 * (n * n // 4) * m, rel=1e-15)
    assert c.steps == 2 * (n // 2)
    assert c.link_time_s == pytest.approx(c.steps * 1e-6 + c.bytes_sent_per_rank / 50e9, rel=1e-15)


def test_twoshot_on_a_ring_can_lose_to_the_bf16_ring() -> None:
    """Issue 20's figures (LLaMA-2-7B prefill 2048 x 4096 partials on the anda ring, 50 GB/s, α = 1 µs):
    V = 8,388,608 values, M = V * 4.1875 / 8 = 4,390,912 B. N = 16: direct two-shot 2 * 64 * (M/16) / 50e9
    + 16 µs = 702.5 + 16 = 718.5 µs, above the BF16 ring all-reduce's 30 µs + 1.875 * 2V / 50e9 = 659.1 µs;
    ring-priced two-shot would have been 30 + 164.7 = 194.7 µs (3.69x less). N = 4: 179.6 vs 137.7 µs
    (1.30x); N = 8: 359.3 vs 167.7 µs (2.14x)."""
    values = 2048 * 4096
    two = collective_cost("twoshot", 16, values, 4.1875, RING).link_time_s
    bf16 = collective_cost("ring_allreduce", 16, values, 16.0, RING).link_time_s
    assert two == pytest.approx(718.5e-6, rel=1e-4) and bf16 == pytest.approx(659.1e-6, rel=1e-4)
    for n, ratio in ((4, 1.30), (8, 2.14), (16, 3.69)):
        ring_priced = 2 * (n - 1) * 1e-6 + 2 * (n - 1) / n * values * 4.1875 / 8 / 50e9
        assert collective_cost("twoshot", n, values, 4.1875, RING).link_time_s / ring_priced == \
            pytest.approx(ratio, abs=0.005)


@pytest.mark.parametrize("links", [1, 3])
def test_ring_that_cannot_be_built_is_refused(links: int) -> None:
    odd = LinkModel(topology="ring", link_bw_gb_per_s=25.0, link_latency_ns=0.0, links_per_chip=links,
                    full_duplex=True)
    for alg in ("ring_allreduce", "allgather", "twoshot"):
        with pytest.raises(AndasimInputError, match="even links_per_chip"):
            collective_cost(alg, 4, 1024, 16.0, odd)
    assert collective_cost("ring_allreduce", 2, 1024, 16.0, odd).steps == 2   # two chips: one cable


def test_oneshot_switch_and_fully_connected() -> None:
    sw = LinkModel("switch", 10.0, 500.0, 4, True)
    c = collective_cost("oneshot", 8, 1024, 8.0, sw)
    # one step, 7 peers x 1024 B, injection 4 x 10 GB/s
    assert c.steps == 1
    assert c.bytes_sent_per_rank == 7 * 1024
    assert c.link_time_s == pytest.approx(500e-9 + 7 * 1024 / 40e9, rel=1e-15)
    fc = LinkModel("fully_connected", 10.0, 500.0, 7, False)
    c = collective_cost("oneshot", 8, 1024, 8.0, fc)
    # one port per peer, half duplex -> 5 GB/s per peer, 7 peers in parallel
    assert c.bw_bytes_per_s == pytest.approx(7 * 5e9)
    # ring algorithm on the mesh uses the ports to its two neighbours
    assert collective_cost("allgather", 8, 1024, 8.0, fc).bw_bytes_per_s == pytest.approx(2 * 5e9)


def test_oneshot_refused_on_ring_and_small_mesh() -> None:
    with pytest.raises(AndasimInputError, match="one-shot"):
        collective_cost("oneshot", 4, 10, 16.0, RING)
    with pytest.raises(AndasimInputError, match="links_per_chip >= 7"):
        collective_cost("oneshot", 8, 10, 16.0, LinkModel("fully_connected", 10.0, 0.0, 3, True))


@pytest.mark.parametrize("alg", COLLECTIVES)
def test_single_chip_costs_nothing(alg: str) -> None:
    c = collective_cost(alg, 1, 4096, 16.0, RING)
    assert (c.steps, c.bytes_sent_per_rank, c.link_time_s, c.dequantized_values) == (0, 0.0, 0.0, 0.0)


def test_link_model_from_hw_and_overrides() -> None:
    hw = load_hw("anda")
    lm = link_model(hw)
    assert (lm.topology, lm.link_bw_gb_per_s, lm.links_per_chip) == ("ring", 25.0, 2)
    lm2 = link_model(hw, link_bw_gb_per_s=100.0, topology="switch", full_duplex=None)
    assert (lm2.topology, lm2.link_bw_gb_per_s, lm2.link_latency_ns) == ("switch", 100.0, 1000.0)


def test_link_model_refuses_missing_section() -> None:
    import dataclasses
    hw = dataclasses.replace(load_hw("anda"), interconnect=None)
    with pytest.raises(ConfigError, match="no 'interconnect' section"):
        link_model(hw, link_bw_gb_per_s=10.0)
    lm = link_model(hw, topology="ring", link_bw_gb_per_s=10.0, link_latency_ns=0.0, links_per_chip=2,
                    full_duplex=False)
    assert lm.injection_bw_bytes_per_s() == 10e9


@pytest.mark.parametrize("bad", [dict(link_bw_gb_per_s=0.0), dict(link_latency_ns=-1.0),
                                 dict(links_per_chip=0), dict(topology="torus"),
                                 dict(link_bw_gb_per_s=float("nan"))])
def test_link_model_rejects_bad_values(bad: dict) -> None:
    args = dict(topology="ring", link_bw_gb_per_s=10.0, link_latency_ns=1.0, links_per_chip=2,
                full_duplex=True)
    args.update(bad)
    with pytest.raises(AndasimInputError):
        LinkModel(**args)
