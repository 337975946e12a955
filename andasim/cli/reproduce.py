"""`andasim reproduce`: rerun a paper's evaluation and set the simulated figures beside the published ones."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from andasim.cli import options
from andasim.cli.checks import output_dir

PAPERS = ("anda",)


@options.command("reproduce")
@click.argument("paper", type=click.Choice(PAPERS))
@options.out_option(extra="Gets reproduction.txt, reproduction.json, reproduction.csv (tidy), figures/ "
                          "and cache/.")
@options.json_option(extra="(the same content as OUT/reproduction.json)")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of finished runs to reuse (default: OUT/cache); an interrupted run resumes.")
@options.threads_option()
def reproduce(paper: str, out_dir: Path, json_file: Path | None, cache_dir: str | None) -> None:
    """Reproduce the system evaluation of PAPER (anda: Fang et al., HPCA 2025).

    Runs the nine models of §4.1 (OPT-1.3B/2.7B/6.7B/13B/30B, LLaMA-7B/13B, LLaMA2-7B/13B) with
    their published WikiText-2 profiles at 0.1% and 1% loss, prefill of 2048 tokens, batch 1, on
    all seven designs, plus the Table III calibration scenario. Writes the comparison figures and
    a table setting the simulated figures beside the published ones (2.4x speedup, 4.0x area
    efficiency, 3.1x energy efficiency over FP-FP; Table III) with the relative difference.
    The traces are shape-only and the profiles are published figures, not andasim search results.

    \b
    Example:
      andasim reproduce anda --out out/repro --json out/repro.json
    """
    from tqdm import tqdm

    from andasim.report.designs import PAPER_DESIGNS, PAPER_MODELS
    from andasim.report.reproduce import TOLERANCES, extra_runs, reproduce_anda
    from andasim.report.sweep import Sweep
    from andasim.report.writers import write_text

    out = output_dir(out_dir)
    cache = output_dir(cache_dir, "--cache") if cache_dir is not None else out / "cache"
    total = len(TOLERANCES) * len(PAPER_MODELS) * len(PAPER_DESIGNS) + extra_runs(PAPER_MODELS, PAPER_DESIGNS,
                                                                                  "fp_fp")
    bar = tqdm(total=total, desc="runs", unit="run", file=sys.stderr, disable=None, leave=False)
    sweep = Sweep(cache,
                  progress=lambda what: bar.set_postfix_str(what, refresh=True))
    _, text = reproduce_anda(out, sweep, progress=lambda: bar.update(1))
    bar.close()
    if json_file is not None:
        write_text(json_file, (out / "reproduction.json").read_text(encoding="utf-8"))
    click.echo(text, nl=False)
    click.echo(f"simulated {sweep.simulated}, reused {sweep.reused} cached runs; wrote "
               f"{out / 'reproduction.txt'}, {out / 'reproduction.json'}, {out / 'reproduction.csv'}, "
               f"{out / 'figures'}/" + (f", {json_file}" if json_file else ""))
