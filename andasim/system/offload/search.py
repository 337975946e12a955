"""FlexGen's two-level policy search: enumerate (gbs, nb), solve an LP over the placement.

Outer level (reference notes 2.3): GPU batch sizes 1, 2, 3 and multiples of 4 (the paper: "gbs
is a multiple of 4"), number of GPU batches 1..max. Memory grows with both, so the first
infeasible nb ends the nb loop and an infeasible nb = 1 ends the search. Inner level: a linear
program over the nine fractions minimising T / bls, with the max() of the overlap structure and
of the working buffers linearised through epigraph variables exactly as FlexGen does, solved
with scipy's HiGHS. Hidden states stay off disk by default (hd = 0), as FlexGen's runtime
requires ("temporary hack" hg + hc = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from andasim.system.offload.cost import VARS, CostTerms, PolicyEval, evaluate

_N = len(VARS)
# Relative slack under which a memory constraint counts as binding.
BINDING_REL_TOL = 1e-6


def gbs_candidates(max_gbs: int) -> list[int]:
    return [g for g in (1, 2, 3) if g <= max_gbs] + list(range(4, max_gbs + 1, 4))


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


def solve_placement(terms: CostTerms, *, hidden_on_disk: bool = False) -> PolicyEval | None:
    """The placement minimising T / bls for this (gbs, nb), or None if no placement fits."""
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
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), A_eq=a_eq, b_eq=b_eq,
                  bounds=_bounds(hidden_on_disk), method="highs")
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
    evaluated: list[PolicyEval]      # the LP optimum of every feasible (gbs, nb) tried
    infeasible_reason: str | None

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


def search(build: Callable[[int, int], CostTerms], *, max_gbs: int = 128, max_nb: int = 20,
           hidden_on_disk: bool = False, progress: Callable[[Iterable], Iterable] | None = None
           ) -> SearchResult:
    """FlexGen's outer enumeration over (gbs, nb) with the LP inside; best = max throughput."""
    evaluated: list[PolicyEval] = []
    gbs_list = gbs_candidates(max_gbs)
    it = progress(gbs_list) if progress else gbs_list
    for gbs in it:
        feasible_any = False
        for nb in range(1, max_nb + 1):
            ev = solve_placement(build(gbs, nb), hidden_on_disk=hidden_on_disk)
            if ev is None:
                break
            feasible_any = True
            evaluated.append(ev)
        if not feasible_any:
            break
    if not evaluated:
        name, ratio = tightest_constraint(build(1, 1), hidden_on_disk=hidden_on_disk)
        return SearchResult(None, [], (
            f"no feasible policy even at --gpu-batch-size 1 --num-gpu-batches 1: the tightest "
            f"constraint(s): {name}; the best placement still needs {ratio:.3f}x the usable capacity"))
    best = max(evaluated, key=lambda e: (e.throughput_tok_per_s, -e.latency_s))
    return SearchResult(best, evaluated, None)
