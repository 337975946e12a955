"""Collective algorithms of a tensor-parallel all-reduce: one exchange, priced and computed alike.

Each algorithm names its *exchange* (`EXCHANGES`): who encodes, sends, decodes and adds which
values, hop by hop. The α–β price below (`collective_cost`) and the numerics that rebuild the
reduced output (`tp.error.reduce_partials`) both follow that exchange, so what is timed is what is
computed, on every topology (docs/tensor_parallel.md, "Collectives").

With V values per chip (T x E), b bits per value on the wire, `M = V * b / 8` bytes, m = M/N:

| algorithm      | exchange         | steps (α)              | bytes through a chip's ports | bandwidth |
|----------------|------------------|------------------------|------------------------------|-----------|
| ring_allreduce | ring_hop_by_hop  | 2(N-1)                 | 2(N-1)/N * M                 | ring      |
| allgather      | gather           | N-1                    | (N-1) * M                    | ring      |
| oneshot        | gather           | 1                      | (N-1) * M                    | direct    |
| twoshot        | direct_two_stage | 2 over direct links;   | 2(N-1)/N * M;                | direct;   |
|                |                  | 2 floor(N/2) on a ring | 2 floor(N^2/4) * m on a ring | ring      |

Two-shot is a *direct* exchange (every chip sends chunk j straight to its owner j, the owner sums
and re-encodes, then sends the sum to everyone). On a ring the messages are routed along the
shortest path: over the N-1 peers the distances add up to floor(N^2/4) hops, so each chip's ports
carry floor(N^2/4) chunks per stage, and the farthest message takes floor(N/2) hops (one α each).

Codec work per chip (counted wherever the numerics run it; the additions are counted apart):

- ring_hop_by_hop: encodes V ((N-1) hops of V/N, then the reduced chunk V/N once), decodes
  (2N-1)/N V ((N-1) hops of V/N, then all N reduced chunks), adds (N-1)/N V.
- gather: encodes V, decodes N V (its own partial included, so every chip holds the same sum),
  adds (N-1) V.
- direct_two_stage: encodes V + V/N, decodes 2V (N chunks of V/N to sum, then the N reduced
  chunks), adds (N-1)/N V.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from andasim.errors import AndasimInputError
from andasim.system.tp.links import LinkModel

COLLECTIVES = ("ring_allreduce", "allgather", "oneshot", "twoshot")
T = TypeVar("T")
EXCHANGES = {"ring_allreduce": "ring_hop_by_hop", "allgather": "gather", "oneshot": "gather",
             "twoshot": "direct_two_stage"}


@dataclass(frozen=True)
class CollectiveCost:
    """Cost of one all-reduce on one chip (all chips are symmetric)."""

    algorithm: str
    exchange: str               # EXCHANGES[algorithm]: the message pattern priced and computed
    n_chips: int
    values: int                 # elements of the partial per chip (T x E)
    bits_per_value: float       # payload bits per element on the wire, metadata included
    steps: int                  # link latencies α on the critical path
    bytes_sent_per_rank: float  # bytes through one chip's output ports (forwarded bytes included)
    bw_bytes_per_s: float       # bandwidth the algorithm drives per chip (0 when N = 1)
    link_time_s: float          # steps * α + bytes / bandwidth
    quantized_values: float     # values encoded per chip
    dequantized_values: float   # values decoded per chip
    added_values: float         # additions per chip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def codec_counts(exchange: str, n: int, values: float) -> tuple[float, float, float]:
    """(encoded, decoded, added) values per chip of one all-reduce; see the module docstring."""
    v = float(values)
    if exchange == "ring_hop_by_hop":
        return v, (2 * n - 1) / n * v, (n - 1) / n * v
    if exchange == "gather":
        return v, n * v, (n - 1) * v
    if exchange == "direct_two_stage":
        return v + v / n, 2.0 * v, (n - 1) / n * v
    valid = ", ".join(sorted(set(EXCHANGES.values())))
    raise AndasimInputError(f"unknown exchange {exchange!r}; valid: {valid}")


def ring_hop_sum(n: int) -> int:
    """Σ over the N-1 peers of the shortest distance on a bidirectional ring: floor(N²/4)."""
    return sum(min(d, n - d) for d in range(1, n))


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
    exchange = EXCHANGES[algorithm]
    if n == 1:
        return CollectiveCost(algorithm, exchange, 1, values, bits_per_value, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    link.check_buildable(n)
    msg_bytes = values * bits_per_value / 8
    if algorithm == "ring_allreduce":
        steps, sent, bw = 2 * (n - 1), 2 * (n - 1) / n * msg_bytes, link.ring_bw_bytes_per_s(n)
    elif algorithm == "allgather":
        steps, sent, bw = n - 1, (n - 1) * msg_bytes, link.ring_bw_bytes_per_s(n)
    elif algorithm == "oneshot":
        steps, sent, bw = 1, (n - 1) * msg_bytes, link.direct_bw_bytes_per_s(n)
    elif link.topology == "ring" and n > 2:  # twoshot routed over the ring
        steps, sent, bw = 2 * (n // 2), 2 * ring_hop_sum(n) * msg_bytes / n, link.ring_bw_bytes_per_s(n)
    else:  # twoshot over direct links (fully connected, switch, or a 2-chip ring)
        steps, sent, bw = 2, 2 * (n - 1) / n * msg_bytes, link.direct_bw_bytes_per_s(n)
    quant, dequant, added = codec_counts(exchange, n, values)
    time_s = steps * link.alpha_s + sent / bw
    return CollectiveCost(algorithm, exchange, n, values, bits_per_value, steps, sent, bw, time_s,
                          quant, dequant, added)


def runnable_collectives(run: Callable[[str], T]) -> dict[str, T]:
    """`run(algorithm)` for every collective, in COLLECTIVES order, leaving out those the system
    refuses (e.g. one-shot on a ring of N > 2): the candidates a "best algorithm" is chosen from."""
    out: dict[str, T] = {}
    for alg in COLLECTIVES:
        try:
            out[alg] = run(alg)
        except AndasimInputError:
            continue
    return out
