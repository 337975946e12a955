"""The per-cycle reference model: a deliberately simple simulator of the engine's schedule.

It steps every clock cycle and, in each, every APU of the array, the DRAM channel (bit by
bit of bandwidth), the latency pipeline and the compressor, with the rules of
docs/engine.md written as plainly as possible. It is slow (pure Python, O(cycles x PEs)) and
meant for small arrays (2x2 to 4x4) and small GeMMs, where the tests require the fast engine
(`andasim.sim.engine`) to agree with it exactly on every counter.

Given operands, the APUs also compute: each Anda APU consumes one mantissa bit-plane per cycle
(after the `extra` sign/exponent cycles) into its INT32 shift-accumulator and runs the group
epilogue on the group's last cycle, so the reference also yields the GeMM's numeric output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from andasim.sim import functional as F
from andasim.sim.dataflows.schedule import RAW_KEYS
from andasim.sim.dataflows.tiling import PARTIAL_SUM_BITS, Mapping
from andasim.sim.job import GemmJob


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class _Tile:
    """One unit of array work: which PEs do which (token, feature, group) in each of its cycles."""

    block: int
    r0: int          # first token
    rt: int          # tokens
    c0: int          # first feature
    ct: int          # features
    k0: int          # first K element of the tile
    kk: int          # K elements of the tile
    cycles: int      # array cycles, reduction included
    red: int         # of which adder-tree reduction
    drain: bool      # outputs leave the array after this tile
    first_k: bool    # the tile's outputs start from zero (numeric runs)
    sram_act_bits: int
    sram_act_exp_bits: int
    sram_weight_bits: int
    partial_read_bits: int
    partial_write_bits: int


@dataclass
class _Block:
    index: int
    rd_a: int
    rd_w: int
    depends_on: int  # the block whose compute end frees the buffer slot this read fills (-1: none)
    tiles: list[_Tile] = field(default_factory=list)


def _levels(ways: int, per_level: int) -> int:
    n, w = 0, ways - 1
    while w > 0:  # ceil(log2 ways)
        n, w = n + 1, w // 2
    return n * per_level


def _array_tiles(job: GemmJob, mp: Mapping, b: int, r0: int, rows: int, c0: int, cols: int, k0: int, kk: int,
                 ci: int, n_chunks: int) -> list[_Tile]:
    """Tiles of R / k_ways tokens x C features over the whole chunk, token tiles outer."""
    tok = job.rows // mp.k_ways
    groups = _cdiv(kk, job.lanes)
    last = ci == n_chunks - 1
    ways_used = min(mp.k_ways, groups)
    pairs = [(tr, tc) for tr in range(r0, r0 + rows, tok) for tc in range(c0, c0 + cols, job.cols)]
    spill = n_chunks > 1 and len(pairs) > 1
    tiles = []
    for tr, tc in pairs:
        rt, ct = min(tok, r0 + rows - tr), min(job.cols, c0 + cols - tc)
        red = _levels(ways_used, mp.reduction_cycles_per_level) if last else 0
        p_rd = rt * ct * PARTIAL_SUM_BITS if spill and ci > 0 else 0
        p_wr = rt * ct * PARTIAL_SUM_BITS if spill and not last else 0
        if ways_used > 1 and last:  # the k_ways partial sums of each output pass through the output buffer
            p_rd += rt * ways_used * ct * PARTIAL_SUM_BITS
            p_wr += rt * ways_used * ct * PARTIAL_SUM_BITS
        tiles.append(_Tile(b, tr, rt, tc, ct, k0, kk, _cdiv(groups, mp.k_ways) * job.cps + red, red, last,
                           ci == 0, rt * job.act_bits(kk), rt * job.act_exp_bits(kk),
                           ct * job.weight_bits(kk),
                           p_rd, p_wr))
    return tiles


def _streamed_tiles(job: GemmJob, mp: Mapping, b: int, r0: int, rows: int, c0: int, cols: int, k0: int,
                    kk: int) -> list[_Tile]:
    """Weight-stationary: feature tiles outer, K tiles of R groups inner, the block's tokens streamed."""
    span = job.rows * job.lanes
    k_tiles = [(k, min(span, k0 + kk - k)) for k in range(k0, k0 + kk, span)]
    tiles = []
    for tc in range(c0, c0 + cols, job.cols):
        ct = min(job.cols, c0 + cols - tc)
        for i, (ks, ke) in enumerate(k_tiles):
            red = _levels(_cdiv(ke, job.lanes), mp.reduction_cycles_per_level)
            tiles.append(_Tile(b, r0, rows, tc, ct, ks, ke, rows * job.cps + red, red, i == len(k_tiles) - 1,
                               i == 0, rows * job.act_bits(ke), rows * job.act_exp_bits(ke),
                               ct * job.weight_bits(ke), rows * ct * PARTIAL_SUM_BITS if i > 0 else 0,
                               rows * ct * PARTIAL_SUM_BITS if i < len(k_tiles) - 1 else 0))
    return tiles


