"""PE types: the cycle and cost parameters of one processing element per design.

The engine treats every design as the same output-stationary array; what differs is the PE:
how many cycles one group step (`lanes` MACs of one activation group against one weight
column) takes, how many bit operations a MAC counts for, and how activations sit in memory.
The numeric (functional) model of each PE type lives in `andasim.sim.functional`.

Every number that is not read from the hardware config is a named constant here, with its
provenance, so that a reader can change one reading of the paper without hunting for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from andasim.hw.config import HardwareConfig

# Cycles per 64-element group of the FP16 x FP16 attention matmuls (QK^T, PV) on every design.
# Reading: attention stays FP16 (anda.md §2.3 "keeping the others, e.g., KV cache, in FP16");
# we run it on the MXU at the iso-peak FP16 rate, i.e. the FP-FP design's 16 cycles per group
# (anda.md §6.2b: all designs share the FP-FP peak rate at M + 1 = 16). andasim assumption.
ATTENTION_CYCLES_PER_GROUP = 16

# Mantissa width the Anda design uses for the lm_head input when lm_head is simulated (opt-in;
# the paper evaluates only qkv/o/up/down). M = 13 is "effectively lossless" (anda.md §1.1).
LM_HEAD_ANDA_M_BITS = 13

# Bit operations per MAC (anda.md §3.4: one FP16 x INT4 MAC = 16 x 4 = 64 BOPs, an Anda MAC =
# 4 * M). FP-FP multiplies FP16 activations by FP16-dequantized weights: 16 x 16 = 256 (same
# convention, operand widths multiplied). Pre-aligned designs (iFPU, FIGNA): 4 * mantissa bits
# (the paper's FIGNA ratio 64 / (4 * 13) = 1.23x, anda.md §1.1).
FP16_BITS = 16
BOPS_FP16_FP16 = FP16_BITS * FP16_BITS

# Exponent bits stored per Anda activation group (anda.md §1.1, Fig. 12: 5b shared exponent).
ANDA_EXPONENT_BITS = 5
# Bits of one weight scale factor in memory (FP16; OmniQuant stores FP16 scales). andasim
# assumption: scales are stored as FP16 and zero-points are not stored (symmetric weights).
WEIGHT_SCALE_BITS = 16


@dataclass(frozen=True)
class PEModel:
    """Cycle/cost view of one PE type of a design (derived from its `HardwareConfig`)."""

    pe_type: str
    lanes: int
    extra_cycles_per_group: int | None   # Anda: cycles per group = M + this
    fixed_cycles_per_group: int | None   # bit-parallel / iFPU baselines: independent of M
    compute_mantissa_bits: int | None    # iFPU/FIGNA pre-alignment width
    weight_bits: int

    @property
    def anda_storage(self) -> bool:
        """Activations stored as Anda bit-planes (only the Anda APU); FP16 for every baseline."""
        return self.pe_type == "anda_apu"

    def cycles_per_group(self, m_bits: int | None, attention: bool = False) -> int:
        """Cycles one PE spends on one group step of `lanes` elements.

        Anda: M + extra (anda.md §2.2, one sign/exponent cycle + M plane cycles by default).
        Baselines: the configured fixed value (anda.md §6.2b readings), independent of M.
        Attention (FP16 x FP16) runs at ATTENTION_CYCLES_PER_GROUP on every design.
        """
        if attention:
            return ATTENTION_CYCLES_PER_GROUP
        if self.anda_storage:
            if m_bits is None:
                raise ValueError("the Anda APU needs a mantissa width for an FP-INT GeMM")
            return m_bits + int(self.extra_cycles_per_group or 0)
        return int(self.fixed_cycles_per_group or 0)

    def bops_per_mac(self, m_bits: int | None, attention: bool = False) -> int:
        """Bit operations of one MAC by the anda.md §3.4 convention (see module constants)."""
        if attention or self.pe_type == "fp_fp":
            return BOPS_FP16_FP16
        if self.pe_type == "anda_apu":
            return self.weight_bits * int(m_bits or 0)
        if self.pe_type == "fp_int":
            return FP16_BITS * self.weight_bits
        return self.weight_bits * int(self.compute_mantissa_bits or 0)


def pe_model(hw: HardwareConfig) -> PEModel:
    """The PE model of a design."""
    pe = hw.pe_array.pe
    return PEModel(pe_type=hw.pe_array.pe_type, lanes=pe.lanes,
                   extra_cycles_per_group=pe.extra_cycles_per_group,
                   fixed_cycles_per_group=pe.cycles_per_group,
                   compute_mantissa_bits=pe.compute_mantissa_bits,
                   weight_bits=hw.weights.bits)
