"""Algorithm 1 (published and improved) driven by oracle evaluators, and the resumable journal."""

from __future__ import annotations

import json
import math

import pytest

from andasim.errors import AndasimInputError
from andasim.search.algorithm import parse_tolerance, run_search, search_improved, search_published
from andasim.search.evaluators.base import Evaluator
from andasim.workload.card import load_card

# The worked example of the paper (Fig. 9, OPT-125M, δ = 1%; anda.md §3.3): the combinations marked ✓.
FIG9_ACCEPTED = {(7, 7, 7, 7), (7, 7, 6, 7), (7, 7, 6, 6), (7, 7, 6, 5)}
FIG9_SEQUENCE = [(4, 4, 4, 4), (5, 5, 5, 5), (6, 6, 6, 6), (7, 7, 7, 7), (7, 7, 6, 7),
                 (7, 7, 5, 7), (7, 7, 6, 6), (7, 7, 5, 6), (7, 7, 6, 5), (7, 7, 5, 5)]
OPT125M = load_card("opt-125m")


class Oracle(Evaluator):
    """Accepts a fixed set of combinations (or its upward closure, which is monotone).

    Metric 1.0 = the reference (accuracy 1.0), metric 2.0 = accuracy 0.0.
    """

    metric_name = "oracle"

    def __init__(self, accepted=FIG9_ACCEPTED, closure=False, fail_after=None):
        self.accepted = accepted
        self.closure = closure
        self.fail_after = fail_after
        self.calls: list[tuple[int, ...]] = []
        self.reference_calls = 0

    def describe(self):
        return {"name": "oracle", "closure": self.closure}

    def reference_metric(self):
        self.reference_calls += 1
        return 1.0

    def passes(self, comb):
        if self.closure:
            return any(all(a >= b for a, b in zip(comb, ok, strict=True)) for ok in self.accepted)
        return comb in self.accepted

    def measure(self, profile):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        comb = tuple(profile.as_list())
        self.calls.append(comb)
        return 1.0 if self.passes(comb) else 2.0


def test_fig9_worked_example_published():
    oracle = Oracle()
    result = search_published(oracle, OPT125M, 0.01, max_evals=10)
    assert oracle.calls == FIG9_SEQUENCE
    assert [e.combination for e in result.evaluations] == FIG9_SEQUENCE
    assert [e.accepted for e in result.evaluations] == [c in FIG9_ACCEPTED for c in FIG9_SEQUENCE]
    assert result.best.as_list() == [7, 7, 6, 5]
    assert result.best_bops_reduction == pytest.approx(16 / 6)  # Σ f·M = 6 for [7,7,6,5] on OPT


def test_published_with_full_budget_keeps_the_result_and_wastes_evaluations():
    oracle = Oracle()
    result = search_published(oracle, OPT125M, 0.01, max_evals=32)
    assert oracle.calls[:10] == FIG9_SEQUENCE
    assert result.best.as_list() == [7, 7, 6, 5]
    # After #10 the published loop keeps popping: the 3 cheaper untried neighbours, the 10 dearer
    # ones, then the uniform seeds 8..13 until the queue empties (26 evaluations in all).
    assert len(oracle.calls) == 26
    assert oracle.calls[-6:] == [(m,) * 4 for m in range(8, 14)]
    assert len(set(oracle.calls)) == len(oracle.calls)


def test_improved_finds_the_same_optimum_with_fewer_evaluations():
    published, improved = Oracle(closure=True), Oracle(closure=True)
    r_pub = search_published(published, OPT125M, 0.01, max_evals=32)
    r_imp = search_improved(improved, OPT125M, 0.01, max_evals=32)
    assert r_pub.best.as_list() == r_imp.best.as_list() == [7, 7, 6, 5]
    # Bisection over 4..13 needs [8],[5],[6],[7]; then [7,7,6,7] ✓, [7,7,5,7] ✗, [7,7,6,6] ✓,
    # ([7,7,5,6] ≤ [7,7,5,7] is skipped), [7,7,6,5] ✓, ([7,7,5,5] skipped), [7,7,6,4] ✗, [6,7,6,5] ✗,
    # [7,6,6,5] ✗; the next candidate [6,7,6,6] costs more than [7,7,6,5], so the search stops: 11.
    assert len(improved.calls) == 11
    assert improved.calls[:4] == [(8,) * 4, (5,) * 4, (6,) * 4, (7,) * 4]
    assert (7, 7, 5, 6) not in improved.calls and (7, 7, 5, 5) not in improved.calls
    assert len(published.calls) == 26


