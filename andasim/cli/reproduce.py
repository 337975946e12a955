"""`andasim reproduce`: rerun a paper's evaluation and set the simulated figures beside the published ones."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from andasim.cli.threads_option import threads_option

PAPERS = ("anda",)


@click.command("reproduce")
@click.argument("paper", type=click.Choice(PAPERS))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: reproduction.txt, reproduction.json, figures/, cache/.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the reproduction JSON to this file.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of finished runs to reuse (default: OUT/cache); an interrupted run resumes.")
@threads_option()
def reproduce(paper: str, out_dir: str, json_path: str | None, cache_dir: str | None) -> None:
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
    from andasim.report.reproduce import TOLERANCES, reproduce_anda
    from andasim.report.sweep import Sweep

    out = Path(out_dir)
    total = len(TOLERANCES) * len(PAPER_MODELS) * len(PAPER_DESIGNS)
    bar = tqdm(total=total, desc="runs", unit="run", file=sys.stderr, disable=None, leave=False)
    sweep = Sweep(Path(cache_dir) if cache_dir else out / "cache",
                  progress=lambda what: bar.set_postfix_str(what, refresh=True))
    _, text = reproduce_anda(out, sweep, progress=lambda: bar.update(1))
    bar.close()
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "reproduction.json", json_path)
    click.echo(text, nl=False)
    click.echo(f"simulated {sweep.simulated}, reused {sweep.reused} cached runs; wrote "
               f"{out / 'reproduction.txt'}, {out / 'reproduction.json'}, {out / 'figures'}/")
