"""`simulate`: a model (trace, card or GeMM list) on one design -> `Result`.

GeMMs run one after the other (no overlap between GeMMs); each is simulated by the engine
once per distinct (shape, input width, compressor target, consumer width) and reused — the
layers of a transformer repeat, so LLaMA-7B prefill is 4 or 5 engine calls, not 128.

Which width the compressor targets (anda.md §2.4: the M of the consuming module):
qkv -> FP16 (Q, K, V feed the FP16 attention and KV cache), qk -> FP16 (softmax input),
pv -> M_o (the attention output feeds o), o -> M_up, up -> M_down, down -> M_qkv of the next
layer (FP16 after the last layer), lm_head -> FP16. FP16-storage designs never compress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from andasim.errors import AndasimInputError
from andasim.hw.config import HardwareConfig
from andasim.hw.pe import LM_HEAD_ANDA_M_BITS, pe_model
from andasim.sim.engine import simulate_gemm
from andasim.sim.result import GemmResult, Result, entry_from_gemm, zero_counters
from andasim.sim.vector import layer_vector_ops, softmax_elements, vector_cycles
from andasim.workload.gemm import FP_INT_MODULES, MODULE_TYPES, GeMM
from andasim.workload.precision import PrecisionProfile

DEFAULT_MODULES = FP_INT_MODULES  # what the Anda paper evaluates
VECTOR_MODULE = "vector"
PHASES = ("prefill", "decode")
_CONSUMER = {"pv": "o", "o": "up", "up": "down"}

# Work limit: the engine steps through every R x C output tile of every distinct GeMM (1.4e7 tile
# steps per CPU second on large GeMMs, benchmarks/bench_work_estimate.py, docs/performance.md) and
# keeps two int64 queues of one entry per tile, so 1e8 tile steps are under ten CPU seconds and
# at most 1.6 GB; LLaMA2-7B prefill of 32k tokens is 5.4e6. Beyond the limit a run is almost
# always a typo (`--seq-len 1000000000000`); `max_tile_steps=None` (`andasim run --force`) runs it.
MAX_TILE_STEPS = 100_000_000


def estimate_tile_steps(hw: HardwareConfig, gemms: Sequence[GeMM]) -> int:
    """Output tiles the engine will step through: count x ceil(m/R) x ceil(n/C) per distinct shape."""
    rows, cols = hw.pe_array.rows, hw.pe_array.cols
    shapes = {g.shape_key: g for g in gemms}
    return sum(g.count * -(-g.m // rows) * -(-g.n // cols) for g in shapes.values())


def _workload_info(workload: Any) -> tuple[Any, dict[str, Any]]:
    """(card or None, JSON echo of the workload)."""
    if hasattr(workload, "workload_echo"):  # e.g. a SCALE-Sim topology: GeMMs plus its own provenance
        return None, workload.workload_echo()
    if getattr(workload, "card", None) is not None and hasattr(workload, "trace_id"):
        return workload.card, {"trace_id": workload.trace_id, "label": workload.label,
                               "shape_only": bool(workload.shape_only), "model": workload.card.name}
    if hasattr(workload, "gemms") and hasattr(workload, "n_layers"):
        return workload, {"trace_id": None, "label": "model card (shapes only)", "shape_only": True,
                          "model": workload.name}
    label = getattr(workload, "label", "explicit GeMM list")
    return None, {"trace_id": getattr(workload, "trace_id", None), "label": label, "shape_only": True,
                  "model": None}


def simulate(hw: HardwareConfig, workload: Any, precision: PrecisionProfile | None, *,
             phase: str = "prefill", seq_len: int = 2048, batch: int = 1, kv_len: int | None = None,
             modules: Sequence[str] | None = None,
             progress: Callable[[int, int], None] | None = None,
             max_tile_steps: int | None = MAX_TILE_STEPS) -> Result:
    """Simulate `workload` (a Trace, a ModelCard or a list of GeMMs) on `hw`.

    Typed values only (this layer reads no files); `andasim.simulate` also takes names and lists.

    `precision` gives the Anda mantissa width per FP-INT module; it is required for the Anda
    design and echoed (but unused) for the FP16-storage baselines. For a trace or card, `modules`
    defaults to qkv, o, up, down; add qk, pv, lm_head or `vector` (norms, softmax, activations) to
    include them. A GeMM list is simulated as given unless `modules` filters it.
    `progress(done, total)` is called after each distinct GeMM is simulated. A run estimated
    above `max_tile_steps` (see `estimate_tile_steps`) is refused before it starts; None lifts it.
    """
    if phase not in PHASES:
        raise AndasimInputError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    card, workload_echo = _workload_info(workload)
    if modules is None:  # a GeMM list is taken as given; a card or trace defaults to the paper's modules
        modules = DEFAULT_MODULES if card is not None else tuple(dict.fromkeys(g.module for g in workload))
    modules = tuple(modules)
    bad = [m for m in modules if m not in (*MODULE_TYPES, VECTOR_MODULE)]
    if bad:
        valid = ", ".join((*MODULE_TYPES, VECTOR_MODULE))
        raise AndasimInputError(f"unknown module {bad[0]!r}; valid: {valid}")
    gemm_modules = tuple(m for m in modules if m != VECTOR_MODULE)
    if card is not None:
        try:
            gemms = card.gemms(phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len, modules=gemm_modules)
        except ValueError as exc:
            raise AndasimInputError(str(exc)) from None
    else:
        gemms = [g for g in workload if g.module in gemm_modules]
    steps = estimate_tile_steps(hw, gemms)
    if max_tile_steps is not None and steps > max_tile_steps:
        raise AndasimInputError(
            f"this run is about {steps:.3g} tile steps of the engine, above the limit of "
            f"{max_tile_steps:.3g} (~1.4e7 per CPU second); use a smaller --seq-len/--batch or a larger "
            "array, or pass --force (andasim run) to run it anyway")
    pe = pe_model(hw)
    anda = pe.anda_storage
    if anda and precision is None and any(g.module in (*FP_INT_MODULES, "lm_head") for g in gemms):
        raise AndasimInputError(f"design {hw.name!r} stores Anda activations: a precision profile "
                                "(mantissa bits per module) is required")
    n_layers = card.n_layers if card is not None else 1 + max((g.layer for g in gemms), default=-1)
    by_key = {(g.module, g.layer): g for g in gemms}

    def in_bits(g: GeMM) -> int | None:
        if not anda:
            return None
        if g.module in FP_INT_MODULES:
            assert precision is not None
            return precision.bits_for(g.module, g.layer)
        return LM_HEAD_ANDA_M_BITS if g.module == "lm_head" else None

    def consumer(g: GeMM) -> tuple[str, int] | None:
        if g.module in _CONSUMER:
            return _CONSUMER[g.module], g.layer
        if g.module == "down" and g.layer + 1 < n_layers:
            return "qkv", g.layer + 1
        return None

    def next_k(g: GeMM, cons: tuple[str, int] | None) -> int | None:
        if cons is not None and cons in by_key:
            return by_key[cons].k
        if g.module == "up" and card is not None and card.gated:
            return g.n // 2  # the vector unit folds gate * up: the consumer reads half
        return None

    plan = []
    for g in gemms:
        cons = consumer(g)
        nxt = precision.bits_for(*cons) if (anda and cons is not None and precision is not None) else None
        plan.append((g, in_bits(g), nxt, next_k(g, cons)))
    keys = sorted({(g.shape_key, mb, nb, nk) for g, mb, nb, nk in plan}, key=repr)
    cache: dict[Any, GemmResult] = {}
    reps = {(g.shape_key, mb, nb, nk): g for g, mb, nb, nk in plan}
    for i, key in enumerate(keys):
        _, mb, nb, nk = key
        cache[key] = simulate_gemm(hw, reps[key], mb, nb, nk)
        if progress is not None:
            progress(i + 1, len(keys))
    counters = zero_counters()
    entries = []
    for g, mb, nb, nk in plan:
        res = cache[(g.shape_key, mb, nb, nk)]
        info = {"name": g.name, "layer": g.layer, "module": g.module, "m": g.m, "k": g.k, "n": g.n,
                "count": g.count, "weight_operand": g.weight_operand, **res.job}
        entries.append(entry_from_gemm(info, res))
        counters = {key: counters[key] + res.counters[key] for key in counters}
    if VECTOR_MODULE in modules:
        if card is None:
            raise AndasimInputError("the 'vector' module needs a trace or model card "
                                    "(a GeMM list has no norms)")
        rows = batch * seq_len if phase == "prefill" else batch
        scores = softmax_elements(card, phase, seq_len, batch, kv_len)
        for layer in range(card.n_layers):
            ops = layer_vector_ops(card, rows, scores.get(layer, 0))
            cyc = vector_cycles(ops, hw.vector_unit.fpus)
            c = zero_counters()
            c.update({"vector_ops": ops, "vector_cycles": cyc, "cycles": cyc, "compute_cycles": cyc,
                      "pe_idle_cycles": cyc * hw.pe_array.num_pes})
            entries.append({"name": f"L{layer}.vector", "layer": layer, "module": VECTOR_MODULE,
                            "repeat": 1, "counters": c, "latency_s": cyc / (hw.freq_mhz * 1e6)})
            counters = {key: counters[key] + c[key] for key in counters}
    inputs = {
        "hw": hw.to_dict(),
        "workload": workload_echo,
        "precision": precision.to_dict() if precision is not None else None,
        "precision_used": anda,
        "phase": phase, "seq_len": seq_len, "batch": batch, "kv_len": kv_len,
        "modules": list(modules),
    }
    return Result(inputs=inputs, freq_mhz=hw.freq_mhz, entries=entries, counters=counters, hw=hw)
