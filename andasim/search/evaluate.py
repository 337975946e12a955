"""`andasim evaluate`: the perplexity of a real model under one precision profile, on a stated protocol.

The report holds everything needed to cite or recheck the number: the baseline (weights per
`--weights`, FP16 activations) and quantized (Anda activations) perplexities, their per-window NLL
sums, the relative change with a seeded paired-bootstrap interval (`search.bootstrap`), and the
protocol echoed (model file and hash, weight handling, corpus and part, window selection, BOS,
tokens per window, group size, token-id hash). Wall times go to the console only, so the JSON is
byte-identical for the same inputs and thread count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from andasim import __version__
from andasim.errors import AndasimInputError
from andasim.search.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, paired_bootstrap
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import M_MAX, M_MIN, PrecisionProfile

_LIST_RE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*){3}$")
_UNIFORM_RE = re.compile(r"^\s*\d+\s*$")
PRECISION_CHOICES = ("one uniform width M (e.g. 6), four widths M_qkv,M_o,M_up,M_down (e.g. 7,6,7,7), "
                     "a profile YAML file, or a profile name of the model's bundled trace")


def resolve_precision(text: str, model: str) -> PrecisionProfile:
    """A precision profile from `--precision`: uniform M, four widths, a YAML file or a trace profile name."""
    from andasim.workload.precision import load_profile

    try:
        if _UNIFORM_RE.match(text):
            m = int(text)
            if not M_MIN <= m <= M_MAX:
                raise ValueError(f"a uniform width must lie in {M_MIN}..{M_MAX}, got {m}")
            return PrecisionProfile.from_list([m] * 4, name=f"uniform-{m}", source="command line --precision")
        if _LIST_RE.match(text):
            bits = [int(x) for x in text.split(",")]
            return PrecisionProfile.from_list(bits, name=f"custom:{','.join(map(str, bits))}",
                                              source="command line --precision")
    except ValueError as exc:
        raise AndasimInputError(f"--precision {text}: {exc}") from None
    if Path(text).is_file():
        return load_profile(text)
    from andasim.workload.trace import bundled_trace_names, load_trace

    names: list[str] = []
    if model in bundled_trace_names():
        trace = load_trace(model)
        names = sorted(trace.profiles)
        if text in trace.profiles:
            return trace.profiles[text]
    raise AndasimInputError(f"--precision {text!r}: not a file and not a profile of the bundled trace of "
                            f"{model} ({', '.join(names) or 'none'}); valid: {PRECISION_CHOICES}")


def evaluate_perplexity(model: str, precision: str, *, weights: str = "as-shipped", bos: bool = False,
                        seq_len: int = 512, windows: str = "heldout:64", corpus: str = "wiki", gs: int = 64,
                        seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES,
                        level: float = DEFAULT_LEVEL,
                        on_window: Callable[[], None] | None = None,
                        on_loaded: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Baseline and quantized perplexity of `model` on `windows`, with the paired-bootstrap interval.

    `on_loaded(n_forwards)` is called once the model and windows are ready, `on_window()` after each
    window forward (progress reporting).
    """
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
    if on_loaded is not None:
        on_loaded(2 * len(rows))
    ev.on_window = on_window
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
