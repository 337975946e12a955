"""Fit the proxy's coefficients against the perplexity evaluator, and measure how often the two agree.

    python -m andasim.search.calibrate fit --model smollm2-135m --trace smollm2-135m \\
        --calib-seqs 4 --seq-len 512 --journal runs/search/calib.journal.jsonl \\
        --out andasim/search/proxy_calibration.yaml
    python -m andasim.search.calibrate agree --trace smollm2-135m runs/search/*.journal.jsonl

`fit` quantizes one module type at a time (the others left unquantized, i.e. FP16 activations as in
the baseline) at a few widths,
measures the relative calibration-perplexity increase ℓ with the perplexity evaluator and the proxy
error e²_m from the trace, and fits ℓ ≈ K_m · e²_m (`proxy.calibrate_coefficients`). Every perplexity
measurement goes through a journal, so the fit resumes and its measurements can be reused by searches
with the same evaluator settings (`andasim search --reuse`).
`agree` replays the perplexity-evaluated combinations of search journals and reports, per tolerance,
how often the proxy makes the same accept/reject decision.
"""

from __future__ import annotations

import time
from typing import Any

import click
import yaml

from andasim.atomic_io import write_atomic
from andasim.cli import InputErrorGroup
from andasim.search.evaluators.base import Evaluator
from andasim.search.journal import Journal, evaluation_key, read_journal
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile

SWEEP_WIDTHS = (4, 5, 6, 7)
OTHERS = "unquantized (FP16 activations, as in the baseline)"


class SingleModule:
    """Anda activations for one module type only; every other module keeps the baseline's FP16 inputs.

    Duck-types the `bits_for` of a PrecisionProfile for the perplexity evaluator's hooks, where None
    means "not quantized".
    """

    def __init__(self, module: str, bits: int) -> None:
        self.module, self.bits = module, bits

    def bits_for(self, module: str, layer: int | None = None) -> int | None:
        return self.bits if module == self.module else None

    def as_list(self) -> list[int | None]:
        return [self.bits if m == self.module else None for m in FP_INT_MODULES]


def sweep_points(ppl: Evaluator, proxy: Any, journal: Journal, widths: tuple[int, ...] = SWEEP_WIDTHS,
                 log: Any = print) -> list[dict[str, Any]]:
    """Single-module sweeps: {"module", "bits", "err2", "loss", "ppl"} per point (journaled).

    `proxy` None: perplexity only (the `sensitivity` command); err2 is then None.
    """
    ref = journal.reference["metric"] if journal.reference else None
    if ref is None:
        start = time.perf_counter()
        ref, nll = ppl.reference_detail()
        journal.record_reference(ref, time.perf_counter() - start, None if nll is None else list(nll))
    points = []
    for module in FP_INT_MODULES:
        for bits in widths:
            single = SingleModule(module, bits)
            comb = tuple(single.as_list())
            key = evaluation_key(comb, {})  # null = unquantized module
            hit = journal.lookup(key)
            if hit is None:
                start = time.perf_counter()
                metric, nll = ppl.measure_detail(single)
                hit = {"key": key, "index": len(journal.evaluations()) + 1, "combination": list(comb),
                       "per_layer": {}, "metric": metric, "accuracy": ppl.accuracy(metric, ref),
                       "feasible": None, "accepted": None, "wall_s": time.perf_counter() - start,
                       "evaluator": ppl.metric_name, **({} if nll is None else {"window_nll": list(nll)})}
                journal.record_eval(hit)
            # A module's proxy error depends on its own width only.
            err2 = None if proxy is None else \
                proxy.module_error2(PrecisionProfile.from_list([bits] * len(FP_INT_MODULES)))[module]
            point = {"module": module, "bits": bits, "err2": err2,
                     "loss": hit["metric"] / ref - 1.0, "ppl": hit["metric"]}
            e2 = "" if err2 is None else f"  e²={err2:.3e}"
            log(f"{module:5s} M={bits:2d}  ppl={point['ppl']:.4f}  loss={point['loss']:+.5f}{e2}")
            points.append(point)
    return points


