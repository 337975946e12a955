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


# Block runs: how many blocks of a run are stepped, looking for the steady state, before giving up on it.
JUMP_TRIES = 8


@njit(cache=True)
def _jump_ok(d, d_c1, d_c2, d_arr, d_z, wq_ready, wq_cycles, head, tail, s_head, s_tail):
    """True when one block moved every time in the state by the same d and left the same pending writes
    (shifted by d). The recurrence uses only sums, maxima and comparisons of times, so it commutes with a
    shift of all of them: the next identical block then moves the state by d again, and so does every one
    after it, with the same counter increments. That lets `_schedule` advance a run of identical blocks in
    closed form, exactly (docs/engine.md §4; tests/test_engine_reference.py against the per-cycle model)."""
    if not (d_c1 == d and d_c2 == d and d_arr == d and d_z == d and tail - head == s_tail - s_head):
        return False
    for i in range(tail - head):
        if wq_ready[head + i] - wq_ready[s_head + i] != d or wq_cycles[head + i] != wq_cycles[s_head + i]:
            return False
    return True


@njit(cache=True)
def _schedule(m, k, n, count, R, C, lanes, cps, tm, tn, kc, order, kind, ways, rpl, a_slots, w_slots,
              a_grp, a_exp_grp, a_val, w_val, w_scale, sg,
              out_num, out_den, ob_num, ob_den, z_cyc, z_vals, z_vpl,
              freq_hz, bw_bits, lat, psb):  # pragma: no cover - compiled
    raw = np.zeros(N_RAW, dtype=np.int64)
    n_mb = _cdiv(m, tm)
    n_nb = _cdiv(n, tn)
    n_kb = _cdiv(k, kc) if order == 2 else 1
    n_outer = n_nb if order == 1 else n_mb
    n_inner = n_mb if order == 1 else n_nb
    tok = R // ways
    # an upper bound on drained tiles (one write job each), ragged blocks included
    n_writes = count * (_cdiv(m, min(tok, C)) + n_mb) * (_cdiv(n, C) + n_nb)
    wq_ready = np.empty(n_writes, dtype=np.int64)
    wq_cycles = np.empty(n_writes, dtype=np.int64)  # DRAM cycles of each write
    head = 0
    tail = 0
    ch_free = 0
    cend_m1 = 0
    cend_m2 = 0
    b = 0
    arr_free = 0
    z_end = 0
    last_rd = -1
    last_rd_cyc = 0
    last_kk = -1
    groups = act_row = act_row_exp = w_col = cc_array = red_array = 0
    last_rows = last_cols = -1
    n_ti = n_tj = 0
    last_v = -1
    cv = cz = z_groups = ob = w_cyc = 0
    # Steady state (see `_jump_ok`): the state at the start of the last block of a run of identical blocks
    snap = np.zeros(N_RAW, dtype=np.int64)
    s_ch = s_c1 = s_c2 = s_arr = s_z = s_head = s_tail = 0
    # in every row of blocks, blocks 1..run_last are identical: same sizes, same operands loaded (none
    # under a K split, whose chunks differ)
    run_last = -1
    if order == 0:
        run_last = n_inner - 1 if n % tn == 0 else n_inner - 2
    elif order == 1:
        run_last = n_inner - 1 if m % tm == 0 else n_inner - 2
    for _inst in range(count):
        for outer in range(n_outer):
            snap_ok = False
            tries = 0
            inner = 0
            while inner < n_inner:
                if 1 <= inner <= run_last and tries < JUMP_TRIES:
                    if snap_ok and _jump_ok(ch_free - s_ch, cend_m1 - s_c1, cend_m2 - s_c2, arr_free - s_arr,
                                            z_end - s_z, wq_ready, wq_cycles, head, tail, s_head, s_tail):
                        # the last block only shifted the state by d: so will the rest of the run
                        d = ch_free - s_ch
                        jump = run_last - inner + 1
                        for r in range(N_RAW):
                            raw[r] += jump * (raw[r] - snap[r])
                        ch_free += jump * d
                        cend_m1 += jump * d
                        cend_m2 += jump * d
                        arr_free += jump * d
                        z_end += jump * d
                        for i in range(head, tail):
                            wq_ready[i] += jump * d
                        b += jump
                        inner += jump
                        tries = JUMP_TRIES
                        continue
                    tries += 1
                    snap_ok = b >= 2  # from block 2 on every read waits on an earlier block's compute
                    snap[:] = raw
                    s_ch, s_c1, s_c2, s_arr, s_z = ch_free, cend_m1, cend_m2, arr_free, z_end
                    s_head, s_tail = head, tail
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
                    if kk != last_kk:  # integer divisions dominate a small block: redo them on change only
                        last_kk = kk
                        groups = _cdiv(kk, lanes)
                        act_row = groups * a_grp + kk * a_val
                        act_row_exp = groups * a_exp_grp
                        w_col = kk * w_val + _cdiv(kk, sg) * w_scale
                        cc_array = _cdiv(groups, ways) * cps
                        red_array = _levels(min(ways, groups), rpl)
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
                        t = wq_cycles[head]
                        ch_free = max(ch_free, wq_ready[head]) + t
                        raw[16] += t
                        head += 1
                    if rd != last_rd:  # blocks repeat their read size: one division per size change
                        last_rd = rd
                        last_rd_cyc = _cdiv(rd * freq_hz, bw_bits)
                    t = last_rd_cyc
                    ch_free = max(ch_free, r_ready) + t
                    raw[16] += t
                    data_ready = ch_free + lat
                    last_chunk = order != 2 or kci == n_kb - 1
                    c_end = 0
                    if rows_b != last_rows or cols_b != last_cols:
                        last_rows = rows_b
                        last_cols = cols_b
                        n_ti = _cdiv(rows_b, tok)
                        n_tj = _cdiv(cols_b, C)
                    if kind == 0:
                        spill = n_kb > 1 and n_ti * n_tj > 1
                        sl = min(ways, groups)
                        n_t2 = n_tj
                        n_t1 = n_ti
                    elif kind == 1:
                        n_tk = _cdiv(groups, R)
                        n_t1 = n_tj
                        n_t2 = n_tk
                    elif kind == 2:  # systolic os folds: R tokens x C features over the chunk
                        n_t1 = _cdiv(rows_b, R)
                        n_t2 = _cdiv(cols_b, C)
                        spill = n_kb > 1 and n_t1 * n_t2 > 1
                    else:  # systolic ws (feature folds) / is (token folds of C tokens), K folds of R elements
                        n_t1 = _cdiv(cols_b, C) if kind == 3 else _cdiv(rows_b, C)
                        n_t2 = _cdiv(kk, R)
                    for t1 in range(n_t1):
                        t2 = 0
                        while t2 < n_t2:
                            # `run` tiles from (t1, t2) on are identical (array tiles: all but a ragged
                            # last feature tile of the row); the first is stepped, the rest in closed form
                            run = 1
                            if kind == 0:
                                rt = min(tok, rows_b - t1 * tok)
                                ct = min(C, cols_b - t2 * C)
                                if ct == C:
                                    run = n_t2 - t2 if cols_b % C == 0 else n_t2 - 1 - t2
                                red = red_array if last_chunk else 0
                                cc = cc_array
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
                            elif kind == 2:
                                rt = min(R, rows_b - t1 * R)
                                ct = min(C, cols_b - t2 * C)
                                red = 0
                                cc = kk + R + C - 2
                                busy = rt * ct * kk
                                sa = rt * act_row
                                sa_exp = rt * act_row_exp
                                sw = ct * w_col
                                p_rd = rt * ct * psb if spill and kci > 0 else 0
                                p_wr = rt * ct * psb if spill and kci < n_kb - 1 else 0
                                drain = last_chunk
                            elif kind >= 3:
                                ke = min(R, kk - t2 * R)
                                if kind == 3:  # ws: the fold's weights stay, the block's tokens stream
                                    rt = rows_b
                                    ct = min(C, cols_b - t1 * C)
                                    cc = 2 * R + C + rows_b - 2
                                else:  # is: the fold's inputs stay, the block's features stream
                                    rt = min(C, rows_b - t1 * C)
                                    ct = cols_b
                                    cc = 2 * R + C + cols_b - 2
                                red = 0
                                busy = ke * rt * ct
                                ga = _cdiv(ke, lanes)
                                sa = rt * (ga * a_grp + ke * a_val)
                                sa_exp = rt * ga * a_exp_grp
                                sw = ct * (ke * w_val + _cdiv(ke, sg) * w_scale)
                                first = t2 == 0 and kci == 0
                                drain = t2 == n_t2 - 1 and last_chunk
                                p_rd = rt * ct * psb if not first else 0
                                p_wr = rt * ct * psb if not drain else 0
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
                            raw[1] += run * (cc + red)
                            raw[19] += run * red
                            raw[4] += run * busy
                            raw[10] += run * (sa - sa_exp)
                            raw[11] += run * sa_exp
                            raw[12] += run * sw
                            raw[17] += run * p_rd
                            raw[18] += run * p_wr
                            if drain:
                                v = rt * ct
                                if v != last_v:  # outputs of the tile: compressor and write sizes
                                    last_v = v
                                    cv = _cdiv(v * out_num, out_den)
                                    cz = z_cyc * _cdiv(cv, z_vals) if z_vals > 0 else 0
                                    z_groups = _cdiv(cv, z_vpl) if z_vals > 0 else 0
                                    ob = _cdiv(cv * ob_num, ob_den)
                                    w_cyc = _cdiv(ob * freq_hz, bw_bits)
                                raw[8] += run * z_groups
                                raw[9] += run * cz
                                raw[13] += run * v * 16
                                raw[7] += run * ob
                                raw[14] += run
                                mv = max(c_end, z_end)
                                raw[3] += mv - c_end
                                # every later tile of the run starts when the array frees (the data are
                                # there) and leaves when the compressor is free: a period max(A, Z)
                                period = max(cc + red, cz)
                                raw[3] += (run - 1) * (period - (cc + red))
                                for i in range(run):
                                    wq_ready[tail + i] = mv + i * period + cz
                                    wq_cycles[tail + i] = w_cyc
                                tail += run
                                if run > 1:
                                    c_end = mv + (run - 2) * period + cc + red
                                arr_free = mv + (run - 1) * period
                                z_end = arr_free + cz
                            else:
                                c_end += (run - 1) * (cc + red)
                                arr_free = c_end
                            t2 += run
                    cend_m2 = cend_m1
                    cend_m1 = c_end
                    b += 1
                inner += 1
    while head < tail:
        t = wq_cycles[head]
        ch_free = max(ch_free, wq_ready[head]) + t
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
