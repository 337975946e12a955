"""Precision-combination search: Algorithm 1 as published (anda.md §3.3) and an improved variant.

Both walk the same space: combinations `[M_qkv, M_o, M_u, M_d]`, seeded with the uniform ones
4..13 and extended, from each accepted combination, by its neighbours with one module one bit
narrower. Candidates leave a priority queue cheapest-BOPs first.

Deterministic tie-break (documented, needed for the paper's own example): candidates of equal
BOPs leave the queue in ascending lexicographic order of `[M_qkv, M_o, M_u, M_d]`. With OPT MAC
shares (f_u = f_d) `[7,7,6,7]` and `[7,7,7,6]` cost the same, and Fig. 9 evaluates `[7,7,6,7]`
first; this rule (and equally a first-in-first-out rule) reproduces the whole of Fig. 9.

Interpretations of the published pseudo-code, kept in `search_published`:
- an "iteration" is one accuracy evaluation of a candidate; the reference evaluation is not
  counted; the search stops after `max_evals` evaluations or when the queue is empty;
- a candidate already queued is not queued twice (the pseudo-code checks `visited` only);
- neighbours never go below M = 1 (the hardware's narrowest mantissa, anda.md Table I).

`search_improved` spends evaluations only where they can change the answer:
- pruning by BOPs: a candidate whose BOPs are not below the best accepted one can never be
  accepted, and since the queue pops in BOPs order the search stops at the first such candidate
  (the published procedure evaluates them anyway, e.g. the uniform [8..13] seeds);
- memoisation: every evaluation goes through the journal, so a rerun or resume costs nothing;
- monotonicity pruning (option `monotone`, on by default): assume that narrowing any mantissa
  never improves accuracy. Then a candidate elementwise ≤ a failed combination is skipped, and
  the smallest feasible uniform seed is found by bisection over 4..13 instead of a linear walk.
  This is an assumption about the model, not a theorem: turn it off to get the BOPs pruning only;
- per-layer refinement (option `refine_blocks` = B > 0): after the module-wise optimum, with the
  evaluations left, try narrowing one module by one bit in one of B contiguous blocks of layers,
  cheapest result first, keeping each change that still meets the constraint. The result carries
  `PrecisionProfile.per_layer`.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from andasim import __version__
from andasim.errors import AndasimInputError
from andasim.search.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, paired_bootstrap
from andasim.search.bops import module_shares, relative_cost
from andasim.search.evaluators.base import Evaluator
from andasim.search.journal import Journal, evaluation_key
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import M_MIN, PrecisionProfile

UNIFORM_SEEDS = tuple(range(4, 14))  # Step 1 of Algorithm 1: [4,4,4,4] … [13,13,13,13] (anda.md §3.3 [C])
ALGORITHMS = ("published", "improved")
ACCEPT_RULES = ("ci", "mean")

Combination = tuple[int, ...]
PerLayer = dict[int, dict[str, int]]


@dataclass(frozen=True)
class Evaluation:
    """One accuracy evaluation of a candidate, as journaled and reported."""

    index: int
    combination: Combination
    per_layer: PerLayer
    relative_bops: float
    bops_reduction: float
    metric: float
    accuracy: float
    feasible: bool
    accepted: bool
    wall_s: float
    replayed: bool
    ci: tuple[float, float] | None = None

    @property
    def relative_change(self) -> float:
        """1 − accuracy: the relative metric change against the reference (perplexity: PPL ratio − 1)."""
        return 1.0 - self.accuracy

    def progress_line(self, metric_name: str) -> str:
        comb = "[" + ",".join(str(b) for b in self.combination) + "]"
        extra = f"+{sum(len(v) for v in self.per_layer.values())} per-layer" if self.per_layer else ""
        verdict = "accepted" if self.accepted else ("feasible" if self.feasible else "rejected")
        source = "journal" if self.replayed else f"{self.wall_s:.1f}s"
        ci = "" if self.ci is None else f" CI [{self.ci[0]:+.3%}, {self.ci[1]:+.3%}]"
        return (f"#{self.index:<3d} {comb}{extra}  BOPs x{self.bops_reduction:.3f}  "
                f"{metric_name}={self.metric:.6g}  change {self.relative_change:+.3%}{ci}  {verdict}  "
                f"({source})")


@dataclass
class SearchResult:
    """Outcome of a search: the best feasible profile (None if no candidate met the constraint)."""

    algorithm: str
    tolerance: float
    reference_metric: float
    best: PrecisionProfile | None
    best_bops_reduction: float | None
    evaluations: list[Evaluation] = field(default_factory=list)
    pruned: int = 0
    wall_s: float = 0.0
    journal: Journal | None = None
    accept: str = "mean"

    @property
    def n_evaluations(self) -> int:
        return len(self.evaluations)

    @property
    def n_fresh(self) -> int:
        """Evaluations actually computed in this run (not replayed from the journal)."""
        return sum(not e.replayed for e in self.evaluations)

    @property
    def eval_wall_s(self) -> float:
        """Evaluator time summed over all evaluations, including the journaled ones."""
        return sum(e.wall_s for e in self.evaluations)


def parse_tolerance(text: str | float) -> float:
    """`"1%"` → 0.01, `"0.1%"` → 0.001, `"0.01"` → 0.01; anything else is refused."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise AndasimInputError(f"tolerance {text!r}: expected a fraction such as 0.01 or a percentage "
                                "such as 1% or 0.1%") from None
    if not 0 < value < 1:
        raise AndasimInputError(f"tolerance {text!r}: must lie strictly between 0 and 1 (0% and 100%)")
    return value


