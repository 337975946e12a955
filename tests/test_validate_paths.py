"""`andasim validate` checks what every command checks (issue 19, finding 3).

The schema is chosen by content; a design's cost table must exist, be a YAML cost table of the
same node, and a relative path in it is taken relative to the design file, not the working
directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.bundled import bundled_dir
from andasim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _anda_text() -> str:
    return bundled_dir("hw_configs").joinpath("anda.yaml").read_text(encoding="utf-8")


def _with_table(tmp_path: Path, value: str, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(_anda_text().replace("cost_table: anda_16nm", f"cost_table: {value}"), encoding="utf-8")
    return path


def _refused(args: list[str]) -> str:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_anda_yaml_has_the_cost_table_line() -> None:
    assert "cost_table: anda_16nm" in _anda_text()


@pytest.mark.parametrize("command", [["validate"], ["run", "--trace", "llama2-7b", "--seq-len", "8"]])
def test_missing_cost_table_refused_by_validate_and_run_naming_design_and_key(tmp_path, command) -> None:
    design = _with_table(tmp_path, "nonexistent_table")
    args = ([command[0], str(design)] if command == ["validate"]
            else [*command, "--hw", str(design), "--out", str(tmp_path / "out")])
    line = _refused(args)
    assert str(design) in line and "key 'cost_table'" in line and "nonexistent_table" in line


def test_cost_table_pointing_at_etc_passwd_is_refused(tmp_path) -> None:
    line = _refused(["validate", str(_with_table(tmp_path, "/etc/passwd"))])
    assert "cost_table" in line and ".yaml" in line


def test_cost_table_that_is_not_a_cost_table_is_refused(tmp_path) -> None:
    shutil.copy(ROOT / "hw_configs" / "systems" / "t4-flexgen.yaml", tmp_path / "t4.yaml")
    line = _refused(["validate", str(_with_table(tmp_path, "t4.yaml"))])
    assert "t4.yaml" in line and "unknown key" in line


def test_cost_table_of_another_node_is_refused(tmp_path) -> None:
    table = (ROOT / "andasim/hw/cost_tables/anda_16nm.yaml").read_text(encoding="utf-8")
    (tmp_path / "t7.yaml").write_text(table.replace("node_nm: 16", "node_nm: 7"), encoding="utf-8")
    line = _refused(["validate", str(_with_table(tmp_path, "t7.yaml"))])
    assert "7 nm" in line and "key 'cost_table'" in line


def test_relative_cost_table_resolves_against_the_design_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "tables").mkdir()
    shutil.copy(ROOT / "andasim/hw/cost_tables/anda_16nm.yaml", tmp_path / "tables" / "mine.yaml")
    design = _with_table(tmp_path, "tables/mine.yaml")
    for cwd in (tmp_path, tmp_path / "tables", ROOT):
        monkeypatch.chdir(cwd)
        res = CliRunner().invoke(main, ["validate", str(design)])
        assert res.exit_code == 0, (cwd, res.output)
        assert "design anda" in res.output
    assert os.getcwd() == str(ROOT)


@pytest.mark.parametrize("path", [
    "hw_configs/systems/t4-flexgen.yaml", "hw_configs/systems/anda-system.yaml",
    "andasim/hw/cost_tables/anda_16nm.yaml", "andasim/workload/cards/llama2-7b.yaml", "hw_configs/pe64.yaml",
])
def test_validate_picks_the_schema_by_content(path: str) -> None:
    res = CliRunner().invoke(main, ["validate", str(ROOT / path)])
    assert res.exit_code == 0, res.output


def test_validate_refuses_a_file_of_no_known_kind(tmp_path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("hello: 1\n", encoding="utf-8")
    assert "not an andasim file" in _refused(["validate", str(path)])


def test_system_preset_range_refused_by_validate(tmp_path) -> None:
    text = (ROOT / "hw_configs/systems/t4-flexgen.yaml").read_text(encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("host_gib: 208", "host_gib: 1.0e12").replace("c2: 0.0328", "c2: -1"),
                    encoding="utf-8")
    assert "memory.host_gib" in _refused(["validate", str(path)])
