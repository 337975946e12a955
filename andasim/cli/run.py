"""`andasim run`: simulate a model trace on one design and write result.json + per_layer.csv."""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from andasim.errors import AndasimInputError

_LIST_RE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*){3}$")

CSV_COLUMNS = (
    "name", "layer", "module", "m", "k", "n", "count", "repeat", "m_bits", "next_m_bits", "cycles_per_group",
    "mapping_order", "block_m", "block_n", "k_chunk", "cycles", "latency_s", "utilization",
    "compute_cycles", "stall_dram_cycles", "stall_compressor_cycles", "macs", "bops",
    "dram_read_activation_bytes", "dram_read_weight_bytes", "dram_read_kv_bytes",
    "dram_write_activation_bytes", "dram_write_output_bytes", "compressor_cycles", "vector_ops",
    "vector_cycles",
)


def resolve_profile(trace, precision: str | None, design_is_anda: bool, hw_name: str):
    """The precision profile to use: a trace profile name, a YAML file, or `7,6,6,6`.

    Without --precision the trace's default profile; none at all only for FP16 designs.
    """
    from andasim.workload.precision import PrecisionProfile, load_profile

    names = ", ".join(sorted(trace.profiles)) or "none"
    if precision is None:
        if trace.default_profile is not None:
            return trace.profiles[trace.default_profile]
        if design_is_anda:
            raise AndasimInputError(
                f"trace {trace.trace_id} has no default precision profile and design {hw_name} needs one; "
                f"pass --precision NAME (trace profiles: {names}), a profile YAML file, "
                "or a list such as 7,6,6,6")
        return None
    if precision in trace.profiles:
        return trace.profiles[precision]
    if _LIST_RE.match(precision):
        bits = [int(x) for x in precision.split(",")]
        try:
            return PrecisionProfile.from_list(bits, name=f"custom:{','.join(map(str, bits))}",
                                              source="command line --precision")
        except ValueError as exc:
            raise AndasimInputError(f"--precision {precision}: {exc}") from None
    path = Path(precision)
    if path.is_file():
        return load_profile(path)
    raise AndasimInputError(f"--precision {precision!r}: not a profile of trace {trace.trace_id} ({names}), "
                            "not a file, and not a list M_qkv,M_o,M_up,M_down")


