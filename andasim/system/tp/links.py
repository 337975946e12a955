"""Chip-to-chip links for tensor parallelism: the α–β model's parameters and usable bandwidths.

A collective step costs `α` (one link latency) plus its bytes over the bandwidth the algorithm
can drive. Every chip has `links_per_chip` ports of `link_bw_gb_per_s` each (per direction).
What an algorithm can use depends on the topology (documented in docs/tensor_parallel.md):

- ring: the ports are split evenly between the two ring neighbours (so a ring of N > 2 chips
  needs an even number of ports, at least two; anything else cannot be built and is refused);
  ring algorithms run as counter-rotating rings over all ports, so they drive the chip's full
  injection bandwidth. A one-shot direct exchange needs a link to every peer and is refused on a
  ring; a two-shot exchange is routed hop by hop along the ring (see collectives.py).
- fully_connected: the ports are split evenly over the N-1 peers (`links_per_chip // (N-1)`
  each, refused when that is zero). A ring algorithm uses the ports towards its two neighbours;
  a one-shot exchange uses the ports towards all peers at once.
- switch: all ports go to one non-blocking switch whose traversal is part of `link_latency_ns`;
  every algorithm can drive the full injection bandwidth.

Duplex: every collective here sends and receives the same number of bytes per chip, so a
half-duplex port spends half its time in each direction and delivers half its bandwidth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from andasim.errors import AndasimInputError, ConfigError
from andasim.hw.config import TOPOLOGIES, HardwareConfig

GB = 1e9  # link bandwidths are in GB/s with GB = 1e9 bytes, like the DRAM section of the YAML


@dataclass(frozen=True)
class LinkModel:
    """Link parameters of one chip; identical on every chip of the system."""

    topology: str
    link_bw_gb_per_s: float
    link_latency_ns: float
    links_per_chip: int
    full_duplex: bool

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise AndasimInputError(f"topology {self.topology!r} is not valid; valid: "
                                    + ", ".join(TOPOLOGIES))
        if not self.link_bw_gb_per_s > 0 or self.link_bw_gb_per_s == float("inf"):
            raise AndasimInputError(f"link_bw_gb_per_s must be a positive finite number, got "
                                    f"{self.link_bw_gb_per_s}")
        if not 0 <= self.link_latency_ns < float("inf"):
            raise AndasimInputError("link_latency_ns must be a finite number >= 0, got "
                                    f"{self.link_latency_ns}")
        if isinstance(self.links_per_chip, bool) or int(self.links_per_chip) != self.links_per_chip \
                or self.links_per_chip < 1:
            raise AndasimInputError(f"links_per_chip must be an integer >= 1, got {self.links_per_chip}")

    @property
    def alpha_s(self) -> float:
        """Latency of one collective step, seconds."""
        return self.link_latency_ns * 1e-9

    @property
    def duplex_factor(self) -> float:
        return 1.0 if self.full_duplex else 0.5

    def _port_bw_bytes_per_s(self) -> float:
        return self.link_bw_gb_per_s * GB * self.duplex_factor

    def injection_bw_bytes_per_s(self) -> float:
        """All ports of one chip sending at once (bytes/s)."""
        return self.links_per_chip * self._port_bw_bytes_per_s()

    def check_buildable(self, n_chips: int) -> None:
        """Refuse a system of `n_chips` that this topology and port count cannot wire up."""
        if self.topology == "ring" and n_chips > 2 and (self.links_per_chip < 2 or self.links_per_chip % 2):
            raise AndasimInputError(
                f"a ring of {n_chips} chips splits each chip's ports evenly between its two neighbours, "
                f"so it needs an even links_per_chip >= 2, got {self.links_per_chip}")
        if self.topology == "fully_connected" and n_chips > 1:
            self._ports_per_peer(n_chips)

    def _ports_per_peer(self, n_chips: int) -> int:
        ports = self.links_per_chip // (n_chips - 1)
        if ports == 0:
            raise AndasimInputError(
                f"a fully connected system of {n_chips} chips needs links_per_chip >= {n_chips - 1} "
                f"(one port per peer), got {self.links_per_chip}; use --topology switch or ring, "
                "or more links")
        return ports

    def ring_bw_bytes_per_s(self, n_chips: int) -> float:
        """Bandwidth a ring algorithm (all-reduce, all-gather, two-shot) drives per chip."""
        if self.topology == "fully_connected" and n_chips > 2:
            return 2 * self._ports_per_peer(n_chips) * self._port_bw_bytes_per_s()
        if self.topology == "fully_connected":
            return self._ports_per_peer(n_chips) * self._port_bw_bytes_per_s()
        return self.injection_bw_bytes_per_s()

    def direct_bw_bytes_per_s(self, n_chips: int) -> float:
        """Bandwidth a one-shot direct exchange with all N-1 peers drives per chip."""
        if self.topology == "ring" and n_chips > 2:
            raise AndasimInputError(
                f"a one-shot direct exchange needs a link to every peer; a ring of {n_chips} chips has none "
                "(use --topology fully_connected or switch, or --collective allgather)")
        if self.topology == "fully_connected":
            return (n_chips - 1) * self._ports_per_peer(n_chips) * self._port_bw_bytes_per_s()
        return self.injection_bw_bytes_per_s()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def link_model(hw: HardwareConfig, **overrides: Any) -> LinkModel:
    """The link model of `hw`, with non-None `overrides` (e.g. from CLI flags) taking precedence.

    A design without an `interconnect` section is refused unless every parameter is overridden.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - set(LinkModel.__dataclass_fields__)
    if unknown:
        raise AndasimInputError(f"unknown link option(s) {', '.join(sorted(unknown))}; valid: "
                                + ", ".join(LinkModel.__dataclass_fields__))
    if hw.interconnect is None:
        missing = [k for k in LinkModel.__dataclass_fields__ if k not in given]
        if missing:
            raise ConfigError(
                "this design has no 'interconnect' section; add one to the YAML or give every link option "
                f"(missing: {', '.join('--' + m.replace('_', '-') for m in missing)})",
                file=hw.source, key="interconnect")
        return LinkModel(**given)
    ic = hw.interconnect
    base = LinkModel(topology=ic.topology, link_bw_gb_per_s=ic.link_bw_gb_per_s,
                     link_latency_ns=ic.link_latency_ns, links_per_chip=ic.links_per_chip,
                     full_duplex=ic.full_duplex)
    return replace(base, **given)
