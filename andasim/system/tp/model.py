"""Megatron-style tensor parallelism over N chips: partitioning, compute, collectives, overlap.

Per layer, `qkv` and `up` are split by output columns (whole heads; gate and up together), `o`
and `down` by input rows, attention (`qk`, `pv`) by heads, and `lm_head` (if asked for) by
vocabulary columns (the final logits gather is not modelled). Each chip's GeMMs are simulated by
the single-chip engine (`andasim.simulate`); all chips are identical, so one chip -- the most
loaded one when the split is uneven -- sets the latency. After `o` and after `down` the partial
outputs (T x E values, T = batch x tokens in prefill, batch in decode) are all-reduced.

Step latency = compute + Σ exposed communication, where for every collective
    exposed = quantize + (link time - overlap) + dequantize-and-sum,
or, with the named option `codec_pipeline_chunks = C > 1` (the collective cut into C chunks whose
encode, transfer and decode overlap, as EQuARX pipelines them), the three-stage pipeline time
    (q + l + d) / C + (C - 1) / C * max(q, l, d),  l = link time - overlap,
an optimistic bound (every stage, α included, is assumed divisible into C equal parts). The
on-chip terms count every encode and decode the collective's exchange performs (per hop for a
ring all-reduce; `collectives.codec_counts`) and run on the vector unit (ops per value in
`payloads.ops_per_value`, `fpus` ops per cycle) or, for Anda-format partials, on the bit-plane
compressor (M cycles per `lanes` groups of `values_per_lane`), and `overlap` is the link time
hidden by prefetching the next GeMM's weights (that GeMM's DRAM stall, capped by what fits in the
weight buffer), since those weights do not depend on the collective's result. See docs/tensor_parallel.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from andasim.errors import AndasimInputError
from andasim.hw.config import HardwareConfig
from andasim.system.tp.collectives import CollectiveCost, collective_cost, runnable_collectives
from andasim.system.tp.links import LinkModel
from andasim.system.tp.payloads import (
    PayloadSpec,
    anda_mantissa_bits,
    ops_per_value,
    parse_payload,
    uses_compressor,
)
from andasim.workload.gemm import GeMM

DEFAULT_MODULES = ("qkv", "qk", "pv", "o", "up", "down")
SPLITS = ("strict", "uneven")


@dataclass(frozen=True)
class ChipShare:
    """What one (the most loaded) chip holds of a layer."""

    heads: int
    kv_heads: int
    ffn: int
    vocab: int


def chip_share(card: Any, n_chips: int, split: str = "strict") -> ChipShare:
    """Heads, KV heads, FFN width and vocabulary slice of the most loaded chip.

    strict: N must divide the heads and the FFN width, and N must divide the KV heads or be a
    multiple of them (KV heads are then replicated, as Megatron does for GQA). uneven: ceil
    splits; the chip with the largest share sets the latency.
    """
    if isinstance(n_chips, bool) or int(n_chips) != n_chips or n_chips < 1:
        raise AndasimInputError(f"--chips must be an integer >= 1, got {n_chips}")
    if split not in SPLITS:
        raise AndasimInputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    h, kv, ffn = card.n_heads, card.n_kv_heads, card.ffn
    if n_chips > h:
        raise AndasimInputError(f"{card.name} has {h} attention heads; it cannot be split over "
                                f"{n_chips} chips")
    if split == "strict":
        bad = []
        if h % n_chips:
            bad.append(f"heads ({h})")
        if kv % n_chips and n_chips % kv:
            bad.append(f"kv heads ({kv})")
        if ffn % n_chips:
            bad.append(f"ffn ({ffn})")
        if bad:
            raise AndasimInputError(f"{n_chips} chips do not divide the {' and '.join(bad)} of {card.name}; "
                                    "choose another --chips or pass --split uneven (ceil shares, the most "
                                    "loaded chip sets the latency)")
    ceil = lambda a: -(-a // n_chips)  # noqa: E731
    return ChipShare(heads=ceil(h), kv_heads=ceil(kv), ffn=ceil(ffn), vocab=ceil(card.vocab))


def partition_gemms(card: Any, gemms: list[GeMM], n_chips: int, split: str = "strict") -> list[GeMM]:
    """One chip's GeMMs: the unsplit list `gemms` of `card` with Megatron's splits applied."""
    s = chip_share(card, n_chips, split)
    out = []
    for g in gemms:
        if g.module == "qkv":
            g2 = _with(g, n=(s.heads + 2 * s.kv_heads) * card.head_dim)
        elif g.module == "up":
            g2 = _with(g, n=(2 if card.gated else 1) * s.ffn)
        elif g.module == "o":
            g2 = _with(g, k=s.heads * card.head_dim)
        elif g.module == "down":
            g2 = _with(g, k=s.ffn)
        elif g.module in ("qk", "pv"):
            if g.count % card.n_heads:
                raise AndasimInputError(f"{g.name}: count {g.count} is not batch x {card.n_heads} heads")
            g2 = _with(g, count=g.count // card.n_heads * s.heads)
        else:  # lm_head
            g2 = _with(g, n=s.vocab)
        out.append(g2)
    return out


def _with(g: GeMM, **changes: int) -> GeMM:
    data = g.to_dict()
    data.update(changes)
    return GeMM(**data)


def onchip_cycles(hw: HardwareConfig, ps: PayloadSpec, cost: CollectiveCost,
                  codec_ops_per_cycle: int | None = None) -> tuple[int, int]:
    """(encode cycles, decode-and-sum cycles) of one collective on one chip, at the chip clock.

    Element-wise work runs on the vector unit (`fpus` ops per cycle) unless `codec_ops_per_cycle`
    names a different throughput (a what-if for a dedicated codec; not part of the Anda design).
    """
    q_ops, d_ops = ops_per_value(ps)
    fpus = hw.vector_unit.fpus if codec_ops_per_cycle is None else codec_ops_per_cycle
    if fpus < 1:
        raise AndasimInputError(f"codec ops per cycle must be >= 1, got {fpus}")
    if uses_compressor(ps) and hw.compressor is not None:
        per_pass = hw.compressor.lanes * hw.compressor.values_per_lane
        enc = math.ceil(cost.quantized_values / per_pass) * anda_mantissa_bits(ps)
    else:
        enc = math.ceil(cost.quantized_values * q_ops / fpus)
    dec = math.ceil((cost.dequantized_values * d_ops + cost.added_values) / fpus)
    return enc, dec


def payload_bits(ps: PayloadSpec, tokens: int, e: int) -> float:
    """Wire bits per value of `ps` for a T x E partial (metadata included)."""
    if ps.calibrated:
        return ps.bits_per_value(e)
    if ps.kind == "identity":
        return 32.0
    from andasim.formats import get

    assert ps.formats_spec is not None
    return float(get(ps.formats_spec).bits_per_value((tokens, e)))


def pipelined_s(stages_s: tuple[float, ...], chunks: int) -> float:
    """Time of `chunks` equal pieces flowing through sequential stages: Σ/C + (C-1)/C · max."""
    if isinstance(chunks, bool) or int(chunks) != chunks or chunks < 1:
        raise AndasimInputError(f"codec pipeline chunks must be an integer >= 1, got {chunks}")
    return sum(stages_s) / chunks + (chunks - 1) / chunks * max(stages_s)


@dataclass(frozen=True)
class CollectiveTiming:
    after: str                  # GeMM whose partial output is reduced ("L3.o")
    next_gemm: str | None       # GeMM whose weight prefetch overlaps the link time
    cost: CollectiveCost
    encode_s: float
    decode_sum_s: float
    overlap_s: float
    pipeline_chunks: int = 1    # 1: encode, transfer and decode run one after the other

    @property
    def exposed_s(self) -> float:
        stages = (self.encode_s, self.cost.link_time_s - self.overlap_s, self.decode_sum_s)
        return pipelined_s(stages, self.pipeline_chunks)

    def to_dict(self) -> dict[str, Any]:
        return {"after": self.after, "next_gemm": self.next_gemm, "link_time_s": self.cost.link_time_s,
                "encode_s": self.encode_s, "decode_sum_s": self.decode_sum_s, "overlap_s": self.overlap_s,
                "exposed_s": self.exposed_s}


@dataclass(frozen=True)
class TPResult:
    """Latency of one forward step on N chips; all times in seconds, per step unless named."""

    n_chips: int
    phase: str
    seq_len: int
    batch: int
    tokens_per_step: int
    collective: str
    payload: str
    bits_per_value: float
    split: str
    overlap: bool
    codec_ops_per_cycle: int
    codec_pipeline_chunks: int
    link: dict[str, Any]
    compute_s: float
    link_s: float
    encode_s: float
    decode_sum_s: float
    overlap_s: float
    exposed_comm_s: float
    step_latency_s: float
    collectives_per_step: int
    bytes_per_chip_per_collective: float
    link_time_per_collective_s: float
    collectives: tuple[dict[str, Any], ...] = ()   # per collective: where, overlap partner, times
    chip_result: Any = field(repr=False, compare=False, default=None)

    @property
    def per_token_latency_s(self) -> float:
        """Step latency per token of the step (prefill: TTFT / (batch x seq_len); decode: per step)."""
        return self.step_latency_s / (self.tokens_per_step if self.phase == "prefill" else 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("chip_result")
        data["per_token_latency_s"] = self.per_token_latency_s
        return data


def simulate_tp(hw: HardwareConfig, card: Any, precision: Any, link: LinkModel, *, n_chips: int,
                collective: str, payload: str, phase: str = "prefill", seq_len: int = 2048, batch: int = 1,
                kv_len: int | None = None, modules: tuple[str, ...] = DEFAULT_MODULES,
                split: str = "strict", overlap: bool = True,
                codec_ops_per_cycle: int | None = None, codec_pipeline_chunks: int = 1) -> TPResult:
    """Simulate one chip's share with the single-chip engine and add the collectives' cost."""
    from andasim import simulate

    ps = parse_payload(payload)
    pipelined_s((0.0,), codec_pipeline_chunks)  # validates the option before any simulation
    if collective == "ring_allreduce" and ps.calibrated:
        raise AndasimInputError(f"ring_allreduce re-encodes partial sums at every hop; calibrated payload "
                                f"{payload!r} is only defined on single partials: use allgather, oneshot or "
                                "twoshot")
    try:
        full = card.gemms(phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len, modules=modules)
    except ValueError as exc:
        raise AndasimInputError(str(exc)) from None
    chip = partition_gemms(card, full, n_chips, split)
    result = simulate(hw, chip, precision, phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len,
                      modules=modules)
    freq_hz = hw.freq_mhz * 1e6
    tokens = batch * seq_len if phase == "prefill" else batch
    e = card.hidden
    bits = payload_bits(ps, tokens, e)
    stalls = _dram_stall_s(result, chip, freq_hz)
    prefetch_cap_s = hw.buffers.weight.size_bytes / (hw.dram.bw_gb_per_s * 1e9)
    timings: list[CollectiveTiming] = []
    for i, g in enumerate(chip):
        if g.module not in ("o", "down"):
            continue
        cost = collective_cost(collective, n_chips, tokens * e, bits, link)
        enc, dec = onchip_cycles(hw, ps, cost, codec_ops_per_cycle) if n_chips > 1 else (0, 0)
        nxt = next((h for h in chip[i + 1:] if h.weight_operand == "int4"), None)
        hidden = 0.0
        if overlap and nxt is not None and n_chips > 1:
            hidden = min(cost.link_time_s, stalls[chip.index(nxt)], prefetch_cap_s)
        timings.append(CollectiveTiming(g.name, nxt.name if nxt else None, cost, enc / freq_hz,
                                        dec / freq_hz, hidden, codec_pipeline_chunks))
    compute_s = result.latency_s
    link_s = sum(t.cost.link_time_s for t in timings)
    enc_s = sum(t.encode_s for t in timings)
    dec_s = sum(t.decode_sum_s for t in timings)
    ov_s = sum(t.overlap_s for t in timings)
    exposed = sum(t.exposed_s for t in timings)
    first = timings[0].cost if timings else collective_cost(collective, n_chips, 0, bits, link)
    return TPResult(n_chips=n_chips, phase=phase, seq_len=seq_len, batch=batch, tokens_per_step=tokens,
                    collective=collective, payload=ps.spec, bits_per_value=bits, split=split, overlap=overlap,
                    link=link.to_dict(), compute_s=compute_s, link_s=link_s, encode_s=enc_s,
                    decode_sum_s=dec_s, overlap_s=ov_s, exposed_comm_s=exposed,
                    codec_ops_per_cycle=codec_ops_per_cycle or hw.vector_unit.fpus,
                    codec_pipeline_chunks=codec_pipeline_chunks,
                    step_latency_s=compute_s + exposed, collectives_per_step=len(timings),
                    bytes_per_chip_per_collective=first.bytes_sent_per_rank,
                    link_time_per_collective_s=first.link_time_s,
                    collectives=tuple(t.to_dict() for t in timings), chip_result=result)


def _dram_stall_s(result: Any, chip: list[GeMM], freq_hz: float) -> list[float]:
    """Per-GeMM DRAM stall time of the chip's simulation, in the order of `chip`."""
    entries = result.entries
    if [e["name"] for e in entries] != [g.name for g in chip]:
        raise AssertionError("engine entries do not match the chip's GeMM list")
    return [float(e["counters"]["stall_dram_cycles"]) / freq_hz for e in entries]


