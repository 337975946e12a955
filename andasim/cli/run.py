"""`andasim run`: simulate a model trace on one design and write result.json + per_layer.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from andasim.cli import options


@options.command("run")
@options.hw_option()
@options.trace_option()
@options.precision_option()
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Tokens per sequence (prefill) or context length (decode).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--kv-len", type=click.IntRange(min=1), default=None,
              help="Keys attended to (default: seq-len). Only matters with qk/pv.")
@click.option("--modules", default="qkv,o,up,down", show_default=True,
              help="Comma list from qkv,o,up,down,qk,pv,lm_head,vector.")
@options.out_option(extra="Gets result.json, per_layer.csv and summary.txt.")
@options.json_option(extra="(the same content as OUT/result.json)")
@options.threads_option()
def run(hw: str, trace: str, precision: str | None, phase: str, seq_len: int, batch: int,
        kv_len: int | None, modules: str, out_dir: str, json_file: str | None) -> None:
    """Simulate one model trace on one hardware design.

    Writes OUT/result.json (every counter, the inputs echoed, deterministic) and
    OUT/per_layer.csv (one row per GeMM, unit-suffixed columns, exact counts), and prints a summary.
    The Anda design needs a precision profile: the trace's default, or --precision.

    \b
    Example:
      andasim run --hw pe64 --trace llama-7b --out out/demo
      andasim run --hw anda --trace opt-175b --precision 6 --out out/opt175b
      andasim run --hw fp_fp --trace llama-7b --phase decode --out out/fp_decode
    """
    from tqdm import tqdm

    from andasim.report.per_layer import per_layer_csv
    from andasim.report.run_report import (
        append_energy_columns,
        energy_report,
        enrich_with_energy,
        summary_text,
        terminal_summary,
    )
    from andasim.report.writers import dumps_json, write_text
    from andasim.sim.simulate import simulate

    design = options.resolve_hw(hw)
    workload = options.resolve_trace(trace)
    mods = tuple(m.strip() for m in modules.split(",") if m.strip())
    profile = options.resolve_precision(precision, workload, design)
    bar = tqdm(total=0, desc="simulating distinct GeMMs", unit="gemm", file=sys.stderr, disable=None,
               leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    result = simulate(design, workload, profile, phase=phase, seq_len=seq_len, batch=batch, kv_len=kv_len,
                      modules=mods, progress=progress)
    bar.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    energy = energy_report(result, design)
    result_text = dumps_json(enrich_with_energy(result, design))
    layer_text = append_energy_columns(per_layer_csv(result), result, design)
    written = [write_text(out / "result.json", result_text), write_text(out / "per_layer.csv", layer_text),
               write_text(out / "summary.txt", summary_text(result, design, energy))]
    if json_file is not None:
        written.append(write_text(json_file, result_text))
    click.echo(terminal_summary(result, design, workload, profile, energy, written), nl=False)
