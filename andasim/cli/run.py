"""`andasim run`: simulate a model trace on one design and write result.json + per_layer.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from andasim.cli import options
from andasim.cli.checks import module_list
from andasim.errors import AndasimInputError
from andasim.workload.gemm import GENERIC_MODULE
from andasim.workload.scalesim_topology import Topology


@options.command("run")
@options.hw_option()
@options.trace_option()
@options.precision_option()
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@options.seq_len_option()
@click.option("--batch", type=click.IntRange(min=1, max=1 << 20), default=1, show_default=True)
@click.option("--kv-len", type=click.IntRange(min=1, max=1 << 24), default=None,
              help="Keys attended to (default: seq-len). Only matters with qk/pv.")
@click.option("--modules", default="qkv,o,up,down", show_default=True,
              help="Comma list from qkv,o,up,down,qk,pv,lm_head,vector (a SCALE-Sim topology: gemm, "
                   "its default).")
@options.out_option(required=False, extra="Gets result.json, per_layer.csv and summary.txt. Without it the "
                                          "summary is printed and nothing is written (except --json).")
@options.json_option(extra="(the same content as OUT/result.json)")
@click.option("--figures", is_flag=True,
              help="Also draw OUT/figures/: roofline (each GeMM against the compute and DRAM roofs), "
                   "timeline (per layer, with stalls), area_energy (per component).")
@click.option("--force", is_flag=True,
              help="Run even when the work estimate (engine tile steps) is above the limit that "
                   "catches typos such as a seq-len of 10**12.")
@options.threads_option()
def run(hw: str, trace: str, precision: str | None, phase: str, seq_len: int, batch: int,
        kv_len: int | None, modules: str, out_dir: Path | None, json_file: Path | None, figures: bool,
        force: bool) -> None:
    """Simulate one model trace on one hardware design.

    Prints a summary; with --out, writes OUT/result.json (every counter, the inputs echoed,
    deterministic) and OUT/per_layer.csv (one row per GeMM, unit-suffixed columns, exact counts).
    The Anda design needs a precision profile: the trace's default, or --precision.

    \b
    Example:
      andasim run --hw pe64 --trace llama-7b
      andasim run --hw pe64 --trace llama-7b --out out/demo
      andasim run --hw anda --trace opt-175b --precision 6 --out out/opt175b
      andasim run --hw fp_fp --trace llama-7b --phase decode --out out/fp_decode
    """
    from andasim.report.per_layer import per_layer_csv
    from andasim.report.run_report import (
        append_energy_columns,
        energy_report,
        enrich_with_energy,
        summary_text,
        terminal_summary,
    )
    from andasim.report.scalesim_compare import compare_csv, compare_lines, has_scalesim, source_lines
    from andasim.report.writers import dumps_json, write_text
    from andasim.sim.simulate import MAX_TILE_STEPS, VECTOR_MODULE, simulate
    from andasim.startup import freeze_startup_objects
    from andasim.workload.gemm import MODULE_TYPES

    freeze_startup_objects()

    if figures and out_dir is None:
        raise AndasimInputError("--figures: the figures go to OUT/figures/; give --out DIR")
    mods = module_list(modules, (*MODULE_TYPES, VECTOR_MODULE))
    design = options.resolve_hw(hw)
    workload = options.resolve_trace(trace)
    topology = isinstance(workload, Topology)  # a SCALE-Sim topology: FP16 GeMMs of module `gemm`
    if topology and click.get_current_context().get_parameter_source("modules") == ParameterSource.DEFAULT:
        mods = (GENERIC_MODULE,)
    if topology and design.activation_storage == "anda":
        raise AndasimInputError(f"{trace}: a SCALE-Sim topology's GeMMs are FP16 x FP16 and design "
                                f"{design.name} runs Anda activations; use a SCALE-Sim .cfg or an FP16 "
                                "design (fp_fp, fp_int, ...)")
    profile = options.resolve_precision(precision, workload, design)
    bar = None
    if sys.stderr.isatty():  # tqdm would stay silent elsewhere; its import costs ~50 ms of start-up
        from tqdm import tqdm

        bar = tqdm(total=0, desc="simulating distinct GeMMs", unit="gemm", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    result = simulate(design, workload, profile, phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len,
                      modules=mods, progress=progress, max_tile_steps=None if force else MAX_TILE_STEPS)
    if bar is not None:
        bar.close()
    energy = energy_report(result, design)
    result_text = dumps_json(enrich_with_energy(result, design))
    # inputs translated from SCALE-Sim files: what was taken and ignored; SCALE-Sim's report beside ours
    extra = source_lines(design, result.inputs["workload"]) + compare_lines(result)
    written = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        layer_text = append_energy_columns(per_layer_csv(result), result, design)
        summary = summary_text(result, design, energy) + "".join(f"{line}\n" for line in extra)
        written += [write_text(out / "result.json", result_text),
                    write_text(out / "per_layer.csv", layer_text), write_text(out / "summary.txt", summary)]
        if has_scalesim(result):
            written.append(write_text(out / "scalesim_compare.csv", compare_csv(result)))
    if json_file is not None:
        written.append(write_text(json_file, result_text))
    if figures:
        from andasim.report.run_figures import plot_run

        written.append(f"{out / 'figures'}/ ({len(plot_run(result, design, energy, out / 'figures'))} files)")
    text = terminal_summary(result, design, workload, profile, energy, written)
    if extra:  # before the closing `wrote` line
        head, wrote = text.rstrip("\n").rsplit("\n", 1)
        text = "\n".join([head, *extra, wrote]) + "\n"
    click.echo(text, nl=False)
