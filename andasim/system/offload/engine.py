"""Accelerator mode: the offload cost model's compute legs from the Anda cycle engine.

FlexGen's compute terms (bls * FLOPs / fitted FLOP rate) are replaced by the cycle engine's
time for one transformer layer at GPU batch size gbs, times the nb GPU batches of a block
(reference notes 3.2 (ii)). They do not depend on the placement, so the LP stays linear.

- prefill: `andasim.simulate` on the card's qkv, qk, pv, o, up, down GeMMs plus the vector
  unit (norms, softmax, activations), phase prefill, seq_len = s, batch = gbs;
- decode: the same at phase decode with kv_len = s + n/2 (FlexGen's average cache length),
  split into projections + vector unit and attention (qk, pv), because attention over a cache
  kept on the host may run there instead (--cpu-cache-compute, at the preset's host FLOP rate);
- per layer = whole-model engine time / n_layers (the engine simulates each distinct GeMM once).
The engine's own device-memory (DRAM) traffic and stalls are included in its cycles.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from andasim.errors import AndasimInputError
from andasim.system.offload.cost import ComputeModel, ComputeTimes, Workload, host_flops_real
from andasim.system.offload.tiers import SystemConfig
from andasim.workload.card import ModelCard
from andasim.workload.precision import PrecisionProfile

PROJ_MODULES = ("qkv", "o", "up", "down", "vector")
ATTN_MODULES = ("qk", "pv")


def engine_compute_model(hw_name: str, card: ModelCard, work: Workload, system: SystemConfig, *,
                         weight_spec: str, precision: PrecisionProfile | None = None
                         ) -> tuple[ComputeModel, dict[str, Any]]:
    """A `ComputeModel` backed by the cycle engine, and a JSON echo of what it used."""
    from andasim.hw.config import load_hw
    from andasim.sim.simulate import simulate

    hw = load_hw(hw_name)
    if hw.activation_storage == "anda" and precision is None:
        raise AndasimInputError(f"--compute engine on {hw.name!r} needs activation mantissa widths: give "
                                "--anda-m M (uniform) or --trace with a default precision profile")
    s, n = work.prompt_len, work.gen_len
    kv_avg = s + n // 2
    q_dim = card.q_dim

    def layer_s(phase: str, gbs: int, modules: tuple[str, ...]) -> float:
        seq = s if phase == "prefill" else kv_avg
        res = simulate(hw, card, precision, phase=phase, seq_len=seq, batch=gbs,
                       kv_len=None if phase == "prefill" else kv_avg, modules=modules)
        return res.latency_s / card.n_layers

    @cache
    def per_gbs(gbs: int) -> tuple[float, float, float]:
        return (layer_s("prefill", gbs, PROJ_MODULES + ATTN_MODULES),
                layer_s("decode", gbs, PROJ_MODULES), layer_s("decode", gbs, ATTN_MODULES))

    def times(gbs: int, nb: int) -> ComputeTimes:
        pre, dec_mm, dec_attn = per_gbs(gbs)
        host = gbs * nb * 4.0 * (s + n / 2) * q_dim / host_flops_real(system, gbs, card.hidden)
        return ComputeTimes(prefill_s=nb * pre, decode_mm_s=nb * dec_mm, decode_attn_device_s=nb * dec_attn,
                            decode_attn_host_s=host)

    info = {
        "mode": "engine", "hw": hw.name, "hw_weights_bits": hw.weights.bits,
        "hw_weight_scale_group_size": hw.weights.scale_group_size,
        "activation_storage": hw.activation_storage,
        "freq_mhz": hw.freq_mhz, "vector_fpus": hw.vector_unit.fpus,
        "precision": precision.to_dict() if precision is not None else None,
        "offloaded_weight_format": weight_spec,
        "note": ("compute times from the cycle engine at the design's own weight format; the "
                 "offloaded weight format sets sizes and I/O only"),
    }
    return times, info