def agreement(journal_paths: list[str], proxy: Any, tolerances: tuple[float, ...]) -> dict[str, Any]:
    """Accept/reject agreement of proxy and perplexity on every combination the journals evaluated."""
    ppl_of: dict[str, tuple[tuple[int, ...], dict, float, float]] = {}
    for path in journal_paths:
        config, events = read_journal(path)
        if config.get("evaluator", {}).get("kind") != "perplexity":
            continue
        ref = next(e["metric"] for e in events if e["type"] == "reference")
        for e in events:
            if e["type"] == "eval":
                ppl_of[e["key"]] = (tuple(e["combination"]), e["per_layer"], e["metric"], ref)
    out: dict[str, Any] = {"combinations": len(ppl_of), "tolerances": {}}
    for delta in tolerances:
        same = both_accept = both_reject = proxy_only = ppl_only = 0
        for comb, per_layer, metric, ref in ppl_of.values():
            widths = dict(zip(FP_INT_MODULES, comb, strict=True))
            profile = PrecisionProfile(name="c", source="agreement", mantissa_bits=widths,
                                       per_layer={int(k): v for k, v in per_layer.items()})
            by_ppl = metric <= (1 + delta) * ref
            by_proxy = proxy.measure(profile) <= delta
            same += by_ppl == by_proxy
            both_accept += by_ppl and by_proxy
            both_reject += not by_ppl and not by_proxy
            proxy_only += by_proxy and not by_ppl
            ppl_only += by_ppl and not by_proxy
        out["tolerances"][f"{delta:g}"] = {
            "agree": same, "of": len(ppl_of), "both_accept": both_accept, "both_reject": both_reject,
            "proxy_accepts_ppl_rejects": proxy_only, "ppl_accepts_proxy_rejects": ppl_only}
    return out


@click.group(cls=InputErrorGroup)  # bad input: one line and exit code 2, as in `andasim`
def main() -> None:
    """Proxy calibration against perplexity, and agreement of the two evaluators."""


def _perplexity_options(command: Any) -> Any:
    """The calibration-run options `fit` and `sensitivity` share (what `_perplexity` takes)."""
    for option in reversed((
            click.option("--calib-seqs", default=4, show_default=True),
            click.option("--seq-len", default=512, show_default=True),
            click.option("--weights", default="as-shipped", show_default=True),
            click.option("--bos/--no-bos", default=False, show_default=True),
            click.option("--threads", default=1, show_default=True),
            click.option("--journal", required=True, type=click.Path(dir_okay=False)))):
        command = option(command)
    return command


def _perplexity(model: str, calib_seqs: int, seq_len: int, weights: str, bos: bool,
                threads: int) -> Evaluator:
    """The perplexity evaluator on calib:calib_seqs windows (one held-out window: it is not used here)."""
    from andasim.search.api import make_evaluator

    ppl, _ = make_evaluator(model=model, evaluator="perplexity", calib_seqs=calib_seqs, seq_len=seq_len,
                            eval_seqs=1, threads=threads, weights=weights, bos=bos)
    return ppl


@main.command("fit")
@click.option("--model", default="smollm2-135m", show_default=True)
@click.option("--trace", "trace_name", default="smollm2-135m", show_default=True)
@_perplexity_options
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def fit(model: str, trace_name: str, calib_seqs: int, seq_len: int, weights: str, bos: bool, threads: int,
        journal: str, out: str) -> None:
    """Sweep each module alone at M = 4..7 and fit the proxy's K_m."""
    from andasim.search.evaluators.proxy import ProxyEvaluator, calibrate_coefficients
    from andasim.workload.trace import load_trace

    ppl = _perplexity(model, calib_seqs, seq_len, weights, bos, threads)
    trace = load_trace(trace_name)
    proxy = ProxyEvaluator(trace, dict.fromkeys(FP_INT_MODULES, 1.0), {}, weights=weights)
    jr = Journal.open(journal, {"purpose": "proxy calibration", "evaluator": ppl.describe(),
                                "widths": list(SWEEP_WIDTHS), "others": OTHERS})
    points = sweep_points(ppl, proxy, jr, log=lambda s: click.echo(s, err=True))
    coeffs = calibrate_coefficients(points)
    data = {
        "coefficients": {m: float(f"{coeffs[m]:.6g}") for m in FP_INT_MODULES},
        "provenance": {
            "model": model, "trace": trace.trace_id, "trace_checksum": trace.checksum,
            "method": (f"one module at M in {list(SWEEP_WIDTHS)}, the others {OTHERS}; loss = "
                       f"relative calibration-perplexity increase (calib:{calib_seqs} windows of {seq_len} "
                       f"tokens of the wiki corpus, BOS {'on' if bos else 'off'}, weights {weights}); K_m = "
                       "least squares through the origin of loss on e²_m over the points with loss <= 0.2"),
            "weights": weights,
            "command": f"python -m andasim.search.calibrate fit --model {model} --trace {trace_name} "
                       f"--calib-seqs {calib_seqs} --seq-len {seq_len} --weights {weights} "
                       f"--{'bos' if bos else 'no-bos'} --threads {threads} --journal {journal} --out {out}",
        },
        "points": [{k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in p.items()}
                   for p in points],
    }
    write_atomic(out, yaml.safe_dump(data, sort_keys=False))
    click.echo(f"K = {data['coefficients']} -> {out}")


