"""Library entry points of the search layer: build an evaluator, run a search, report held-out results."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError
from andasim.search.algorithm import Evaluation, SearchResult, parse_tolerance, run_search
from andasim.search.bootstrap import DEFAULT_SEED, paired_bootstrap
from andasim.search.evaluators.base import Evaluator
from andasim.search.journal import evaluation_key
from andasim.workload.precision import PrecisionProfile

EVALUATORS = ("perplexity", "proxy")


def make_evaluator(*, model: str | None = None, trace: Any = None, evaluator: str | None = None,
                   calib_seqs: int = 8, seq_len: int = 512, eval_seqs: int = 64, corpus: str = "wiki",
                   coefficients: str | Path | None = None, threads: int | None = 1,
                   weights: str = "as-shipped", bos: bool = False) -> tuple[Evaluator, Any]:
    """(evaluator, model card for the BOPs shares) from a model name/path or a trace name/path/object.

    `threads` (None = leave as is) is applied before torch is imported (andasim.threads).
    """
    if threads is not None:
        from andasim.threads import set_threads

        set_threads(threads)
    if (model is None) == (trace is None):
        raise AndasimInputError("give exactly one of --model (perplexity evaluator) or --trace "
                                "(proxy evaluator)")
    kind = evaluator or ("perplexity" if model is not None else "proxy")
    if kind not in EVALUATORS:
        raise AndasimInputError(f"--evaluator {kind!r}: valid are {', '.join(EVALUATORS)}")
    if kind == "perplexity":
        if model is None:
            raise AndasimInputError("--evaluator perplexity needs --model (a trace holds no model to run)")
        from andasim.search.weights import WeightMode
        from andasim.workload.hf_models import check_model_arg, require_torch

        WeightMode.parse(weights)
        check_model_arg(model)
        require_torch("the perplexity evaluator")  # one clear line without the models extra
        from andasim.search.evaluators.perplexity import from_model_name
        from andasim.workload.card import bundled_card_names, load_card
        from andasim.workload.hf_models import card_from_config

        ev = from_model_name(model, calib_seqs=calib_seqs, seq_len=seq_len, eval_seqs=eval_seqs,
                             corpus=corpus, weights=weights, bos=bos)
        card = (load_card(model) if model in bundled_card_names()
                else card_from_config(ev.model.config, Path(model).name, f"config of {model}"))
        return ev, card
    if trace is None:
        raise AndasimInputError("--evaluator proxy needs --trace (the proxy reads recorded activations)")
    from andasim.search.evaluators.proxy import ProxyEvaluator, load_coefficients
    from andasim.workload.loaders import load_workload

    tr = load_workload(trace)
    coeffs, provenance = load_coefficients(coefficients) if coefficients else load_coefficients()
    return ProxyEvaluator(tr, coeffs, provenance, weights=weights), tr.card


def heldout_report(evaluator: Evaluator, result: SearchResult, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Held-out perplexity of the baseline and of the chosen profile, with the paired-bootstrap interval
    of the relative change (journaled, resumable). Empty without held-out windows or a chosen profile."""
    heldout = getattr(evaluator, "heldout_detail", None)
    if heldout is None or result.best is None:
        return {}
    journal = result.journal
    out: dict[str, Any] = {}
    nll: dict[str, list[float]] = {}
    best = result.best
    for name, key, profile in (("reference", "reference", None),
                               ("chosen", evaluation_key(tuple(best.as_list()), best.per_layer), best)):
        hit = journal.lookup_heldout(key) if journal else None
        if hit is not None and "window_nll" in hit:
            out[name], nll[name] = float(hit["metric"]), hit["window_nll"]
            continue
        start = time.perf_counter()
        metric, windows = heldout(profile)
        out[name], nll[name] = float(metric), [float(v) for v in windows]
        if journal:
            journal.record_heldout(key, out[name], time.perf_counter() - start, nll[name])
    ci = paired_bootstrap(nll["reference"], nll["chosen"], evaluator.heldout_tokens_per_window,
                          seed=seed)
    out.update(ci.to_dict())
    return out


def search_precision(trace_or_model: Any, tolerance: float | str, evaluator: str | Evaluator | None = None, *,
                     algorithm: str = "improved", max_evals: int = 32, journal: str | None = None,
                     calib_seqs: int = 8, seq_len: int = 512, monotone: bool = True, refine_blocks: int = 0,
                     progress: Callable[[Evaluation], None] | None = None) -> PrecisionProfile | None:
    """Search `[M_qkv, M_o, M_u, M_d]` for a model (perplexity) or a trace (proxy); None if nothing passes.

    `trace_or_model`: a model short name/path (with evaluator "perplexity"), a trace name/path or Trace
    (evaluator "proxy", the default for traces), or, with an Evaluator instance, the card for the shares.
    """
    delta = parse_tolerance(tolerance) if isinstance(tolerance, str) else float(tolerance)
    if isinstance(evaluator, Evaluator):
        ev, card = evaluator, trace_or_model
    else:
        is_model = evaluator == "perplexity"
        ev, card = make_evaluator(model=trace_or_model if is_model else None,
                                  trace=None if is_model else trace_or_model, evaluator=evaluator,
                                  calib_seqs=calib_seqs, seq_len=seq_len)
    result = run_search(ev, card, delta, algorithm=algorithm, max_evals=max_evals, journal_path=journal,
                        progress=progress, monotone=monotone, refine_blocks=refine_blocks,
                        n_layers=getattr(card, "n_layers", None))
    return result.best