BF16_BASELINE = "bf16"


def regime_check(hw: HardwareConfig, card: Any, precision: Any, link: LinkModel, *, chips: list[int],
                 phases: list[tuple[str, int, int]], payload: str = "hybrid:k_frac=1/64",
                 collective: str = "allgather", split: str = "strict", overlap: bool = True,
                 codec_ops_per_cycle: int | None = None,
                 codec_pipeline_chunks: int = 1) -> list[dict[str, Any]]:
    """Where a compressed collective beats BF16, per N and (phase, seq_len, batch).

    The candidate (`collective` carrying `payload`) is compared with two BF16 baselines, and each
    row says which is which: the *same algorithm* in BF16 (what compression alone buys) and the
    *best BF16 algorithm* this topology can run (lowest step latency among the collectives it
    allows; what a system would deploy without compression). Verdicts on the link time of one
    collective and on the step latency (link + on-chip encode/decode - overlap, all collectives).
    """
    rows = []
    kw = dict(split=split, overlap=overlap, codec_ops_per_cycle=codec_ops_per_cycle,
              codec_pipeline_chunks=codec_pipeline_chunks)
    for phase, seq_len, batch in phases:
        for n in chips:
            def run(alg: str, fmt: str, n: int = n, phase: str = phase, seq_len: int = seq_len,
                    batch: int = batch) -> TPResult:
                return simulate_tp(hw, card, precision, link, n_chips=n, collective=alg, payload=fmt,
                                   phase=phase, seq_len=seq_len, batch=batch, **kw)

            comp = run(collective, payload)
            bf16 = runnable_collectives(lambda alg: run(alg, BF16_BASELINE))
            same = bf16[collective]
            best_alg = min(bf16, key=lambda a: bf16[a].step_latency_s)  # ties: first in COLLECTIVES
            best = bf16[best_alg]
            rows.append({
                "n_chips": n, "phase": phase, "seq_len": seq_len, "batch": batch,
                "tokens_per_collective": comp.tokens_per_step,
                "compressed": f"{collective} {comp.payload}", "bits_per_value": comp.bits_per_value,
                "compressed_link_s": comp.link_time_per_collective_s,
                "compressed_bytes": comp.bytes_per_chip_per_collective,
                "compressed_codec_step_s": comp.encode_s + comp.decode_sum_s,
                "compressed_exposed_step_s": comp.exposed_comm_s, "compressed_step_s": comp.step_latency_s,
                "bf16_same_algorithm": collective,
                "bf16_same_link_s": same.link_time_per_collective_s,
                "bf16_same_step_s": same.step_latency_s,
                "bf16_best_algorithm": best_alg,
                "bf16_best_link_s": best.link_time_per_collective_s,
                "bf16_best_step_s": best.step_latency_s,
                "bf16_step_s_by_algorithm": {a: r.step_latency_s for a, r in bf16.items()},
                "wins_vs_same_link": comp.link_time_per_collective_s < same.link_time_per_collective_s,
                "wins_vs_same_step": comp.step_latency_s < same.step_latency_s,
                "wins_vs_best_link": comp.link_time_per_collective_s < best.link_time_per_collective_s,
                "wins_vs_best_step": comp.step_latency_s < best.step_latency_s,
                "speedup_vs_best_step": best.step_latency_s / comp.step_latency_s,
            })
    return rows
