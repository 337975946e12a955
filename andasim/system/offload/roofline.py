"""Roofline compute model: every kernel of a layer takes max(FLOPs / rate, bytes / bandwidth).

FlexGen's compute legs are bls * FLOPs / a fitted rate: linear in the batch, with no floor
for small-batch decode, which must still read every weight from device memory each step
(OPT-6.7B: 12.4 GiB a token step, 42 ms on a T4 at 320 GB/s, while 2 sequences of FLOPs take
6 ms at the fitted 4.3 TFLOP/s). Here each kernel of one layer for one GPU batch of gbs
sequences costs max(FLOPs / rate, bytes / device-memory bandwidth) + the preset's
`compute.kernel_overhead_us`, and a block of nb GPU batches costs nb times that (FlexGen runs
the layer once per GPU batch, reading its weights each time). Kernels, all FP16 (2 bytes):

- GEMMs: the q, k, v, out projections and the MLP (gate,) fc1, fc2; FLOPs 2 T K N, bytes
  2 (K N + T K + T N) for T tokens; rate mm_prefill / mm_decode;
- batched GEMMs: Q K^T and P V; FLOPs 2 T kv q_dim each; bytes the query/output, the K or V
  cache read and the score matrix; rate bmm_prefill / bmm_decode; the softmax over the
  scores (5 FLOPs a value, read + write) belongs to attention, so it moves to the host with
  it under CPU attention;
- non-GEMM work: the card's norms (8 FLOPs a value, read + write), two residual adds (read
  two, write one), the MLP activation (read fc1 outputs, write ffn values) and the KV-cache
  write of the new tokens (2 kv_dim values a token). Their FLOP rate is the phase's mm rate;
  at <= 8 FLOPs per 4 bytes they are bandwidth bound on any preset.

- decompression, when weights or cache are stored as 4-bit groups and dequantized before
  compute (FlexGen's runtime, `compression.py:146-200` `decompress`, called on every weight in
  each mha/mlp call and on the whole K/V cache in each decode step, `pytorch_backend.py:303-306,
  373-376, 405-406, 572-573`): per value two unpack kernels (shift / mask: read the packed
  0.5 B, write 0.5 B, then a strided copy reading 0.5 B into 1 B of the FP16 output) and two
  in-place FP16 kernels (divide by the scale, add the minimum: read 2 B, write 2 B each),
  13 bytes and 6 kernels in all. The compression of the new tokens' K/V is not counted.

Decode uses FlexGen's average cache length s + n/2. CPU attention keeps FlexGen's host FLOP
model (cpu_flops with its non-linear correction).
"""

from __future__ import annotations

from dataclasses import dataclass

from andasim.errors import AndasimInputError
from andasim.system.offload.cost import ComputeModel, ComputeTimes, Workload, host_flops_real
from andasim.system.offload.tiers import GIB, TFLOP, SystemConfig
from andasim.workload.card import ModelCard

FP16_BYTES = 2
NORM_FLOPS_PER_VALUE = 8      # mean, variance, normalise, scale, shift [assumption, order of magnitude]
SOFTMAX_FLOPS_PER_VALUE = 5   # max, subtract, exp, sum, divide [assumption]
# FlexGen's decompress of 4-bit groups, per value: 2 x (0.5 + 0.5 + 0.5 + 1) B unpack + 2 x (2 + 2) B
DEQUANT_BYTES_PER_VALUE = 2 * (0.5 + 0.5 + 0.5 + 1.0) + 2 * (2.0 + 2.0)
DEQUANT_KERNELS = 6
DEQUANT_FLOPS_PER_VALUE = 2   # divide, add


@dataclass(frozen=True)
class Kernel:
    name: str
    flops: float
    bytes: float
    rate_flop_per_s: float

    def seconds(self, bandwidth_b_per_s: float, overhead_s: float) -> float:
        return max(self.flops / self.rate_flop_per_s, self.bytes / bandwidth_b_per_s) + overhead_s


def _dequant(name: str, values: float, rate: float) -> list[Kernel]:
    """FlexGen's decompress of `values` 4-bit values as its 6 element-wise kernels."""
    per = values / DEQUANT_KERNELS
    return [Kernel(f"{name}{i}", DEQUANT_FLOPS_PER_VALUE * per, DEQUANT_BYTES_PER_VALUE * per, rate)
            for i in range(DEQUANT_KERNELS)]


