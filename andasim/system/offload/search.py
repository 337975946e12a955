"""FlexGen's two-level policy search: enumerate (gbs, nb), solve an LP over the placement.

Outer level, two enumerations (`--search-enumeration`):
- `andasim` (default): gbs 1, 2, 3 and multiples of 4 (the paper: "gbs is a multiple of 4");
  for each, the largest feasible nb is found by doubling and bisection, then every nb up to 64
  and a ~9 % geometric grid above it (always including the largest) is solved. No cap unless
  --max-gpu-batch-size / --max-num-gpu-batches are given; a search cut short by one says so.
  Best = `select_best`: the highest throughput, and among the policies within 1 % of it the
  lowest latency.
- `flexgen`: the released cost_model.py (:439-529): gbs 1, 2, 3, 4, 8, 16, ...; nb from 1 to
  the largest feasible, stopping at the first drop in throughput; the first strictly best wins.
Memory grows with gbs and nb, so feasibility is monotone and an infeasible nb = 1 ends the
search. Inner level: a linear
program over the nine fractions minimising T / bls, with the max() of the overlap structure and
of the working buffers linearised through epigraph variables exactly as FlexGen does, solved
with scipy's HiGHS. Hidden states stay off disk by default (hd = 0), as FlexGen's runtime
requires ("temporary hack" hg + hc = 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from andasim.errors import AndasimInputError
from andasim.system.offload.cost import VARS, CostTerms, PolicyEval, evaluate

_N = len(VARS)
# Relative slack under which a memory constraint counts as binding.
BINDING_REL_TOL = 1e-6


ENUMERATIONS = ("andasim", "flexgen")
# Best policy: the highest throughput; among the policies within this relative distance of it,
# the lowest latency (a 0.0015 % gain is not worth 100x the latency).
SELECTION_REL_TOL = 0.01
# andasim enumeration: every value up to this, then a geometric grid of this ratio.
DENSE_UP_TO = 64
GRID_RATIO = 2 ** (1 / 8)


def gbs_candidates(max_gbs: int) -> list[int]:
    return [g for g in (1, 2, 3) if g <= max_gbs] + list(range(4, max_gbs + 1, 4))


def _grid(stop: int, step: int = 1) -> list[int]:
    """1.. stop: every multiple of step up to DENSE_UP_TO, then ~9 % steps, always ending at stop."""
    out = [v for v in range(step, min(stop, DENSE_UP_TO) + 1, step)]
    v = float(out[-1] if out else step)
    while True:
        v *= GRID_RATIO
        nxt = round(v / step) * step
        if nxt >= stop:
            break
        if not out or nxt > out[-1]:
            out.append(nxt)
    if not out or out[-1] != stop:
        out.append(stop)
    return out


def _flexgen_gbs() -> Iterable[int]:
    """cost_model.py:521-524: 1, 2, 3, 4, 8, 16, ..."""
    g = 1
    while True:
        yield g
        g = g + 1 if g < 4 else g * 2


def _andasim_gbs() -> Iterable[int]:
    """1, 2, 3, then multiples of 4 (the paper: "gbs is a multiple of 4"), ~9 % apart above 64."""
    yield from (1, 2, 3)
    g = 4
    while True:
        yield g
        g = g + 4 if g < DENSE_UP_TO else max(g + 4, round(g * GRID_RATIO / 4) * 4)


def _last_feasible(fits: Callable[[int], bool], cap: int | None) -> int:
    """The largest nb that fits (0 if none), by doubling then bisection (cost_model.py:439-458);
    memory grows with nb, so feasibility is monotone. With a cap, at most the cap."""
    nb = 1
    while (cap is None or nb <= cap) and fits(nb):
        nb *= 2
    if cap is not None and nb > cap:
        if fits(cap):
            return cap
        nb = cap
    left, right = max(nb // 2, 1), nb
    if not fits(left):
        return 0
    while left + 1 < right:
        mid = (left + right) // 2
        if fits(mid):
            left = mid
        else:
            right = mid
    return left


def _sum_rows(extra_vars: int) -> tuple[np.ndarray, np.ndarray]:
    """wg+wc+wd = hg+hc+hd = cg+cc+cd = 1."""
    a = np.zeros((3, _N + extra_vars))
    for row, start in enumerate((0, 3, 6)):
        a[row, start:start + 3] = 1.0
    return a, np.ones(3)


def _bounds(hidden_on_disk: bool) -> list[tuple[float, float]]:
    b = [(0.0, 1.0)] * _N + [(0.0, None), (0.0, None)]
    if not hidden_on_disk:
        b[VARS.index("hd")] = (0.0, 0.0)
    return b


def solve_placement(terms: CostTerms, *, hidden_on_disk: bool = False,
                    fixed: dict[str, float] | None = None) -> PolicyEval | None:
    """The placement minimising T / bls for this (gbs, nb), or None if no placement fits.
    `fixed` pins some fractions (e.g. the weights' realised whole-tensor split)."""
    rows, rhs = [], []
    for _, lin in terms.prefill_groups:         # lin(x) - tp <= 0
        rows.append(np.concatenate([lin.coef, [-1.0, 0.0]]))
        rhs.append(-lin.const)
    for _, lin in terms.decode_groups:          # lin(x) - tg <= 0
        rows.append(np.concatenate([lin.coef, [0.0, -1.0]]))
        rhs.append(-lin.const)
    for mem in terms.memory:                    # usage(x) <= cap, scaled to O(1)
        cap = terms.caps_bytes[mem.tier]
        for lin in mem.rows():
            rows.append(np.concatenate([lin.coef / cap, [0.0, 0.0]]))
            rhs.append(1.0 - lin.const / cap)
    layers, n, bls = terms.n_layers, terms.gen_len, terms.bls
    cost = np.zeros(_N + 2)             # (l tp + (n-1) l tg) / bls
    cost[_N] = layers / bls
    cost[_N + 1] = (n - 1) * layers / bls
    a_eq, b_eq = _sum_rows(2)
    bounds = _bounds(hidden_on_disk)
    for name, value in (fixed or {}).items():
        bounds[VARS.index(name)] = (value, value)
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), A_eq=a_eq, b_eq=b_eq,
                  bounds=bounds, method="highs")
    if res.status != 0:
        return None
    x = np.clip(res.x[:_N], 0.0, 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    return evaluate(terms, x)


def tightest_constraint(terms: CostTerms, *, hidden_on_disk: bool = False) -> tuple[str, float]:
    """Why nothing fits: the smallest r with usage_k(x) <= r cap_k for all k, and the constraints
    that attain it (all of them when the tiers together are too small)."""
    rows, rhs = [], []
    names = []
    for mem in terms.memory:
        cap = terms.caps_bytes[mem.tier]
        for lin in mem.rows():
            rows.append(np.concatenate([lin.coef / cap, [-1.0]]))
            rhs.append(-lin.const / cap)
            names.append(mem.name)
    a_eq, b_eq = _sum_rows(1)
    bounds = [*_bounds(hidden_on_disk)[:_N], (0.0, None)]
    cost = np.zeros(_N + 1)
    cost[_N] = 1.0
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), A_eq=a_eq, b_eq=b_eq,
                  bounds=bounds, method="highs")
    ratio = float(res.x[_N])
    usage = np.array(rows)[:, :_N] @ res.x[:_N] - np.array(rhs)   # usage / cap per row
    tight = [names[i] for i in np.flatnonzero(usage >= ratio * (1 - 1e-6))]
    return ", ".join(dict.fromkeys(tight)), ratio