def _fold_tiles(job: GemmJob, mp: Mapping, b: int, r0: int, rows: int, c0: int, cols: int, k0: int, kk: int,
                ci: int, n_chunks: int) -> list[_Tile]:
    """Systolic folds (SCALE-Sim's): os R tokens x C features over the chunk, fill + drain R + C - 2;
    ws R K elements x C features with the block's tokens streamed, is R K elements x C tokens with the
    block's features streamed, fill + drain 2R + C - 2; partial sums between K folds in the output buffer."""
    R, C = job.rows, job.cols
    last_chunk = ci == n_chunks - 1
    tiles = []
    if mp.tile_kind == "fold_os":
        pairs = [(tr, tc) for tr in range(r0, r0 + rows, R) for tc in range(c0, c0 + cols, C)]
        spill = n_chunks > 1 and len(pairs) > 1
        for tr, tc in pairs:
            rt, ct = min(R, r0 + rows - tr), min(C, c0 + cols - tc)
            tiles.append(_Tile(b, tr, rt, tc, ct, k0, kk, kk + R + C - 2, 0, last_chunk, ci == 0,
                               rt * job.act_bits(kk), rt * job.act_exp_bits(kk), ct * job.weight_bits(kk),
                               rt * ct * PARTIAL_SUM_BITS if spill and ci > 0 else 0,
                               rt * ct * PARTIAL_SUM_BITS if spill and not last_chunk else 0))
        return tiles
    ws = mp.tile_kind == "fold_ws"
    outer = ([(r0, rows, tc, min(C, c0 + cols - tc)) for tc in range(c0, c0 + cols, C)] if ws else
             [(tr, min(C, r0 + rows - tr), c0, cols) for tr in range(r0, r0 + rows, C)])
    k_folds = [(k, min(R, k0 + kk - k)) for k in range(k0, k0 + kk, R)]
    for tr, rt, tc, ct in outer:
        for i, (ks, ke) in enumerate(k_folds):
            first, last = i == 0 and ci == 0, i == len(k_folds) - 1 and last_chunk
            tiles.append(_Tile(b, tr, rt, tc, ct, ks, ke, 2 * R + C + (rt if ws else ct) - 2, 0, last, first,
                               rt * job.act_bits(ke), rt * job.act_exp_bits(ke), ct * job.weight_bits(ke),
                               rt * ct * PARTIAL_SUM_BITS if not first else 0,
                               rt * ct * PARTIAL_SUM_BITS if not last else 0))
    return tiles


def enumerate_blocks(job: GemmJob, mp: Mapping) -> list[_Block]:
    """Blocks in loop order (all `count` instances), each with its tiles and operand loads."""
    blocks: list[_Block] = []
    n_mb, n_nb = _cdiv(job.m, mp.tm), _cdiv(job.n, mp.tn)
    chunks = [(k0, min(mp.kc, job.k - k0)) for k0 in range(0, job.k, mp.kc)] if mp.order == "k_split" \
        else [(0, job.k)]
    for _inst in range(job.count):
        pairs = ([(mi, nj) for nj in range(n_nb) for mi in range(n_mb)] if mp.order == "weight_outer"
                 else [(mi, nj) for mi in range(n_mb) for nj in range(n_nb)])
        prev_mi = prev_nj = None
        for mi, nj in pairs:
            for ci, (k0, kk) in enumerate(chunks):
                b = len(blocks)
                rows, cols = min(mp.tm, job.m - mi * mp.tm), min(mp.tn, job.n - nj * mp.tn)
                new_a = mp.order == "k_split" or mi != prev_mi
                new_w = mp.order == "k_split" or nj != prev_nj
                single = (new_a and mp.act_slots == 1) or (new_w and mp.weight_slots == 1)
                blk = _Block(index=b, rd_a=rows * job.act_bits(kk) if new_a else 0,
                             rd_w=cols * job.weight_bits(kk) if new_w else 0,
                             depends_on=b - 1 if single else b - 2)
                if mp.tile_kind == "streamed":
                    blk.tiles = _streamed_tiles(job, mp, b, mi * mp.tm, rows, nj * mp.tn, cols, k0, kk)
                elif mp.tile_kind.startswith("fold_"):
                    blk.tiles = _fold_tiles(job, mp, b, mi * mp.tm, rows, nj * mp.tn, cols, k0, kk, ci,
                                            len(chunks))
                else:
                    blk.tiles = _array_tiles(job, mp, b, mi * mp.tm, rows, nj * mp.tn, cols, k0, kk, ci,
                                             len(chunks))
                blocks.append(blk)
            prev_mi, prev_nj = mi, nj
    return blocks