def layer_kernels(card: ModelCard, system: SystemConfig, phase: str, gbs: int, seq: int, kv_len: float,
                  *, dequant_weights: bool = False, dequant_cache: bool = False
                  ) -> tuple[list[Kernel], list[Kernel]]:
    """(projection + non-GEMM kernels, attention kernels) of one layer for one GPU batch.

    seq is the new tokens per sequence (s in prefill, 1 in decode); kv_len the keys attended.
    dequant_weights / dequant_cache add FlexGen's decompression of 4-bit weights (each call) and,
    in decode, of the cached K/V (module docstring).
    """
    h, q, kv, f, nh = card.hidden, card.q_dim, card.kv_dim, card.ffn, card.n_heads
    t = gbs * seq
    b = FP16_BYTES
    mm = (system.mm_prefill_tflop_per_s if phase == "prefill" else system.mm_decode_tflop_per_s) * TFLOP
    bmm = (system.bmm_prefill_tflop_per_s if phase == "prefill" else system.bmm_decode_tflop_per_s) * TFLOP
    gemms = [("q", h, q), ("k", h, kv), ("v", h, kv), ("out", q, h)]
    gemms += ([("gate", h, f)] if card.gated else []) + [("fc1", h, f), ("fc2", f, h)]
    proj = [Kernel(name, 2.0 * t * k * n, b * (k * n + t * k + t * n), mm) for name, k, n in gemms]
    act_in = 2 * f if card.gated else f
    proj += [Kernel(f"norm{i}", NORM_FLOPS_PER_VALUE * t * h, 2 * b * t * h, mm)
             for i in range(card.norms_per_layer)]
    proj += [Kernel(f"residual{i}", t * h, 3 * b * t * h, mm) for i in range(2)]
    proj.append(Kernel("activation", t * f, b * t * (act_in + f), mm))
    proj.append(Kernel("kv_write", 0.0, b * t * 2 * kv, mm))
    if dequant_weights:
        proj += _dequant("dequant_w", sum(k * n for _, k, n in gemms), mm)
    scores = gbs * nh * seq * kv_len
    attn = [
        Kernel("qk", 2.0 * t * kv_len * q, b * (t * q + gbs * kv_len * kv + scores), bmm),
        Kernel("softmax", SOFTMAX_FLOPS_PER_VALUE * scores, 2 * b * scores, bmm),
        Kernel("pv", 2.0 * t * kv_len * q, b * (scores + gbs * kv_len * kv + t * q), bmm),
    ]
    if dequant_cache and phase == "decode":
        attn = _dequant("dequant_kv", gbs * kv_len * 2 * kv, bmm) + attn
    return proj, attn


def roofline_compute_model(system: SystemConfig, card: ModelCard, work: Workload, *,
                           dequant_weights: bool = False, dequant_cache: bool = False) -> ComputeModel:
    """A `ComputeModel` from the roofline of every kernel; needs compute.memory_bandwidth_gib_per_s."""
    if system.memory_bandwidth_gib_per_s is None:
        raise AndasimInputError(
            f"--compute roofline needs compute.memory_bandwidth_gib_per_s in the system preset "
            f"({system.source or system.name}); give it, or use --compute flops")
    bw = system.memory_bandwidth_gib_per_s * GIB
    ovh = system.kernel_overhead_us * 1e-6
    s, n = work.prompt_len, work.gen_len
    kv_avg = s + n / 2

    def total(kernels: list[Kernel]) -> float:
        return sum(k.seconds(bw, ovh) for k in kernels)

    cache: dict[int, tuple[float, float, float]] = {}

    def per_gbs(gbs: int) -> tuple[float, float, float]:
        if gbs not in cache:
            deq = {"dequant_weights": dequant_weights, "dequant_cache": dequant_cache}
            pre_proj, pre_attn = layer_kernels(card, system, "prefill", gbs, s, s, **deq)
            dec_proj, dec_attn = layer_kernels(card, system, "decode", gbs, 1, kv_avg, **deq)
            cache[gbs] = (total(pre_proj) + total(pre_attn), total(dec_proj), total(dec_attn))
        return cache[gbs]

    def times(gbs: int, nb: int) -> ComputeTimes:
        pre, dec_proj, dec_attn = per_gbs(gbs)
        host = gbs * nb * 4.0 * kv_avg * card.q_dim / host_flops_real(system, gbs, card.hidden)
        return ComputeTimes(prefill_s=nb * pre, decode_mm_s=nb * dec_proj,
                            decode_attn_device_s=nb * dec_attn, decode_attn_host_s=host)

    return times
