"""FlexGen's per-layer cost model (Sheng et al., ICML 2023, Sec. 4.3 + App. A.3), format-aware.

Every time leg and every peak-memory term is an affine function of the nine placement fractions
x = (wg, wc, wd, hg, hc, hd, cg, cc, cd), so one evaluator serves both the fixed-policy
evaluation and the linear program of the policy search. The equations follow the reference
notes (tp_comm_and_flexgen.md 2.2); the generalisations are:

- byte sizes come from the formats layer: weights W = params * beta_w / 8 per layer, hidden
  states h * beta_h / 8 per token, KV cache 2 * kv_dim * beta_kv / 8 per token and layer, where
  each beta includes metadata (FP16 gives FlexGen's 8h1^2 + 4h1h2, 2h1, 4h1 exactly for OPT);
- compute times come from a `ComputeModel` (FLOP rates as in FlexGen, or the Anda engine);
- without CPU attention delegation (--cpu-cache-compute off) the cache on host/disk is loaded
  to the device for decode attention (ctog) and the new KV written back (gtoc) [INFERRED: the
  paper's decode equations assume delegation];
- overlap structure `paper` (perfect overlap: T = max of the legs) or `code` (the released
  experimental/cost_model.py: same-direction legs serialised, ctog in decode exposed, the disk
  weight read in decode divided by 0.95).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from andasim.errors import AndasimInputError
from andasim.system.offload.tiers import GIB, TFLOP, SystemConfig
from andasim.workload.card import ModelCard

VARS = ("wg", "wc", "wd", "hg", "hc", "hd", "cg", "cc", "cd")
_IDX = {v: i for i, v in enumerate(VARS)}
OVERLAP_MODELS = ("paper", "code")
# andasim: what the runtime allocates (working buffers as a max, cache at s + n); flexgen-code: the
# released cost model's peak-memory terms term by term (cost_model.py:284-352).
MEMORY_MODELS = ("andasim", "flexgen-code")
# flag: decode attention over host/disk cache on the host only with --cpu-cache-compute (the
# runtime); always: on the host whatever the policy says, as the cost model's compg (:250-252).
CPU_ATTENTION_MODES = ("flag", "always")
# The released cost model divides the decode disk->host weight read by this extra factor
# (experimental/cost_model.py; reference notes 2.2).
CODE_DISK_WEIGHT_DERATE = 0.95
FP16_BYTES = 2  # compute precision of the working buffers (FlexGen dequantizes before compute)


@dataclass(frozen=True)
class Lin:
    """An affine function c . x + k of the nine placement fractions."""

    coef: np.ndarray
    const: float = 0.0

    @staticmethod
    def of(const: float = 0.0, **terms: float) -> Lin:
        coef = np.zeros(len(VARS))
        for name, value in terms.items():
            coef[_IDX[name]] += value
        return Lin(coef, float(const))

    def __add__(self, other: Lin) -> Lin:
        return Lin(self.coef + other.coef, self.const + other.const)

    def scale(self, factor: float) -> Lin:
        return Lin(self.coef * factor, self.const * factor)

    def at(self, x: np.ndarray) -> float:
        return float(self.coef @ x + self.const)


@dataclass(frozen=True)
class OffloadShape:
    """What the cost model needs of a model: FlexGen's l, h1, h2, nh plus sizes for GQA/gated cards."""

    name: str
    n_layers: int
    hidden: int
    ffn: int
    n_heads: int
    q_dim: int
    kv_dim: int
    params_per_layer: int  # projection weights only, as FlexGen's W = 8h1^2 + 4h1h2 bytes in FP16

    @staticmethod
    def from_card(card: ModelCard) -> OffloadShape:
        params = sum(card.module_in_features(m) * card.module_out_features(m)
                     for m in ("qkv", "o", "up", "down"))
        return OffloadShape(card.name, card.n_layers, card.hidden, card.ffn, card.n_heads,
                            card.q_dim, card.kv_dim, params)


