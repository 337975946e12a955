"""Hardware config loading: every bundled design loads, every malformed fixture is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.cli import SUBCOMMANDS, main
from andasim.errors import ConfigError
from andasim.hw.config import bundled_config_names, load_hw

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "fixtures" / "bad_hw"
EXPECTED_KEYS: dict[str, str | None] = json.loads((BAD / "expected_keys.json").read_text())

BUNDLED = ["anda", "pe64", "fp_fp", "fp_fp_least_traffic", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8"]


def test_all_designs_are_bundled():
    assert sorted(BUNDLED) == bundled_config_names()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_config_loads_by_name_and_path(name):
    by_name = load_hw(name)
    by_path = load_hw(REPO / "hw_configs" / f"{name}.yaml")
    assert by_name.to_dict() == by_path.to_dict()
    assert by_name.name == name
    assert by_name.freq_mhz == 285
    assert by_name.technology.node_nm == 16


def test_config_is_immutable():
    hw = load_hw("anda")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hw.freq_mhz = 1.0  # type: ignore[misc]


def test_anda_matches_the_paper():
    hw = load_hw("anda")
    assert (hw.pe_array.rows, hw.pe_array.cols, hw.pe_array.pe_type) == (16, 16, "anda_apu")
    assert hw.buffers.act_mantissa.size_bytes == 1024 * 1024
    assert hw.buffers.act_exponent.size_bytes == 128 * 1024
    assert hw.buffers.weight.size_bytes == 1024 * 1024
    assert (hw.dram.bw_gb_per_s, hw.dram.e_pj_per_bit) == (256, 3.9)
    assert hw.compressor is not None and hw.compressor.lanes == 16
    assert hw.vector_unit.fpus == 64
    assert hw.activation_storage == "anda"


def test_pe64_differs_from_anda_only_in_the_array():
    anda, pe64 = load_hw("anda").to_dict(), load_hw("pe64").to_dict()
    diff = {k for k in anda if anda[k] != pe64[k]}
    assert diff == {"name", "description", "provenance", "pe_array"}
    assert (pe64["pe_array"]["rows"], pe64["pe_array"]["cols"]) == (8, 8)


def test_baselines_share_clock_and_sram_with_anda():
    anda = load_hw("anda")
    for name in ("fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8"):
        hw = load_hw(name)
        assert hw.buffers == anda.buffers
        assert hw.freq_mhz == anda.freq_mhz
        assert hw.dram == anda.dram
        assert hw.activation_storage == "fp16"
        assert hw.compressor is None


def test_iso_peak_throughput_at_m15():
    # Anda at M = 15 takes 15 + 1 = 16 cycles per 64-element group, as the FP-FP PE does:
    # 256 PEs x 64 MACs / 16 cycles = 1024 MAC/cycle for both (anda.md §2.3 / §6.2b).
    anda, fpfp = load_hw("anda"), load_hw("fp_fp")
    anda_cycles = 15 + anda.pe_array.pe.extra_cycles_per_group
    assert anda_cycles == fpfp.pe_array.pe.cycles_per_group
    assert anda.pe_array.num_pes == fpfp.pe_array.num_pes


def test_legacy_configs_alias_resolves_with_notice(capsys):
    hw = load_hw("configs/figna_m8.yaml")
    assert hw.name == "figna_m8"
    assert "old spelling of the bundled design 'figna_m8'" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["/home/me/designs/anda.yaml", "mydesigns/anda.yaml", "anda.yaml",
                                  "./configs/anda.yaml", "configs/sub/anda.yaml"])
def test_missing_path_is_an_error_that_suggests_the_bundled_name(path):
    """Finding 5: a missing path never silently simulates the stock design."""
    hint = r"file not found; the bundled design of that name is 'anda' \(--hw anda\)"
    with pytest.raises(ConfigError, match=hint):
        load_hw(path)


def test_unknown_name_lists_bundled():
    with pytest.raises(ConfigError, match="bundled: anda, figna"):
        load_hw("no_such_design")


def test_at_least_twenty_malformed_fixtures():
    assert len(EXPECTED_KEYS) >= 20
    assert {p.stem for p in BAD.glob("*.yaml")} == set(EXPECTED_KEYS)


@pytest.mark.parametrize("case", sorted(EXPECTED_KEYS))
def test_malformed_config_is_refused_with_key(case):
    path = BAD / f"{case}.yaml"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output  # one line, no traceback
    assert str(path) in lines[0]
    key = EXPECTED_KEYS[case]
    if key is not None:
        assert f"key '{key}'" in lines[0] or f"key '{key.split('.')[-1]}'" in lines[0], lines[0]
    # the message names the line in the file for every fixture that parses as YAML at all
    assert f"{path}:" in lines[0]


def test_validate_accepts_all_bundled_files():
    files = sorted(str(p) for p in (REPO / "hw_configs").glob("*.yaml"))
    result = CliRunner().invoke(main, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok  ") == len(BUNDLED)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 4


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in SUBCOMMANDS:
        assert command in result.output
