"""The cycle engine's entry point: one GeMM on one design -> `GemmResult`.

The mapper (`andasim.sim.mapping`) picks the dataflow and tiling among those the design supports
and runs the shared schedule (`andasim.sim.dataflows.schedule`, the rules of docs/engine.md §4);
this module turns the schedule's raw counters into the public, additive `Result` counters and adds
the GeMM's roofline bound.
"""

from __future__ import annotations

from andasim.hw.config import HardwareConfig
from andasim.hw.pe import pe_model
from andasim.sim.dataflows.systolic import systolic_counts
from andasim.sim.dataflows.tiling import cdiv
from andasim.sim.job import GemmJob, make_job
from andasim.sim.mapping import map_and_schedule
from andasim.sim.result import GemmResult, zero_counters
from andasim.workload.gemm import GeMM


def roofline_cycles(job: GemmJob) -> float:
    """max(compute at full array use, DRAM transfer of every operand read once and outputs written once).

    Compute: MACs x cps / (R x C x lanes). DRAM: (m x act_bits(k) + n x weight_bits(k) + output bits)
    x count at the DRAM bandwidth. No mapping can beat either (docs/engine.md §6).
    """
    macs = job.m * job.k * job.n * job.count
    compute = macs * job.cps / (job.rows * job.cols * job.lanes)
    out_values = cdiv(job.m * job.n * job.out_num, job.out_den)
    bits = job.count * (job.m * job.act_bits(job.k) + job.n * job.weight_bits(job.k)
                        + cdiv(out_values * job.out_bits_num, job.out_bits_den))
    return max(compute, bits * job.freq_hz / job.dram_bits_per_s)


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
    c["sram_read_bits.output"] = raw["output_staged_bits"] + raw["partial_read_bits"]
    act_exp_loaded = raw["dram_read_act_bits"] * job.act_group_exp_bits // job.act_group_bits \
        if job.act_group_bits else 0
    c["sram_write_bits.act_mantissa"] = raw["dram_read_act_bits"] - act_exp_loaded
    c["sram_write_bits.act_exponent"] = act_exp_loaded
    c["sram_write_bits.weight"] = raw["dram_read_weight_bits"]
    c["sram_write_bits.output"] = raw["output_staged_bits"] + raw["partial_write_bits"]
    c["dram_read_bytes.activation"] = raw["dram_read_act_bits"] / 8
    c["dram_read_bytes.weight" if not job.weight_is_kv else "dram_read_bytes.kv"] = \
        raw["dram_read_weight_bits"] / 8
    c["dram_write_bytes.activation" if job.next_m_bits else "dram_write_bytes.output"] = \
        raw["dram_write_bits"] / 8
    c["dram_busy_cycles"] = raw["dram_busy_cycles"]
    c["compressor_groups"] = raw["compressor_groups"]
    c["compressor_cycles"] = raw["compressor_cycles"]
    c["reduction_cycles"] = raw["reduction_cycles"]
    c["roofline_cycles"] = roofline_cycles(job)
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
    mp, raw = map_and_schedule(job, hw.dataflow)
    attention = job.weight_is_kv
    bops = pe_model(hw).bops_per_mac(job.m_bits or None, attention=attention)
    counters = counters_from_raw(job, raw, bops)
    job_info = {"m_bits": job.m_bits or None, "next_m_bits": job.next_m_bits or None,
                "cycles_per_group": job.cps, "next_k": job.out_num * job.n // job.out_den}
    if "systolic" in hw.dataflow.names:  # SCALE-Sim's own compute report, next to andasim's counters
        stationary = str(hw.dataflow.params("systolic")["stationary"])
        counts = systolic_counts(stationary, gemm.m, gemm.n, gemm.k, job.rows, job.cols)
        job_info["scalesim"] = counts.to_dict()
    return GemmResult(counters=counters, mapping=mp.to_dict(), job=job_info, freq_mhz=hw.freq_mhz)