@dataclass(frozen=True)
class TensorBits:
    """Storage bits per value (metadata included) of weights, hidden states and KV cache."""

    weight: float = 16.0
    act: float = 16.0
    kv: float = 16.0
    weight_spec: str = "fp16"
    act_spec: str = "fp16"
    kv_spec: str = "fp16"
    # FlexGen decompresses a layer's weights into an FP16 workspace before compute; a native
    # consumer (Anda's FP-INT GeMM) does not need it.
    dequant_workspace: bool = True


def weight_bytes(shape: OffloadShape, bits: TensorBits) -> float:
    """All layers' projection weights in their storage format (FlexGen's W * l)."""
    return shape.params_per_layer * bits.weight / 8 * shape.n_layers


def kv_cache_bytes(shape: OffloadShape, bits: TensorBits, batch: int, prompt_len: int, gen_len: int) -> float:
    """The full KV cache at the end of generation: K and V for s + n tokens, every layer."""
    return 2 * shape.kv_dim * bits.kv / 8 * (prompt_len + gen_len) * batch * shape.n_layers


@dataclass(frozen=True)
class Workload:
    prompt_len: int
    gen_len: int

    def __post_init__(self) -> None:
        for name in ("prompt_len", "gen_len"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise AndasimInputError(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}")


@dataclass(frozen=True)
class ComputeTimes:
    """Per-layer compute seconds for a whole block of bls = gbs * nb sequences."""

    prefill_s: float
    decode_mm_s: float
    decode_attn_device_s: float  # decode attention over the whole cache, on the device
    decode_attn_host_s: float    # the same attention delegated to the host CPU


ComputeModel = Callable[[int, int], ComputeTimes]  # (gbs, nb) -> times


def host_flops_real(system: SystemConfig, gbs: int, hidden: int) -> float:
    """FlexGen's non-linear CPU throughput: cpu_flops * max(0.1, 1 + c1 Lb Lh - c2 Lb - c3 Lh)."""
    lb = max(0.0, math.log2(64 / gbs))
    lh = max(0.0, math.log2(4096 / hidden))
    factor = max(0.1, 1 + system.host_c1 * lb * lh - system.host_c2 * lb - system.host_c3 * lh)
    return system.host_tflop_per_s * TFLOP * factor


def flop_compute_model(system: SystemConfig, shape: OffloadShape, work: Workload) -> ComputeModel:
    """FlexGen mode: compute times from the system's FLOP rates (comp^p, comp^g of 2.2)."""
    s, n = work.prompt_len, work.gen_len
    kv_avg = s + n / 2

    def times(gbs: int, nb: int) -> ComputeTimes:
        bls = gbs * nb
        mm_flops_p = 2.0 * shape.params_per_layer * s           # 8 s h1^2 + 4 s h1 h2 for OPT
        bmm_flops_p = 4.0 * s * s * shape.q_dim                 # QK^T and PV
        mm_flops_g = 2.0 * shape.params_per_layer
        attn_flops_g = 4.0 * kv_avg * shape.q_dim
        return ComputeTimes(
            prefill_s=bls * (mm_flops_p / (system.mm_prefill_tflop_per_s * TFLOP)
                             + bmm_flops_p / (system.bmm_prefill_tflop_per_s * TFLOP)),
            decode_mm_s=bls * mm_flops_g / (system.mm_decode_tflop_per_s * TFLOP),
            decode_attn_device_s=bls * attn_flops_g / (system.bmm_decode_tflop_per_s * TFLOP),
            decode_attn_host_s=bls * attn_flops_g / host_flops_real(system, gbs, shape.hidden),
        )

    return times


@dataclass(frozen=True)
class MemoryTerm:
    """Peak usage of one tier in one phase: base + max(extras) (the working-buffer max of A.3)."""

    name: str
    tier: str
    base: Lin
    extras: tuple[Lin, ...] = ()

    def rows(self) -> list[Lin]:
        return [self.base + e for e in self.extras] if self.extras else [self.base]

    def at(self, x: np.ndarray) -> float:
        return max(r.at(x) for r in self.rows())


@dataclass
class CostTerms:
    """All affine pieces for one (gbs, nb): legs, the overlap groups, and memory terms."""

    gbs: int
    nb: int
    prefill_legs: dict[str, Lin]
    decode_legs: dict[str, Lin]
    prefill_groups: list[tuple[str, Lin]]  # Tpre = max over these
    decode_groups: list[tuple[str, Lin]]   # Tgen = max over these
    memory: list[MemoryTerm]
    caps_bytes: dict[str, float]
    n_layers: int
    gen_len: int
    notes: list[str] = field(default_factory=list)

    @property
    def bls(self) -> int:
        return self.gbs * self.nb


def build_terms(shape: OffloadShape, system: SystemConfig, work: Workload, bits: TensorBits,
                compute: ComputeModel, gbs: int, nb: int, *, cpu_cache_compute: bool,
                overlap: str = "code", memory_model: str = "andasim",
                cpu_attention: str = "flag") -> CostTerms:
    """The cost-model pieces of 2.2 for one GPU batch size and number of GPU batches."""
    for flag, value, valid in (("--overlap-model", overlap, OVERLAP_MODELS),
                               ("--memory-model", memory_model, MEMORY_MODELS),
                               ("--cpu-attention", cpu_attention, CPU_ATTENTION_MODES)):
        if value not in valid:
            raise AndasimInputError(f"{flag} must be one of {', '.join(valid)}, got {value!r}")
    host_attention = cpu_cache_compute or cpu_attention == "always"
    for name, v in (("--gpu-batch-size", gbs), ("--num-gpu-batches", nb)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise AndasimInputError(f"{name} must be a positive integer, got {v!r}")
    s, n, layers = work.prompt_len, work.gen_len, shape.n_layers
    h1, h2, nh = shape.hidden, shape.ffn, shape.n_heads
    bls = gbs * nb
    w = shape.params_per_layer * bits.weight / 8           # W, bytes of one layer's weights
    w_ws = shape.params_per_layer * FP16_BYTES if bits.dequant_workspace and bits.weight != 16 else 0.0
    hid = h1 * bits.act / 8                                # bytes of one token's hidden state
    kv = 2 * shape.kv_dim * bits.kv / 8                    # bytes of one token's K and V, one layer
    kv_avg = s + n / 2
    bw = {k: getattr(system, k) * GIB for k in (
        "host_to_device_gib_per_s", "device_to_host_cache_gib_per_s", "device_to_host_hidden_gib_per_s",
        "disk_to_host_gib_per_s", "host_to_disk_cache_prefill_gib_per_s",
        "host_to_disk_hidden_prefill_gib_per_s", "host_to_disk_decode_gib_per_s")}
    ctog, gtoc_c, gtoc_h = (bw["host_to_device_gib_per_s"], bw["device_to_host_cache_gib_per_s"],
                            bw["device_to_host_hidden_gib_per_s"])
    dtoc, ctod_cp = bw["disk_to_host_gib_per_s"], bw["host_to_disk_cache_prefill_gib_per_s"]
    ctod_hp, ctod_g = bw["host_to_disk_hidden_prefill_gib_per_s"], bw["host_to_disk_decode_gib_per_s"]
    ct = compute(gbs, nb)

    # --- prefill legs (2.2, Tpre) ---
    hid_p = s * bls * hid
    pre = {
        "ctog": Lin.of(wc=w / ctog, wd=w / ctog, hc=hid_p / ctog, hd=hid_p / ctog),
        "gtoc": Lin.of(cc=(s + 1) * bls * kv / gtoc_c, cd=(s + 1) * bls * kv / gtoc_c,
                       hc=hid_p / gtoc_h, hd=hid_p / gtoc_h),
        "dtoc": Lin.of(wd=w / dtoc, hd=hid_p / dtoc),
        "ctod": Lin.of(cd=(s + 1) * bls * kv / ctod_cp, hd=hid_p / ctod_hp),
        "comp": Lin.of(ct.prefill_s),
    }
    # --- decode legs (2.2, Tgen) ---
    hid_g = bls * hid
    derate = CODE_DISK_WEIGHT_DERATE if overlap == "code" else 1.0
    dec = {
        "ctog": Lin.of(wc=w / ctog, wd=w / ctog, hc=hid_g / ctog, hd=hid_g / ctog),
        "gtoc": Lin.of(hc=hid_g / gtoc_h, hd=hid_g / gtoc_h),
        "dtoc": Lin.of(cd=kv_avg * bls * kv / dtoc, wd=w / (dtoc * derate), hd=hid_g / dtoc),
        "ctod": Lin.of(cd=bls * kv / ctod_g, hd=hid_g / ctod_g),
    }
    if host_attention:
        dec["comp"] = Lin.of(ct.decode_mm_s, cg=ct.decode_attn_device_s,
                             cc=ct.decode_attn_host_s, cd=ct.decode_attn_host_s)
    else:
        cache_in = kv_avg * bls * kv / ctog
        dec["ctog"] = dec["ctog"] + Lin.of(cc=cache_in, cd=cache_in)
        dec["gtoc"] = dec["gtoc"] + Lin.of(cc=bls * kv / gtoc_c, cd=bls * kv / gtoc_c)
        dec["comp"] = Lin.of(ct.decode_mm_s + ct.decode_attn_device_s)

    if overlap == "paper":
        pre_groups = list(pre.items())
        dec_groups = list(dec.items())
    else:
        pre_groups = [("ctog+dtoc", pre["ctog"] + pre["dtoc"]), ("gtoc+ctod", pre["gtoc"] + pre["ctod"]),
                      ("comp", pre["comp"])]
        dec_groups = [(f"ctog+{k}", dec["ctog"] + dec[k]) for k in ("gtoc", "dtoc", "ctod", "comp")]

    if memory_model == "flexgen-code":
        memory = _flexgen_code_memory(shape, w, hid, kv, s, n, gbs, bls)
        return CostTerms(gbs, nb, pre, dec, pre_groups, dec_groups, memory,
                         system.usable_bytes(), layers, n)

    # --- peak memory (App. A.3) ---
    kv_full = (s + n) * kv                                  # one sequence's cache, one layer, at the end
    att_p = gbs * (4 * s * h1 + 2 * nh * s * s)              # K, V and scores in FP16
    att_g = gbs * (4 * (s + n) * h1 + 2 * nh * (s + n))
    gpu_wbuf = Lin.of(w_ws, wc=2 * w, wd=2 * w)              # double-buffered layer weights
    gpu_p = MemoryTerm(
        "device memory (prefill)", "device",
        Lin.of(wg=w * layers, hg=hid_p, cg=kv_full * bls * layers) + gpu_wbuf
        + Lin.of(hc=s * gbs * hid, hd=s * gbs * hid),
        (Lin.of(8 * gbs * s * h1), Lin.of(cg=att_p), Lin.of(2 * gbs * s * (h1 + h2))),
    )
    att_g_lin = Lin.of(cg=att_g) if host_attention else Lin.of(att_g)
    gpu_g = MemoryTerm(
        "device memory (decode)", "device",
        Lin.of(wg=w * layers, hg=hid_g, cg=kv_full * bls * layers) + gpu_wbuf
        + Lin.of(hc=gbs * hid, hd=gbs * hid),
        (Lin.of(8 * gbs * h1), att_g_lin, Lin.of(2 * gbs * (h1 + h2))),
    )
    cpu_p = MemoryTerm(
        "host memory (prefill)", "host",
        Lin.of(wc=w * layers, hc=hid_p, cc=kv_full * bls * layers)
        + Lin.of(wc=w, wd=w, hc=s * gbs * hid, hd=s * gbs * hid),
    )
    cpu_work_g = Lin.of(wd=w, hd=2 * gbs * hid, cd=2 * kv_full * gbs)
    if host_attention:
        cpu_work_g = cpu_work_g + Lin.of(2 * nh * (s + n) * gbs + 2 * h1 * gbs)
    cpu_g = MemoryTerm("host memory (decode)", "host",
                       Lin.of(wc=w * layers, hc=hid_g, cc=kv_full * bls * layers) + cpu_work_g)
    disk = MemoryTerm("disk", "disk", Lin.of(wd=w * layers, hd=hid_p, cd=kv_full * bls * layers))
    return CostTerms(gbs, nb, pre, dec, pre_groups, dec_groups, [gpu_p, gpu_g, cpu_p, cpu_g, disk],
                     system.usable_bytes(), layers, n)


def _flexgen_code_memory(shape: OffloadShape, w: float, hid: float, kv: float, s: int, n: int,
                         gbs: int, bls: int) -> list[MemoryTerm]:
    """FlexGen's cost_model.py peak-memory constraints, term by term (line numbers of 19753bc).

    w, hid and kv are the byte sizes of one layer's weights, one token's hidden state and one
    token's K+V in one layer (for OPT in FP16: wi, 2 h1, 4 h1). The working buffers keep the
    code's literal FP16 formulas in h1, h2 and nh. Differences from andasim's own model: the
    six prefill buffers are summed, not maxed (:285-290); decode adds a cache read buffer
    (:320); the host prefill cache counts s tokens (:342); the host decode work buffer always
    holds the CPU-attention scores (:347).
    """
    layers, h1, h2, nh = shape.n_layers, shape.hidden, shape.ffn, shape.n_heads
    not_wg = {"wc": 1.0, "wd": 1.0}
    inter_p = (8 * gbs * s * h1 + gbs * (2 * s * h1 + 2 * nh * s * s) + gbs * 2 * s * h1
               + 4 * gbs * s * h1 + 2 * gbs * s * h2 + 2 * gbs * s * h1)                 # :285-290
    gpu_p = (Lin.of(wg=w * layers, hg=s * hid * bls, cg=(s + n) * kv * bls * layers)   # :284
             + Lin.of(inter_p, **{k: 2 * w * v for k, v in not_wg.items()})            # :291
             + Lin.of(hc=s * hid * gbs, hd=s * hid * gbs))
    inter_g_cg = (gbs * (2 * h1 + 2 * (s + n) * h1 + 2 * nh * (s + n))
                  + gbs * (2 * (s + n) * h1 + 2 * h1))                                  # :314-315
    inter_g = 8 * gbs * h1 + 4 * gbs * h1 + 2 * gbs * h2 + 2 * gbs * h1                 # :313-318
    gpu_g = (Lin.of(wg=w * layers, hg=hid * bls, cg=(s + n) * kv * bls * layers)       # :312
             + Lin.of(inter_g, cg=inter_g_cg + (s + n) * kv * gbs,                     # :320 read buffer
                      **{k: 2 * w * v for k, v in not_wg.items()})
             + Lin.of(hc=hid * gbs, hd=hid * gbs))
    cpu_p = (Lin.of(wc=w * layers, hc=s * hid * bls, cc=s * kv * bls * layers)         # :342
             + Lin.of(wc=w, wd=w, hc=s * hid * gbs, hd=s * hid * gbs))                 # :343
    cpu_g = (Lin.of(wc=w * layers, hc=hid * bls, cc=(s + n) * kv * bls * layers)       # :346
             + Lin.of(2 * nh * (s + n) * gbs + 2 * h1 * gbs, wd=w, hd=2 * hid * gbs,
                      cd=2 * (s + n) * kv * gbs))                                      # :347
    disk = Lin.of(wd=w * layers, hd=s * hid * bls, cd=(s + n) * kv * bls * layers)     # :351
    return [MemoryTerm("device memory (prefill)", "device", gpu_p),
            MemoryTerm("device memory (decode)", "device", gpu_g),
            MemoryTerm("host memory (prefill)", "host", cpu_p),
            MemoryTerm("host memory (decode)", "host", cpu_g),
            MemoryTerm("disk", "disk", disk)]


@dataclass(frozen=True)
class PolicyEval:
    """A placement evaluated with the cost model."""

    gbs: int
    nb: int
    x: tuple[float, ...]
    prefill_layer_s: float
    decode_layer_s: float
    prefill_legs_s: dict[str, float]
    decode_legs_s: dict[str, float]
    prefill_bottleneck: str
    decode_bottleneck: str
    memory_bytes: dict[str, float]
    caps_bytes: dict[str, float]
    n_layers: int
    gen_len: int

    @property
    def bls(self) -> int:
        return self.gbs * self.nb

    @property
    def prefill_s(self) -> float:
        return self.prefill_layer_s * self.n_layers

    @property
    def decode_s(self) -> float:
        return self.decode_layer_s * (self.gen_len - 1) * self.n_layers

    @property
    def latency_s(self) -> float:
        """T = Tpre l + Tgen (n-1) l: time to generate all tokens of one block."""
        return self.prefill_s + self.decode_s

    @property
    def throughput_tok_per_s(self) -> float:
        """Generation throughput: bls n / T (FlexGen's metric)."""
        return self.bls * self.gen_len / self.latency_s

    @property
    def decode_throughput_tok_per_s(self) -> float:
        return self.bls * (self.gen_len - 1) / self.decode_s if self.decode_s > 0 else float("inf")

    def violations(self, rel_tol: float = 1e-9) -> list[str]:
        """Memory constraints exceeded, as one-line descriptions."""
        out = []
        for name, used in self.memory_bytes.items():
            cap = self.caps_bytes[_tier_of(name)]
            if used > cap * (1 + rel_tol):
                out.append(f"{name}: needs {used / GIB:.2f} GiB > usable {cap / GIB:.2f} GiB")
        return out

    def binding(self, rel_tol: float = 1e-6) -> list[str]:
        return [name for name, used in self.memory_bytes.items()
                if used >= self.caps_bytes[_tier_of(name)] * (1 - rel_tol)]

    def peak_by_tier(self) -> dict[str, float]:
        peak: dict[str, float] = {"device": 0.0, "host": 0.0, "disk": 0.0}
        for name, used in self.memory_bytes.items():
            peak[_tier_of(name)] = max(peak[_tier_of(name)], used)
        return peak


def _tier_of(constraint: str) -> str:
    return constraint.split(" ")[0]


def evaluate(terms: CostTerms, x: np.ndarray | tuple[float, ...]) -> PolicyEval:
    """Times, memory and bottlenecks of placement `x` (nine fractions, order VARS)."""
    xv = np.asarray(x, dtype=float)
    pre = [(name, lin.at(xv)) for name, lin in terms.prefill_groups]
    dec = [(name, lin.at(xv)) for name, lin in terms.decode_groups]
    pre_name, pre_t = max(pre, key=lambda kv: kv[1])
    dec_name, dec_t = max(dec, key=lambda kv: kv[1])
    return PolicyEval(
        gbs=terms.gbs, nb=terms.nb, x=tuple(float(v) for v in xv),
        prefill_layer_s=pre_t, decode_layer_s=dec_t,
        prefill_legs_s={k: v.at(xv) for k, v in terms.prefill_legs.items()},
        decode_legs_s={k: v.at(xv) for k, v in terms.decode_legs.items()},
        prefill_bottleneck=pre_name, decode_bottleneck=dec_name,
        memory_bytes={m.name: m.at(xv) for m in terms.memory},
        caps_bytes=dict(terms.caps_bytes), n_layers=terms.n_layers, gen_len=terms.gen_len,
    )


def percent_to_x(percent: tuple[float, ...] | list[float]) -> np.ndarray:
    """FlexGen's --percent WG WC CG CC HG HC (disk = 100 - device - host) to the nine fractions."""
    if len(percent) != 6:
        raise AndasimInputError(f"--percent takes six numbers WG WC CG CC HG HC, got {len(percent)}")
    wg, wc, cg, cc, hg, hc = (float(p) for p in percent)
    for name, a, b in (("weights", wg, wc), ("cache", cg, cc), ("activations", hg, hc)):
        if not (math.isfinite(a) and math.isfinite(b)) or a < 0 or b < 0 or a + b > 100 + 1e-9:
            raise AndasimInputError(
                f"--percent: {name} shares {a:g} + {b:g} must be >= 0 and sum to <= 100 (rest is disk)")
    return np.array([wg, wc, 100 - wg - wc, hg, hc, 100 - hg - hc, cg, cc, 100 - cg - cc]) / 100.0
