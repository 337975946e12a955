"""Memory-limited (offloading) inference, modelled as FlexGen does; the library entry point.

`run_offload(request)` evaluates one placement policy (FlexGen's --percent, --gpu-batch-size,
--num-gpu-batches) or searches for the best one, and returns a deterministic JSON-ready report:
the policy, generation throughput (tokens/s = bls * n / T), latency T, per-layer time legs and
bottlenecks, peak memory per tier, binding constraints, and for a search the Pareto front of
latency against throughput. Pieces: `tiers` (system YAML), `cost` (cost
model), `search` (LP), `formats` (sizes, native-compute overheads, error),
`engine` (compute times from the Anda cycle engine), `roofline` (kernel roofline), `placement`
(FlexGen's whole-tensor weight placement).

Three switches reproduce FlexGen's released cost model (experimental/cost_model.py, 19753bc)
term by term: `memory_model="flexgen-code"`, `compression_model="flexgen-code"`,
`cpu_attention="always"` (with `overlap_model="code"`, `compute="flops"`,
`weight_placement="fraction"`, `search_enumeration="flexgen"`). The defaults are andasim's own
model; docs/offload.md lists each difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from andasim import __version__
from andasim.errors import AndasimInputError
from andasim.system.offload.cost import (
    CPU_ATTENTION_MODES,
    MEMORY_MODELS,
    OVERLAP_MODELS,
    VARS,
    ComputeModel,
    OffloadShape,
    PolicyEval,
    TensorBits,
    Workload,
    build_terms,
    evaluate,
    flop_compute_model,
    kv_cache_bytes,
    percent_to_x,
    weight_bytes,
)
from andasim.system.offload.formats import FLEXGEN_INT4, native_overhead, tensor_bits, weight_error
from andasim.system.offload.placement import PLACEMENTS, realised_weight_fractions
from andasim.system.offload.search import ENUMERATIONS, SELECTION_RULES, search, solve_placement
from andasim.system.offload.tiers import GIB, SystemConfig, load_system

COMPUTE_MODES = ("auto", "flops", "roofline", "engine")
COMPRESSION_MODELS = ("andasim", "flexgen-code")
# FlexGen's cost model divides the weight size by 4 when compressing (cost_model.py:155-156).
FLEXGEN_CODE_WEIGHT_BITS = 4.0
# Relaxation factors above 1 are only meaningful for the flexgen-code memory model; this bounds typos.
MAX_ALPHA_FLEXGEN_CODE = 10.0


@dataclass(frozen=True)
class OffloadRequest:
    """Everything one `andasim offload` run needs (FlexGen's flag names where they exist)."""

    model: str
    preset: str
    prompt_len: int = 512
    gen_len: int = 32
    percent: tuple[float, ...] | None = None    # WG WC CG CC HG HC; None with search=True
    gpu_batch_size: int | None = None
    num_gpu_batches: int | None = None
    search: bool = False
    cpu_cache_compute: bool = False
    compress_weight: bool = False
    compress_cache: bool = False
    weight_format: str | None = None
    cache_format: str | None = None
    act_format: str = "fp16"
    overlap_model: str = "code"
    compute: str = "auto"
    memory_model: str = "andasim"
    compression_model: str = "andasim"
    cpu_attention: str = "flag"
    weight_placement: str = "tensor"
    search_enumeration: str = "andasim"
    hw: str | None = None
    alpha_g: float | None = None
    alpha_c: float | None = None
    alpha_n: float | None = None
    max_gpu_batch_size: int | None = None
    max_num_gpu_batches: int | None = None
    hidden_on_disk: bool = False
    trace: str | None = None
    anda_m: int | None = None    # engine mode: uniform activation mantissa width (else the trace's profile)
    precision: str | None = None  # engine mode: anything --precision accepts (overrides anda_m)


def _formats(req: OffloadRequest) -> tuple[str, str, str]:
    if req.compress_weight and req.weight_format and req.weight_format != FLEXGEN_INT4:
        raise AndasimInputError("--compress-weight means --weight-format "
                                f"{FLEXGEN_INT4}; give one or the other, not both")
    if req.compress_cache and req.cache_format and req.cache_format != FLEXGEN_INT4:
        raise AndasimInputError(f"--compress-cache means --cache-format {FLEXGEN_INT4}; "
                                "give one or the other")
    w = FLEXGEN_INT4 if req.compress_weight else (req.weight_format or "fp16")
    kv = FLEXGEN_INT4 if req.compress_cache else (req.cache_format or "fp16")
    return w, req.act_format, kv


def _check_request(req: OffloadRequest) -> None:
    for flag, value, valid in (("--compute", req.compute, COMPUTE_MODES),
                               ("--overlap-model", req.overlap_model, OVERLAP_MODELS),
                               ("--memory-model", req.memory_model, MEMORY_MODELS),
                               ("--compression-model", req.compression_model, COMPRESSION_MODELS),
                               ("--cpu-attention", req.cpu_attention, CPU_ATTENTION_MODES),
                               ("--weight-placement", req.weight_placement, PLACEMENTS),
                               ("--search-enumeration", req.search_enumeration, ENUMERATIONS)):
        if value not in valid:
            raise AndasimInputError(f"{flag} must be one of {', '.join(valid)}, got {value!r}")
    if req.compression_model == "flexgen-code" and (req.weight_format or req.cache_format
                                                    or req.act_format != "fp16"):
        raise AndasimInputError("--compression-model flexgen-code knows only --compress-weight "
                                "(weights / 4, cost_model.py:155-156); drop --weight-format, "
                                "--cache-format and --act-format or use --compression-model andasim")
    if req.compute == "engine" and not req.hw:
        raise AndasimInputError("--compute engine needs --hw (an accelerator design, e.g. anda)")
    if req.compute != "engine" and (req.hw or req.anda_m is not None or req.precision is not None):
        raise AndasimInputError("--hw and --precision are only used with --compute engine")
    if req.search:
        if req.percent is not None or req.gpu_batch_size or req.num_gpu_batches:
            raise AndasimInputError("--search chooses the policy: do not also give --percent, "
                                    "--gpu-batch-size or --num-gpu-batches")
        for name, v in (("--max-gpu-batch-size", req.max_gpu_batch_size),
                        ("--max-num-gpu-batches", req.max_num_gpu_batches)):
            if v is not None and v < 1:
                raise AndasimInputError(f"{name} must be >= 1, got {v}")
    elif req.percent is None or not req.gpu_batch_size or not req.num_gpu_batches:
        raise AndasimInputError("give either --search, or a policy: --percent WG WC CG CC HG HC "
                                "--gpu-batch-size N --num-gpu-batches N")
    if req.cpu_cache_compute and (req.compress_cache or (req.cache_format or "fp16") != "fp16"):
        raise AndasimInputError("--cpu-cache-compute cannot be combined with a compressed cache: FlexGen "
                                "disables CPU attention when the cache is quantized (reference notes 2.1)")


def compute_mode(req: OffloadRequest, system: SystemConfig) -> str:
    """`auto`: the roofline when the preset gives the device-memory bandwidth, else FLOPs."""
    if req.compute != "auto":
        return req.compute
    return "roofline" if system.memory_bandwidth_gib_per_s is not None else "flops"


def _compute_model(req: OffloadRequest, system: SystemConfig, card, shape: OffloadShape,
                   work: Workload, weight_spec: str, bits: TensorBits) -> tuple[ComputeModel, dict[str, Any]]:
    mode = compute_mode(req, system)
    if mode == "flops":
        return flop_compute_model(system, shape, work), {"mode": "flops"}
    if mode == "roofline":
        from andasim.system.offload.roofline import roofline_compute_model

        # integer formats are dequantized before compute, as FlexGen's runtime does
        deq_w = bits.weight_spec.startswith("int:") and bits.dequant_workspace
        deq_kv = bits.kv_spec.startswith("int:")
        return roofline_compute_model(system, card, work, dequant_weights=deq_w, dequant_cache=deq_kv), {
            "mode": "roofline", "memory_bandwidth_gib_per_s": system.memory_bandwidth_gib_per_s,
            "kernel_overhead_us": system.kernel_overhead_us,
            "dequantize_before_compute": {"weights": deq_w, "kv_cache": deq_kv}}
    from andasim.system.offload.engine import engine_compute_model
    from andasim.workload.precision import PrecisionProfile

    precision = None
    if req.precision is not None:
        from andasim.workload.loaders import load_workload
        from andasim.workload.precision import resolve_precision

        profiles = load_workload(req.trace).profiles if req.trace else {}
        precision = resolve_precision(req.precision, profiles, owner=f"trace {req.trace}")
    elif req.anda_m is not None:
        if isinstance(req.anda_m, bool) or not 1 <= req.anda_m <= 16:
            raise AndasimInputError(f"--anda-m must be an integer in 1..16, got {req.anda_m!r}")
        precision = PrecisionProfile.from_list([req.anda_m] * 4, name=f"uniform-m{req.anda_m}",
                                               source="--anda-m")
    elif req.trace:
        from andasim.workload.loaders import load_workload
        tr = load_workload(req.trace)
        if tr.default_profile is not None:
            precision = tr.profiles[tr.default_profile]
    return engine_compute_model(req.hw or "", card, work, system, weight_spec=weight_spec,
                                precision=precision)


def _r(v: float) -> float:
    """Fixed float formatting for byte-identical JSON."""
    return float(f"{v:.9g}")


def policy_report(ev: PolicyEval) -> dict[str, Any]:
    x = dict(zip(VARS, ev.x, strict=True))
    return {
        "gpu_batch_size": ev.gbs, "num_gpu_batches": ev.nb, "block_size": ev.bls,
        "fractions": {k: _r(v) for k, v in x.items()},
        "percent_flexgen": [_r(100 * x[k]) for k in ("wg", "wc", "cg", "cc", "hg", "hc")],
        "generation_throughput_tok_per_s": _r(ev.throughput_tok_per_s),
        "decode_throughput_tok_per_s": _r(ev.decode_throughput_tok_per_s) if ev.decode_s > 0 else None,
        "latency_s": _r(ev.latency_s), "prefill_s": _r(ev.prefill_s), "decode_s": _r(ev.decode_s),
        "per_layer": {
            "prefill_s": _r(ev.prefill_layer_s), "decode_s": _r(ev.decode_layer_s),
            "prefill_legs_s": {k: _r(v) for k, v in ev.prefill_legs_s.items()},
            "decode_legs_s": {k: _r(v) for k, v in ev.decode_legs_s.items()},
            "prefill_bottleneck": ev.prefill_bottleneck, "decode_bottleneck": ev.decode_bottleneck,
        },
        "peak_memory_gib": {k: _r(v / GIB) for k, v in ev.peak_by_tier().items()},
        "memory_constraints_gib": {
            name: {"used": _r(used / GIB), "usable": _r(ev.caps_bytes[name.split(' ')[0]] / GIB)}
            for name, used in ev.memory_bytes.items()},
        "binding_constraints": ev.binding(),
    }


@dataclass(frozen=True)
class _Setup:
    card: Any
    shape: OffloadShape
    system: SystemConfig
    work: Workload
    bits: Any
    compute: ComputeModel
    compute_info: dict[str, Any]

    def build(self, req: OffloadRequest, gbs: int, nb: int):
        return build_terms(self.shape, self.system, self.work, self.bits, self.compute, gbs, nb,
                           cpu_cache_compute=req.cpu_cache_compute, overlap=req.overlap_model,
                           memory_model=req.memory_model, cpu_attention=req.cpu_attention)

    def placed(self, req: OffloadRequest, x):
        """The runtime's placement of the requested fractions x (whole tensors, or as given)."""
        x = list(x)
        if req.weight_placement == "tensor":
            x[0:3] = realised_weight_fractions(self.card, 100 * x[0], 100 * x[1])
        return x


def _bits(req: OffloadRequest, shape: OffloadShape, compute_mode_: str) -> TensorBits:
    w_spec, a_spec, kv_spec = _formats(req)
    if req.compression_model == "flexgen-code":
        # the cost model's only compression: wi / 4 (cost_model.py:155-156); the cache stays FP16
        # and there is no dequantization workspace.
        return TensorBits(weight=FLEXGEN_CODE_WEIGHT_BITS if req.compress_weight else 16.0,
                          weight_spec="flexgen-code:w/4" if req.compress_weight else "fp16",
                          dequant_workspace=False)
    return tensor_bits(shape, w_spec, a_spec, kv_spec, dequant_workspace=compute_mode_ != "engine")


def model_card(model: str) -> Any:
    """The model card of `model`: any name or file `--model`/`--trace` accepts (llama-7b or llama7b, ...)."""
    from andasim.workload.loaders import load_workload

    card = load_workload(model).card
    if card is None:
        raise AndasimInputError(f"--model {model}: offloading needs a model's layers; a GeMM list has none")
    return card


def _setup(req: OffloadRequest) -> _Setup:
    _check_request(req)
    card = model_card(req.model)
    shape = OffloadShape.from_card(card)
    max_alpha = MAX_ALPHA_FLEXGEN_CODE if req.memory_model == "flexgen-code" else 1.0
    system = load_system(req.preset).with_relaxation(req.alpha_g, req.alpha_c, req.alpha_n,
                                                     max_alpha=max_alpha)
    work = Workload(req.prompt_len, req.gen_len)
    w_spec, _, _ = _formats(req)
    bits = _bits(req, shape, compute_mode(req, system))
    compute, compute_info = _compute_model(req, system, card, shape, work, w_spec, bits)
    compute_info["requested"] = req.compute
    return _Setup(card, shape, system, work, bits, compute, compute_info)


def run_offload(req: OffloadRequest, progress: Callable[[Iterable], Iterable] | None = None
                ) -> dict[str, Any]:
    """Evaluate or search an offloading policy; raises AndasimInputError for user mistakes,
    including a policy that does not fit (naming the constraint) or a search with no feasible
    policy (naming the tightest constraint)."""
    st = _setup(req)
    card, shape, system, work, bits, compute_info = (st.card, st.shape, st.system, st.work, st.bits,
                                                      st.compute_info)
    w_spec, _, kv_spec = _formats(req)

    def build(gbs: int, nb: int):
        return st.build(req, gbs, nb)

    report: dict[str, Any] = {
        "kind": "andasim.offload", "andasim_version": __version__,
        "inputs": {
            "model": card.name, "model_source": card.source, "system": system.to_dict(),
            "prompt_len": work.prompt_len, "gen_len": work.gen_len,
            "formats": {"weight": bits.weight_spec, "act": bits.act_spec, "kv": bits.kv_spec},
            "bits_per_value": {"weight": _r(bits.weight), "act": _r(bits.act), "kv": _r(bits.kv)},
            "cpu_cache_compute": req.cpu_cache_compute, "overlap_model": req.overlap_model,
            "memory_model": req.memory_model, "compression_model": req.compression_model,
            "cpu_attention": req.cpu_attention, "weight_placement": req.weight_placement,
            "compute": compute_info, "hidden_on_disk_allowed": req.hidden_on_disk,
        },
        "sizes_gib": {
            "weights": _r(weight_bytes(shape, bits) / GIB),
            "kv_cache_per_sequence": _r(kv_cache_bytes(shape, bits, 1, work.prompt_len, work.gen_len) / GIB),
        },
    }
    if req.search:
        realise = None
        if req.weight_placement == "tensor":
            def realise(terms, ev):
                wg, wc, wd = st.placed(req, ev.x)[0:3]
                return solve_placement(terms, hidden_on_disk=req.hidden_on_disk,
                                       fixed={"wg": wg, "wc": wc, "wd": wd})
        res = search(build, max_gbs=req.max_gpu_batch_size, max_nb=req.max_num_gpu_batches,
                     enumeration=req.search_enumeration, hidden_on_disk=req.hidden_on_disk,
                     realise=realise, progress=progress)
        if res.best is None:
            raise AndasimInputError(f"search: {res.infeasible_reason}")
        ev = res.best
        report["mode"] = "search"
        report["search"] = {"max_gpu_batch_size": req.max_gpu_batch_size,
                            "max_num_gpu_batches": req.max_num_gpu_batches,
                            "enumeration": res.enumeration,
                            "selection_rule": SELECTION_RULES[res.enumeration],
                            "stopped_at_bound": res.stopped_at_bound,
                            "not_realisable_as_whole_tensors": res.not_realisable,
                            "points_feasible": len(res.evaluated)}
        report["pareto"] = [{"gpu_batch_size": e.gbs, "num_gpu_batches": e.nb,
                             "latency_s": _r(e.latency_s),
                             "generation_throughput_tok_per_s": _r(e.throughput_tok_per_s),
                             "percent_flexgen": policy_report(e)["percent_flexgen"]}
                            for e in res.pareto()]
    else:
        requested = percent_to_x(tuple(req.percent or ()))
        x = st.placed(req, requested)
        ev = evaluate(build(req.gpu_batch_size or 0, req.num_gpu_batches or 0), x)
        bad = ev.violations()
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise AndasimInputError(f"policy does not fit: {bad[0]}{more}; relax with --alpha-g/--alpha-c/"
                                    "--alpha-n or move data to a lower tier")
        report["mode"] = "evaluate"
        report["requested_percent_flexgen"] = [_r(v) for v in req.percent or ()]
    report["policy"] = policy_report(ev)
    for key in ("generation_throughput_tok_per_s", "prefill_s", "decode_s", "latency_s"):
        report[key] = report["policy"][key]
    if w_spec.startswith("int:") or kv_spec.startswith("int:"):
        ov = native_overhead(shape, card.head_dim, ev.gbs, ev.nb, work.prompt_len, work.gen_len,
                             weights=w_spec.startswith("int:"), cache=kv_spec.startswith("int:"))
        report["native_compute_overhead_ops_per_layer"] = {k: _r(v) for k, v in ov.to_dict().items()}
        if compute_info["mode"] == "engine":
            # if the extra operations ran on the vector unit, one op per FPU per cycle (not in the LP)
            rate = compute_info["vector_fpus"] * compute_info["freq_mhz"] * 1e6
            report["native_compute_overhead_vector_unit_s_per_layer"] = {
                "prefill": _r(ov.weight_native_prefill / rate),
                "decode_step": _r((ov.weight_native_decode_step + ov.kv_native_decode_step) / rate)}
    if req.trace:
        from andasim.workload.loaders import load_workload
        specs = tuple(dict.fromkeys(s for s in (w_spec, FLEXGEN_INT4) if s.startswith("int:")))
        report["weight_error"] = weight_error(load_workload(req.trace), specs)
    return report


def evaluate_policy(model: str, preset: str, percent: tuple[float, ...], gbs: int, nb: int,
                    **kw: Any) -> PolicyEval:
    """Library helper: the PolicyEval of one policy without refusing infeasible ones."""
    req = OffloadRequest(model=model, preset=preset, percent=percent, gpu_batch_size=gbs,
                         num_gpu_batches=nb, **kw)
    st = _setup(req)
    return evaluate(st.build(req, gbs, nb), st.placed(req, percent_to_x(percent)))


__all__ = ["OffloadRequest", "evaluate_policy", "policy_report", "run_offload"]