def test_improved_without_monotonicity_only_prunes_by_bops():
    oracle = Oracle()  # the exact ✓ set is not monotone ([8,8,8,8] fails), so bisection would mislead
    result = search_improved(oracle, OPT125M, 0.01, max_evals=32, monotone=False)
    # Same 10 as Fig. 9, then the 3 candidates still cheaper than [7,7,6,5]; nothing dearer.
    assert oracle.calls == [*FIG9_SEQUENCE, (7, 7, 6, 4), (6, 7, 6, 5), (7, 6, 6, 5)]
    assert result.best.as_list() == [7, 7, 6, 5]


def test_budget_and_no_feasible_candidate():
    oracle = Oracle(accepted=set())
    result = search_published(oracle, OPT125M, 0.01, max_evals=4)
    assert result.best is None and len(oracle.calls) == 4
    assert search_improved(Oracle(accepted=set()), OPT125M, 0.01, 32).best is None


class LayerOracle(Oracle):
    """Feasible iff every layer keeps qkv ≥ 7, o ≥ 7, up ≥ 6 and down ≥ 5 except layers 6..11, where
    down may go down to 3 (so the per-layer refinement has something to find)."""

    def measure(self, profile):
        comb = tuple(profile.as_list())
        self.calls.append(comb)
        ok = all(profile.bits_for("qkv", layer) >= 7 and profile.bits_for("o", layer) >= 7
                 and profile.bits_for("up", layer) >= 6
                 and profile.bits_for("down", layer) >= (3 if layer >= 6 else 5) for layer in range(12))
        return 1.0 if ok else 2.0


def test_per_layer_refinement():
    oracle = LayerOracle()
    result = search_improved(oracle, OPT125M, 0.01, max_evals=40, refine_blocks=2)
    best = result.best
    assert best.as_list() == [7, 7, 6, 5]
    # Only the second block's down projection can narrow, twice: 5 → 4 → 3.
    assert best.per_layer == {layer: {"down": 3} for layer in range(6, 12)}
    # Σ f·M: (3·7 + 7 + 4·6)/12 + (4/12)·(5 + 3)/2 = 52/12 + 16/12 = 68/12 → 16·12/68.
    assert result.best_bops_reduction == pytest.approx(192 / 68)
    assert all(e.feasible == (e.accepted) for e in result.evaluations[-3:])


def test_journal_records_every_evaluation(tmp_path):
    path = tmp_path / "j.jsonl"
    result = run_search(Oracle(), OPT125M, 0.01, algorithm="published", max_evals=10, journal_path=str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["config"]["algorithm"] == "published"
    assert lines[0]["config"]["tolerance"] == 0.01 and lines[0]["config"]["evaluator"] == {
        "name": "oracle", "closure": False}
    assert lines[1]["type"] == "reference"
    evals = [line for line in lines if line["type"] == "eval"]
    assert [tuple(e["combination"]) for e in evals] == FIG9_SEQUENCE
    assert [e["accepted"] for e in evals] == [e.accepted for e in result.evaluations]


@pytest.mark.parametrize("algorithm", ["published", "improved"])
@pytest.mark.parametrize("kill_after", [0, 3, 7])
def test_kill_and_resume_gives_same_result_without_repeats(tmp_path, algorithm, kill_after):
    path = str(tmp_path / "j.jsonl")
    uninterrupted = run_search(Oracle(closure=True), OPT125M, 0.01, algorithm=algorithm, max_evals=32)
    first = Oracle(closure=True, fail_after=kill_after)
    with pytest.raises(KeyboardInterrupt):
        run_search(first, OPT125M, 0.01, algorithm=algorithm, max_evals=32, journal_path=path)
    second = Oracle(closure=True)
    resumed = run_search(second, OPT125M, 0.01, algorithm=algorithm, max_evals=32, journal_path=path)
    assert resumed.best.as_list() == uninterrupted.best.as_list()
    assert [e.combination for e in resumed.evaluations] == [e.combination for e in uninterrupted.evaluations]
    assert not set(first.calls) & set(second.calls)  # nothing evaluated twice
    assert len(first.calls) + len(second.calls) == uninterrupted.n_evaluations
    assert second.reference_calls == 0  # the reference was journaled too
    assert resumed.n_fresh == len(second.calls)
    # A third run replays everything.
    third = Oracle(closure=True)
    again = run_search(third, OPT125M, 0.01, algorithm=algorithm, max_evals=32, journal_path=path)
    assert third.calls == [] and again.best.as_list() == uninterrupted.best.as_list()


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "j.jsonl"
    run_search(Oracle(), OPT125M, 0.01, algorithm="published", max_evals=5, journal_path=str(path))
    text = path.read_text()
    path.write_text(text + '{"type":"eval","key":"trunc')  # killed in the middle of a write
    oracle = Oracle()
    # Same config (max_evals=5): replays the 5 complete lines and repairs the file.
    again = run_search(oracle, OPT125M, 0.01, algorithm="published", max_evals=5, journal_path=str(path))
    assert oracle.calls == [] and again.n_evaluations == 5
    assert path.read_text() == text


def test_mismatching_config_is_refused(tmp_path):
    path = str(tmp_path / "j.jsonl")
    run_search(Oracle(), OPT125M, 0.01, algorithm="published", max_evals=5, journal_path=path)
    with pytest.raises(AndasimInputError, match=r"different configuration.*tolerance"):
        run_search(Oracle(), OPT125M, 0.001, algorithm="published", max_evals=5, journal_path=path)
    with pytest.raises(AndasimInputError, match=r"evaluator\.closure"):
        run_search(Oracle(closure=True), OPT125M, 0.01, algorithm="published", max_evals=5, journal_path=path)


def test_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"type": "eval"}\n')
    with pytest.raises(AndasimInputError, match="no header"):
        run_search(Oracle(), OPT125M, 0.01, journal_path=str(path))


