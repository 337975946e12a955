"""Tensor-parallel latency model: partitioning, N = 1 identity, bytes per collective, on-chip cost, CLI."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from andasim import simulate
from andasim.cli import main
from andasim.errors import AndasimInputError
from andasim.hw.config import load_hw
from andasim.system.tp.collectives import collective_cost
from andasim.system.tp.links import link_model
from andasim.system.tp.model import (
    DEFAULT_MODULES,
    chip_share,
    onchip_cycles,
    partition_gemms,
    simulate_tp,
)
from andasim.system.tp.payloads import parse_payload
from andasim.workload.card import load_card
from andasim.workload.precision import PrecisionProfile

PREC = PrecisionProfile.from_list([6, 5, 6, 7], name="test", source="test")


@pytest.fixture(scope="module")
def hw():
    return load_hw("anda")


def test_partition_llama2_7b_by_8() -> None:
    card = load_card("llama2-7b")   # 32 heads, 32 kv heads, head_dim 128, hidden 4096, ffn 11008, gated
    full = card.gemms("prefill", 2048, 1, modules=DEFAULT_MODULES)
    chip = {g.name: g for g in partition_gemms(card, full, 8)}
    assert (chip["L0.qkv"].k, chip["L0.qkv"].n) == (4096, (4 + 2 * 4) * 128)   # 12288 / 8
    assert chip["L0.up"].n == 2 * 11008 // 8                                     # gate|up column split
    assert (chip["L0.o"].k, chip["L0.o"].n) == (4 * 128, 4096)                   # row split
    assert (chip["L0.down"].k, chip["L0.down"].n) == (11008 // 8, 4096)
    assert chip["L0.qk"].count == 4 and chip["L0.pv"].count == 4                 # heads per chip
    assert sum(g.macs for g in chip.values()) * 8 == sum(g.macs for g in full)


def test_partition_refusals_and_uneven_split() -> None:
    card = load_card("smollm2-135m")  # 9 heads, 3 kv heads, ffn 1536
    with pytest.raises(AndasimInputError, match="do not divide the heads"):
        chip_share(card, 2)
    assert chip_share(card, 3) == chip_share(card, 3, "uneven")
    # uneven: ceil(9/2) = 5 heads, ceil(3/2) = 2 kv heads, 768 ffn on the most loaded chip
    s = chip_share(card, 2, "uneven")
    assert (s.heads, s.kv_heads, s.ffn) == (5, 2, 768)
    with pytest.raises(AndasimInputError, match="cannot be split over 16"):
        chip_share(card, 16, "uneven")
    # GQA: 9 chips would replicate the 3 kv heads (9 % 3 == 0); ffn 1536 % 9 != 0 still refuses
    with pytest.raises(AndasimInputError, match=r"ffn \(1536\)"):
        chip_share(card, 9)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_one_chip_bf16_is_exactly_the_single_chip_result(hw, phase: str) -> None:
    """N = 1 runs the card's own GeMM list through andasim.simulate; it must equal simulating the card.

    Known failure at commit 31aad17: andasim/sim/simulate.py keys `by_key` by (layer, module) but
    `consumer()` returns (module, layer), so a GeMM-list workload never finds its consumer's k (up's
    next_k becomes n instead of n/2 for a gated FFN; the card path falls back to n/2)."""
    card = load_card("smollm2-135m")
    link = link_model(hw)
    r = simulate_tp(hw, card, PREC, link, n_chips=1, collective="ring_allreduce", payload="bf16",
                    phase=phase, seq_len=256, batch=2)
    single = simulate(hw, card, PREC, phase=phase, seq_len=256, batch=2, modules=DEFAULT_MODULES)
    assert r.chip_result.counters == single.counters
    assert r.step_latency_s == single.latency_s
    assert (r.exposed_comm_s, r.link_s, r.bytes_per_chip_per_collective) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_bytes_per_collective_match_formulas(hw, n: int) -> None:
    card = load_card("llama2-7b")
    link = link_model(hw)
    t, e = 4, 4096                     # decode, batch 4: T = 4 tokens of E = 4096 features
    ring = simulate_tp(hw, card, PREC, link, n_chips=n, collective="ring_allreduce", payload="bf16",
                       phase="decode", seq_len=128, batch=t)
    assert ring.bytes_per_chip_per_collective == 2 * (n - 1) / n * t * e * 2
    ag = simulate_tp(hw, card, PREC, link, n_chips=n, collective="allgather", payload="hybrid:k_frac=1/64",
                     phase="decode", seq_len=128, batch=t)
    assert ag.bits_per_value == 4.1875
    assert ag.bytes_per_chip_per_collective == (n - 1) * t * e * 4.1875 / 8
    assert ag.collectives_per_step == 2 * card.n_layers
    assert ag.compute_s == ring.compute_s
    assert 0 <= ag.overlap_s <= ag.link_s
    assert ag.exposed_comm_s == pytest.approx(ag.encode_s + ag.link_s - ag.overlap_s + ag.decode_sum_s)
    per = ag.to_dict()["collectives"]
    assert [c["after"] for c in per[:2]] == ["L0.o", "L0.down"]
    assert [c["next_gemm"] for c in per[:2]] == ["L0.up", "L1.qkv"] and per[-1]["next_gemm"] is None
    assert sum(c["exposed_s"] for c in per) == pytest.approx(ag.exposed_comm_s)
    no = simulate_tp(hw, card, PREC, link, n_chips=n, collective="allgather", payload="hybrid:k_frac=1/64",
                     phase="decode", seq_len=128, batch=t, overlap=False)
    assert no.overlap_s == 0 and no.exposed_comm_s >= ag.exposed_comm_s


def test_onchip_cycles_derivation(hw) -> None:
    link = link_model(hw)
    values = 2048 * 576
    cost = collective_cost("allgather", 4, values, 4.1875, link)
    enc, dec = onchip_cycles(hw, parse_payload("hybrid:k_frac=1/64"), cost)
    # asym hybrid: 6 ops/value to encode; decode 2 ops for each of 4 partials + 3 adds per value; 64 FPUs
    assert enc == math.ceil(values * 6 / 64)
    assert dec == math.ceil((4 * values * 2 + 3 * values) / 64)
    enc_a, _ = onchip_cycles(hw, parse_payload("anda:m=5"), cost)
    # Anda partials on the compressor: 16 lanes x 64 values per pass, M = 5 cycles per pass
    assert enc_a == math.ceil(values / 1024) * 5
    ring = collective_cost("ring_allreduce", 4, values, 16.0, link)
    assert onchip_cycles(hw, parse_payload("bf16"), ring) == (0, math.ceil(3 / 4 * values / 64))


def test_ring_allreduce_refuses_calibrated_payload(hw) -> None:
    with pytest.raises(AndasimInputError, match="ring_allreduce"):
        simulate_tp(hw, load_card("llama2-7b"), PREC, link_model(hw), n_chips=2, collective="ring_allreduce",
                    payload="hybrid:k_frac=1/64", phase="decode", seq_len=16)


def test_cli_shape_only_trace_writes_report_and_plot(tmp_path) -> None:
    runner = CliRunner()
    args = ["tp", "--hw", "anda", "--trace", "llama2-7b", "--chips", "2,8", "--phase", "decode",
            "--seq-len", "128", "--format", "bf16", "--format", "hybrid:k_frac=1/64", "--collective",
            "allgather", "--out", str(tmp_path / "a")]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "shape-only trace" in res.output and "4.1875" in res.output
    for name in ("tp.json", "tp_latency_error.png", "tp_latency_error.svg"):
        assert (tmp_path / "a" / name).is_file()
    report = json.loads((tmp_path / "a" / "tp.json").read_text())
    assert report["error"]["status"].startswith("shape-only")
    assert {t["n_chips"] for t in report["timing"]} == {2, 8}
    res2 = runner.invoke(main, [*args[:-1], str(tmp_path / "b"), "--no-plot"])
    assert res2.exit_code == 0
    assert (tmp_path / "a" / "tp.json").read_bytes() == (tmp_path / "b" / "tp.json").read_bytes()


@pytest.mark.parametrize("extra, msg", [
    (["--chips", "3"], "do not divide"),
    (["--format", "hybrid:k_frac=2"], "k_frac"),
    (["--chips", "0"], "--chips"),
    (["--collective", "oneshot"], "one-shot"),
    (["--link-bw-gb-per-s", "-1"], "link_bw_gb_per_s"),
])
def test_cli_bad_input_exit_2(extra: list[str], msg: str) -> None:
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", "llama2-7b", "--phase", "decode",
                                    "--seq-len", "16", "--no-plot", *extra])
    assert res.exit_code == 2, res.output
    assert msg in res.output


def test_cli_refuses_design_without_interconnect(tmp_path) -> None:
    from andasim.bundled import bundled_dir

    text = bundled_dir("hw_configs").joinpath("anda.yaml").read_text(encoding="utf-8")
    head, _, tail = text.partition("interconnect:")
    no_link = head + "cost_table:" + tail.partition("cost_table:")[2]
    (tmp_path / "nolink.yaml").write_text(no_link, encoding="utf-8")
    args = ["tp", "--hw", str(tmp_path / "nolink.yaml"), "--trace", "llama2-7b", "--phase", "decode",
            "--seq-len", "16", "--chips", "2", "--format", "bf16", "--no-plot"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "no 'interconnect' section" in res.output
    links = ["--topology", "ring", "--link-bw-gb-per-s", "10", "--link-latency-ns", "100",
             "--links-per-chip", "2", "--full-duplex"]
    res = CliRunner().invoke(main, [*args, *links])
    assert res.exit_code == 0, res.output


def test_cli_regime_reports_both_bf16_baselines(tmp_path) -> None:
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", "llama2-7b", "--chips", "2,16",
                                    "--seq-len", "64", "--format", "hybrid:k_frac=1/64", "--regime",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "same algorithm" in res.output and "best BF16" in res.output
    rows = json.loads((tmp_path / "regime.json").read_text())["rows"]
    assert len(rows) == 4
    for r in rows:
        assert r["bf16_same_algorithm"] == "allgather"
        by_alg = r["bf16_step_s_by_algorithm"]
        assert "oneshot" not in by_alg or r["n_chips"] == 2          # no direct links on a ring of N > 2
        assert r["bf16_best_step_s"] == min(by_alg.values())
        assert r["bf16_best_step_s"] <= r["bf16_same_step_s"]
        assert r["wins_vs_same_step"] == (r["compressed_step_s"] < r["bf16_same_step_s"])
        assert r["wins_vs_best_step"] == (r["compressed_step_s"] < r["bf16_best_step_s"])


def test_regime_on_a_mesh_judges_against_the_best_bf16_algorithm(hw) -> None:
    """On a fully connected mesh the ring uses two of the ports, so a BF16 direct exchange beats the BF16
    ring; the regime check must compare compression with that, not with the ring."""
    from andasim.system.tp.links import LinkModel
    from andasim.system.tp.model import regime_check

    mesh = LinkModel(topology="fully_connected", link_bw_gb_per_s=25.0, link_latency_ns=1000.0,
                     links_per_chip=7, full_duplex=True)
    rows = regime_check(hw, load_card("llama2-7b"), PREC, mesh, chips=[8], phases=[("prefill", 256, 1)],
                        payload="hybrid:k_frac=1/64", collective="twoshot")
    by_alg = rows[0]["bf16_step_s_by_algorithm"]
    assert by_alg["twoshot"] < by_alg["ring_allreduce"]
    assert rows[0]["bf16_best_algorithm"] != "ring_allreduce"


def test_ring_allreduce_charges_the_codec_at_every_hop(hw) -> None:
    """Hand derivation for int8_token (per-token symmetric Int8: 6 ops to encode, 1 to decode, 1 per
    addition; 64 FPUs) on a ring all-reduce of V values over N chips. Reduce-scatter, hops h = 1..N-1:
    encode V/N, send, decode V/N, add V/N. Then the reduced chunk V/N is encoded once and all-gathered;
    every chip decodes the N chunks (V). Encode: 6 * ((N-1) V/N + V/N) = 6V ops; decode and add:
    (N-1) * (V/N + V/N) + V ops."""
    link = link_model(hw)
    n, values = 8, 2048 * 4096
    cost = collective_cost("ring_allreduce", n, values, 8.0 + 16 / 4096, link)
    enc, dec = onchip_cycles(hw, parse_payload("int8_token"), cost)
    hop = values // n
    enc_ops = sum(6 * hop for _ in range(1, n)) + 6 * hop
    dec_ops = sum(hop + hop for _ in range(1, n)) + n * hop
    assert enc == math.ceil(enc_ops / 64)
    assert dec == math.ceil(dec_ops / 64)


def test_cli_compressed_ring_allreduce_is_slower_than_bf16_on_anda(tmp_path) -> None:
    """Issue 20 acceptance: with the codec charged per hop, int8_token on a ring all-reduce is slower
    than BF16 on anda prefill (N = 8); the printed breakdown shows the codec time."""
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", "llama2-7b", "--chips", "8",
                                    "--collective", "ring_allreduce", "--format", "bf16", "--format",
                                    "int8_token", "--seq-len", "256", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "enc+dec ms" in res.output
    report = json.loads((tmp_path / "r.json").read_text())
    steps = {t["payload"]: t for t in report["timing"]}
    assert steps["int8_token"]["encode_s"] > 0
    assert steps["int8_token"]["step_latency_s"] > steps["bf16"]["step_latency_s"]


def _synthetic_trace(tmp_path):
    """SYNTHETIC trace on the smollm2-135m card: random o/down inputs and weight samples for 2 layers,
    with a few outlier input features so the partials carry consistent outlier output features."""
    import numpy as np

    from andasim.workload.trace import Trace, WeightSample, load_trace, save_trace

    card = load_card("smollm2-135m")
    rng = np.random.default_rng(7)
    acts, weights = {}, {}
    for layer in (0, 1):
        for module, k in (("o", card.n_heads * card.head_dim), ("down", card.ffn)):
            x = rng.standard_normal((192, k)).astype(np.float32)
            x[:, :3] *= 10
            cols = np.sort(rng.choice(card.hidden, 128, replace=False)).astype(np.int64)
            w = (rng.standard_normal((k, 128)) * 0.02).astype(np.float32)
            w[:, :4] *= 15
            acts[(layer, module)] = x.astype(np.float16)
            weights[(layer, module)] = WeightSample(columns=cols, values=w)
    trace = Trace(trace_id="synthetic-tp", card=card, provenance={"source": "SYNTHETIC test data"},
                  label="SYNTHETIC random activations for tests", activations=acts, weights=weights)
    return load_trace(save_trace(trace, tmp_path / "synthetic-tp.npz"))


def test_cli_error_table_on_synthetic_trace(tmp_path) -> None:
    trace = _synthetic_trace(tmp_path)
    res = CliRunner().invoke(main, ["tp", "--hw", "anda", "--trace", str(tmp_path / "synthetic-tp.npz"),
                                    "--chips", "3", "--error-chips", "1,3", "--phase", "decode",
                                    "--seq-len", "32",
                                    "--m-bits", "6", "--format", "bf16", "--format", "hybrid:k_frac=1/64",
                                    "--format", "randomk:k_frac=1/64", "--format", "int4_token",
                                    "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    err = json.loads((tmp_path / "r.json").read_text())["error"]
    assert err["status"] == "measured"
    rows = err["rows"]
    # 2 layers x 2 modules x 2 N x 4 formats
    assert len(rows) == 32 and trace.card.hidden == 576
    hyb = [r for r in rows if r["payload"] == "hybrid:k_frac=1/64"]
    # 128 sampled columns -> k = floor(128/64) = 2 BF16 features, 4.1875 bits per value
    assert all(r["k_bf16"] == 2 and r["bits_per_value"] == 4.1875 for r in hyb)
    assert all(r["tokens_calib"] == 96 and r["tokens_eval"] == 96 for r in rows)
    for r in rows:
        assert 0 < r["rel_error"] < 1
