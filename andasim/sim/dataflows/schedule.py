"""The fast schedule shared by every dataflow: blocks, DRAM, tiles, compressor, as an O(tiles) recurrence.

The rules (docs/engine.md §4; the same rules, stepped cycle by cycle, in `andasim.sim.reference`):

- Blocks come in the mapping's loop order. Block b's operand read R_b may start once the compute
  of block b-2 has ended (two buffer slots per operand), or of block b-1 when it loads an operand
  that has a single slot (`act_slots` / `weight_slots` = 1: that operand uses the whole buffer).
  Its data is ready `transfer + latency` cycles after the read starts.
- One DRAM channel, non-preemptive: when free it serves the ready job with the earliest ready
  time (reads before writes on a tie, then program order). A transfer of B bits takes
  ceil(B * f / bw) cycles; reads add the latency before their data is usable, writes are posted.
- Tiles of a block run in the dataflow's order (`array` tiles: token tiles x feature tiles,
  row-major; `streamed` tiles: feature tiles x K tiles). A tile starts when the array is free
  and its block's data is ready; its cycles are the dataflow's (see each dataflow module).
- When a tile's last K step ends, its outputs leave the array into the single staging slot of the
  compressor as soon as the compressor has finished the previous tile; the array is free again
  at that moment. The compressor takes M_next * ceil(v / (lanes * 64)) cycles for v values, then
  the tile's outputs are written to DRAM (one write job per tile).
- The GeMM ends when the last compression and the last write have finished.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andasim.sim.dataflows.tiling import ORDER_CODES, PARTIAL_SUM_BITS, TILE_KIND_CODES, Mapping
from andasim.sim.job import GemmJob

# Indices of the raw counter vector returned by `_schedule` (also produced by the reference model).
RAW_KEYS = ("cycles", "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles",
            "pe_busy_cycles", "dram_read_act_bits", "dram_read_weight_bits", "dram_write_bits",
            "compressor_groups", "compressor_cycles", "sram_read_act_mant_bits", "sram_read_act_exp_bits",
            "sram_read_weight_bits", "output_staged_bits", "tiles", "blocks", "dram_busy_cycles",
            "partial_read_bits", "partial_write_bits", "reduction_cycles")
N_RAW = len(RAW_KEYS)


@njit(cache=True)
def _cdiv(a, b):
    return -(-a // b)


@njit(cache=True)
def _levels(ways, per_level):
    n = 0
    w = max(ways, 1) - 1
    while w > 0:
        n += 1
        w >>= 1
    return n * per_level


@njit(cache=True)
def _schedule(m, k, n, count, R, C, lanes, cps, tm, tn, kc, order, kind, ways, rpl, a_slots, w_slots,
              a_grp, a_exp_grp, a_val, w_val, w_scale, sg,
              out_num, out_den, ob_num, ob_den, z_cyc, z_vals, z_vpl,
              freq_hz, bw_bits, lat, psb):  # pragma: no cover - compiled
    raw = np.zeros(20, dtype=np.int64)
    n_mb = _cdiv(m, tm)
    n_nb = _cdiv(n, tn)
    n_kb = _cdiv(k, kc) if order == 2 else 1
    n_outer = n_nb if order == 1 else n_mb
    n_inner = n_mb if order == 1 else n_nb
    tok = R // ways
    # an upper bound on drained tiles (one write job each), ragged blocks included
    n_writes = count * (_cdiv(m, tok) + n_mb) * (_cdiv(n, C) + n_nb)
    wq_ready = np.empty(n_writes, dtype=np.int64)
    wq_bits = np.empty(n_writes, dtype=np.int64)
    head = 0
    tail = 0
    ch_free = 0
    cend_m1 = 0
    cend_m2 = 0
    b = 0
    arr_free = 0
    z_end = 0
    for _inst in range(count):
        for outer in range(n_outer):
            for inner in range(n_inner):
                for kci in range(n_kb):
                    if order == 1:
                        nj = outer
                        mi = inner
                    else:
                        mi = outer
                        nj = inner
                    rows_b = min(tm, m - mi * tm)
                    cols_b = min(tn, n - nj * tn)
                    kk = min(kc, k - kci * kc) if order == 2 else k
                    groups = _cdiv(kk, lanes)
                    act_row = groups * a_grp + kk * a_val
                    act_row_exp = groups * a_exp_grp
                    w_col = kk * w_val + _cdiv(kk, sg) * w_scale
                    if order == 2:
                        load_a = True
                        load_w = True
                    elif order == 0:
                        load_a = inner == 0
                        load_w = n_nb > 1 or outer == 0
                    else:
                        load_w = inner == 0
                        load_a = n_mb > 1 or outer == 0
                    rd_a = rows_b * act_row if load_a else 0
                    rd_w = cols_b * w_col if load_w else 0
                    rd = rd_a + rd_w
                    raw[5] += rd_a
                    raw[6] += rd_w
                    single = (load_a and a_slots == 1) or (load_w and w_slots == 1)
                    # a single-slot operand frees its slot when block b-1 ends, two slots when b-2 ends
                    dep_end = cend_m1 if single else cend_m2
                    r_ready = dep_end if b >= (1 if single else 2) else 0
                    # writes that became ready strictly before this read go first
                    while head < tail and wq_ready[head] < r_ready:
                        s = max(ch_free, wq_ready[head])
                        t = _cdiv(wq_bits[head] * freq_hz, bw_bits)
                        ch_free = s + t
                        raw[16] += t
                        head += 1
                    s = max(ch_free, r_ready)
                    t = _cdiv(rd * freq_hz, bw_bits)
                    ch_free = s + t
                    raw[16] += t
                    data_ready = ch_free + lat
                    last_chunk = order != 2 or kci == n_kb - 1
                    c_end = 0
                    if kind == 0:
                        n_ti = _cdiv(rows_b, tok)
                        n_tj = _cdiv(cols_b, C)
                        spill = n_kb > 1 and n_ti * n_tj > 1
                        sl = min(ways, groups)
                        n_t2 = n_tj
                        n_t1 = n_ti
                    else:
                        n_tj = _cdiv(cols_b, C)
                        n_tk = _cdiv(groups, R)
                        n_t1 = n_tj
                        n_t2 = n_tk
                    for t1 in range(n_t1):
                        for t2 in range(n_t2):
                            if kind == 0:
                                rt = min(tok, rows_b - t1 * tok)
                                ct = min(C, cols_b - t2 * C)
                                red = _levels(sl, rpl) if last_chunk else 0
                                cc = _cdiv(groups, ways) * cps
                                busy = rt * ct * groups * cps
                                sa = rt * act_row
                                sa_exp = rt * act_row_exp
                                sw = ct * w_col
                                p_rd = rt * ct * psb if spill and kci > 0 else 0
                                p_wr = rt * ct * psb if spill and kci < n_kb - 1 else 0
                                if sl > 1 and last_chunk:
                                    p_rd += rt * sl * ct * psb
                                    p_wr += rt * sl * ct * psb
                                drain = last_chunk
                            else:
                                ct = min(C, cols_b - t1 * C)
                                kg = min(R, groups - t2 * R)
                                ke = min(R * lanes, kk - t2 * R * lanes)
                                rt = rows_b
                                red = _levels(kg, rpl)
                                cc = rows_b * cps
                                busy = kg * ct * rows_b * cps
                                ga = _cdiv(ke, lanes)
                                sa = rows_b * (ga * a_grp + ke * a_val)
                                sa_exp = rows_b * ga * a_exp_grp
                                sw = ct * (ke * w_val + _cdiv(ke, sg) * w_scale)
                                p_rd = rows_b * ct * psb if t2 > 0 else 0
                                p_wr = rows_b * ct * psb if t2 < n_tk - 1 else 0
                                drain = t2 == n_tk - 1
                            c_start = max(arr_free, data_ready)
                            raw[2] += c_start - arr_free
                            c_end = c_start + cc + red
                            raw[1] += cc + red
                            raw[19] += red
                            raw[4] += busy
                            raw[10] += sa - sa_exp
                            raw[11] += sa_exp
                            raw[12] += sw
                            raw[17] += p_rd
                            raw[18] += p_wr
                            if drain:
                                v = rt * ct
                                cv = _cdiv(v * out_num, out_den)
                                mv = max(c_end, z_end)
                                raw[3] += mv - c_end
                                cz = 0
                                if z_vals > 0:
                                    cz = z_cyc * _cdiv(cv, z_vals)
                                    raw[8] += _cdiv(cv, z_vpl)
                                raw[9] += cz
                                z_end = mv + cz
                                arr_free = mv
                                raw[13] += v * 16
                                ob = _cdiv(cv * ob_num, ob_den)
                                raw[7] += ob
                                wq_ready[tail] = z_end
                                wq_bits[tail] = ob
                                tail += 1
                                raw[14] += 1
                            else:
                                arr_free = c_end
                    cend_m2 = cend_m1
                    cend_m1 = c_end
                    b += 1
    while head < tail:
        s = max(ch_free, wq_ready[head])
        t = _cdiv(wq_bits[head] * freq_hz, bw_bits)
        ch_free = s + t
        raw[16] += t
        head += 1
    total = max(z_end, ch_free, arr_free)
    raw[3] += z_end - arr_free
    raw[2] += total - max(z_end, arr_free)
    raw[0] = total
    raw[15] = b
    return raw


def schedule_args(job: GemmJob, mp: Mapping) -> tuple[int, ...]:
    """The integer arguments of `_schedule` (shared with the tests)."""
    return (job.m, job.k, job.n, job.count, job.rows, job.cols, job.lanes, job.cps, mp.tm, mp.tn, mp.kc,
            ORDER_CODES[mp.order], TILE_KIND_CODES[mp.tile_kind], mp.k_ways, mp.reduction_cycles_per_level,
            mp.act_slots, mp.weight_slots,
            job.act_group_bits, job.act_group_exp_bits, job.act_value_bits,
            job.w_value_bits, job.w_scale_bits, job.scale_group, job.out_num, job.out_den,
            job.out_bits_num, job.out_bits_den, job.next_m_bits, job.comp_values_per_pass,
            max(job.comp_values_per_lane, 1), job.freq_hz, job.dram_bits_per_s, job.dram_latency_cycles,
            PARTIAL_SUM_BITS)


def run_schedule(job: GemmJob, mp: Mapping) -> dict[str, int]:
    """Raw schedule counters of one GeMM (all `count` repetitions) under mapping `mp`."""
    raw = _schedule(*schedule_args(job, mp))
    return {key: int(raw[i]) for i, key in enumerate(RAW_KEYS)}