def _pe_work(job: GemmJob, mp: Mapping, tile: _Tile, r: int, c: int, cyc: int) -> tuple[int, int, int] | None:
    """(token, feature, group within the tile) that PE (r, c) works on in cycle `cyc` of the tile, or None."""
    if mp.tile_kind.startswith("fold_"):
        # a systolic fold: PE (r, c) works T consecutive cycles from r + c (the skew); os holds
        # tokens x features (T = kk), ws K elements x features (T = tokens), is K elements x tokens
        # (T = features); the numeric model does not cover folds (no operands here)
        spatial_r, spatial_c, t = {"fold_os": (tile.rt, tile.ct, tile.kk),
                                   "fold_ws": (tile.kk, tile.ct, tile.rt),
                                   "fold_is": (tile.kk, tile.rt, tile.ct)}[mp.tile_kind]
        busy = r < spatial_r and c < spatial_c and r + c <= cyc < r + c + t
        return (0, 0, 0) if busy else None
    if c >= tile.ct or cyc >= tile.cycles - tile.red:
        return None
    groups = _cdiv(tile.kk, job.lanes)
    if mp.tile_kind == "streamed":  # row r holds group r; one token per group step
        return (tile.r0 + cyc // job.cps, tile.c0 + c, r) if r < groups else None
    slot, part = divmod(r, mp.k_ways)
    per_row = _cdiv(groups, mp.k_ways)
    group = part * per_row + cyc // job.cps
    if slot >= tile.rt or group >= min(groups, (part + 1) * per_row):
        return None
    return tile.r0 + slot, tile.c0 + c, group


@dataclass
class Operands:
    """Numeric operands for the reference model (count == 1 GeMMs).

    Anda/pre-aligned designs: `signs`, `mants` [m, G, lanes], `exps` [m, G]; FP16 designs: `a16`
    [m, k]. Weights: `w_int` [k, n] and `scale` [ceil(k / scale_group), n]. `kind` is the PE type.
    """

    kind: str
    w_int: np.ndarray
    scale: np.ndarray
    signs: np.ndarray | None = None
    mants: np.ndarray | None = None
    exps: np.ndarray | None = None
    a16: np.ndarray | None = None
    m_bits: int = 0


class _APU:
    """One PE: its accumulators and what it computes each cycle of a group step."""

    def __init__(self) -> None:
        self.busy_cycles = 0
        self.acc_int = 0
        self.acc32 = 0.0

    def step(self, job: GemmJob, ops: Operands | None, token: int, feature: int, group: int,
             cyc: int) -> None:
        self.busy_cycles += 1
        if ops is None:
            return
        lanes = job.lanes
        k_lo = group * lanes
        extra = job.cps - job.m_bits if ops.kind == "anda_apu" else 0
        if ops.kind == "anda_apu":
            if cyc == 0:
                self.acc_int = 0
            if cyc >= extra:  # one mantissa bit-plane, MSB first, through the adder tree
                bit = job.m_bits - 1 - (cyc - extra)
                p = 0
                for lane in range(lanes):
                    kk = k_lo + lane
                    if kk < job.k and (int(ops.mants[token, group, lane]) >> bit) & 1:
                        w = int(ops.w_int[kk, feature])
                        p += -w if ops.signs[token, group, lane] else w
                self.acc_int = (self.acc_int << 1) + p
        if cyc != job.cps - 1:
            return
        s16 = float(np.float16(ops.scale[k_lo // job.scale_group, feature]))
        hi = min(k_lo + lanes, job.k)
        if ops.kind == "anda_apu":
            g = F.anda_group_value(self.acc_int, int(ops.exps[token, group]), job.m_bits)
            self.acc32 = F.f32(self.acc32 + F.f32(g * s16))
        elif ops.kind in ("figna", "ifpu"):
            acc = sum((-1 if ops.signs[token, group, lane] else 1) * int(ops.mants[token, group, lane])
                      * int(ops.w_int[k_lo + lane, feature]) for lane in range(hi - k_lo))
            g = F.aligned_group_value(acc, int(ops.exps[token, group]), ops.m_bits)
            self.acc32 = F.f32(self.acc32 + F.f32(g * s16))
        elif ops.kind == "fp_int":
            p = 0.0
            for kk in range(k_lo, hi):
                p = F.f32(p + float(ops.a16[token, kk]) * int(ops.w_int[kk, feature]))
            self.acc32 = F.f32(self.acc32 + F.f32(p * s16))
        else:  # fp_fp: FP16-dequantized weights, FP32 accumulation in K order
            for kk in range(k_lo, hi):
                sk = float(np.float16(ops.scale[kk // job.scale_group, feature]))
                w16 = float(np.float16(int(ops.w_int[kk, feature]) * sk))
                self.acc32 = F.f32(self.acc32 + float(ops.a16[token, kk]) * w16)


def simulate_reference(job: GemmJob, mp: Mapping, ops: Operands | None = None,
                       max_cycles: int = 10_000_000) -> tuple[dict[str, int], np.ndarray | None]:
    """Step the schedule cycle by cycle; return the raw counters (schedule.RAW_KEYS) and outputs.

    Numeric outputs (`ops`) need count == 1 and output-stationary array tiles (k_ways = 1); partial
    sums of a tile that leaves the array before its last K chunk are kept per output (the output
    buffer) and restored when the tile comes back.
    """
    if ops is not None and (job.count != 1 or mp.k_ways != 1 or mp.tile_kind != "array"):
        raise ValueError("numeric reference runs need count == 1 and k_ways == 1 array tiles")
    blocks = enumerate_blocks(job, mp)
    tiles = [t for b in blocks for t in b.tiles]
    raw = dict.fromkeys(RAW_KEYS, 0)
    raw["blocks"] = len(blocks)
    pes = [[_APU() for _ in range(job.cols)] for _ in range(job.rows)]
    out = np.zeros((job.m, job.n), dtype=np.float32) if ops is not None else None
    partials: dict[tuple[int, int], float] = {}
    bw, lat = job.dram_bits_per_s, job.dram_latency_cycles
    # DRAM channel and latency pipeline
    next_read = 0
    channel: list | None = None         # [kind, index, remaining bit*Hz units, bits]
    arrivals: list[tuple[int, int]] = []  # (cycle, block) when a read's data becomes usable
    data_ready = [False] * len(blocks)
    block_end = [0] * len(blocks)        # cycle at which the block's last tile finished computing
    writes: list[tuple[int, int, int]] = []  # queue of (ready cycle, tile index, bits)
    block_done = [False] * len(blocks)
    block_tiles_left = [len(b.tiles) for b in blocks]
    # array and compressor
    ti = 0                       # next tile to start
    state = "idle"               # idle | compute | wait_drain
    cur = None                   # [tile, tile index, cycles into the tile]
    comp: list | None = None     # [tile index, cycles left, bits to write]
    t = 0
    while True:
        # ---- phase 1: completions at the boundary t
        for _, b in [a for a in arrivals if a[0] == t]:
            data_ready[b] = True
        arrivals = [a for a in arrivals if a[0] != t]
        if comp is not None and comp[1] == 0:
            writes.append((t, comp[0], comp[2]))
            comp = None
        if state == "compute" and cur[2] == cur[0].cycles:
            tile = cur[0]
            block_tiles_left[tile.block] -= 1
            if block_tiles_left[tile.block] == 0:
                block_done[tile.block] = True
                block_end[tile.block] = t
            if not tile.drain and ops is not None:
                for r in range(tile.rt):
                    for c in range(tile.ct):
                        partials[(tile.r0 + r, tile.c0 + c)] = pes[r][c].acc32
            state = "wait_drain" if tile.drain else "idle"
        if channel is not None and channel[2] <= 0:
            if channel[0] == "read":
                arrivals.append((t + lat, channel[1]))
                if lat == 0:
                    data_ready[channel[1]] = True
                    arrivals.pop()
            channel = None
        # ---- phase 2: decisions at t
        if state == "wait_drain" and comp is None:
            tile = cur[0]
            v = tile.rt * tile.ct
            cv = _cdiv(v * job.out_num, job.out_den)
            cz = job.next_m_bits * _cdiv(cv, job.comp_values_per_pass) if job.comp_values_per_pass else 0
            if job.comp_values_per_pass:
                raw["compressor_groups"] += _cdiv(cv, job.comp_values_per_lane)
            raw["compressor_cycles"] += cz
            raw["output_staged_bits"] += v * 16
            ob = _cdiv(cv * job.out_bits_num, job.out_bits_den)
            raw["dram_write_bits"] += ob
            raw["tiles"] += 1
            if out is not None:
                for r in range(tile.rt):
                    for c in range(tile.ct):
                        out[tile.r0 + r, tile.c0 + c] = F.fp16_round(pes[r][c].acc32)
            comp = [cur[1], cz, ob]
            if cz == 0:
                writes.append((t, comp[0], comp[2]))
                comp = None
            state = "idle"
        if state == "idle" and ti < len(tiles) and data_ready[tiles[ti].block]:
            tile = tiles[ti]
            if ops is not None:
                for r in range(tile.rt):
                    for c in range(tile.ct):
                        pes[r][c].acc32 = 0.0 if tile.first_k else partials[(tile.r0 + r, tile.c0 + c)]
            cur = [tile, ti, 0]
            ti += 1
            state = "compute"
            raw["sram_read_act_mant_bits"] += tile.sram_act_bits - tile.sram_act_exp_bits
            raw["sram_read_act_exp_bits"] += tile.sram_act_exp_bits
            raw["sram_read_weight_bits"] += tile.sram_weight_bits
            raw["partial_read_bits"] += tile.partial_read_bits
            raw["partial_write_bits"] += tile.partial_write_bits
        if channel is None:
            cands = []
            if next_read < len(blocks):
                dep = blocks[next_read].depends_on
                if dep < 0 or block_done[dep]:
                    cands.append((block_end[dep] if dep >= 0 else 0, 0, next_read))
            if writes:
                cands.append((writes[0][0], 1, 0))
            if cands:
                _, kind, idx = min(cands)
                if kind == 0:
                    blk = blocks[idx]
                    bits = blk.rd_a + blk.rd_w
                    raw["dram_read_act_bits"] += blk.rd_a
                    raw["dram_read_weight_bits"] += blk.rd_w
                    channel = ["read", idx, bits * job.freq_hz, bits]
                    next_read += 1
                else:
                    _, _, bits = writes.pop(0)
                    channel = ["write", 0, bits * job.freq_hz, bits]
        # ---- termination: everything computed, compressed and written
        if (ti == len(tiles) and state == "idle" and comp is None and not writes and channel is None
                and next_read == len(blocks)):
            break
        # ---- phase 3: the cycle t itself
        if channel is not None:
            channel[2] -= bw
            raw["dram_busy_cycles"] += 1
        if state == "compute":
            tile, j = cur[0], cur[2]
            for r in range(job.rows):
                for c in range(job.cols):
                    work = _pe_work(job, mp, tile, r, c, j)
                    if work is not None:
                        token, feature, group = work
                        step = j % job.cps
                        pes[r][c].step(job, ops, token, feature, tile.k0 // job.lanes + group, step)
            if j >= tile.cycles - tile.red:
                raw["reduction_cycles"] += 1
            cur[2] += 1
            raw["compute_cycles"] += 1
        elif state == "wait_drain" or (ti == len(tiles) and state == "idle" and comp is not None):
            raw["stall_compressor_cycles"] += 1
        else:
            raw["stall_dram_cycles"] += 1
        if comp is not None:
            comp[1] -= 1
        t += 1
        if t > max_cycles:
            raise RuntimeError(f"reference model exceeded {max_cycles} cycles")
    raw["cycles"] = t
    raw["pe_busy_cycles"] = sum(pe.busy_cycles for row in pes for pe in row)
    return raw, out
