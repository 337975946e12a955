"""Fuzz every subcommand's arguments (issue 19): exit 0, or exit 2 in at most three lines, no traceback.

Arguments are drawn from each command's own Click parameters (see tests/fuzzing.py), on top of a
base that makes a valid run fast, so a new subcommand is covered without changes here. The
default run is derandomized (CI sees the same ~150 cases, about a minute on 2 cores); the `slow`
run draws ten times as many, randomly.
"""

from __future__ import annotations

import pytest
from fuzzing import check_outcome, cli_args, hostile_files, invoke, leaf_commands, run_property

QUICK_EXAMPLES = 40
SLOW_EXAMPLES = 400
# Commands whose valid runs take seconds (figures, kernel self-checks): fewer examples in the quick run.
_EXPENSIVE = {"compare": 4, "selftest": 2}


def _base(command: str, out: str) -> list[str]:
    """Arguments that make a fast valid run; fuzzed options are appended (the last value wins)."""
    return {
        "run": ["--hw", "pe64", "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "16",
                "--out", f"{out}/run"],
        "tp": ["--hw", "anda", "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "16", "--chips", "2",
               "--format", "bf16", "--no-plot", "--m-bits", "6"],
        "offload": ["--model", "opt-125m", "--preset", "t4-flexgen", "--prompt-len", "16", "--gen-len", "4",
                    "--percent", "100", "0", "100", "0", "100", "0", "--gpu-batch-size", "1",
                    "--num-gpu-batches", "1", "--out", f"{out}/offload"],
        "compare": ["--hw", "pe64,fp_fp", "--baseline", "fp_fp", "--trace", "llama2-7b", "--phase",
                    "decode", "--seq-len", "16", "--out", f"{out}/compare"],
        "search": ["--trace", "gemma3-270m", "--evaluator", "proxy", "--tolerance", "1%", "--max-evals", "1",
                   "--out", f"{out}/search"],
        "trace info": ["llama2-7b"],
        "sweep": ["--hw", "pe64", "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "16",
                  "--workers", "1", "--no-figures", "--out", f"{out}/sweep"],
    }.get(command, [])


COMMANDS = sorted(leaf_commands())


@pytest.mark.parametrize("examples", [pytest.param(QUICK_EXAMPLES, id="quick"),
                                      pytest.param(SLOW_EXAMPLES, id="long", marks=pytest.mark.slow)])
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz_subcommand(command: str, examples: int, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative output path lands in the test's folder
    files = hostile_files(tmp_path / "files")
    cmd = leaf_commands()[command]
    out = str(tmp_path / "out")
    strategy = cli_args(command, cmd, files, out, _base(command, out))

    def check(args: list[str]) -> None:
        check_outcome(args, invoke(args))

    quick = examples == QUICK_EXAMPLES
    n = _EXPENSIVE.get(command, examples) if quick else examples
    run_property(strategy, check, n, derandomize=quick)


def test_every_subcommand_is_fuzzed() -> None:
    """A subcommand added to andasim.cli is picked up from Click, not from a list kept here."""
    from andasim.cli import SUBCOMMANDS

    covered = {c.split()[0] for c in COMMANDS}
    assert covered == set(SUBCOMMANDS)
