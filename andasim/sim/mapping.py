"""The mapper: how a GeMM is tiled onto the array and in which order blocks come from DRAM.

Output-stationary array of R x C PEs: one output tile is R tokens x C output features; every
PE owns one output and walks the reduction dimension K group by group. Operands reach the chip
in *blocks*: an activation block of `tm` tokens and a weight block of `tn` output features,
both over a K chunk of `kc` elements (the whole K unless the buffers force a split). Each
operand buffer holds two blocks (double buffering), so the next block streams in while the
current one is computed.

Loop orders:
- `act_outer`: for each activation block, stream every weight block (activations read once,
  weights re-read once per activation block unless all of them fit at once);
- `weight_outer`: the converse;
- `k_split`: K does not fit even for one tile: one tile per block, K in chunks, both operands
  re-read (the PE accumulators keep the partial sums between chunks).

The mapper picks the block sizes and order with the least DRAM traffic that fits the
buffers; ties go to the smaller first fetch (less exposed latency), then to fewer blocks, then
to `act_outer`. The choice and the reason come back as `Mapping.reason`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from andasim.errors import AndasimInputError
from andasim.sim.job import GemmJob

ORDERS = ("act_outer", "weight_outer", "k_split")
ORDER_CODES = {name: i for i, name in enumerate(ORDERS)}


@dataclass(frozen=True)
class Mapping:
    """Block sizes (multiples of the array size, clipped to the padded GeMM) and loop order."""

    tm: int
    tn: int
    kc: int
    order: str
    dram_read_bits: int
    act_block_bits: int      # one activation block (the buffers hold two)
    weight_block_bits: int   # one weight block (the buffers hold two)
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _block_sizes(extent: int, unit: int) -> list[int]:
    """Distinct block sizes (multiples of `unit`) giving each possible number of blocks."""
    tiles = _ceil(extent, unit)
    sizes = set()
    for blocks in range(1, tiles + 1):
        sizes.add(_ceil(tiles, blocks) * unit)
    return sorted(sizes)


def _act_fits(job: GemmJob, rows: int, kk: int) -> bool:
    """Two activation blocks of `rows` tokens over `kk` elements fit the activation buffers."""
    exp_bits = 2 * rows * job.act_exp_bits(kk)
    mant_bits = 2 * rows * job.act_bits(kk) - exp_bits
    if job.anda_storage:
        return mant_bits <= job.act_mant_cap_bits and exp_bits <= job.act_exp_cap_bits
    # FP16 storage: the mantissa and exponent SRAMs hold FP16 words together (equal SRAM).
    return mant_bits <= job.act_mant_cap_bits + job.act_exp_cap_bits


def _w_fits(job: GemmJob, cols: int, kk: int) -> bool:
    return 2 * cols * job.weight_bits(kk) <= job.weight_cap_bits


def choose_mapping(job: GemmJob) -> Mapping:
    """The least-DRAM-traffic tiling that fits the buffers (see the module docstring)."""
    staging_bits = 2 * job.rows * job.cols * 16
    if staging_bits > job.output_cap_bits:
        raise AndasimInputError(f"output buffer of {job.output_cap_bits // 8} B cannot stage two "
                                f"{job.rows}x{job.cols} FP16 output tiles ({staging_bits // 8} B needed)")
    a_full = job.m * job.act_bits(job.k)
    w_full = job.n * job.weight_bits(job.k)
    best: tuple | None = None
    if _act_fits(job, job.rows, job.k) and _w_fits(job, job.cols, job.k):
        tms = [t for t in _block_sizes(job.m, job.rows) if _act_fits(job, t, job.k)]
        tns = [t for t in _block_sizes(job.n, job.cols) if _w_fits(job, t, job.k)]
        for tm in tms:
            n_mb = _ceil(job.m, tm)
            for tn in tns:
                n_nb = _ceil(job.n, tn)
                first = min(tm, job.m) * job.act_bits(job.k) + min(tn, job.n) * job.weight_bits(job.k)
                for order in ("act_outer", "weight_outer"):
                    if order == "act_outer":
                        traffic = a_full + w_full * (n_mb if n_nb > 1 else 1)
                    else:
                        traffic = w_full + a_full * (n_nb if n_mb > 1 else 1)
                    key = (traffic * job.count, first, n_mb * n_nb, ORDER_CODES[order], tm, tn)
                    if best is None or key < best:
                        best = key
        assert best is not None
        traffic, _first, _blocks, code, tm, tn = best
        order = ORDERS[code]
        why = ("all weights resident" if order == "act_outer" and tn >= job.n else
               "all activations resident" if order == "weight_outer" and tm >= job.m else
               f"{_ceil(job.m, tm)} activation x {_ceil(job.n, tn)} weight blocks")
        reason = (f"{order}, blocks of {tm} tokens x {tn} features, K={job.k} kept whole ({why}): "
                  f"least DRAM read traffic {traffic // 8} B "
                  f"(operands once: {(a_full + w_full) * job.count // 8} B) "
                  "that fits two blocks per operand buffer")
        return Mapping(tm=tm, tn=tn, kc=job.k, order=order, dram_read_bits=traffic,
                       act_block_bits=min(tm, job.m) * job.act_bits(job.k),
                       weight_block_bits=min(tn, job.n) * job.weight_bits(job.k), reason=reason)
    # K split: one tile per block, the largest K chunk (a multiple of the scale group and the
    # lane count) for which two blocks of each operand fit.
    unit = math.lcm(job.lanes, job.scale_group)
    kc = (job.k // unit) * unit
    while kc >= unit and not (_act_fits(job, job.rows, kc) and _w_fits(job, job.cols, kc)):
        kc -= unit
    if kc < unit:
        raise AndasimInputError(
            f"buffers too small for one {job.rows}x{job.cols} tile even with K split into chunks of {unit}: "
            f"act_mantissa {job.act_mant_cap_bits // 8} B, act_exponent {job.act_exp_cap_bits // 8} B, "
            f"weight {job.weight_cap_bits // 8} B")
    n_mb, n_nb = _ceil(job.m, job.rows), _ceil(job.n, job.cols)
    traffic = (a_full * n_nb + w_full * n_mb) * job.count
    reason = (f"k_split: K={job.k} does not fit for one tile; chunks of {kc}; both operands re-read "
              f"({traffic // 8} B)")
    return Mapping(tm=job.rows, tn=job.cols, kc=kc, order="k_split", dram_read_bits=traffic,
                   act_block_bits=min(job.rows, job.m) * job.act_bits(kc),
                   weight_block_bits=min(job.cols, job.n) * job.weight_bits(kc), reason=reason)

