"""`andasim evaluate`: perplexity of a real model under a precision profile, with a confidence interval."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from andasim.cli import options
from andasim.search.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED


@options.command("evaluate")
@options.trace_option(names=("--model",), dest="model",
                      extra="Here: the causal LM to run: smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b, a "
                            "local HF directory or a .gguf file (needs the models extra; docs/models.md).")
@options.precision_option(extra="The Anda widths of the quantized run (required; the real-model traces "
                                "have no default profile).")
@options.weights_option()
@options.bos_option()
@options.seq_len_option(default=512, extra="Here: tokens per evaluation window, the model input "
                                          "(BOS included with --bos); each predicts seq_len - 1 tokens.")
@click.option("--windows", default="heldout:64", show_default=True,
              help="last:N (last N non-overlapping windows of the whole corpus stream), first:N, calib:N "
                   "(calibration articles) or heldout:N (held-out articles, never used by a search); "
                   "WHERE:N@K skips K windows first.")
@click.option("--corpus", default="wiki", show_default=True, help="Text corpus (docs/models.md).")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="Bootstrap seed.")
@click.option("--resamples", default=DEFAULT_RESAMPLES, show_default=True, type=int,
              help="Bootstrap resamples.")
@click.option("--level", default=DEFAULT_LEVEL, show_default=True, type=float,
              help="Two-sided confidence level of the interval.")
@options.threads_option()
@options.json_option(extra="(the full report: per-window NLL sums, interval, protocol)")
def evaluate(model: str, precision: str | None, weights: str, bos: bool, seq_len: int, windows: str,
             corpus: str, seed: int, resamples: int, level: float, json_file: Path | None) -> None:
    """Perplexity of MODEL with FP16 activations (baseline) and with Anda activations (PRECISION).

    \b
      andasim evaluate --model smollm2-135m --weights as-shipped --no-bos --windows last:10 \\
          --seq-len 512 --precision 6 --json eval.json

    Prints both perplexities, the relative change and its paired-bootstrap confidence interval over
    windows (a progress bar per pass on stderr); --json adds the per-window NLL sums and the full
    protocol (docs/search.md).
    """
    from andasim.errors import AndasimInputError
    from andasim.search.evaluate import evaluate_perplexity, summary_lines
    from andasim.search.weights import WeightMode
    from andasim.search.windows import WindowSpec

    if precision is None:
        raise AndasimInputError("evaluate needs --precision (e.g. 6 or 7,6,7,7 or a profile YAML)")
    WindowSpec.parse(windows)  # fail fast, before the model loads
    WeightMode.parse(weights)
    start = time.perf_counter()
    report = evaluate_perplexity(options.canonical_model(model), precision, weights=weights, bos=bos,
                                 seq_len=seq_len, windows=windows, corpus=corpus, seed=seed,
                                 resamples=resamples, level=level)
    lines = summary_lines(report)
    if json_file is not None:
        from andasim.atomic_io import write_atomic

        write_atomic(json_file, json.dumps(report, indent=1, sort_keys=True) + "\n")
        lines.append(f"report written to {json_file}")
    lines.append(f"wall time {time.perf_counter() - start:.1f} s")
    click.echo("\n".join(lines))
