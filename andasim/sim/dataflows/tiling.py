"""What every dataflow shares: the `Mapping` value, buffer-fit rules and block-size enumeration.

A mapping says how one GeMM is cut into DRAM *blocks* (an activation block of `tm` tokens and a
weight block of `tn` output features over a K chunk of `kc` elements), in which loop order the
blocks come, how each block is cut into array *tiles* (the dataflow's job), and how many buffer
slots each operand gets. The schedule (`schedule.py`) and the per-cycle reference model
(`andasim.sim.reference`) read nothing else. Units: bits, elements, cycles.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

from andasim.sim.job import GemmJob

# Loop orders over blocks (codes are what the numba schedule receives).
ORDERS = ("act_outer", "weight_outer", "k_split")
ORDER_CODES = {name: i for i, name in enumerate(ORDERS)}
# How a block is cut into array tiles: `array` tiles are (rows / k_ways) tokens x cols features
# over the block's whole K chunk; `streamed` tiles hold rows K groups x cols features stationary
# while every token of the block streams through (weight-stationary).
# `fold_os`/`fold_ws`/`fold_is` are SCALE-Sim's systolic folds (andasim.sim.dataflows.systolic): os
# R tokens x C features over the chunk; ws R K elements x C features, the block's tokens streamed;
# is R K elements x C tokens, the block's features streamed; each with its fill and drain.
TILE_KINDS = ("array", "streamed", "fold_os", "fold_ws", "fold_is")
TILE_KIND_CODES = {name: i for i, name in enumerate(TILE_KINDS)}
PARTIAL_SUM_BITS = 32   # FP32 partial sums, wherever they are kept (PE accumulators or output buffer)
STAGING_SLOTS = 2       # FP16 output tiles staged ahead of the compressor / DRAM write


@dataclass(frozen=True, init=False)
class Mapping:
    """One tiling of one GeMM: blocks, loop order, tile kind, buffer slots, and why it was chosen."""

    dataflow: str
    tm: int                  # tokens per activation block
    tn: int                  # output features per weight block
    kc: int                  # K elements per chunk (== k unless order is k_split)
    order: str               # act_outer | weight_outer | k_split
    tile_kind: str           # array | streamed
    k_ways: int              # array tiles: K split across this many array rows (1: output-stationary)
    act_slots: int           # activation buffer slots (2: double-buffered, 1: the whole buffer)
    weight_slots: int
    reduction_cycles_per_level: int
    dram_read_bits: int      # operand bits read from DRAM (all `count` repetitions)
    act_block_bits: int      # one activation block
    weight_block_bits: int   # one weight block
    output_buffer_bits: int  # peak output-buffer use: staging or partial sums, whichever is larger
    reason: str = ""

    def __init__(self, dataflow: str, tm: int, tn: int, kc: int, order: str, tile_kind: str, k_ways: int,
                 act_slots: int, weight_slots: int, reduction_cycles_per_level: int, dram_read_bits: int,
                 act_block_bits: int, weight_block_bits: int, output_buffer_bits: int,
                 reason: str = "") -> None:
        # The dataclass-generated frozen __init__ sets each field through object.__setattr__ (~4 us a
        # Mapping); the mapper builds thousands per GeMM. Same fields, same immutability afterwards.
        self.__dict__.update(dataflow=dataflow, tm=tm, tn=tn, kc=kc, order=order, tile_kind=tile_kind,
                             k_ways=k_ways, act_slots=act_slots, weight_slots=weight_slots,
                             reduction_cycles_per_level=reduction_cycles_per_level,
                             dram_read_bits=dram_read_bits, act_block_bits=act_block_bits,
                             weight_block_bits=weight_block_bits, output_buffer_bits=output_buffer_bits,
                             reason=reason)

    def to_dict(self) -> dict:
        return asdict(self)

    def label(self) -> str:
        """Short tiling label for tables: dataflow, block sizes, K chunk, order, ways and slots."""
        cached = self.__dict__.get("_label")  # the mapper sorts thousands of candidates by it
        if cached is None:
            ways = f" ways={self.k_ways}" if self.k_ways > 1 else ""
            slots = "" if (self.act_slots, self.weight_slots) == (2, 2) else \
                f" slots a{self.act_slots}/w{self.weight_slots}"
            cached = f"{self.dataflow} {self.order} {self.tm}x{self.tn}x{self.kc}{ways}{slots}"
            self.__dict__["_label"] = cached  # not a field: equality, hashing and to_dict ignore it
        return cached


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def block_sizes(extent: int, unit: int) -> list[int]:
    """Distinct block sizes (multiples of `unit`) giving each possible number of blocks."""
    return list(_block_sizes(extent, unit))


@functools.lru_cache(maxsize=4096)
def _block_sizes(extent: int, unit: int) -> tuple[int, ...]:
    tiles = cdiv(extent, unit)
    return tuple(sorted({cdiv(tiles, blocks) * unit for blocks in range(1, tiles + 1)}))


def act_fits(job: GemmJob, rows: int, kk: int, slots: int = 2) -> bool:
    """`slots` activation blocks of `rows` tokens over `kk` elements fit the activation buffers."""
    exp_bits = slots * rows * job.act_exp_bits(kk)
    mant_bits = slots * rows * job.act_bits(kk) - exp_bits
    if job.anda_storage:
        return mant_bits <= job.act_mant_cap_bits and exp_bits <= job.act_exp_cap_bits
    # FP16 storage: the mantissa and exponent SRAMs hold FP16 words together (equal SRAM).
    return mant_bits <= job.act_mant_cap_bits + job.act_exp_cap_bits


def weight_fits(job: GemmJob, cols: int, kk: int, slots: int = 2) -> bool:
    return slots * cols * job.weight_bits(kk) <= job.weight_cap_bits


def slots_that_fit(fits, size: int, kk: int) -> int:
    """2 when two blocks fit (double buffering), else 1 when one fits (the whole buffer), else 0."""
    return 2 if fits(size, kk, 2) else 1 if fits(size, kk, 1) else 0


def staging_bits(job: GemmJob) -> int:
    return STAGING_SLOTS * job.rows * job.cols * 16


def k_unit(job: GemmJob) -> int:
    """K chunks are multiples of lcm(lanes, scale group): whole groups and whole weight scales."""
    return math.lcm(job.lanes, job.scale_group)


def balanced_chunk(k: int, max_chunk: int, unit: int) -> int:
    """The chunk for the fewest chunks of at most `max_chunk`, spread evenly (no tiny remainder).

    With n = ceil(k / max_chunk) chunks, each is ceil(k / n) rounded up to `unit` (never above
    max_chunk, which is a multiple of `unit`): K = 4736 with room for 4608 gives 2 x 2368, not
    4608 + 128 (a 128-element remainder cannot hide the next chunk's read).
    """
    n = cdiv(k, max_chunk)
    return min(max_chunk, cdiv(cdiv(k, n), unit) * unit)


def make_mapping(job: GemmJob, dataflow: str, tm: int, tn: int, kc: int, order: str, *,
                 tile_kind: str = "array", k_ways: int = 1, act_slots: int = 2, weight_slots: int = 2,
                 reduction_cycles_per_level: int = 0,
                 partial_bits: int = 0) -> Mapping:
    """A `Mapping` with its DRAM read traffic and block sizes computed from the loop order."""
    n_mb, n_nb = -(-job.m // tm), -(-job.n // tn)  # cdiv inlined: thousands of calls per GeMM
    kk = kc if order == "k_split" else job.k
    memo = job.__dict__.setdefault("_bits_by_chunk", {})  # per job, not a field (job is frozen)
    per_chunk = memo.get((kk, kc))
    if per_chunk is None:  # operand bits read in full over chunks of kk, and per row / column of a kc chunk
        per_chunk = memo[kk, kc] = (job.m * _chunked(job.k, kk, job.act_bits),
                                    job.n * _chunked(job.k, kk, job.weight_bits),
                                    job.act_bits(kc), job.weight_bits(kc), staging_bits(job))
    a_full, w_full, act_row_bits, weight_col_bits, staging = per_chunk
    if order == "act_outer":
        traffic = a_full + w_full * (n_mb if n_nb > 1 else 1)
    elif order == "weight_outer":
        traffic = w_full + a_full * (n_nb if n_mb > 1 else 1)
    else:
        traffic = a_full * n_nb + w_full * n_mb
    return Mapping(dataflow, tm, tn, kc, order, tile_kind, k_ways, act_slots, weight_slots,
                   reduction_cycles_per_level, traffic * job.count,
                   (tm if tm < job.m else job.m) * act_row_bits,
                   (tn if tn < job.n else job.n) * weight_col_bits,
                   staging if staging > partial_bits else partial_bits)


def _chunked(k: int, kc: int, bits) -> int:
    """Bits of one row/column over K read in chunks of kc (scales and groups counted per chunk):
    k // kc whole chunks and the remainder."""
    whole, rest = divmod(k, kc)
    return whole * bits(kc) + (bits(rest) if rest else 0)


def reduction_cycles(ways: int, per_level: int) -> int:
    """Cycles of a pipelined adder tree over `ways` partial sums: ceil(log2 ways) levels."""
    return (max(ways, 1) - 1).bit_length() * per_level
