"""Fuzz the bundled YAML files (issue 19): mutated types, ranges, keys and nesting.

Every mutant goes through `andasim validate`: exit 0, or exit 2 with one line naming the file.
For designs the stronger promise is checked too: a design that validates runs (`andasim run`
exits 0), because validate and run share one validation path. `test_a_broken_validator_is_caught`
shows that the suite notices a validator that stops checking ranges.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzing import check_outcome, invoke, run_property
from hypothesis import strategies as st

import andasim.strict_yaml as strict_yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = {
    "design": [ROOT / "hw_configs" / f"{n}.yaml" for n in ("anda", "pe64", "figna", "fp_fp")],
    "system": sorted((ROOT / "hw_configs" / "systems").glob("*.yaml")),
    "cost_table": sorted((ROOT / "andasim" / "hw" / "cost_tables").glob("*.yaml")),
    "card": [ROOT / "andasim" / "workload" / "cards" / f"{n}.yaml"
             for n in ("llama2-7b", "opt-125m", "gemma3-270m")],
}
QUICK_EXAMPLES = 60
SLOW_EXAMPLES = 600

# Values a hand-edited file might hold: boundaries, typos, wrong types, absurd magnitudes.
_NUMBERS = st.sampled_from([0, -1, 1, 2, 3, 15, 48, 100, 960, 1023, 1 << 20, 10**9, 10**30, 2**63, -(2**63),
                            0.0001, 0.5, 1e-30, 1e20, 1e308, float("nan"), float("inf"), float("-inf")])
_VALUES = st.one_of(_NUMBERS, _NUMBERS, st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.booleans(),
                    st.none(), st.lists(st.integers(), max_size=3),
                    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2))


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested mapping (mappings included, so whole sections get replaced)."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    return out


def _leaf_numbers(data: Any, prefix: tuple = ()) -> list[tuple]:
    return [p for p in _paths(data, prefix) if _get(data, p).__class__ in (int, float)]


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _parent(data: Any, path: tuple) -> dict:
    return _get(data, path[:-1])


@st.composite
def mutated_yaml(draw: Any, kinds: tuple[str, ...] = tuple(BUNDLED),
                 numeric_only: bool = False) -> tuple[str, str]:
    """(kind, YAML text): a bundled file with one to three mutations."""
    kind = draw(st.sampled_from(kinds))
    source = draw(st.sampled_from(BUNDLED[kind]))
    text = source.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        if numeric_only:  # near the original (often still valid) or a boundary/absurd value
            path = draw(st.sampled_from(_leaf_numbers(data)))
            old = _get(data, path)
            scaled = type(old)(old * draw(st.sampled_from([0.25, 0.5, 2, 3, 8, 0.1, 10])))
            _parent(data, path)[path[-1]] = draw(st.one_of(_NUMBERS, st.just(scaled), st.just(scaled)))
            continue
        paths = _paths(data)
        op = draw(st.sampled_from(["set", "set", "set", "delete", "add", "nest"]))
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        if path[-1] not in parent:  # removed by an earlier mutation
            continue
        if op == "set":
            parent[path[-1]] = draw(_VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "add":
            parent[draw(st.text(min_size=1, max_size=8))] = draw(_VALUES)
        else:
            parent[path[-1]] = {"value": parent[path[-1]]}
    out = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    raw = draw(st.sampled_from(["none", "none", "none", "duplicate", "alias", "truncate", "tab"]))
    if raw == "duplicate":
        first = out.splitlines()[0]
        out += first + "\n"
    elif raw == "alias":
        out = "x: &x 1\n" + out + "y: *x\n"
    elif raw == "truncate":
        out = out[: draw(st.integers(0, len(out)))]
    elif raw == "tab":
        out = out.replace("  ", "\t", 1)
    return kind, out


def _write(tmp_path: Path, kind: str, text: str) -> Path:
    path = tmp_path / f"mutant_{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _check_validate(tmp_path: Path, case: tuple[str, str]) -> None:
    kind, text = case
    path = _write(tmp_path, kind, text)
    args = ["validate", str(path)]
    out = invoke(args)
    check_outcome(args, out)
    if out.exit_code == 2:
        assert str(path) in out.output, out.output
        assert len(out.output.strip().splitlines()) == 1, out.output


def _check_design_runs_when_valid(tmp_path: Path, case: tuple[str, str]) -> None:
    kind, text = case
    path = _write(tmp_path, kind, text)
    valid = invoke(["validate", str(path)])
    check_outcome(["validate", str(path)], valid)
    if valid.exit_code != 0:
        return
    args = ["run", "--hw", str(path), "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "16",
            "--precision", "7,6,6,6", "--out", str(tmp_path / "run")]
    out = invoke(args)
    check_outcome(args, out)
    assert out.exit_code == 0, f"validate accepted {path} but run refused it: {out.output[-300:]}"


_SIZES = [pytest.param(QUICK_EXAMPLES, id="quick"),
          pytest.param(SLOW_EXAMPLES, id="long", marks=pytest.mark.slow)]


@pytest.mark.parametrize("examples", _SIZES)
def test_fuzz_mutated_yaml_validate(tmp_path, examples: int) -> None:
    run_property(mutated_yaml(), lambda case: _check_validate(tmp_path, case), examples,
                 derandomize=examples == QUICK_EXAMPLES)


@pytest.mark.parametrize("examples", _SIZES)
def test_fuzz_valid_design_also_runs(tmp_path, examples: int) -> None:
    strategy = st.one_of(mutated_yaml(("design",)), mutated_yaml(("design",), numeric_only=True))
    run_property(strategy, lambda case: _check_design_runs_when_valid(tmp_path, case), examples // 2,
                 derandomize=examples == QUICK_EXAMPLES)


def test_a_broken_validator_is_caught(tmp_path, monkeypatch) -> None:
    """With the range checks switched off, the design fuzz finds a design that validates but breaks."""
    original = strict_yaml._check_value

    def no_ranges(value: Any, spec: strict_yaml.Field, **kw: Any) -> None:
        original(value, dataclasses.replace(spec, min=None, max=None, positive=False, non_negative=False),
                 **kw)

    monkeypatch.setattr(strict_yaml, "_check_value", no_ranges)
    with pytest.raises((AssertionError, BaseExceptionGroup)) as caught:
        run_property(mutated_yaml(("design",), numeric_only=True),
                     lambda case: _check_design_runs_when_valid(tmp_path, case), 60, shrink=False)
    assert "validate accepted" in str(caught.value) or "crashed" in str(caught.value)