@main.command("sensitivity")
@click.option("--model", required=True)
@click.option("--widths", default="5", show_default=True, help="Comma-separated mantissa widths.")
@_perplexity_options
def sensitivity(model: str, widths: str, calib_seqs: int, seq_len: int, weights: str, bos: bool, threads: int,
                journal: str) -> None:
    """Single-module sensitivity: each module type alone at each width, the others unquantized."""
    from andasim.errors import AndasimInputError

    try:
        bits = tuple(int(w) for w in widths.split(","))
    except ValueError:
        raise AndasimInputError(f"--widths {widths!r}: expected integers such as 4,5") from None
    ppl = _perplexity(model, calib_seqs, seq_len, weights, bos, threads)
    jr = Journal.open(journal, {"purpose": "single-module sensitivity", "evaluator": ppl.describe(),
                                "widths": list(bits), "others": OTHERS})
    points = sweep_points(ppl, None, jr, widths=bits, log=lambda s: click.echo(s, err=True))
    for width in bits:
        ranked = sorted((p for p in points if p["bits"] == width), key=lambda p: -p["loss"])
        click.echo(f"M={width}: " + ", ".join(f"{p['module']} {p['loss']:+.3%}" for p in ranked)
                   + f"  (most sensitive: {ranked[0]['module']})")


@main.command("agree")
@click.option("--trace", "trace_name", default="smollm2-135m", show_default=True)
@click.option("--coefficients", type=click.Path(dir_okay=False))
@click.argument("journals", nargs=-1, required=True)
def agree(trace_name: str, coefficients: str | None, journals: tuple[str, ...]) -> None:
    """Proxy-vs-perplexity accept/reject agreement over the combinations in JOURNALS."""
    import json

    from andasim.search.evaluators.proxy import ProxyEvaluator, load_coefficients
    from andasim.workload.trace import load_trace

    coeffs, prov = load_coefficients(coefficients) if coefficients else load_coefficients()
    proxy = ProxyEvaluator(load_trace(trace_name), coeffs, prov)
    click.echo(json.dumps(agreement(list(journals), proxy, (0.001, 0.01)), indent=1, sort_keys=True))


@main.command("summary")
@click.argument("journals", nargs=-1, required=True)
def summary(journals: tuple[str, ...]) -> None:
    """Evaluations and evaluator time of each journal (reused evaluations count with their original time)."""
    for path in journals:
        config, events = read_journal(path)
        evals = [e for e in events if e["type"] == "eval"]
        ref = next((e for e in events if e["type"] == "reference"), None)
        best = next((e for e in reversed(evals) if e.get("accepted")), None)
        eval_s = sum(e["wall_s"] for e in evals)
        click.echo(f"{path}: algorithm {config.get('algorithm')}, δ={config.get('tolerance')}: "
                   f"{len(evals)} evaluations ({sum('reused_from' in e for e in evals)} reused), "
                   f"evaluator time {eval_s:.0f} s + reference {ref['wall_s'] if ref else 0:.0f} s; "
                   f"best {best['combination'] if best else None}")


if __name__ == "__main__":
    main()