class _Runner:
    """Evaluates candidates through the journal and keeps the bookkeeping both algorithms share."""

    def __init__(self, evaluator: Evaluator, shares: dict[str, float], tolerance: float,
                 journal: Journal | None, progress: Callable[[Evaluation], None] | None,
                 n_layers: int | None, accept: str = "mean", seed: int = DEFAULT_SEED) -> None:
        self.evaluator = evaluator
        self.accept = check_accept(accept, evaluator)
        self.seed = seed
        self.reference_nll: list[float] | None = None
        self.shares = shares
        self.tolerance = tolerance
        self.journal = journal
        self.progress = progress
        self.n_layers = n_layers
        self.evaluations: list[Evaluation] = []
        self.reference = self._reference()
        self.fp_acc = evaluator.accuracy(self.reference, self.reference)

    def _reference(self) -> float:
        if self.journal is not None and self.journal.reference is not None:
            self.reference_nll = self.journal.reference.get("window_nll")
            return float(self.journal.reference["metric"])
        start = time.perf_counter()
        metric, nll = self.evaluator.reference_detail()
        self.reference_nll = None if nll is None else [float(v) for v in nll]
        if self.journal is not None:
            self.journal.record_reference(float(metric), time.perf_counter() - start, self.reference_nll)
        return float(metric)

    def interval(self, window_nll: list[float] | None) -> tuple[float, float] | None:
        """Paired-bootstrap interval of the relative change against the reference (None without windows)."""
        if window_nll is None or self.reference_nll is None:
            return None
        ci = paired_bootstrap(self.reference_nll, window_nll, self.evaluator.tokens_per_window,
                              seed=self.seed)
        return ci.low, ci.high

    def cost(self, comb: Combination, per_layer: PerLayer | None = None) -> Fraction:
        return relative_cost(self.shares, self.profile(comb, per_layer), self.n_layers)

    @staticmethod
    def profile(comb: Combination, per_layer: PerLayer | None = None, name: str = "candidate",
                source: str = "andasim search") -> PrecisionProfile:
        return PrecisionProfile(name=name, source=source,
                                mantissa_bits=dict(zip(FP_INT_MODULES, comb, strict=True)),
                                per_layer={k: dict(v) for k, v in (per_layer or {}).items()})

    def evaluate(self, comb: Combination, best_cost: Fraction | None,
                 per_layer: PerLayer | None = None) -> Evaluation:
        per_layer = per_layer or {}
        key = evaluation_key(comb, per_layer)
        hit = self.journal.lookup(key) if self.journal is not None else None
        shared = self.journal.lookup_shared(key) if self.journal is not None and hit is None else None
        if hit is not None or shared is not None:
            source = hit if hit is not None else shared
            metric, wall_s, replayed = float(source["metric"]), float(source["wall_s"]), True
            window_nll = source.get("window_nll")
        else:
            start = time.perf_counter()
            raw, nll = self.evaluator.measure_detail(self.profile(comb, per_layer))
            metric, wall_s, replayed = float(raw), time.perf_counter() - start, False
            window_nll = None if nll is None else [float(v) for v in nll]
        cost = self.cost(comb, per_layer)
        accuracy = self.evaluator.accuracy(metric, self.reference)
        ci = self.interval(window_nll)
        if self.accept == "ci":
            if ci is None:
                raise AndasimInputError("--accept ci needs per-window measurements; this evaluation has none "
                                        "(a journal from an older andasim?); use --accept mean")
            feasible = ci[1] <= self.tolerance
        else:
            feasible = accuracy >= (1.0 - self.tolerance) * self.fp_acc
        accepted = feasible and (best_cost is None or cost < best_cost)
        ev = Evaluation(index=len(self.evaluations) + 1, combination=comb, per_layer=per_layer,
                        relative_bops=float(cost), bops_reduction=float(1 / cost), metric=metric,
                        accuracy=accuracy, feasible=feasible, accepted=accepted, wall_s=wall_s,
                        replayed=replayed, ci=ci)
        if self.journal is not None and hit is None:
            extra = {"reused_from": shared["source"]} if shared is not None else {}
            self.journal.record_eval({**extra,
                "key": key, "index": ev.index, "combination": list(comb),
                "per_layer": {str(k): v for k, v in sorted(per_layer.items())},
                "bops_reduction": ev.bops_reduction, "metric": metric, "accuracy": accuracy,
                "feasible": feasible, "accepted": accepted, "wall_s": wall_s,
                "evaluator": self.evaluator.metric_name,
                **({} if window_nll is None else {"window_nll": window_nll, "ci": list(ci)})})
        self.evaluations.append(ev)
        if self.progress is not None:
            self.progress(ev)
        return ev


