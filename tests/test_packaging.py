"""Finding 9 of issue 14: what a non-editable install needs is declared, and outputs are readable.

The wheel itself is built and used from a fresh venv by scripts/wheel_check.sh (CI, .ci/run).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_andasim_subpackage_is_in_the_wheel():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    for folder in sorted((ROOT / "andasim").rglob("*")):
        if folder.is_dir() and "__pycache__" not in folder.parts and any(folder.glob("*.py")):
            name = ".".join(folder.relative_to(ROOT).parts)
            assert (folder / "__init__.py").is_file(), f"{name} has modules but no __init__.py"
            assert name in listed, f"{name} is not listed in pyproject.toml [tool.setuptools] packages"


def test_every_script_the_project_mentions_exists():
    texts = [ROOT / "pyproject.toml", ROOT / "README.md", ROOT / ".ci" / "run",
             *(ROOT / "docs").glob("*.md"), *(ROOT / "scripts").glob("*.sh")]
    for path in texts:
        for script in re.findall(r"scripts/[\w.-]+\.(?:sh|py)", path.read_text(encoding="utf-8")):
            assert (ROOT / script).is_file(), f"{path.relative_to(ROOT)} mentions missing {script}"


def test_ci_builds_and_uses_the_wheel():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    check = (ROOT / "scripts" / "wheel_check.sh").read_text(encoding="utf-8")
    assert "scripts/wheel_check.sh" in ci
    for step in ("pip wheel", "-m venv", "--help", " run ", "search --help", "validate"):
        assert step in check


def _shipped_yaml() -> list[Path]:
    return sorted([*ROOT.glob("hw_configs/**/*.yaml"), *ROOT.glob("andasim/**/*.yaml")])


def test_validate_accepts_every_shipped_yaml_with_the_right_schema():
    files = _shipped_yaml()
    assert any("systems" in f.parts for f in files)
    res = CliRunner().invoke(main, ["validate", *map(str, files)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "anda-system.yaml: offload system preset anda-system" in out
    assert "anda.yaml: design anda" in out and "anda_16nm.yaml: cost table" in out
    assert "llama-7b.yaml: model card llama-7b" in out


def test_validate_refuses_a_system_preset_with_a_bad_key(tmp_path):
    bad = tmp_path / "sys.yaml"
    text = (ROOT / "hw_configs/systems/anda-system.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("memory:", "memory:\n  bogus_gib: 1", 1))
    res = CliRunner().invoke(main, ["validate", str(bad)])
    assert res.exit_code == 2 and "bogus_gib" in res.output


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_follow_the_umask(tmp_path, umask):
    from andasim.atomic_io import write_atomic

    old = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
