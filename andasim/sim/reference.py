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
from andasim.sim.engine import RAW_KEYS
from andasim.sim.job import GemmJob
from andasim.sim.mapping import Mapping


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class _Block:
    index: int
    r0: int
    rows: int
    c0: int
    cols: int
    k0: int
    kk: int
    rd_a: int
    rd_w: int
    drain: bool
    tiles: list[tuple[int, int, int, int]] = field(default_factory=list)  # (r0, rt, c0, ct)


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
                rows, cols = min(mp.tm, job.m - mi * mp.tm), min(mp.tn, job.n - nj * mp.tn)
                new_a = mp.order == "k_split" or mi != prev_mi
                new_w = mp.order == "k_split" or nj != prev_nj
                blk = _Block(index=len(blocks), r0=mi * mp.tm, rows=rows, c0=nj * mp.tn, cols=cols, k0=k0,
                             kk=kk, rd_a=rows * job.act_bits(kk) if new_a else 0,
                             rd_w=cols * job.weight_bits(kk) if new_w else 0, drain=ci == len(chunks) - 1)
                for tr in range(blk.r0, blk.r0 + rows, job.rows):
                    for tc in range(blk.c0, blk.c0 + cols, job.cols):
                        blk.tiles.append((tr, min(job.rows, blk.r0 + rows - tr), tc,
                                          min(job.cols, blk.c0 + cols - tc)))
                blocks.append(blk)
            prev_mi, prev_nj = mi, nj
    return blocks


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
    """Step the schedule cycle by cycle; return the raw counters (engine.RAW_KEYS) and outputs."""
    if ops is not None and job.count != 1:
        raise ValueError("numeric reference runs need count == 1")
    blocks = enumerate_blocks(job, mp)
    tiles = [(b, t) for b in blocks for t in b.tiles]
    raw = dict.fromkeys(RAW_KEYS, 0)
    raw["blocks"] = len(blocks)
    pes = [[_APU() for _ in range(job.cols)] for _ in range(job.rows)]
    out = np.zeros((job.m, job.n), dtype=np.float32) if ops is not None else None
    bw, lat = job.dram_bits_per_s, job.dram_latency_cycles
    # DRAM channel and latency pipeline
    next_read = 0
    channel: list | None = None         # [kind, index, remaining bit*Hz units, bits]
    arrivals: list[tuple[int, int]] = []  # (cycle, block) when a read's data becomes usable
    data_ready = [False] * len(blocks)
    block_ready_time = [0] * len(blocks)  # ready time of each read (0 or compute end of block b-2)
    writes: list[tuple[int, int, int]] = []  # queue of (ready cycle, tile index, bits)
    block_done = [False] * len(blocks)
    block_tiles_left = [len(b.tiles) for b in blocks]
    # array and compressor
    ti = 0                       # next tile to start
    state = "idle"               # idle | compute | wait_drain
    cur = None                   # (block, tile, tile index, cycles into the tile, total cycles)
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
        if state == "compute" and cur[3] == cur[4]:
            blk = cur[0]
            block_tiles_left[blk.index] -= 1
            if block_tiles_left[blk.index] == 0:
                block_done[blk.index] = True
                if blk.index + 2 < len(blocks):
                    block_ready_time[blk.index + 2] = t
            state = "wait_drain" if blk.drain else "idle"
        if channel is not None and channel[2] <= 0:
            if channel[0] == "read":
                arrivals.append((t + lat, channel[1]))
                if lat == 0:
                    data_ready[channel[1]] = True
                    arrivals.pop()
            channel = None
        # ---- phase 2: decisions at t
        if state == "wait_drain" and comp is None:
            blk, (tr, rt, tc, ct) = cur[0], cur[1]
            v = rt * ct
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
                for r in range(rt):
                    for c in range(ct):
                        out[tr + r, tc + c] = F.fp16_round(pes[r][c].acc32)
            comp = [cur[2], cz, ob]
            if cz == 0:
                writes.append((t, comp[0], comp[2]))
                comp = None
            state = "idle"
        if state == "idle" and ti < len(tiles) and data_ready[tiles[ti][0].index]:
            blk, tile = tiles[ti]
            cc = _cdiv(blk.kk, job.lanes) * job.cps
            if blk.k0 == 0:
                for row in pes:
                    for pe in row:
                        pe.acc32 = 0.0
            cur = [blk, tile, ti, 0, cc]
            ti += 1
            state = "compute"
            tr, rt, tc, ct = tile
            act_row = job.act_bits(blk.kk)
            exp_row = job.act_exp_bits(blk.kk)
            raw["sram_read_act_mant_bits"] += rt * (act_row - exp_row)
            raw["sram_read_act_exp_bits"] += rt * exp_row
            raw["sram_read_weight_bits"] += ct * job.weight_bits(blk.kk)
        if channel is None:
            cands = []
            if next_read < len(blocks) and (next_read < 2 or block_done[next_read - 2]):
                cands.append((block_ready_time[next_read], 0, next_read))
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
            blk, (tr, rt, tc, ct) = cur[0], cur[1]
            j = cur[3]
            group = blk.k0 // job.lanes + j // job.cps
            for r in range(job.rows):
                for c in range(job.cols):
                    if r < rt and c < ct:
                        pes[r][c].step(job, ops, tr + r, tc + c, group, j % job.cps)
            cur[3] += 1
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