def check_accept(accept: str, evaluator: Evaluator) -> str:
    """Validate the acceptance rule: `ci` (interval upper bound within δ) needs a windowed evaluator."""
    if accept not in ACCEPT_RULES:
        raise AndasimInputError(f"--accept {accept!r}: valid are {', '.join(ACCEPT_RULES)}")
    if accept == "ci" and evaluator.tokens_per_window is None:
        raise AndasimInputError(f"--accept ci needs an evaluator that measures windows (perplexity); the "
                                f"{evaluator.metric_name} evaluator has none: use --accept mean")
    return accept


def _neighbours(comb: Combination) -> Iterable[Combination]:
    """GenerateCandidates: one module's width reduced by one, the others unchanged."""
    for i, bits in enumerate(comb):
        if bits - 1 >= M_MIN:
            yield (*comb[:i], bits - 1, *comb[i + 1:])


def _result(runner: _Runner, algorithm: str, best: Combination | None, best_per_layer: PerLayer,
            best_cost: Fraction | None, pruned: int, start: float) -> SearchResult:
    profile = None
    if best is not None:
        name = "search-" + "-".join(str(b) for b in best)
        profile = runner.profile(best, best_per_layer, name=name,
                                 source=f"andasim {__version__} search ({algorithm}, δ={runner.tolerance:g}, "
                                        f"evaluator {runner.evaluator.metric_name})")
    return SearchResult(algorithm=algorithm, tolerance=runner.tolerance, reference_metric=runner.reference,
                        best=profile, best_bops_reduction=None if best_cost is None else float(1 / best_cost),
                        evaluations=runner.evaluations, pruned=pruned, wall_s=time.perf_counter() - start)


def search_published(evaluator: Evaluator, card_or_shares: Any, tolerance: float, max_evals: int = 32, *,
                     journal: Journal | None = None, progress: Callable[[Evaluation], None] | None = None,
                     accept: str = "mean") -> SearchResult:
    """Algorithm 1 of the Anda paper, step by step (anda.md §3.3)."""
    start = time.perf_counter()
    runner = _Runner(evaluator, module_shares(card_or_shares), tolerance, journal, progress, None, accept)
    queue = [(runner.cost(c), c) for c in ((m,) * 4 for m in UNIFORM_SEEDS)]
    heapq.heapify(queue)
    queued = {c for _, c in queue}
    visited: set[Combination] = set()
    best: Combination | None = None
    best_cost: Fraction | None = None
    while len(runner.evaluations) < max_evals and queue:
        cost, comb = heapq.heappop(queue)
        queued.discard(comb)
        visited.add(comb)
        ev = runner.evaluate(comb, best_cost)
        if ev.accepted:
            best, best_cost = comb, cost
            for n in _neighbours(comb):
                if n not in visited and n not in queued:
                    heapq.heappush(queue, (runner.cost(n), n))
                    queued.add(n)
    return _result(runner, "published", best, {}, best_cost, 0, start)


