"""Number formats in the offloading regime: sizes, native-compute overheads, weight error.

Sizes: the bits per value (metadata included) of weights, hidden states and KV cache come from
the formats layer, so any registered format can be offloaded (FlexGen's group-wise Int4,
`int:bits=4,g=64,asym`, is 4 + 2*16/64 = 4.5 bits a value).

Native compute: FlexGen dequantizes to FP16 before compute (reference notes 2.4). An FP-INT
datapath such as Anda's can consume the codes directly, but then every group's FP16 step and
minimum must be applied to partial sums [INFERRED, reference notes 3.2 "hardware interplay"]:
  y = sum_G ( step_G * sum_{k in G} x_k q_k  +  low_G * sum_{k in G} x_k )
which costs, per output and per group, one multiply by the step and one multiply-add of the
zero term, plus the group sums of the activations (shared by all outputs). `native_overhead`
counts these operations against the 2 operations (q * step + low) per value that
dequantize-first spends each time a tensor is decompressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andasim.errors import AndasimInputError
from andasim.formats import get as get_format
from andasim.formats.metrics import sqnr_db
from andasim.system.offload.cost import OffloadShape, TensorBits

FLEXGEN_INT4 = "int:bits=4,g=64,asym"  # FlexGen's CompressionConfig(4, 64, asym), reference notes 2.4


def tensor_bits(shape: OffloadShape, weight_spec: str = "fp16", act_spec: str = "fp16",
                kv_spec: str = "fp16", *, dequant_workspace: bool = True) -> TensorBits:
    """Bits per value of the three offloaded tensor kinds, from the formats layer.

    Tensor shapes used for the metadata count: a weight [out=ffn, in=hidden] (FlexGen groups
    weights along output channels), a hidden state [1, hidden], a KV row [1, kv_dim] (FlexGen
    groups the cache along head_dim, which tiles kv_dim).
    """
    fmts = {}
    for kind, spec in (("weight", weight_spec), ("act", act_spec), ("kv", kv_spec)):
        fmts[kind] = get_format(spec)
    return TensorBits(
        weight=float(fmts["weight"].bits_per_value((shape.ffn, shape.hidden))),
        act=float(fmts["act"].bits_per_value((1, shape.hidden))),
        kv=float(fmts["kv"].bits_per_value((1, shape.kv_dim))),
        weight_spec=fmts["weight"].spec, act_spec=fmts["act"].spec, kv_spec=fmts["kv"].spec,
        dequant_workspace=dequant_workspace,
    )


@dataclass(frozen=True)
class QuantOverhead:
    """Extra operations per layer for one block of bls sequences (ops, not FLOP-rate seconds)."""

    macs_prefill: float
    macs_decode_step: float
    weight_native_prefill: float
    weight_native_decode_step: float
    weight_dequant_per_load: float
    kv_native_decode_step: float
    kv_dequant_decode_step: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def native_overhead(shape: OffloadShape, head_dim: int, gbs: int, nb: int, prompt_len: int,
                    gen_len: int, group: int = 64, weights: bool = True, cache: bool = True
                    ) -> QuantOverhead:
    """Operation counts of computing on group-wise integer tensors natively vs dequantizing.

    Weights grouped along the reduction axis K (the layout a native FP-INT datapath needs), for a
    projection of K x N over M rows: native = 2 M N K/g (step multiply + zero-point MAC per group
    partial) + M K (group sums of x); dequantize-first = 2 K N per decompression, charged once
    per GPU batch (andasim assumption: FlexGen decompresses inside each layer's compute call).
    KV grouped along head_dim (FlexGen's layout), decode with kv_len = s + n/2 keys:
      K in Q K^T: head_dim is the reduction axis -> per score 2 * head_dim/g ops + q group sums;
      V in P V: the reduction runs over tokens, each with its own (step, low) per group ->
        per query 2 * kv_len * head_dim/g ops (P pre-scaled per token and group, plus zero term);
      dequantize-first: 2 ops per cached K and V value read.
    """
    if group <= 0 or (head_dim % group and group % head_dim):
        raise AndasimInputError(f"group size {group} must tile head_dim {head_dim}")
    bls = gbs * nb
    s, kv_len = prompt_len, prompt_len + gen_len / 2
    proj_kn = shape.params_per_layer                     # sum over projections of K * N
    # sum of K over the four projections: qkv (hidden), o (q_dim), up (hidden), down (ffn)
    proj_k = shape.hidden + shape.q_dim + shape.hidden + shape.ffn
    groups_per_head = max(1.0, head_dim / group)
    heads = shape.q_dim // head_dim
    w_native_p = 2 * bls * s * proj_kn / group + bls * s * proj_k if weights else 0.0
    w_native_g = 2 * bls * proj_kn / group + bls * proj_k if weights else 0.0
    w_deq = 2.0 * proj_kn * nb if weights else 0.0
    qk = bls * heads * kv_len * 2 * groups_per_head + bls * shape.q_dim
    pv = bls * heads * 2 * kv_len * groups_per_head
    kv_native = qk + pv if cache else 0.0
    kv_deq = 2.0 * bls * kv_len * 2 * shape.kv_dim if cache else 0.0
    return QuantOverhead(
        macs_prefill=float(bls * (s * proj_kn + 2 * s * s * shape.q_dim)),
        macs_decode_step=float(bls * proj_kn + 2 * bls * kv_len * shape.q_dim),
        weight_native_prefill=float(w_native_p), weight_native_decode_step=float(w_native_g),
        weight_dequant_per_load=float(w_deq), kv_native_decode_step=float(kv_native),
        kv_dequant_decode_step=float(kv_deq),
    )


def weight_error(trace, specs: tuple[str, ...] = (FLEXGEN_INT4,)) -> dict:
    """Relative error and SQNR of each format on a trace's sampled weight columns.

    The samples are whole columns of W [k, n_sampled] (scattered output channels), so groups run
    along k (axis 0) here; FlexGen's output-channel grouping would group channels that are not
    neighbours in the sample. A shape-only trace has no weights: the report says so.
    """
    out: dict = {"trace": trace.trace_id, "label": getattr(trace, "label", ""), "grouping_axis": "k (axis 0)"}
    if not trace.weights:
        out["shape_only"] = True
        out["note"] = "trace holds shapes only (no weight samples): quantization error not measured"
        return out
    out["shape_only"] = False
    per_spec = {}
    for spec in specs:
        fmt = get_format(_with_axis0(spec))
        num = den = 0.0
        rows = []
        for (layer, module), sample in sorted(trace.weights.items()):
            w = np.asarray(sample.values, dtype=np.float32)
            wq = fmt.quantize(w)
            e = float(np.sum((w.astype(np.float64) - wq) ** 2))
            d = float(np.sum(w.astype(np.float64) ** 2))
            num += e
            den += d
            rows.append({"layer": int(layer), "module": module,
                         "rel_error": float(np.sqrt(e / d)) if d > 0 else 0.0,
                         "sqnr_db": float(sqnr_db(w, wq))})
        per_spec[fmt.spec] = {"rel_error": float(np.sqrt(num / den)) if den > 0 else 0.0,
                              "bits_per_value": float(fmt.bits_per_value(
                                  next(iter(trace.weights.values())).values.shape)),
                              "per_matrix": rows}
    out["formats"] = per_spec
    return out


def _with_axis0(spec: str) -> str:
    """Group integer formats along axis 0 (k) unless the spec names an axis."""
    if spec.startswith("int:") and "axis=" not in spec:
        return spec + ",axis=0"
    return spec