@dataclass
class SearchResult:
    best: PolicyEval | None
    evaluated: list[PolicyEval]      # the optimum of every (gbs, nb) evaluated
    infeasible_reason: str | None
    enumeration: str = "andasim"
    stopped_at_bound: list[str] = field(default_factory=list)  # which caps cut the search short
    not_realisable: int = 0          # (gbs, nb) whose relaxed optimum did not fit once rounded

    def pareto(self) -> list[PolicyEval]:
        """Non-dominated points: no other point has both lower latency and higher throughput."""
        pts = sorted(self.evaluated, key=lambda e: (e.latency_s, -e.throughput_tok_per_s))
        front: list[PolicyEval] = []
        best_tp = -1.0
        for e in pts:
            if e.throughput_tok_per_s > best_tp:
                front.append(e)
                best_tp = e.throughput_tok_per_s
        return front


def select_best(evaluated: list[PolicyEval], rel_tol: float = SELECTION_REL_TOL) -> PolicyEval:
    """Highest throughput; among policies within rel_tol of it, the lowest latency (then the
    highest throughput, then the smaller gbs, nb, for determinism)."""
    top = max(e.throughput_tok_per_s for e in evaluated)
    near = [e for e in evaluated if e.throughput_tok_per_s >= top * (1 - rel_tol)]
    return min(near, key=lambda e: (e.latency_s, -e.throughput_tok_per_s, e.gbs, e.nb))