@pytest.mark.parametrize(("text", "value"), [("1%", 0.01), ("0.1%", 0.001), ("0.01", 0.01), (" 2% ", 0.02)])
def test_parse_tolerance(text, value):
    assert parse_tolerance(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["", "%", "1 %%", "abc", "0", "0%", "100%", "1.5", "-1%", "nan", "1e"])
def test_parse_tolerance_refuses(text):
    with pytest.raises(AndasimInputError, match="tolerance"):
        parse_tolerance(text)


def test_bad_search_arguments():
    with pytest.raises(AndasimInputError, match="algorithm"):
        run_search(Oracle(), OPT125M, 0.01, algorithm="greedy")
    with pytest.raises(AndasimInputError, match="max_evals"):
        run_search(Oracle(), OPT125M, 0.01, max_evals=0)
    with pytest.raises(AndasimInputError, match="refine_blocks"):
        run_search(Oracle(), OPT125M, 0.01, refine_blocks=13)


def test_reuse_replays_other_journals_with_the_same_evaluator(tmp_path):
    first = str(tmp_path / "a.jsonl")
    run_search(Oracle(closure=True), OPT125M, 0.01, algorithm="improved", journal_path=first)
    oracle = Oracle(closure=True)
    result = run_search(oracle, OPT125M, 0.01, algorithm="published", journal_path=str(tmp_path / "b.jsonl"),
                        reuse=[first])
    assert result.best.as_list() == [7, 7, 6, 5]
    reused = {e.combination for e in result.evaluations if e.replayed}
    assert reused and not reused & set(oracle.calls)  # shared measurements are not recomputed
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert sum("reused_from" in x for x in lines) == len(reused)
    with pytest.raises(AndasimInputError, match=r"evaluator settings differ.*closure"):
        run_search(Oracle(), OPT125M, 0.01, journal_path=str(tmp_path / "c.jsonl"), reuse=[first])


class HeldOutOracle(Oracle):
    def __init__(self):
        super().__init__(closure=True)
        self.heldout_calls = []

    heldout_tokens_per_window = 100

    def heldout_detail(self, profile):
        self.heldout_calls.append(None if profile is None else tuple(profile.as_list()))
        nll = [230.0, 231.0, 229.0] if profile is None else [230.5, 231.2, 229.7]
        return math.exp(sum(nll) / 300), nll


def test_heldout_report_is_journaled(tmp_path):
    from andasim.search.api import heldout_report

    path = str(tmp_path / "h.jsonl")
    ev = HeldOutOracle()
    held = heldout_report(ev, run_search(ev, OPT125M, 0.01, journal_path=path))
    assert held["chosen"] / held["reference"] - 1 == pytest.approx(held["relative_change"])
    assert held["relative_change"] == pytest.approx(math.expm1(1.4 / 300))
    assert held["ci_low"] <= held["relative_change"] <= held["ci_high"] and held["windows"] == 3
    assert ev.heldout_calls == [None, (7, 7, 6, 5)]
    again = HeldOutOracle()
    assert heldout_report(again, run_search(again, OPT125M, 0.01, journal_path=path)) == held
    assert again.heldout_calls == [] and again.calls == []
