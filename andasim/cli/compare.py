"""`andasim compare`: several designs on several models, normalised to a baseline, with figures."""

from __future__ import annotations

import sys

import click

from andasim.cli import options
from andasim.cli.checks import module_list, output_dir

DEFAULT_DESIGNS = ("fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8", "anda")


@options.command("compare", old_spellings=[options.Alias("--designs", "--hw", split=True),
                                           options.Alias("--traces", "--trace", split=True),
                                           options.Alias("--profile", "--precision")])
@options.hw_option(multiple=True, default=DEFAULT_DESIGNS)
@options.trace_option(multiple=True)
@options.precision_option(extra="The same for every trace: a profile name must exist in each. Default: each "
                          "trace's default profile. Designs that store FP16 activations ignore it.")
@click.option("--baseline", default="fp_fp", show_default=True, help="Design the ratios are taken against.")
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@options.seq_len_option()
@click.option("--batch", type=click.IntRange(min=1, max=1 << 20), default=1, show_default=True)
@click.option("--modules", default="qkv,o,up,down", show_default=True,
              help="GeMMs to simulate: comma list from qkv,o,up,down,qk,pv,lm_head,vector (the paper "
                   "evaluates the four FP-INT GeMMs).")
@click.option("--journals", default=None,
              help="Comma list of precision-search journals (from `andasim search`) to draw the "
                   "accuracy-efficiency trade-off.")
@options.out_option(extra="Gets comparison.json, comparison.txt, comparison.csv (tidy), figures/, cache/.")
@options.json_option(extra="(the same content as OUT/comparison.json)")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of finished runs to reuse (default: OUT/cache). A rerun simulates only what is "
                   "missing.")
@options.threads_option()
def compare(hw: tuple[str, ...], trace: tuple[str, ...], precision: str | None, baseline: str, phase: str,
            seq_len: int, batch: int, modules: str, journals: str | None, out_dir: str, json_file: str | None,
            cache_dir: str | None) -> None:
    """Compare designs on models: ratios to a baseline per model and their geometric means.

    Prints speedup, area efficiency and energy efficiency (with and without DRAM) normalised to
    --baseline, and draws PNG + SVG figures: grouped ratio bars, the energy breakdown (compute,
    SRAM, DRAM) and per-layer cycles per model, the mantissa profile heatmap and, with --journals,
    the accuracy against BOPs trade-off of a precision search.

    \b
    Example:
      andasim compare --trace opt-1.3b,opt-2.7b,opt-6.7b,opt-13b,opt-30b \\
          --precision anda-paper/wikitext2/1pct --out out/cmp
      andasim compare --hw fp_fp --hw anda --trace smollm2-135m --precision out/search/profile.yaml \\
          --out out/cmp-mine
    """
    from tqdm import tqdm

    from andasim.report.compare import run_comparison
    from andasim.report.sweep import Sweep, Workload
    from andasim.report.writers import write_text
    from andasim.sim.simulate import VECTOR_MODULE
    from andasim.startup import freeze_startup_objects
    from andasim.workload.gemm import MODULE_TYPES

    freeze_startup_objects()
    out = output_dir(out_dir)
    cache = output_dir(cache_dir, "--cache") if cache_dir is not None else out / "cache"
    design_list = options.split_values("--hw", hw)
    trace_list = options.split_values("--trace", trace)
    journal_list = options.split_values("--journals", journals) if journals is not None else []
    workload = Workload(phase=phase, seq_len=seq_len, batch=batch,
                        modules=module_list(modules, (*MODULE_TYPES, VECTOR_MODULE)))
    bar = tqdm(total=len(design_list) * len(trace_list), desc="runs", unit="run", file=sys.stderr,
               disable=None, leave=False)
    sweep = Sweep(cache, workload,
                  progress=lambda what: bar.set_postfix_str(what, refresh=True))
    _, text = run_comparison(out, sweep, designs=design_list, traces=trace_list, profile=precision,
                             baseline=baseline, journals=journal_list, progress=lambda: bar.update(1))
    bar.close()
    if json_file is not None:
        write_text(json_file, (out / "comparison.json").read_text(encoding="utf-8"))
    click.echo(text, nl=False)
    click.echo(f"simulated {sweep.simulated}, reused {sweep.reused} cached runs; wrote "
               f"{out / 'comparison.json'}, {out / 'comparison.txt'}, {out / 'comparison.csv'}, "
               f"{out / 'figures'}/" + (f", {json_file}" if json_file else ""))
