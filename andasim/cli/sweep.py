"""`andasim sweep`: argument handling for design-space sweeps (the work is in andasim.explore)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from andasim.cli import options
from andasim.errors import AndasimInputError


def _comma_list(option: str, values: tuple[str, ...]) -> list[str]:
    """Repeatable options that also take comma lists (`--phase prefill,decode`)."""
    out = []
    for value in values:
        items = [v.strip() for v in value.split(",")]
        if any(not v for v in items):
            raise AndasimInputError(f"{option}: empty item in {value!r}")
        out.extend(items)
    return out


def _int_list(option: str, values: tuple[str, ...], limit: int = options.MAX_SEQ_LEN) -> list[int]:
    from andasim.explore.overrides import parse_values

    out: list[int] = []
    for value in values:
        for v in parse_values(option, "", value):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limit:
                raise AndasimInputError(f"{option}: expected integers in 1..{limit} (or LO..HI), "
                                        f"got {value[:40]!r}")
            out.append(v)
    return out


@options.command("sweep")
@click.argument("spec_file", required=False, type=click.Path(dir_okay=False))
@options.hw_option(multiple=True, required=False, extra="The base designs of the sweep.")
@options.trace_option(multiple=True, required=False)
@click.option("--precision", "precisions", multiple=True, metavar="SPEC",
              help=options.PRECISION_HELP + options.REPEATABLE.replace("; a comma list works too", "")
              + " Default: the trace's default profile (`default`). Or --set precision=4..8.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=V1,V2",
              help="Sweep a design key over values (e.g. pe_array.rows=8,16,32 or "
                   "buffers.weight.size_kib=256,1024; LO..HI is an integer range); repeatable, crossed. "
                   "Also phase=, seq_len=, batch=, precision=.")
@click.option("--phase", "phases", multiple=True,
              help="prefill, decode or both (comma list). Default prefill.")
@click.option("--seq-len", "seq_lens", multiple=True,
              help=options.SEQ_LEN_HELP + " Comma list or LO..HI to sweep it. Default 2048.")
@click.option("--batch", "batches", multiple=True, help="Batch size(s), comma list. Default 1.")
@click.option("--modules", default=None, help="GeMMs to simulate (comma list). Default qkv,o,up,down.")
@click.option("--sample", type=int, default=None,
              help="Simulate a seeded random sample of this many points of the cross product.")
@click.option("--seed", type=int, default=None, help="Seed of --sample (default 0).")
@click.option("--pareto", default=None, metavar="OBJ1,OBJ2,...",
              help="Mark the non-dominated points over these columns (e.g. latency_s,energy_j,area_mm2) "
                   "and draw the front.")
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool; dask: a Dask cluster (needs the sweep extra).")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://host:8786). Without it, --backend dask starts a local "
                   "cluster of --workers processes and tears it down.")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=None,
              help="Worker processes (default: the cores available; at most 256).")
@click.option("--chunk", type=click.IntRange(min=1), default=None,
              help="Points per task (default: about 8 tasks per worker, at most 64 points).")
@click.option("--parquet/--no-parquet", default=None,
              help="Also write results.parquet (default: when pandas and pyarrow are installed).")
@click.option("--figures/--no-figures", default=True, show_default=True,
              help="Draw the Pareto and sensitivity figures into OUT/figures.")
@options.out_option(extra="Gets results.csv, results.parquet, points.jsonl (the resume journal), "
                          "sweep.json and figures/.")
@options.json_option(extra="(counts, files and the Pareto points)")
@options.threads_option()
def sweep(spec_file: str | None, hw: tuple[str, ...], trace: tuple[str, ...], precisions: tuple[str, ...],
          assignments: tuple[str, ...], phases: tuple[str, ...], seq_lens: tuple[str, ...],
          batches: tuple[str, ...], modules: str | None, sample: int | None, seed: int | None,
          pareto: str | None, backend: str, scheduler: str | None, workers: int | None, chunk: int | None,
          parquet: bool | None, figures: bool, out_dir: str, json_file: str | None) -> None:
    """Sweep designs, workloads and precisions; one tidy row per point, Pareto fronts, figures.

    Points are the cross product of every axis (or a --sample of it). Each --set override is
    applied to the design's YAML mapping and validated by the same schema as a file, so a bad
    key or value fails before anything runs. Finished points are journaled in OUT/points.jsonl:
    rerunning an interrupted sweep simulates only what is missing and writes the same table.
    A point that fails at run time gets its error in the `error` column; the sweep goes on.
    Axes can also come from a YAML SPEC_FILE (see docs/sweep.md and examples/sweep.yaml).

    \b
    Examples:
      andasim sweep --hw anda --trace llama7b --set pe_array.rows=8,16 \\
          --set pe_array.cols=8,16 --set dram.bw_gb_per_s=128,256,512 --out out/sw
      andasim sweep --hw anda --hw fp_fp --trace llama7b --set precision=4..8 \\
          --pareto latency_s,energy_j,area_mm2 --out out/sw2
      andasim sweep examples/sweep.yaml --backend dask --scheduler tcp://host:8786 --out out/sw3
    """
    from tqdm import tqdm

    from andasim.explore.overrides import parse_assignment
    from andasim.explore.run import run_sweep
    from andasim.explore.spec import DEFAULT_MODULES, SweepSpec, load_spec, split_workload_sets
    from andasim.report.writers import dumps_json, write_text
    from andasim.startup import freeze_startup_objects

    freeze_startup_objects()  # for --workers 1, which simulates in this process
    axis_options = (hw, trace, precisions, assignments, phases, seq_lens, batches)
    if spec_file is not None:
        if any(axis_options) or modules is not None or sample is not None or seed is not None \
                or pareto is not None:
            raise AndasimInputError(f"{spec_file}: give the sweep's axes in the spec file or on the command "
                                    "line, not both (execution options such as --workers are fine)")
        spec = load_spec(spec_file)
    else:
        workload_sets, axes = split_workload_sets([parse_assignment("--set", a) for a in assignments])
        for key, given in (("precision", precisions), ("phase", phases), ("seq_len", seq_lens),
                           ("batch", batches)):
            if key in workload_sets and given:
                raise AndasimInputError(f"--set {key}=... and --{key.replace('_', '-')} both given; use one")
        spec = SweepSpec(
            designs=tuple(options.split_values("--hw", hw)) if hw else (),
            workloads=tuple(options.split_values("--trace", trace)) if trace else (),
            precisions=tuple(str(v) for v in workload_sets.get("precision", precisions or ["default"])),
            phases=tuple(str(v) for v in workload_sets.get("phase", _comma_list("--phase", phases)
                                                           or ["prefill"])),
            seq_lens=tuple(workload_sets.get("seq_len", _int_list("--seq-len", seq_lens) or [2048])),
            batches=tuple(workload_sets.get("batch", _int_list("--batch", batches, limit=1 << 20) or [1])),
            modules=tuple(_comma_list("--modules", (modules,))) if modules else DEFAULT_MODULES,
            axes=tuple(axes), sample=sample, seed=seed or 0,
            pareto=tuple(_comma_list("--pareto", (pareto,))) if pareto else ())
    bar = tqdm(total=0, desc="points", unit="pt", file=sys.stderr, disable=None, dynamic_ncols=True)

    def on_start(total: int, already: int) -> None:
        bar.reset(total=total)
        bar.update(already)
        if already:
            bar.set_postfix_str(f"{already} from the journal", refresh=True)

    outcome = run_sweep(spec, out_dir, backend=backend, workers=workers, scheduler=scheduler, chunk=chunk,
                        parquet=parquet, on_start=on_start, progress=lambda done, _: bar.update(done - bar.n))
    bar.close()
    out = Path(out_dir)
    files = [str(f) for f in outcome.files]
    if figures:
        from andasim.report.explore_figures import sweep_figures

        files += [str(f) for f in sweep_figures(outcome.rows, spec, out / "figures")]
    on_front = [r for r in outcome.rows if r.get("pareto")]
    if json_file is not None:
        summary = {"out": str(out), "points": len(outcome.rows), "simulated": outcome.simulated,
                   "reused": outcome.reused, "failed": outcome.failed, "files": files,
                   "pareto_objectives": list(spec.pareto), "pareto_points": [r["point"] for r in on_front]}
        write_text(json_file, dumps_json(summary))
    distinct = len({p.key for p in outcome.points})
    click.echo(f"{len(outcome.rows)} points ({distinct} distinct): simulated {outcome.simulated}, reused "
               f"{outcome.reused} from {out / 'points.jsonl'}, failed {outcome.failed}")
    if spec.pareto:
        click.echo(f"Pareto front over {','.join(spec.pareto)}: {len(on_front)} points")
    more = f" and {len(files) - 3} figure files" if len(files) > 3 else ""
    click.echo("wrote " + ", ".join(files[:3]) + more)