def _dominated(comb: Combination, failed: list[Combination]) -> bool:
    return any(all(c <= f for c, f in zip(comb, fail, strict=True)) for fail in failed)


def search_improved(evaluator: Evaluator, card_or_shares: Any, tolerance: float, max_evals: int = 32, *,
                    journal: Journal | None = None, progress: Callable[[Evaluation], None] | None = None,
                    monotone: bool = True, refine_blocks: int = 0, n_layers: int | None = None,
                    accept: str = "mean") -> SearchResult:
    """Algorithm 1 with BOPs pruning, memoisation, optional monotonicity pruning and per-layer refinement."""
    start = time.perf_counter()
    if refine_blocks:
        n_layers = n_layers if n_layers is not None else getattr(card_or_shares, "n_layers", None)
        if not n_layers or not 0 < refine_blocks <= n_layers:
            raise AndasimInputError(f"refine_blocks={refine_blocks}: needs 1..n_layers blocks and a known "
                                    f"layer count (got n_layers={n_layers})")
    runner = _Runner(evaluator, module_shares(card_or_shares), tolerance, journal, progress, n_layers, accept)
    failed: list[Combination] = []
    best: Combination | None = None
    best_cost: Fraction | None = None
    pruned = 0
    queue: list[tuple[Fraction, Combination]] = []
    queued: set[Combination] = set()
    visited: set[Combination] = set()

    def accept(comb: Combination, cost: Fraction) -> None:
        nonlocal best, best_cost
        best, best_cost = comb, cost
        for n in _neighbours(comb):
            if n not in visited and n not in queued:
                heapq.heappush(queue, (runner.cost(n), n))
                queued.add(n)

    if monotone:
        # Bisection for the narrowest feasible uniform seed: under monotonicity every narrower uniform
        # fails and every wider one costs more, so the linear walk of the published seeds is not needed.
        lo, hi = 0, len(UNIFORM_SEEDS) - 1
        found: int | None = None
        while lo <= hi and len(runner.evaluations) < max_evals:
            mid = (lo + hi) // 2
            comb = (UNIFORM_SEEDS[mid],) * 4
            visited.add(comb)
            ev = runner.evaluate(comb, None if found is None else runner.cost((UNIFORM_SEEDS[found],) * 4))
            if ev.feasible:
                found, hi = mid, mid - 1
            else:
                failed.append(comb)
                lo = mid + 1
        if found is not None:
            seed = (UNIFORM_SEEDS[found],) * 4
            accept(seed, runner.cost(seed))
        pruned += len(UNIFORM_SEEDS) - len(runner.evaluations)
    else:
        for m in UNIFORM_SEEDS:
            heapq.heappush(queue, (runner.cost((m,) * 4), (m,) * 4))
            queued.add((m,) * 4)

    while queue and len(runner.evaluations) < max_evals:
        cost, comb = heapq.heappop(queue)
        queued.discard(comb)
        if best_cost is not None and cost >= best_cost:
            pruned += 1 + len(queue)  # this and every later candidate cost at least the best
            queue.clear()
            break
        visited.add(comb)
        if monotone and _dominated(comb, failed):
            pruned += 1
            continue
        ev = runner.evaluate(comb, best_cost)
        if ev.accepted:
            accept(comb, cost)
        else:
            failed.append(comb)

    best_per_layer: PerLayer = {}
    if refine_blocks and best is not None and len(runner.evaluations) < max_evals:
        best_per_layer, best_cost = _refine_per_layer(runner, best, best_cost, refine_blocks, n_layers,
                                                      max_evals)
    return _result(runner, "improved", best, best_per_layer, best_cost, pruned, start)


