"""Two runs of every command that writes files produce byte-identical files, SVG and PNG included.

(issue 19, finding 6). Each command runs twice into two folders; every file is compared. The
search journal records wall times by design and is left out; the profile it produces is compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.cli import main

ROOT = Path(__file__).resolve().parents[1]

_SMALL = ["--phase", "decode", "--seq-len", "16"]
COMMANDS = {
    "run": ["run", "--hw", "pe64", "--trace", "llama2-7b", *_SMALL, "--out", "{out}"],
    "tp": ["tp", "--hw", "anda", "--trace", "llama2-7b", *_SMALL, "--chips", "2", "--m-bits", "6",
           "--format", "bf16", "--out", "{out}", "--json", "{out}/copy.json"],
    "offload": ["offload", "--model", "opt-125m", "--preset", "t4-flexgen", "--prompt-len", "64",
                "--gen-len", "8", "--search", "--max-gpu-batch-size", "8", "--max-num-gpu-batches", "2",
                "--out", "{out}", "--json", "{out}/copy.json"],
    "search": ["search", "--trace", "gemma3-270m", "--evaluator", "proxy", "--tolerance", "5%",
               "--max-evals", "2", "--out", "{out}"],
    "validate": ["validate", "hw_configs/pe64.yaml", "hw_configs/systems/t4-flexgen.yaml", "--json",
                 "{out}/validate.json"],
    "trace list": ["trace", "list", "--json", "{out}/list.json"],
    "trace info": ["trace", "info", "gemma3-270m", "--json", "{out}/info.json"],
    "compare": ["compare", "--hw", "pe64,fp_fp", "--baseline", "fp_fp", "--trace", "llama2-7b",
                *_SMALL, "--out", "{out}"],
}
_SLOW = {"compare", "tp"}  # figures: several seconds per run


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".journal.jsonl") and "cache" not in p.parts}


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c in _SLOW else c
                                     for c in COMMANDS])
def test_two_runs_write_identical_bytes(tmp_path, command: str) -> None:
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        args = [a.replace("{out}", str(out)).replace("hw_configs/", f"{ROOT}/hw_configs/")
                for a in COMMANDS[command]]
        res = CliRunner().invoke(main, args)
        assert res.exit_code in (0, 1), res.output  # search exits 1 when nothing met the tolerance
        outputs.append(_files(out))
    assert outputs[0], f"{command} wrote nothing"
    assert outputs[0].keys() == outputs[1].keys()
    differ = [name for name in outputs[0] if outputs[0][name] != outputs[1][name]]
    assert not differ, f"{command}: files differ between two runs: {differ}"
