"""`andasim search`: find per-module Anda mantissa widths under an accuracy tolerance (Algorithm 1)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from andasim.cli import options
from andasim.cli.checks import output_file
from andasim.errors import AndasimInputError

# Held-out windows; sized so that the 95% interval at δ = 1% is narrower than δ (docs/results.md).
HELDOUT_DEFAULT = 64


def _positive(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter(f"must be a positive integer, got {value}")
    return value


@options.command("search", old_spellings=[options.Alias("--seq-len", "--window")])
@options.trace_option(names=("--model",), dest="model", required=False,
                      extra="Here: the causal LM the perplexity evaluator runs: smollm2-135m, gemma3-270m, "
                            "qwen2.5-coder-0.5b, a local HF directory or a .gguf file (models extra).")
@options.trace_option(names=("--trace",), dest="trace_name", required=False,
                      extra="Here: a trace with recorded activations for the proxy evaluator.")
@click.option("--evaluator", type=click.Choice(["perplexity", "proxy"]),
              help="Default: perplexity with --model, proxy with --trace.")
@click.option("--tolerance", required=True,
              help="Accuracy-loss tolerance δ: '1%', '0.1%' or a fraction such as 0.01. A profile is "
                   "feasible when its calibration perplexity change against the FP16-activation baseline "
                   "is within δ (see --accept).")
@click.option("--accept", type=click.Choice(["ci", "mean"]),
              help="ci: the upper bound of the 95% paired-bootstrap interval of the calibration perplexity "
                   "change must be within δ; mean: the point estimate (the paper's rule). Default: ci for "
                   "the perplexity evaluator, mean for the proxy (which has no windows).")
@click.option("--algorithm", type=click.Choice(["published", "improved"]), default="improved",
              show_default=True, help="Algorithm 1 exactly as published, or with pruning (docs/search.md).")
@click.option("--max-evals", default=32, show_default=True, callback=_positive,
              help="Budget N: accuracy evaluations (the reference evaluation is not counted).")
@click.option("--calib-seqs", default=8, show_default=True, callback=_positive,
              help="Calibration windows: calib:N, the first N windows of the calibration articles "
                   "(perplexity evaluator).")
@click.option("--window", "seq_len", default=512, show_default=True, callback=_positive,
              help="Tokens per calibration and held-out window, the model input length, BOS included with "
                   "--bos (perplexity evaluator; as `trace record --window`).")
@click.option("--eval-seqs", default=HELDOUT_DEFAULT, show_default=True, callback=_positive,
              help="Held-out windows for the final report: heldout:N, the first N windows of the held-out "
                   "articles, never used to choose anything (perplexity evaluator).")
@options.weights_option()
@options.bos_option(extra="(perplexity evaluator)")
@click.option("--monotone/--no-monotone", default=True, show_default=True,
              help="Improved search: assume narrower mantissas never help (bisection + dominance pruning).")
@click.option("--refine-blocks", default=0, show_default=True,
              help="Improved search: per-layer refinement over this many blocks of layers (0 = off).")
@click.option("--proxy-coefficients", type=click.Path(dir_okay=False),
              help="Proxy calibration YAML (default: the bundled SmolLM2-135M fit).")
@options.threads_option(expose_value=True)
@click.option("--reuse", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Another search's journal with the same evaluator settings (e.g. another --tolerance or "
                   "--algorithm): its evaluations are replayed instead of recomputed. Repeatable.")
@options.out_option(legacy_file=True,
                    extra="Gets profile.yaml (for `--precision`) and its evaluation journal "
                          "profile.yaml.journal.jsonl. (A path ending in .yaml is still taken as the profile "
                          "file itself, deprecated.)")
@options.json_option(extra="(the search result: best widths, BOPs reduction, reference and held-out metrics)")
@click.option("--journal", type=click.Path(dir_okay=False),
              help="Evaluation journal (JSONL); default: OUT/profile.yaml.journal.jsonl. Rerunning the same "
                   "command resumes from it without repeating evaluations.")
def search(model: str | None, trace_name: str | None, evaluator: str | None, tolerance: str,
           accept: str | None, algorithm: str, max_evals: int, calib_seqs: int, seq_len: int, eval_seqs: int,
           weights: str, bos: bool, monotone: bool, refine_blocks: int, proxy_coefficients: str | None,
           threads: int, reuse: tuple[str, ...], out_dir: Path, json_file: Path | None,
           journal: str | None) -> None:
    """Search the mantissa widths [M_qkv, M_o, M_u, M_d] that minimise BOPs under an accuracy tolerance.

    \b
    Perplexity (real model, weights as shipped, Anda activations, paired-bootstrap verdict):
      andasim search --model smollm2-135m --tolerance 1% --calib-seqs 16 --out out/search
    Proxy (trace only, no model):
      andasim search --trace smollm2-135m --evaluator proxy --tolerance 1% --out out/search

    A progress bar per evaluation (one per window) and one line per finished evaluation go to
    stderr; every evaluation is journaled, so an interrupted search resumes where it stopped. The
    profile is consumed by `andasim run --precision out/search/profile.yaml` and `andasim compare`.
    """
    from andasim.search.algorithm import parse_tolerance, run_search
    from andasim.search.api import heldout_report, make_evaluator

    delta = parse_tolerance(tolerance)
    if refine_blocks < 0:
        raise AndasimInputError(f"--refine-blocks must be >= 0, got {refine_blocks}")
    if algorithm == "published" and (refine_blocks or not monotone):
        raise AndasimInputError("--refine-blocks and --no-monotone apply to --algorithm improved only")
    out_path = out_dir / "profile.yaml"
    if out_dir.suffix in (".yaml", ".yml"):
        click.echo(f"andasim: search --out {out_dir} as the profile file is deprecated and will be removed "
                   f"in {options.REMOVED_IN}; --out is a folder (gets profile.yaml)", err=True)
        out_path = out_dir
    if journal is not None:
        output_file(journal, "--journal")
    journal_path = journal or str(out_path.with_name(out_path.name + ".journal.jsonl"))
    start = time.perf_counter()
    if model is not None:
        model = options.canonical_model(model)
    what = f" (model, corpus, weights {weights})" if model else ""
    click.echo(f"loading the evaluator{what} ...", err=True)
    ev, card = make_evaluator(model=model, trace=trace_name, evaluator=evaluator, calib_seqs=calib_seqs,
                              seq_len=seq_len, eval_seqs=eval_seqs, coefficients=proxy_coefficients,
                              threads=threads, weights=weights, bos=bos)
    click.echo(f"evaluator: {ev.metric_name} ({ev.describe().get('kind')}); δ = {delta:g}; "
               f"algorithm {algorithm}; journal {journal_path}; first the reference evaluation", err=True)
    if model is not None:
        click.echo(f"weights: {ev.describe()['weights']}", err=True)
    result = run_search(ev, card, delta, algorithm=algorithm, max_evals=max_evals, journal_path=journal_path,
                        progress=lambda e: click.echo(e.progress_line(ev.metric_name), err=True),
                        monotone=monotone, refine_blocks=refine_blocks, n_layers=card.n_layers,
                        reuse=list(reuse), accept=accept)
    click.echo(f"reference {ev.metric_name} = {result.reference_metric:.6g}; {result.n_evaluations} "
               f"evaluations ({result.n_fresh} computed now, {result.n_evaluations - result.n_fresh} "
               "from the journal), "
               f"{result.pruned} pruned", err=True)
    if result.best is None:
        click.echo("no combination met the tolerance within the budget; no profile written", err=True)
        sys.exit(1)
    best_eval = next(e for e in reversed(result.evaluations) if e.accepted)
    ci = "" if best_eval.ci is None else f", 95% CI [{best_eval.ci[0]:+.3%}, {best_eval.ci[1]:+.3%}]"
    lines = [f"best {result.best.as_list()}"
             + (f" with {len(result.best.per_layer)} per-layer overrides" if result.best.per_layer else "")
             + f"  BOPs reduction x{result.best_bops_reduction:.4f} vs FP16xINT4",
             f"calibration {ev.metric_name}: baseline {result.reference_metric:.6g}, "
             f"chosen {best_eval.metric:.6g} ({best_eval.relative_change:+.3%}{ci}; "
             f"accept rule {result.accept})"]
    held = heldout_report(ev, result)
    source = result.best.source
    if held:
        change = f"{held['relative_change']:+.3%}, 95% CI [{held['ci_low']:+.3%}, {held['ci_high']:+.3%}]"
        lines.append(f"held-out perplexity ({eval_seqs} windows of {seq_len} tokens): baseline "
                     f"{held['reference']:.4f}, chosen profile {held['chosen']:.4f} ({change})")
        source += (f"; held-out PPL {held['chosen']:.4f} vs baseline {held['reference']:.4f} "
                   f"({change}, {eval_seqs} windows)")
    profile = type(result.best)(name=result.best.name, source=source, mantissa_bits=result.best.mantissa_bits,
                                per_layer=result.best.per_layer)
    profile.save(out_path)
    lines.append(f"wall time {time.perf_counter() - start:.1f} s (evaluations {result.eval_wall_s:.1f} s "
                 f"incl. journaled); profile written to {out_path}")
    if json_file is not None:
        from andasim.report.writers import write_json

        write_json(json_file, {"profile": profile.to_dict(), "profile_file": str(out_path),
                               "bops_reduction_vs_fp16_int4": result.best_bops_reduction,
                               "reference_metric": result.reference_metric, "chosen_metric": best_eval.metric,
                               "metric": ev.metric_name, "heldout": held, "evaluations": result.n_evaluations,
                               "tolerance": delta, "algorithm": algorithm, "accept": result.accept,
                               "journal": journal_path})
        lines.append(f"wrote {json_file}")
    click.echo("\n".join(lines))
