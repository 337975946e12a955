"""`GemmJob`: one GeMM on one design, reduced to the integers the schedule needs.

Both schedule implementations (the numba engine and the per-cycle reference model) read the
same job and the same `Mapping`; everything here is plain integer arithmetic so that the two
can agree to the cycle. Units are bits and cycles; see docs/engine.md for every formula.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from andasim.errors import AndasimInputError
from andasim.hw.config import HardwareConfig
from andasim.hw.pe import ANDA_EXPONENT_BITS, FP16_BITS, WEIGHT_SCALE_BITS, pe_model
from andasim.workload.gemm import GeMM

ATTENTION_MODULES = ("qk", "pv")


@dataclass(frozen=True)
class GemmJob:
    """Integer description of one GeMM on one design (all sizes in bits, times in cycles)."""

    m: int
    k: int
    n: int
    count: int
    rows: int                 # array rows R (tokens of one output tile)
    cols: int                 # array columns C (output features of one output tile)
    lanes: int                # elements per group step (64)
    cps: int                  # cycles per group step of one PE
    m_bits: int               # Anda mantissa width of the input (0: FP16 input)
    # activation bits of one token row over a K chunk of kk elements:
    #   ceil(kk / lanes) * act_group_bits + kk * act_value_bits (one of the two terms is 0)
    act_group_bits: int       # Anda: lanes * (1 + M) + 5 (sign plane, M planes, exponent)
    act_group_exp_bits: int   # Anda: 5 (the part of act_group_bits held in act_exponent)
    act_value_bits: int       # FP16 storage: 16
    # weight bits of one output column over a K chunk: kk * w_value_bits + ceil(kk / sg) * w_scale_bits
    w_value_bits: int
    w_scale_bits: int
    scale_group: int
    # outputs: a tile of v values passes on ceil(v * out_num / out_den) values (the consumer's share,
    # e.g. 1/2 for a gated up projection whose gate half is folded away by the vector unit);
    # written to DRAM as ceil(cv * out_bits_num / out_bits_den) bits
    out_num: int
    out_den: int
    out_bits_num: int
    out_bits_den: int
    next_m_bits: int          # 0: FP16 outputs, no compression
    comp_values_per_pass: int  # compressor lanes * values per lane (0: no compressor pass)
    comp_values_per_lane: int
    # capacities (bits) and DRAM
    act_mant_cap_bits: int
    act_exp_cap_bits: int
    weight_cap_bits: int
    output_cap_bits: int
    dram_bits_per_s: int      # bandwidth, bits per second (integer)
    freq_hz: int
    dram_latency_cycles: int
    anda_storage: bool
    weight_is_kv: bool        # attention: the right operand is the FP16 KV cache

    def act_bits(self, kk: int) -> int:
        return -(-kk // self.lanes) * self.act_group_bits + kk * self.act_value_bits

    def act_exp_bits(self, kk: int) -> int:
        return -(-kk // self.lanes) * self.act_group_exp_bits

    def weight_bits(self, kk: int) -> int:
        return kk * self.w_value_bits + -(-kk // self.scale_group) * self.w_scale_bits

    def transfer_cycles(self, bits: int) -> int:
        """Cycles the DRAM channel is busy moving `bits`: ceil(bits * f / bw), exact integers."""
        return -(-(bits * self.freq_hz) // self.dram_bits_per_s)

    def to_dict(self) -> dict:
        return asdict(self)


def make_job(hw: HardwareConfig, gemm: GeMM, m_bits: int | None, next_m_bits: int | None,
             next_k: int | None = None) -> GemmJob:
    """Reduce `gemm` on `hw` to a `GemmJob`.

    `m_bits`: Anda mantissa width of the input (ignored, may be None, on FP16-storage designs and
    for attention). `next_m_bits`: width the compressor targets for the consumer (None: FP16
    out). `next_k`: input features of the consumer (default `gemm.n`).
    """
    pe = pe_model(hw)
    attention = gemm.module in ATTENTION_MODULES or gemm.weight_operand == "activation"
    fp16_weights = gemm.weight_operand == "fp16"   # a generic GeMM (SCALE-Sim layer): FP16 x FP16
    if fp16_weights and pe.anda_storage:
        raise AndasimInputError(f"{gemm.name}: design {hw.name!r} runs Anda activations; a generic FP16 GeMM "
                                "(e.g. a SCALE-Sim topology layer) needs an FP16 design, e.g. the .cfg's own "
                                "or fp_fp")
    anda_in = pe.anda_storage and not attention
    if anda_in and (m_bits is None or not 1 <= m_bits <= 16):
        raise ValueError(f"{gemm.name}: the Anda design needs a mantissa width 1..16, got {m_bits!r}")
    anda_out = pe.anda_storage and next_m_bits is not None
    lanes = pe.lanes
    gs = hw.activation_group_size
    if anda_in and lanes != gs:
        raise ValueError(f"Anda lanes ({lanes}) must equal the activation group size ({gs})")
    nk = gemm.n if next_k is None else next_k
    if nk <= 0:
        raise ValueError(f"{gemm.name}: next_k must be positive, got {nk}")
    g = math.gcd(nk, gemm.n)
    bufs = hw.buffers
    out_bits_num, out_bits_den = ((gs * (1 + next_m_bits) + ANDA_EXPONENT_BITS, gs) if anda_out
                                  else (FP16_BITS, 1))
    comp = hw.compressor
    return GemmJob(
        m=gemm.m, k=gemm.k, n=gemm.n, count=gemm.count,
        rows=hw.pe_array.rows, cols=hw.pe_array.cols, lanes=lanes,
        cps=pe.cycles_per_group(m_bits if anda_in else None, attention=attention),
        m_bits=int(m_bits) if anda_in else 0,
        act_group_bits=gs * (1 + m_bits) + ANDA_EXPONENT_BITS if anda_in else 0,
        act_group_exp_bits=ANDA_EXPONENT_BITS if anda_in else 0,
        act_value_bits=0 if anda_in else FP16_BITS,
        w_value_bits=FP16_BITS if attention or fp16_weights else hw.weights.bits,
        w_scale_bits=0 if attention or fp16_weights else WEIGHT_SCALE_BITS,
        scale_group=hw.weights.scale_group_size,
        out_num=nk // g, out_den=gemm.n // g,
        out_bits_num=out_bits_num, out_bits_den=out_bits_den,
        next_m_bits=int(next_m_bits) if anda_out else 0,
        comp_values_per_pass=comp.lanes * comp.values_per_lane if (anda_out and comp) else 0,
        comp_values_per_lane=comp.values_per_lane if (anda_out and comp) else 0,
        act_mant_cap_bits=bufs.act_mantissa.size_bytes * 8,
        act_exp_cap_bits=bufs.act_exponent.size_bytes * 8,
        weight_cap_bits=bufs.weight.size_bytes * 8,
        output_cap_bits=bufs.output.size_bytes * 8,
        dram_bits_per_s=round(hw.dram.bw_gb_per_s * 1e9 * 8),
        freq_hz=round(hw.freq_mhz * 1e6),
        dram_latency_cycles=math.ceil(hw.dram.latency_ns * hw.freq_mhz / 1000.0 - 1e-9),
        anda_storage=anda_in,
        weight_is_kv=attention,
    )
