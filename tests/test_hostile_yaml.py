"""The shared YAML loader cannot be exploded (issue 19, finding 2) and never echoes a whole value."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.errors import AndasimInputError, ConfigError
from andasim.strict_yaml import MAX_CONFIG_BYTES, MAX_DEPTH, load_strict_yaml

_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def _validate(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def _one_line_exit_2(res) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    return lines[0]


@pytest.mark.parametrize("text", [
    _BOMB,                                              # billion laughs in a value
    "base: &n 5\nschema_version: *n\n",                 # an alias standing for an int
    "k: &k key\n? *k\n: 1\n",                           # an alias used as a key
    "a: &x {b: 1}\nc:\n  <<: *x\n",                     # merge keys need aliases too
])
def test_anchors_and_aliases_are_refused_without_expanding(tmp_path, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="anchors and aliases"):
        load_strict_yaml(path)
    line = _one_line_exit_2(_validate(str(path)))
    assert "anchors and aliases" in line and len(line) < 300


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 2000, 50_000])
@pytest.mark.parametrize("style", ["flow_list", "flow_map", "block_map"])
def test_deep_nesting_is_refused(tmp_path, depth: int, style: str) -> None:
    if style == "flow_list":
        text = "[" * depth + "]" * depth
    elif style == "flow_map":
        text = "{k: " * depth + "v" + "}" * depth
    else:  # indentation grows quadratically: 2,000 levels already exceed the size cap
        text = "".join(" " * i + f"k{i}:\n" for i in range(min(depth, 2000))) + " " * depth + "v"
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    if len(text) > MAX_CONFIG_BYTES:
        with pytest.raises(AndasimInputError, match="at most"):
            load_strict_yaml(path)
        return
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_strict_yaml(path)


def test_shallow_nesting_is_fine(tmp_path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1), encoding="utf-8")
    load_strict_yaml(path)


def test_fifo_is_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    line = _one_line_exit_2(_validate(str(fifo)))
    assert "regular file" in line


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/proc/self/status"])
def test_devices_and_proc_files_are_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} absent")
    res = _validate(device)
    line = _one_line_exit_2(res)
    assert device in line


def test_directory_is_refused(tmp_path) -> None:
    assert "directory" in _one_line_exit_2(_validate(str(tmp_path)))


def test_oversized_file_is_refused_before_parsing(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    assert "at most" in _one_line_exit_2(_validate(str(path)))


def test_binary_file_is_refused(tmp_path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01" * 64)
    assert "UTF-8" in _one_line_exit_2(_validate(str(path)))


def test_huge_integer_literal_is_refused(tmp_path) -> None:
    path = tmp_path / "int.yaml"
    path.write_text("rows: " + "9" * 6000 + "\n", encoding="utf-8")
    _one_line_exit_2(_validate(str(path)))


def test_error_quotes_only_a_prefix_of_a_value(tmp_path) -> None:
    from andasim.bundled import bundled_dir

    text = bundled_dir("hw_configs").joinpath("anda.yaml").read_text(encoding="utf-8")
    secret = "hunter2-" + "s" * 200
    path = tmp_path / "secret.yaml"
    path.write_text(text.replace("  freq_mhz: 285", f"  freq_mhz: {secret}"), encoding="utf-8")
    line = _one_line_exit_2(_validate(str(path)))
    assert "clock.freq_mhz" in line and secret not in line and "s" * 30 not in line
    long_key = "k" * 5000
    path.write_text(text + f"{long_key}: 1\n", encoding="utf-8")
    line = _one_line_exit_2(_validate(str(path)))
    assert long_key not in line and len(line) < 600


@pytest.mark.parametrize("make", ["fifo", "directory"])
def test_trace_path_that_is_not_a_regular_file_says_so(tmp_path, make: str) -> None:
    """A FIFO or directory given as --trace was reported as "no such file"."""
    path = tmp_path / "gemms.csv"
    os.mkfifo(path) if make == "fifo" else path.mkdir()
    res = CliRunner().invoke(main, ["run", "--hw", "anda", "--trace", str(path)])
    line = _one_line_exit_2(res)
    assert "no such file" not in line
    assert ("not a regular file" if make == "fifo" else "is a directory") in line
