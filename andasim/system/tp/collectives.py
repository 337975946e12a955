"""Collective algorithms of a tensor-parallel all-reduce under the α–β link model.

Each function prices one all-reduce of a `values`-element partial (T x E) per chip, carried in a
payload of `bits_per_value` bits (metadata included), over N chips. With `M = values *
bits_per_value / 8` bytes per chip (standard α–β forms, tp_comm_and_flexgen.md §3.1):

| algorithm        | steps            | bytes sent per rank | bandwidth            |
|------------------|------------------|---------------------|----------------------|
| ring_allreduce   | 2(N-1)           | 2(N-1)/N * M        | ring                 |
| allgather        | N-1              | (N-1) * M           | ring                 |
| oneshot          | 1                | (N-1) * M           | direct (all peers)   |
| twoshot          | 2(N-1) ring, 2 direct | 2(N-1)/N * M   | ring, or direct on fully_connected/switch |

time = steps * α + bytes / bandwidth. The result also counts the values each chip quantizes,
dequantizes and adds, which `tensor_parallel` turns into vector-unit or compressor cycles.
Numerics: allgather/oneshot quantize each partial once and every chip dequantizes and sums all
N payloads (its own included, so that every chip holds the same result); twoshot quantizes each
partial once, the owner of each 1/N chunk sums exactly and re-quantizes the sum once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from andasim.errors import AndasimInputError
from andasim.system.tp.links import LinkModel

COLLECTIVES = ("ring_allreduce", "allgather", "oneshot", "twoshot")


@dataclass(frozen=True)
class CollectiveCost:
    """Cost of one all-reduce on one chip (all chips are symmetric)."""

    algorithm: str
    n_chips: int
    values: int                 # elements of the partial per chip (T x E)
    bits_per_value: float       # payload bits per element on the wire, metadata included
    steps: int
    bytes_sent_per_rank: float
    bw_bytes_per_s: float       # bandwidth the algorithm drives per chip (0 when N = 1)
    link_time_s: float          # steps * α + bytes / bandwidth
    quantized_values: float     # values encoded per chip
    dequantized_values: float   # values decoded per chip
    added_values: float         # additions per chip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collective_cost(algorithm: str, n_chips: int, values: int, bits_per_value: float,
                    link: LinkModel) -> CollectiveCost:
    """Price one all-reduce; see the module docstring for the formulas."""
    if algorithm not in COLLECTIVES:
        raise AndasimInputError(f"unknown collective {algorithm!r}; valid: {', '.join(COLLECTIVES)}")
    if isinstance(n_chips, bool) or int(n_chips) != n_chips or n_chips < 1:
        raise AndasimInputError(f"number of chips must be an integer >= 1, got {n_chips}")
    if values < 0 or not bits_per_value > 0:
        raise AndasimInputError(f"need values >= 0 and bits_per_value > 0, got {values}, {bits_per_value}")
    n = int(n_chips)
    if n == 1:
        return CollectiveCost(algorithm, 1, values, bits_per_value, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    msg_bytes = values * bits_per_value / 8
    if algorithm == "ring_allreduce":
        steps, sent, bw = 2 * (n - 1), 2 * (n - 1) / n * msg_bytes, link.ring_bw_bytes_per_s(n)
        quant, dequant, added = 0.0, 0.0, (n - 1) / n * values
    elif algorithm in ("allgather", "oneshot"):
        sent = (n - 1) * msg_bytes
        if algorithm == "allgather":
            steps, bw = n - 1, link.ring_bw_bytes_per_s(n)
        else:
            steps, bw = 1, link.direct_bw_bytes_per_s(n)
        quant, dequant, added = float(values), float(n * values), float((n - 1) * values)
    else:  # twoshot
        sent = 2 * (n - 1) / n * msg_bytes
        if link.topology == "ring":
            steps, bw = 2 * (n - 1), link.ring_bw_bytes_per_s(n)
        else:
            steps, bw = 2, link.direct_bw_bytes_per_s(n)
        # quantize the partial, decode N chunks of values/N, add, re-quantize the chunk, decode N chunks
        quant = values + values / n
        dequant = 2.0 * values
        added = (n - 1) / n * values
    time_s = steps * link.alpha_s + sent / bw
    return CollectiveCost(algorithm, n, values, bits_per_value, steps, sent, bw, time_s,
                          float(quant), float(dequant), float(added))
