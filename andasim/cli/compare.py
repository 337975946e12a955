"""`andasim compare`: several designs on several models, normalised to a baseline, with figures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from andasim.cli.threads_option import threads_option
from andasim.errors import AndasimInputError

DEFAULT_DESIGNS = "fp_fp,fp_int,ifpu,figna,figna_m11,figna_m8,anda"


def split_list(option: str, value: str) -> list[str]:
    """A comma list from the command line, refusing empty items."""
    items = [v.strip() for v in value.split(",")]
    if not value.strip() or any(not v for v in items):
        raise AndasimInputError(f"{option}: expected a comma-separated list without empty items, "
                                f"got {value!r}")
    return items


@click.command("compare")
@click.option("--designs", default=DEFAULT_DESIGNS, show_default=True,
              help="Comma list of designs (bundled names or YAML paths).")
@click.option("--traces", required=True,
              help="Comma list of traces (bundled names such as opt1.3b,llama13b, or trace files).")
@click.option("--profile", default=None,
              help="Precision profile name in every trace (e.g. anda-paper/wikitext2/1pct); default: each "
                   "trace's default profile. Designs that store FP16 activations ignore it.")
@click.option("--baseline", default="fp_fp", show_default=True, help="Design the ratios are taken against.")
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Tokens per sequence (prefill) or context length (decode).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--modules", default="qkv,o,up,down", show_default=True,
              help="GeMMs to simulate: comma list from qkv,o,up,down,qk,pv,lm_head,vector (the paper "
                   "evaluates the four FP-INT GeMMs).")
@click.option("--journals", default=None,
              help="Comma list of precision-search journals (from `andasim search`) to draw the "
                   "accuracy-efficiency trade-off.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: comparison.json, comparison.txt, figures/, cache/.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of finished runs to reuse (default: OUT/cache). A rerun simulates only what is "
                   "missing.")
@threads_option()
def compare(designs: str, traces: str, profile: str | None, baseline: str, phase: str, seq_len: int,
            batch: int, modules: str, journals: str | None, out_dir: str, cache_dir: str | None) -> None:
    """Compare designs on models: ratios to a baseline per model and their geometric means.

    Prints speedup, area efficiency and energy efficiency (with and without DRAM) normalised to
    --baseline, and draws PNG + SVG figures: grouped ratio bars, the energy breakdown (compute,
    SRAM, DRAM) and per-layer cycles per model, the mantissa profile heatmap and, with --journals,
    the accuracy against BOPs trade-off of a precision search.

    \b
    Example:
      andasim compare --traces opt1.3b,opt2.7b,opt6.7b,opt13b,opt30b \\
          --profile anda-paper/wikitext2/1pct --out out/cmp
    """
    from tqdm import tqdm

    from andasim.report.compare import run_comparison
    from andasim.report.sweep import Sweep, Workload

    design_list = split_list("--designs", designs)
    trace_list = split_list("--traces", traces)
    journal_list = split_list("--journals", journals) if journals is not None else []
    workload = Workload(phase=phase, seq_len=seq_len, batch=batch,
                        modules=tuple(split_list("--modules", modules)))
    out = Path(out_dir)
    bar = tqdm(total=len(design_list) * len(trace_list), desc="runs", unit="run", file=sys.stderr,
               disable=None, leave=False)
    sweep = Sweep(Path(cache_dir) if cache_dir else out / "cache", workload,
                  progress=lambda what: bar.set_postfix_str(what, refresh=True))
    _, text = run_comparison(out, sweep, designs=design_list, traces=trace_list, profile=profile,
                             baseline=baseline, journals=journal_list, progress=lambda: bar.update(1))
    bar.close()
    click.echo(text, nl=False)
    click.echo(f"simulated {sweep.simulated}, reused {sweep.reused} cached runs; wrote "
               f"{out / 'comparison.json'}, {out / 'comparison.txt'}, {out / 'figures'}/")