def _refine_per_layer(runner: _Runner, best: Combination, best_cost: Fraction, blocks: int, n_layers: int,
                      max_evals: int) -> tuple[PerLayer, Fraction]:
    """Greedy per-block narrowing of the module-wise optimum (the `refine_blocks` option)."""
    bounds = [(b * n_layers // blocks, (b + 1) * n_layers // blocks) for b in range(blocks)]
    widths = {(b, i): best[i] for b in range(blocks) for i in range(len(FP_INT_MODULES))}
    alive = {key for key, w in widths.items() if w - 1 >= M_MIN}

    def per_layer_of(w: dict[tuple[int, int], int]) -> PerLayer:
        out: PerLayer = {}
        for (b, i), bits in w.items():
            if bits != best[i]:
                for layer in range(*bounds[b]):
                    out.setdefault(layer, {})[FP_INT_MODULES[i]] = bits
        return out

    current = per_layer_of(widths)
    while alive and len(runner.evaluations) < max_evals:
        options = []
        for key in sorted(alive):
            trial = dict(widths)
            trial[key] -= 1
            layers = per_layer_of(trial)
            options.append((runner.cost(best, layers), key, trial, layers))
        cost, key, trial, layers = min(options, key=lambda o: (o[0], o[1]))
        ev = runner.evaluate(best, best_cost, layers)
        if ev.accepted:
            widths, current, best_cost = trial, layers, cost
            if widths[key] - 1 < M_MIN:
                alive.discard(key)
        else:
            alive.discard(key)  # narrowing this block further only adds error
    return current, best_cost


def search_config(algorithm: str, evaluator: Evaluator, card_or_shares: Any, tolerance: float, max_evals: int,
                  options: dict[str, Any]) -> dict[str, Any]:
    """The journal header: everything that determines the sequence of evaluations."""
    return {"algorithm": algorithm, "tolerance": tolerance, "max_evals": max_evals,
            "shares": module_shares(card_or_shares), "evaluator": evaluator.describe(),
            "options": options, "andasim_version": __version__}


def run_search(evaluator: Evaluator, card_or_shares: Any, tolerance: float, *, algorithm: str = "improved",
               max_evals: int = 32, journal_path: str | None = None,
               progress: Callable[[Evaluation], None] | None = None, monotone: bool = True,
               refine_blocks: int = 0, n_layers: int | None = None,
               reuse: list[str] | None = None, accept: str | None = None) -> SearchResult:
    """Run one search, journaled to `journal_path` when given (resuming it if it exists).

    `reuse`: other journals whose evaluations (same evaluator settings) are replayed instead of recomputed.
    `accept`: `ci` (the paired-bootstrap interval's upper bound within δ) or `mean` (the point estimate,
    the paper's rule); default `ci` for evaluators that measure windows, `mean` otherwise.
    """
    if accept is None:
        accept = "mean" if evaluator.tokens_per_window is None else "ci"
    check_accept(accept, evaluator)
    if algorithm not in ALGORITHMS:
        raise AndasimInputError(f"algorithm {algorithm!r}: valid are {', '.join(ALGORITHMS)}")
    if isinstance(max_evals, bool) or not isinstance(max_evals, int) or max_evals < 1:
        raise AndasimInputError(f"max_evals must be a positive integer, got {max_evals!r}")
    if not 0 < tolerance < 1:
        raise AndasimInputError(f"tolerance must lie strictly between 0 and 1, got {tolerance!r}")
    options: dict[str, Any] = {"accept": accept}
    if accept == "ci":
        options["bootstrap"] = {"seed": DEFAULT_SEED, "resamples": DEFAULT_RESAMPLES, "level": DEFAULT_LEVEL}
    if algorithm == "improved":
        options.update(monotone=monotone, refine_blocks=refine_blocks)
    journal = None
    if journal_path is not None:
        journal = Journal.open(journal_path, search_config(algorithm, evaluator, card_or_shares, tolerance,
                                                           max_evals, options))
        journal.reuse(list(reuse or []))
    elif reuse:
        raise AndasimInputError("reusing other journals needs a journal of this search")
    if algorithm == "published":
        result = search_published(evaluator, card_or_shares, tolerance, max_evals, journal=journal,
                                  progress=progress, accept=accept)
    else:
        result = search_improved(evaluator, card_or_shares, tolerance, max_evals, journal=journal,
                                 progress=progress, monotone=monotone, refine_blocks=refine_blocks,
                                 n_layers=n_layers, accept=accept)
    result.journal = journal
    result.accept = accept
    return result
