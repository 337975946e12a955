"""`andasim evaluate`: the perplexity of a real model under one precision profile, on a stated protocol.

The report holds everything needed to cite or recheck the number: the baseline (weights per
`--weights`, FP16 activations) and quantized (Anda activations) perplexities, their per-window NLL
sums, the relative change with a seeded paired-bootstrap interval (`search.bootstrap`), and the
protocol echoed (model file and hash, weight handling, corpus and part, window selection, BOS,
tokens per window, group size, token-id hash). Wall times go to the console only, so the JSON is
byte-identical for the same inputs and thread count.
"""

from __future__ import annotations

from typing import Any

from andasim import __version__
from andasim.search.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, paired_bootstrap
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile
from andasim.workload.precision import resolve_precision as parse_precision


def resolve_precision(text: str, model: str) -> PrecisionProfile:
    """`--precision` as everywhere (`workload.precision.resolve_precision`), with the profiles of the
    model's bundled trace as the names it knows."""
    from andasim.workload.trace import bundled_trace_names, load_trace

    profiles = load_trace(model).profiles if model in bundled_trace_names() else {}
    return parse_precision(text, profiles, owner=f"the bundled trace of {model}")


def evaluate_perplexity(model: str, precision: str, *, weights: str = "as-shipped", bos: bool = False,
                        seq_len: int = 512, windows: str = "heldout:64", corpus: str = "wiki", gs: int = 64,
                        seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES,
                        level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Baseline and quantized perplexity of `model` on `windows`, with the paired-bootstrap interval."""
    from andasim.search.weights import WeightMode
    from andasim.search.windows import WindowSpec, select_windows
    from andasim.workload.corpus import corpus_info
    from andasim.workload.hf_models import check_model_arg, load_causal_lm

    spec = WindowSpec.parse(windows)
    mode = WeightMode.parse(weights)
    check_model_arg(model)
    profile = resolve_precision(precision, model)
    lm, tokenizer, info = load_causal_lm(model)  # refuses cleanly without the models extra
    from andasim.search.evaluators.perplexity import PerplexityEvaluator

    rows, protocol = select_windows(tokenizer, corpus, spec, seq_len, bos)
    ev = PerplexityEvaluator(lm, rows, description={}, gs=gs, weights=mode.name,
                             shipped_format=info.get("weight_format"))
    base_ppl, base_nll = ev.reference_detail()
    quant_ppl, quant_nll = ev.measure_detail(profile)
    tokens = ev.tokens_per_window
    ci = paired_bootstrap(base_nll, quant_nll, tokens, seed=seed, resamples=resamples, level=level)
    shipped = info.get("already_quantized")
    return {
        "andasim_version": __version__,
        "model": {k: info.get(k) for k in ("name", "model_id", "package", "package_version", "file",
                                            "file_sha256", "hf_class", "license", "torch_version",
                                            "transformers_version")},
        "weights": {"mode": mode.name, "description": ev.describe()["weights"],
                    "shipped_format": info.get("weight_format"), "shipped_already_quantized": shipped,
                    "requantized": mode.bits is not None},
        "precision": profile.to_dict(),
        "protocol": {
            "corpus": corpus_info(corpus),
            "stream": ("articles sorted by title (code-point order), extracts joined with a blank line, "
                       "tokenized once without special tokens"),
            **protocol,
            "activation_group_size": gs,
            "baseline": "weights per `weights`, every quantized Linear's input rounded to FP16",
            "quantized": "every decoder Linear's input truncated to Anda with its module's width",
        },
        "baseline": {"perplexity": base_ppl, "window_nll": [float(v) for v in base_nll]},
        "quantized": {"perplexity": quant_ppl, "window_nll": [float(v) for v in quant_nll]},
        **ci.to_dict(),
        "predicted_tokens_per_window": tokens,
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The console summary of an evaluation report."""
    p = report["protocol"]
    w = report["weights"]
    shipped = " (the shipped weights are already quantized)" if w["shipped_already_quantized"] else ""
    widths = [report["precision"]["mantissa_bits"][m] for m in FP_INT_MODULES]
    return [
        f"model      {report['model']['model_id']}",
        f"weights    {w['description']}{shipped}",
        f"precision  {report['precision']['name']} {widths}",
        f"protocol   {p['windows']} of {p['seq_len']} tokens ({p['predicted_tokens_per_window']} predicted "
        "each), "
        f"BOS {'id ' + str(p['bos']) if p['bos'] is not None else 'off'}, corpus part {p['part']} "
        f"({p['part_tokens']} tokens)",
        f"baseline perplexity   {report['baseline']['perplexity']:.4f}",
        f"quantized perplexity  {report['quantized']['perplexity']:.4f}",
        f"relative change       {report['relative_change']:+.3%}  "
        f"{report['ci_level']:.0%} CI [{report['ci_low']:+.3%}, {report['ci_high']:+.3%}] "
        f"(paired bootstrap over {report['windows']} windows, {report['bootstrap_resamples']} resamples, "
        f"seed {report['bootstrap_seed']})",
    ]
