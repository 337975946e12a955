"""The fast cycle engine: the block/tile schedule of docs/engine.md as an O(tiles) recurrence.

The schedule (identical in `andasim.sim.reference`, which steps every cycle instead):

- Blocks come in the mapper's loop order. Block b's operand read R_b may start once the
  compute of block b-2 has ended (two buffer slots per operand); its data is ready
  `transfer + latency` cycles after it starts.
- One DRAM channel, non-preemptive: when free it serves the ready job with the earliest ready
  time (reads before writes on a tie, then program order). A transfer of B bits takes
  ceil(B * f / bw) cycles; reads add the latency before their data is usable, writes are posted.
- Tiles of a block run in row-major order. A tile starts when the array is free and its block's
  data is ready, and computes ceil(kk / lanes) * cycles_per_group cycles.
- When a tile's last K chunk ends, its outputs leave the PE accumulators into the single
  staging slot of the compressor as soon as the compressor has finished the previous tile; the
  array is free again at that moment. The compressor takes M_next * ceil(v / (lanes * 64))
  cycles for v values, then the tile's outputs are written to DRAM (one write job per tile).
- The GeMM ends when the last compression and the last write have finished.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andasim.hw.config import HardwareConfig
from andasim.hw.pe import pe_model
from andasim.sim.dataflows.systolic import run_systolic_schedule, systolic_counts, whole_stream_mapping
from andasim.sim.job import GemmJob, make_job
from andasim.sim.mapping import ORDER_CODES, Mapping, choose_mapping
from andasim.sim.result import GemmResult, zero_counters
from andasim.workload.gemm import GeMM

# Indices of the raw counter vector returned by `_schedule` (also used by the reference model).
RAW_KEYS = ("cycles", "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles",
            "pe_busy_cycles", "dram_read_act_bits", "dram_read_weight_bits", "dram_write_bits",
            "compressor_groups", "compressor_cycles", "sram_read_act_mant_bits", "sram_read_act_exp_bits",
            "sram_read_weight_bits", "output_staged_bits", "tiles", "blocks", "dram_busy_cycles")
N_RAW = len(RAW_KEYS)


@njit(cache=True)
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@njit(cache=True)
def _schedule(m, k, n, count, R, C, lanes, cps, tm, tn, kc, order,
              a_grp, a_exp_grp, a_val, w_val, w_scale, sg,
              out_num, out_den, ob_num, ob_den, z_cyc, z_vals, z_vpl,
              freq_hz, bw_bits, lat):  # pragma: no cover - compiled
    raw = np.zeros(17, dtype=np.int64)
    n_mb = _cdiv(m, tm)
    n_nb = _cdiv(n, tn)
    n_kb = _cdiv(k, kc) if order == 2 else 1
    n_outer = n_nb if order == 1 else n_mb
    n_inner = n_mb if order == 1 else n_nb
    n_tiles = count * _cdiv(m, R) * _cdiv(n, C)
    wq_ready = np.empty(n_tiles, dtype=np.int64)
    wq_bits = np.empty(n_tiles, dtype=np.int64)
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
                    r_ready = cend_m2 if b >= 2 else 0
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
                    cc = groups * cps
                    drain = order != 2 or kci == n_kb - 1
                    c_end = 0
                    for ti in range(_cdiv(rows_b, R)):
                        rt = min(R, rows_b - ti * R)
                        for tj in range(_cdiv(cols_b, C)):
                            ct = min(C, cols_b - tj * C)
                            c_start = max(arr_free, data_ready)
                            raw[2] += c_start - arr_free
                            c_end = c_start + cc
                            raw[1] += cc
                            raw[4] += rt * ct * cc
                            raw[10] += rt * (act_row - act_row_exp)
                            raw[11] += rt * act_row_exp
                            raw[12] += ct * w_col
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
            ORDER_CODES[mp.order], job.act_group_bits, job.act_group_exp_bits, job.act_value_bits,
            job.w_value_bits, job.w_scale_bits, job.scale_group, job.out_num, job.out_den,
            job.out_bits_num, job.out_bits_den, job.next_m_bits, job.comp_values_per_pass,
            max(job.comp_values_per_lane, 1), job.freq_hz, job.dram_bits_per_s, job.dram_latency_cycles)


def run_schedule(job: GemmJob, mp: Mapping) -> dict[str, int]:
    """Raw schedule counters of one GeMM (all `count` repetitions)."""
    raw = _schedule(*schedule_args(job, mp))
    return {key: int(raw[i]) for i, key in enumerate(RAW_KEYS)}


def counters_from_raw(job: GemmJob, raw: dict[str, int], bops_per_mac: int) -> dict[str, float]:
    """Turn raw schedule counters into the public, flat `Result` counters."""
    c = zero_counters()
    num_pes = job.rows * job.cols
    macs = job.m * job.k * job.n * job.count
    c["cycles"] = raw["cycles"]
    c["compute_cycles"] = raw["compute_cycles"]
    c["stall_dram_cycles"] = raw["stall_dram_cycles"]
    c["stall_compressor_cycles"] = raw["stall_compressor_cycles"]
    c["ideal_compute_cycles"] = macs * job.cps / (num_pes * job.lanes)
    c["macs"] = macs
    c["bops"] = macs * bops_per_mac
    c["pe_busy_cycles"] = raw["pe_busy_cycles"]
    c["pe_idle_cycles"] = num_pes * raw["cycles"] - raw["pe_busy_cycles"]
    c["sram_read_bits.act_mantissa"] = raw["sram_read_act_mant_bits"]
    c["sram_read_bits.act_exponent"] = raw["sram_read_act_exp_bits"]
    c["sram_read_bits.weight"] = raw["sram_read_weight_bits"]
    c["sram_read_bits.output"] = raw["output_staged_bits"]
    act_exp_loaded = raw["dram_read_act_bits"] * job.act_group_exp_bits // job.act_group_bits \
        if job.act_group_bits else 0
    c["sram_write_bits.act_mantissa"] = raw["dram_read_act_bits"] - act_exp_loaded
    c["sram_write_bits.act_exponent"] = act_exp_loaded
    c["sram_write_bits.weight"] = raw["dram_read_weight_bits"]
    c["sram_write_bits.output"] = raw["output_staged_bits"]
    c["dram_read_bytes.activation"] = raw["dram_read_act_bits"] / 8
    c["dram_read_bytes.weight" if not job.weight_is_kv else "dram_read_bytes.kv"] = \
        raw["dram_read_weight_bits"] / 8
    c["dram_write_bytes.activation" if job.next_m_bits else "dram_write_bytes.output"] = \
        raw["dram_write_bits"] / 8
    c["dram_busy_cycles"] = raw["dram_busy_cycles"]
    c["compressor_groups"] = raw["compressor_groups"]
    c["compressor_cycles"] = raw["compressor_cycles"]
    c["tiles"] = raw["tiles"]
    c["blocks"] = raw["blocks"]
    c["gemms"] = job.count
    return c


def simulate_gemm(hw: HardwareConfig, gemm: GeMM, m_bits: int | None, next_m_bits: int | None,
                  next_k: int | None = None) -> GemmResult:
    """Simulate one GeMM (all its `count` repetitions) on `hw`.

    `m_bits`: Anda mantissa width of the input (None on FP16-storage designs and for attention);
    `next_m_bits`: the width the compressor produces for the consuming GeMM (None: FP16 out);
    `next_k`: input features of the consumer (default n; n/2 for a gated up projection).
    """
    job = make_job(hw, gemm, m_bits, next_m_bits, next_k)
    mp = choose_mapping(job)
    systolic = hw.pe_array.pe.systolic_dataflow
    if systolic:
        mp = whole_stream_mapping(job, mp, systolic)
    raw = run_systolic_schedule(job, mp, systolic) if systolic else run_schedule(job, mp)
    attention = job.weight_is_kv
    bops = pe_model(hw).bops_per_mac(job.m_bits or None, attention=attention)
    counters = counters_from_raw(job, raw, bops)
    job_info = {"m_bits": job.m_bits or None, "next_m_bits": job.next_m_bits or None,
                "cycles_per_group": job.cps, "next_k": job.out_num * job.n // job.out_den}
    if systolic:  # SCALE-Sim's own compute report of this GeMM, next to andasim's DRAM-aware counters
        job_info["scalesim"] = systolic_counts(systolic, gemm.m, gemm.n, gemm.k, job.rows, job.cols).to_dict()
    return GemmResult(counters=counters, mapping=mp.to_dict(), job=job_info, freq_mhz=hw.freq_mhz)