SELECTION_RULES = {
    "andasim": f"highest throughput; within {SELECTION_REL_TOL:.0%} of it, the lowest latency",
    "flexgen": ("FlexGen's: gbs 1, 2, 3, 4, 8, ...; nb up to the largest feasible, stopping at the "
                "first drop in throughput; the first strictly highest throughput wins"),
}


def search(build: Callable[[int, int], CostTerms], *, max_gbs: int | None = None,
           max_nb: int | None = None, enumeration: str = "andasim", hidden_on_disk: bool = False,
           realise: Callable[[CostTerms, PolicyEval], PolicyEval | None] | None = None,
           progress: Callable[[Iterable], Iterable] | None = None) -> SearchResult:
    """Enumerate (gbs, nb) with the LP inside, FlexGen's way or andasim's (module docstring).

    `realise` maps the relaxed LP optimum to what the runtime would run (whole-tensor weight
    placement) or None when that does not fit; feasibility of the relaxation drives the loops.
    """
    if enumeration not in ENUMERATIONS:
        raise AndasimInputError(f"--search-enumeration must be one of {', '.join(ENUMERATIONS)}, "
                                f"got {enumeration!r}")
    evaluated: list[PolicyEval] = []
    bounds: list[str] = []
    nb_capped: list[int] = []       # gbs values whose nb loop the cap cut short
    skipped = 0
    best_flexgen: PolicyEval | None = None
    gbs_iter = _flexgen_gbs() if enumeration == "flexgen" else _andasim_gbs()
    gbs_list = itertools.takewhile(lambda g: max_gbs is None or g <= max_gbs, gbs_iter)
    last_gbs_feasible = False
    for gbs in (progress(gbs_list) if progress else gbs_list):
        memo: dict[int, PolicyEval | None] = {}

        def solve(nb: int, gbs: int = gbs, memo: dict = memo) -> PolicyEval | None:
            if nb not in memo:
                memo[nb] = solve_placement(build(gbs, nb), hidden_on_disk=hidden_on_disk)
            return memo[nb]

        nb_ub = _last_feasible(lambda nb: solve(nb) is not None, max_nb)
        last_gbs_feasible = nb_ub > 0
        if nb_ub == 0:
            break
        if max_nb is not None and nb_ub == max_nb and solve(max_nb + 1) is not None:
            nb_capped.append(gbs)
        if enumeration == "flexgen":
            prev = 0.0
            for nb in range(1, nb_ub + 1):
                ev = solve(nb)
                if ev is None or ev.throughput_tok_per_s < prev:
                    break
                prev = ev.throughput_tok_per_s
                ev = realise(build(gbs, nb), ev) if realise else ev
                if ev is None:
                    skipped += 1
                    continue
                evaluated.append(ev)
                if best_flexgen is None or ev.throughput_tok_per_s > best_flexgen.throughput_tok_per_s:
                    best_flexgen = ev
        else:
            for nb in _grid(nb_ub):
                ev = solve(nb)
                ev = realise(build(gbs, nb), ev) if (realise and ev is not None) else ev
                if ev is None:
                    skipped += 1
                    continue
                evaluated.append(ev)
    if max_gbs is not None and last_gbs_feasible:
        bounds.append(f"--max-gpu-batch-size {max_gbs}")
    if nb_capped:
        bounds.append(f"--max-num-gpu-batches {max_nb} (at gbs {', '.join(map(str, nb_capped))})")
    if not evaluated:
        name, ratio = tightest_constraint(build(1, 1), hidden_on_disk=hidden_on_disk)
        why = (f"no feasible policy even at --gpu-batch-size 1 --num-gpu-batches 1: the tightest "
               f"constraint(s): {name}; the best placement still needs {ratio:.3f}x the usable capacity")
        if skipped:
            why = (f"no policy fits once weights are placed as whole tensors ({skipped} relaxed "
                   "optima did not); try --weight-placement fraction")
        return SearchResult(None, [], why, enumeration, bounds, skipped)
    best = best_flexgen if enumeration == "flexgen" else select_best(evaluated)
    return SearchResult(best, evaluated, None, enumeration, bounds, skipped)