def per_layer_csv(result) -> str:
    """Tidy per-GeMM rows with unit-suffixed columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in result.entries:
        c = e["counters"]
        mp = e.get("mapping", {})
        row = {
            "name": e["name"], "layer": e["layer"], "module": e["module"], "m": e.get("m", ""),
            "k": e.get("k", ""), "n": e.get("n", ""), "count": e.get("count", ""), "repeat": e["repeat"],
            "m_bits": e.get("m_bits") or "", "next_m_bits": e.get("next_m_bits") or "",
            "cycles_per_group": e.get("cycles_per_group", ""), "mapping_order": mp.get("order", ""),
            "block_m": mp.get("tm", ""), "block_n": mp.get("tn", ""), "k_chunk": mp.get("kc", ""),
            "cycles": int(c["cycles"]), "latency_s": f"{e['latency_s']:.9g}",
            "utilization": f"{e.get('utilization', 0.0):.6f}",
            "compute_cycles": int(c["compute_cycles"]), "stall_dram_cycles": int(c["stall_dram_cycles"]),
            "stall_compressor_cycles": int(c["stall_compressor_cycles"]), "macs": int(c["macs"]),
            "bops": int(c["bops"]),
            "dram_read_activation_bytes": f"{c['dram_read_bytes.activation']:g}",
            "dram_read_weight_bytes": f"{c['dram_read_bytes.weight']:g}",
            "dram_read_kv_bytes": f"{c['dram_read_bytes.kv']:g}",
            "dram_write_activation_bytes": f"{c['dram_write_bytes.activation']:g}",
            "dram_write_output_bytes": f"{c['dram_write_bytes.output']:g}",
            "compressor_cycles": int(c["compressor_cycles"]), "vector_ops": int(c["vector_ops"]),
            "vector_cycles": int(c["vector_cycles"]),
        }
        writer.writerow([row[col] for col in CSV_COLUMNS])
    return buf.getvalue()


@click.command()
@click.option("--hw", "hw_name", required=True,
              help="Design: a YAML path, a SCALE-Sim .cfg, or a bundled name (anda, pe64, fp_fp, ...).")
@click.option("--trace", "trace_name", required=True,
              help="Trace: a bundled name (llama7b, opt6.7b, ...), a trace file, or a SCALE-Sim "
                   "topology CSV (GEMM or convolution form).")
@click.option("--precision", default=None,
              help="Profile name from the trace, a profile YAML file, or M_qkv,M_o,M_up,M_down "
                   "(e.g. 7,6,6,6). Default: the trace's default profile.")
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Tokens per sequence (prefill) or context length (decode).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--kv-len", type=click.IntRange(min=1), default=None,
              help="Keys attended to (default: seq-len). Only matters with qk/pv.")
@click.option("--modules", default="qkv,o,up,down", show_default=True,
              help="Comma list from qkv,o,up,down,qk,pv,lm_head,vector (a SCALE-Sim topology: gemm, "
                   "its default).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (created); gets result.json, per_layer.csv and summary.txt.")
def run(hw_name: str, trace_name: str, precision: str | None, phase: str, seq_len: int, batch: int,
        kv_len: int | None, modules: str, out_dir: str) -> None:
    """Simulate one model trace on one hardware design.

    Writes OUT/result.json (every counter, the inputs echoed, deterministic) and
    OUT/per_layer.csv (one row per GeMM, unit-suffixed columns), and prints a summary.
    The Anda design needs a precision profile: the trace's default, or --precision.

    \b
    Example:
      andasim run --hw pe64 --trace llama7b --out out/demo
      andasim run --hw fp_fp --trace llama7b --phase decode --out out/fp_decode
    """
    from tqdm import tqdm

    from andasim.hw.config import load_hw
    from andasim.report.run_report import (
        append_energy_columns,
        energy_report,
        enrich_with_energy,
        summary_text,
    )
    from andasim.report.scalesim_compare import compare_csv, compare_lines, has_scalesim, source_lines
    from andasim.report.writers import dumps_json, write_text
    from andasim.sim.simulate import simulate
    from andasim.workload.trace import load_trace

    hw = load_hw(hw_name)
    trace = load_trace(trace_name)
    mods = tuple(m.strip() for m in modules.split(",") if m.strip())
    topology = hasattr(trace, "workload_echo")  # a SCALE-Sim topology: its GeMMs are module `gemm`
    if topology and click.get_current_context().get_parameter_source("modules") == ParameterSource.DEFAULT:
        mods = ("gemm",)
    if topology and hw.activation_storage == "anda":
        raise AndasimInputError(f"{trace_name}: a SCALE-Sim topology's GeMMs are FP16 x FP16 and design "
                                f"{hw.name} runs Anda activations; use a SCALE-Sim .cfg or an FP16 design "
                                "(fp_fp, fp_int, ...)")
    profile = resolve_profile(trace, precision, hw.activation_storage == "anda", hw.name)
    bar = tqdm(total=0, desc="simulating distinct GeMMs", unit="gemm", file=sys.stderr, disable=None,
               leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    result = simulate(hw, trace, profile, phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len,
                      modules=mods, progress=progress)
    bar.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    energy = energy_report(result, hw)
    write_text(out / "result.json", dumps_json(enrich_with_energy(result, hw)))
    write_text(out / "per_layer.csv", append_energy_columns(per_layer_csv(result), result, hw))
    # inputs translated from SCALE-Sim files: what was taken and ignored; SCALE-Sim's report beside ours
    extra = source_lines(hw, result.inputs["workload"]) + compare_lines(result)
    written = [out / "result.json", out / "per_layer.csv", out / "summary.txt"]
    if has_scalesim(result):
        write_text(out / "scalesim_compare.csv", compare_csv(result))
        written.append(out / "scalesim_compare.csv")
    write_text(out / "summary.txt", summary_text(result, hw, energy) + "".join(f"{x}\n" for x in extra))
    em = energy.metrics()
    s = result.summary()
    c = result.counters
    prof = f"{profile.name} {profile.as_list()} ({profile.source})" if profile else "none (FP16 activations)"
    if profile is not None and hw.activation_storage != "anda":
        prof += " [echoed only: this design stores FP16 activations]"
    label = "shape-only" if trace.shape_only else "recorded"
    arr = hw.pe_array
    lines = [
        f"design      {hw.name} ({arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz)",
        f"trace       {trace.trace_id} [{label}] " + ("" if topology else
                                                         f"{phase}, seq_len {seq_len}, batch {batch}, ")
        + f"modules {','.join(mods)}",
        f"precision   {prof}",
        f"cycles      {s['cycles']:,}  ({s['latency_s'] * 1e3:.3f} ms)",
        f"utilization {s['utilization']:.4f}   MACs/cycle {s['macs_per_cycle']:.1f}",
        f"stalls      dram {int(c['stall_dram_cycles']):,}  compressor {int(c['stall_compressor_cycles']):,}",
        f"MACs        {s['macs']:,}   BOPs {s['bops']:,}",
        f"DRAM        read {s['dram_read_bytes'] / 1e6:,.1f} MB  write {s['dram_write_bytes'] / 1e6:,.1f} MB",
        f"energy      {energy.total_j:.4g} J ({energy.on_chip_j:.4g} J on chip), "
        f"{em['energy_per_token_j'] * 1e3:.4g} mJ/token, {em['avg_power_on_chip_mw']:.4g} mW on chip",
        f"area        {energy.area.total_mm2:.4g} mm2, {em['area_efficiency_gops_per_mm2']:.4g} GOPS/mm2, "
        f"{em['energy_efficiency_tops_per_w']:.4g} TOPS/W with DRAM (cost table {energy.cost_table})",
        *extra,
        f"wrote       {', '.join(map(str, written))}",
    ]
    click.echo("\n".join(lines))
