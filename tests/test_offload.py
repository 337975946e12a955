"""Offloading cost model, sizes and LP policy search (FlexGen, reference notes Part 2).

Expected values are written out from the paper's equations (tp_comm_and_flexgen.md 2.2) in
this file, independently of andasim/system/offload/cost.py, and compared to 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from andasim.errors import AndasimInputError
from andasim.system.offload.api import OffloadRequest, evaluate_policy, run_offload
from andasim.system.offload.cost import (
    OffloadShape,
    TensorBits,
    Workload,
    build_terms,
    evaluate,
    flop_compute_model,
    host_flops_real,
    kv_cache_bytes,
    percent_to_x,
    weight_bytes,
)
from andasim.system.offload.formats import FLEXGEN_INT4, native_overhead, tensor_bits
from andasim.system.offload.search import gbs_candidates, search, solve_placement
from andasim.system.offload.tiers import GIB, TFLOP, bundled_systems_dir, load_system
from andasim.workload.card import load_card

T4 = load_system("t4-flexgen")


def _shape(name: str) -> OffloadShape:
    return OffloadShape.from_card(load_card(name))


# --- V-B1: exact sizes -------------------------------------------------------------------------

def test_opt175b_fp16_weights_are_324_gib():
    # 96 layers x (8 h1^2 + 4 h1 h2) bytes, h1 = 12288, h2 = 49152:
    # 96 x (1.2080e9 + 2.4159e9) = 3.4789e11 B = 324.0 GiB ("325 GB" in FlexGen)
    sh = _shape("opt-175b")
    bits = tensor_bits(sh)
    w = weight_bytes(sh, bits)
    assert w == 96 * (8 * 12288**2 + 4 * 12288 * 49152)
    assert w / GIB == pytest.approx(324.0, abs=0.05)


def test_opt175b_kv_cache_at_batch_512_is_1_31e12_bytes_and_3_78x_weights():
    # 2 (K, V) x 2 B x h1 x (s + n) x batch x layers = 4 x 12288 x 544 x 512 x 96 = 1.3143e12 B
    sh = _shape("opt-175b")
    bits = tensor_bits(sh)
    kv = kv_cache_bytes(sh, bits, batch=512, prompt_len=512, gen_len=32)
    assert kv == 4 * 12288 * 544 * 512 * 96
    assert kv == pytest.approx(1.31e12, rel=5e-3)
    assert kv / weight_bytes(sh, bits) == pytest.approx(3.78, abs=0.005)


def test_kv_cache_all_on_disk_fills_the_disk_constraint_with_the_same_bytes():
    sh = _shape("opt-175b")
    bits = tensor_bits(sh)
    work = Workload(512, 32)
    terms = build_terms(sh, T4, work, bits, flop_compute_model(T4, sh, work), 64, 8,
                        cpu_cache_compute=True)
    x = percent_to_x((0, 100, 0, 0, 0, 100))  # weights on host, cache on disk
    ev = evaluate(terms, x)
    assert ev.memory_bytes["disk"] == kv_cache_bytes(sh, bits, 512, 512, 32)


def test_flexgen_int4_is_4_5_bits_and_71_9_percent_smaller_than_fp16():
    sh = _shape("opt-175b")
    bits = tensor_bits(sh, FLEXGEN_INT4, "fp16", FLEXGEN_INT4)
    assert bits.weight == 4.5 and bits.kv == 4.5          # 4 + 2 x 16 / 64
    assert (1 - bits.weight / 16) * 100 == pytest.approx(71.9, abs=0.05)
    assert weight_bytes(sh, bits) == pytest.approx(weight_bytes(sh, tensor_bits(sh)) * 4.5 / 16)


def test_anda_activation_format_sets_hidden_state_size():
    # anda:m=6,gs=64: sign + 6 mantissa bits + a 5-bit exponent per 64 values = 7 + 5/64
    bits = tensor_bits(_shape("opt-30b"), act_spec="anda:m=6")
    assert bits.act == pytest.approx(7 + 5 / 64)


# --- the equations of 2.2, written out independently -------------------------------------------

def _paper_legs(p, x, gbs, nb, code=False):
    """Per-layer legs of the paper (FP16, OPT, CPU delegation), separate-bandwidth constants."""
    _, wc, wd, _, hc, hd, cg, cc, cd = x
    s, n, h1, h2 = p["s"], p["n"], p["h1"], p["h2"]
    bls = gbs * nb
    W = 8 * h1**2 + 4 * h1 * h2
    G = GIB
    pre = {
        "ctog": ((wc + wd) * W + 2 * (hc + hd) * s * h1 * bls) / (12.89 * G),
        "gtoc": 4 * (cc + cd) * (s + 1) * h1 * bls / (0.97 * G) + 2 * (hc + hd) * s * h1 * bls / (4.82 * G),
        "dtoc": (wd * W + 2 * hd * s * h1 * bls) / (0.473 * G),
        "ctod": 4 * cd * bls * (s + 1) * h1 / (0.746 * G) + 2 * hd * s * h1 * bls / (2.015 * G),
        "comp": bls * (8 * s * h1**2 + 4 * s * h1 * h2) / (21.24 * TFLOP)
        + 4 * bls * s**2 * h1 / (9.97 * TFLOP),
    }
    lb = max(0, math.log2(64 / gbs))
    lh = max(0, math.log2(4096 / h1))
    cpu = 0.0123 * TFLOP * max(0.1, 1 + 0.0168 * lb * lh - 0.0328 * lb - 0.0621 * lh)
    w_disk = wd * W / (0.473 * G * (0.95 if code else 1.0))
    dec = {
        "ctog": ((wc + wd) * W + 2 * (hc + hd) * h1 * bls) / (12.89 * G),
        "gtoc": 2 * (hc + hd) * h1 * bls / (4.82 * G),
        "dtoc": (4 * cd * bls * (s + n / 2) * h1 + 2 * hd * h1 * bls) / (0.473 * G) + w_disk,
        "ctod": (4 * cd * bls * h1 + 2 * hd * h1 * bls) / (2.015 * G),
        "comp": bls * (8 * h1**2 + 4 * h1 * h2) / (4.3 * TFLOP)
        + 4 * cg * bls * (s + n / 2) * h1 / (0.079 * TFLOP) + 4 * (cc + cd) * bls * (s + n / 2) * h1 / cpu,
    }
    return pre, dec


OPT30 = {"s": 512, "n": 32, "h1": 7168, "h2": 28672, "nh": 56, "l": 48}


@pytest.mark.parametrize("overlap", ["paper", "code"])
def test_legs_match_the_paper_equations(overlap):
    sh = _shape("opt-30b")
    work = Workload(512, 32)
    rng = np.random.default_rng(0)
    for gbs, nb in ((1, 1), (8, 3), (48, 3), (96, 2)):
        terms = build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), gbs, nb,
                            cpu_cache_compute=True, overlap=overlap)
        for _ in range(5):
            x = np.concatenate([rng.dirichlet(np.ones(3)) for _ in range(3)])
            ev = evaluate(terms, x)
            pre, dec = _paper_legs(OPT30, x, gbs, nb, code=overlap == "code")
            for k in pre:
                assert ev.prefill_legs_s[k] == pytest.approx(pre[k], rel=1e-12)
                assert ev.decode_legs_s[k] == pytest.approx(dec[k], rel=1e-12)
            if overlap == "paper":
                tpre, tgen = max(pre.values()), max(dec.values())
            else:  # released code: same-direction legs serialised, ctog exposed in decode
                tpre = max(pre["ctog"] + pre["dtoc"], pre["gtoc"] + pre["ctod"], pre["comp"])
                tgen = dec["ctog"] + max(dec["gtoc"], dec["dtoc"], dec["ctod"], dec["comp"])
            assert ev.prefill_layer_s == pytest.approx(tpre, rel=1e-12)
            assert ev.decode_layer_s == pytest.approx(tgen, rel=1e-12)
            T = tpre * 48 + tgen * 31 * 48
            assert ev.latency_s == pytest.approx(T, rel=1e-12)
            assert ev.throughput_tok_per_s == pytest.approx(gbs * nb * 32 / T, rel=1e-12)


def test_peak_memory_matches_appendix_a3():
    p = OPT30
    s, n, h1, h2, nh, layers = p["s"], p["n"], p["h1"], p["h2"], p["nh"], p["l"]
    gbs, nb = 48, 3
    bls = gbs * nb
    W = 8 * h1**2 + 4 * h1 * h2
    sh = _shape("opt-30b")
    work = Workload(s, n)
    terms = build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), gbs, nb,
                        cpu_cache_compute=True)
    x = (0.2, 0.7, 0.1, 0.5, 0.5, 0.0, 0.3, 0.6, 0.1)
    wg, wc, wd, hg, hc, hd, cg, cc, cd = x
    ev = evaluate(terms, x)
    gpu_home_p = wg * W * layers + hg * 2 * s * h1 * bls + 4 * (s + n) * h1 * cg * bls * layers
    gpu_w_p = 2 * (1 - wg) * W + (1 - hg) * 2 * s * h1 * gbs + max(
        8 * gbs * s * h1, cg * gbs * (4 * s * h1 + 2 * nh * s**2), 2 * gbs * s * (h1 + h2))
    assert ev.memory_bytes["device memory (prefill)"] == pytest.approx(gpu_home_p + gpu_w_p, rel=1e-12)
    cpu_home_p = wc * W * layers + hc * 2 * s * h1 * bls + 4 * (s + n) * h1 * cc * bls * layers
    cpu_w_p = (1 - wg) * W + (1 - hg) * 2 * s * h1 * gbs
    assert ev.memory_bytes["host memory (prefill)"] == pytest.approx(cpu_home_p + cpu_w_p, rel=1e-12)
    cpu_home_g = wc * W * layers + hc * 2 * h1 * bls + 4 * (s + n) * h1 * cc * bls * layers
    cpu_w_g = (wd * W + 2 * hd * 2 * h1 * gbs + 2 * cd * 4 * (s + n) * h1 * gbs
               + 2 * nh * (s + n) * gbs + 2 * h1 * gbs)
    assert ev.memory_bytes["host memory (decode)"] == pytest.approx(cpu_home_g + cpu_w_g, rel=1e-12)
    nvme = W * wd * layers + hd * 2 * s * h1 * bls + cd * 4 * (s + n) * h1 * bls * layers
    assert ev.memory_bytes["disk"] == pytest.approx(nvme, rel=1e-12)


def test_without_cpu_delegation_the_cache_travels_to_the_device():
    sh = _shape("opt-30b")
    work = Workload(512, 32)
    cm = flop_compute_model(T4, sh, work)
    x = percent_to_x((20, 80, 0, 100, 0, 100))
    on = evaluate(build_terms(sh, T4, work, TensorBits(), cm, 48, 3, cpu_cache_compute=True), x)
    off = evaluate(build_terms(sh, T4, work, TensorBits(), cm, 48, 3, cpu_cache_compute=False), x)
    # extra ctog: the average cache 4 bls (s + n/2) h1 bytes per layer over the host->device link
    extra = 4 * 144 * (512 + 16) * 7168 / (12.89 * GIB)
    assert off.decode_legs_s["ctog"] - on.decode_legs_s["ctog"] == pytest.approx(extra, rel=1e-12)
    assert off.decode_legs_s["comp"] < on.decode_legs_s["comp"]  # GPU attention instead of the CPU


def test_host_flops_nonlinearity():
    # gbs = 64, h1 = 4096: Lb = Lh = 0 -> factor 1. gbs = 1, h1 = 7168: Lb = 6, Lh = 0 -> 1 - 6 c2.
    assert host_flops_real(T4, 64, 4096) == pytest.approx(0.0123e12)
    assert host_flops_real(T4, 1, 7168) == pytest.approx(0.0123e12 * (1 - 6 * 0.0328))
    # gbs = 1, h1 = 1024: Lb = 6, Lh = 2 -> 1 + 12 c1 - 6 c2 - 2 c3 = 0.9812
    factor = 1 + 12 * 0.0168 - 6 * 0.0328 - 2 * 0.0621
    assert host_flops_real(T4, 1, 1024) == pytest.approx(0.0123e12 * factor)


# --- LP ----------------------------------------------------------------------------------------

def test_lp_optimum_beats_every_random_feasible_placement():
    sh = _shape("opt-30b")
    work = Workload(512, 32)
    terms = build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), 16, 4,
                        cpu_cache_compute=True, overlap="code")
    best = solve_placement(terms)
    assert best is not None and not best.violations(rel_tol=1e-7)
    assert best.x[5] == 0.0  # hidden states stay off disk by default
    rng = np.random.default_rng(1)
    n_feasible = 0
    for _ in range(400):
        x = np.concatenate([rng.dirichlet(np.ones(3)) for _ in range(3)])
        x[3:6] = [x[3] + x[5] * 0.5, x[4] + x[5] * 0.5, 0.0]
        ev = evaluate(terms, x)
        if not ev.violations():
            n_feasible += 1
            assert ev.latency_s >= best.latency_s * (1 - 1e-7)
    assert n_feasible > 10


def test_search_is_at_least_as_good_as_a_feasible_published_policy():
    # OPT-30B, prompt 1024: FlexGen's (4 96 0 100 0 100) at 20 x 4 (reference notes 2.5b).
    pub = evaluate_policy("opt-30b", "t4-flexgen", (4, 96, 0, 100, 0, 100), 20, 4, prompt_len=1024)
    assert not pub.violations()
    sh = _shape("opt-30b")
    work = Workload(1024, 32)
    terms = build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), 20, 4,
                        cpu_cache_compute=False)
    lp = solve_placement(terms)
    assert lp.throughput_tok_per_s >= pub.throughput_tok_per_s * (1 - 1e-9)


def test_search_pareto_front_is_non_dominated_and_contains_the_best():
    sh = _shape("opt-6.7b")
    work = Workload(512, 32)
    cm = flop_compute_model(T4, sh, work)
    res = search(lambda g, nb: build_terms(sh, T4, work, TensorBits(), cm, g, nb, cpu_cache_compute=True),
                 max_gbs=16, max_nb=4)
    assert res.best is not None
    assert res.best.throughput_tok_per_s == max(e.throughput_tok_per_s for e in res.evaluated)
    front = res.pareto()
    assert res.best in front
    for a in front:
        for b in res.evaluated:
            assert not (b.latency_s < a.latency_s and b.throughput_tok_per_s > a.throughput_tok_per_s)
    assert gbs_candidates(16) == [1, 2, 3, 4, 8, 12, 16]


def test_user_policy_that_does_not_fit_is_refused_naming_the_constraint():
    req = OffloadRequest(model="opt-30b", preset="t4-flexgen", percent=(100, 0, 0, 100, 0, 100),
                         gpu_batch_size=48, num_gpu_batches=3)
    msg = r"device memory \(prefill\): needs .* GiB > usable 12.80 GiB"
    with pytest.raises(AndasimInputError, match=msg):
        run_offload(req)


def test_search_with_nothing_feasible_names_the_tightest_constraint(tmp_path):
    src = (bundled_systems_dir() / "t4-flexgen.yaml").read_text(encoding="utf-8")
    # 30B weights alone are 55.9 GiB; 0.8 x (16 + 8 + 10) GiB of tiers cannot hold them
    tiny = src.replace("host_gib: 208", "host_gib: 8").replace("disk_gib: 1500", "disk_gib: 10")
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny, encoding="utf-8")
    req = OffloadRequest(model="opt-30b", preset=str(path), search=True)
    with pytest.raises(AndasimInputError, match=r"no feasible policy .* tightest constraint\(s\): .*disk"):
        run_offload(req)


def test_cpu_cache_compute_with_compressed_cache_is_refused():
    req = OffloadRequest(model="opt-30b", preset="t4-flexgen", search=True, cpu_cache_compute=True,
                         compress_cache=True)
    with pytest.raises(AndasimInputError, match="cpu-cache-compute"):
        run_offload(req)


def test_percent_validation():
    x = percent_to_x((20, 80, 0, 100, 0, 100))
    assert list(x) == [0.2, 0.8, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(AndasimInputError, match="weights shares 60 \\+ 60"):
        percent_to_x((60, 60, 0, 0, 0, 0))
    with pytest.raises(AndasimInputError, match="six numbers"):
        percent_to_x((1, 2, 3))


def test_compressed_weights_shrink_io_and_charge_a_dequant_workspace():
    sh = _shape("opt-175b")
    work = Workload(512, 32)
    cm = flop_compute_model(T4, sh, work)
    x = percent_to_x((0, 100, 0, 100, 0, 100))
    fp = evaluate(build_terms(sh, T4, work, tensor_bits(sh), cm, 48, 3, cpu_cache_compute=False), x)
    q = evaluate(build_terms(sh, T4, work, tensor_bits(sh, FLEXGEN_INT4), cm, 48, 3,
                             cpu_cache_compute=False), x)
    w16 = 8 * 12288**2 + 4 * 12288 * 49152
    # weight part of ctog^g scales with 4.5/16; hidden part unchanged
    assert fp.decode_legs_s["ctog"] - q.decode_legs_s["ctog"] == pytest.approx(
        w16 * (1 - 4.5 / 16) / (12.89 * GIB), rel=1e-9)
    # device working set: 2 (1 - wg) W at 4.5 bits plus an FP16 layer for decompression
    assert q.memory_bytes["device memory (decode)"] - fp.memory_bytes["device memory (decode)"] == \
        pytest.approx(2 * w16 * (4.5 / 16 - 1) + w16, rel=1e-9)


def test_native_overhead_counts_by_hand():
    # Toy: hidden 128, ffn 256, heads 2 x 64, group 64, gbs 2, nb 1, s 4, n 2 (kv_len 5).
    sh = OffloadShape("toy", 1, 128, 256, 2, 128, 128, params_per_layer=128 * 384 + 128 * 128 + 2 * 128 * 256)
    ov = native_overhead(sh, head_dim=64, gbs=2, nb=1, prompt_len=4, gen_len=2, group=64)
    kn = sh.params_per_layer                  # 131072
    k_sum = 128 + 128 + 128 + 256             # K of qkv, o, up, down
    assert ov.weight_native_decode_step == 2 * 2 * kn / 64 + 2 * k_sum   # 8192 + 1280
    assert ov.weight_native_prefill == 2 * 2 * 4 * kn / 64 + 2 * 4 * k_sum
    assert ov.weight_dequant_per_load == 2 * kn
    # QK: bls x heads x kv_len x 2 ops x 1 group/head + q group sums (bls x q_dim);
    # PV: bls x heads x 2 x kv_len
    assert ov.kv_native_decode_step == 2 * 2 * 5 * 2 + 2 * 128 + 2 * 2 * 2 * 5
    assert ov.kv_dequant_decode_step == 2 * 2 * 5 * 2 * 128


def test_shape_and_workload_validation():
    with pytest.raises(AndasimInputError, match="prompt-len"):
        Workload(0, 32)
    sh = _shape("opt-30b")
    work = Workload(8, 4)
    with pytest.raises(AndasimInputError, match="gpu-batch-size"):
        build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), 0, 1,
                    cpu_cache_compute=False)
    with pytest.raises(AndasimInputError, match="overlap-model"):
        build_terms(sh, T4, work, TensorBits(), flop_compute_model(T4, sh, work), 1, 1,
                    cpu_cache_compute=False, overlap="both")
