"""What-if studies of compressed tensor-parallel collectives on chips other than Anda.

Two peers report that compressing the all-reduce pays: EQuARX (Ahmed et al., arXiv 2506.17615,
abstract: dynamic block-wise int8 all-reduce in XLA on TPUs with deep pipelining, "1.8x speedup over
baseline BF16 AllReduce") and Hansen-Palmus et al. (arXiv 2411.09510, abstract: fine-grained block
quantization compresses TP activations 3.5-4.5x, "up to 2x reduction of time-to-first-token", the
gain depending on the interconnect). Neither regime appears on the Anda chip (docs/tensor_parallel.md
says why). These studies re-create the peers' conditions with the same α–β collective prices and
codec counts as `andasim tp` (collectives.py), but with the chip described by a few named numbers
instead of a simulated design: its clock, its codec throughput, and (for time-to-first-token) an
effective matmul rate. Every such number is an assumption, named with its source in
`scripts/tp_whatif.py`, and the studies sweep the ones the verdict depends on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from andasim.errors import AndasimInputError
from andasim.system.tp.collectives import collective_cost
from andasim.system.tp.links import LinkModel
from andasim.system.tp.model import payload_bits, pipelined_s
from andasim.system.tp.payloads import ops_per_value, parse_payload


@dataclass(frozen=True)
class ChipAssumptions:
    """The few chip numbers a collective what-if needs; each is an assumption with a stated source."""

    name: str
    clock_hz: float
    codec_ops_per_cycle: float      # element-wise ops per cycle available to encode/decode/add
    matmul_flop_per_s: float = 0.0  # effective dense matmul rate (time-to-first-token studies only)

    def __post_init__(self) -> None:
        for key in ("clock_hz", "codec_ops_per_cycle"):
            if not 0 < getattr(self, key) < float("inf"):
                raise AndasimInputError(f"chip {self.name!r}: {key} must be a positive finite number")
        if not 0 <= self.matmul_flop_per_s < float("inf"):
            raise AndasimInputError(f"chip {self.name!r}: matmul_flop_per_s must be finite and >= 0")


@dataclass(frozen=True)
class CollectiveWhatIf:
    """One all-reduce of a T x E partial on a what-if chip; times in seconds."""

    algorithm: str
    payload: str
    n_chips: int
    bits_per_value: float
    link_s: float
    encode_s: float
    decode_sum_s: float
    pipeline_chunks: int
    exposed_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collective_whatif(chip: ChipAssumptions, link: LinkModel, *, algorithm: str, payload: str,
                      n_chips: int, tokens: int, features: int, pipeline_chunks: int = 1) -> CollectiveWhatIf:
    """Exposed time of one all-reduce: encode, link and decode-and-sum, optionally pipelined.

    Same counts as `andasim tp` (`collectives.codec_counts`, `payloads.ops_per_value`), on
    `chip.codec_ops_per_cycle` ops per cycle at `chip.clock_hz`."""
    ps = parse_payload(payload)
    bits = payload_bits(ps, tokens, features)
    cost = collective_cost(algorithm, n_chips, tokens * features, bits, link)
    q_ops, d_ops = ops_per_value(ps)
    ops_per_s = chip.codec_ops_per_cycle * chip.clock_hz
    enc = cost.quantized_values * q_ops / ops_per_s
    dec = (cost.dequantized_values * d_ops + cost.added_values) / ops_per_s
    exposed = pipelined_s((enc, cost.link_time_s, dec), pipeline_chunks) if n_chips > 1 else 0.0
    return CollectiveWhatIf(algorithm, ps.spec, n_chips, bits, cost.link_time_s, enc, dec, pipeline_chunks,
                            exposed)


def ttft_whatif(chip: ChipAssumptions, link: LinkModel, *, algorithm: str, payload: str, n_chips: int,
                prefill_flop: float, tokens: int, features: int, collectives: int,
                pipeline_chunks: int = 1) -> dict[str, float]:
    """Time to first token: the model's prefill FLOPs split over N chips at the effective matmul rate,
    plus `collectives` exposed all-reduces (2 per layer); no overlap of communication with compute."""
    if not chip.matmul_flop_per_s > 0:
        raise AndasimInputError(f"chip {chip.name!r}: a time-to-first-token study needs matmul_flop_per_s")
    one = collective_whatif(chip, link, algorithm=algorithm, payload=payload, n_chips=n_chips, tokens=tokens,
                            features=features, pipeline_chunks=pipeline_chunks)
    compute_s = prefill_flop / n_chips / chip.matmul_flop_per_s
    comm_s = collectives * one.exposed_s
    return {"compute_s": compute_s, "comm_s": comm_s, "ttft_s": compute_s + comm_s,
            "bits_per_value": one.bits_per_value}
