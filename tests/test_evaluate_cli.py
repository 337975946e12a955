"""`andasim evaluate`: strict arguments, refused before any model loads (one line, exit code 2)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from andasim.cli import main


@pytest.mark.parametrize(("extra", "message"), [
    (["--windows", "tail:3"], "--windows 'tail:3'"),
    (["--windows", "last:0"], "N >= 1"),
    (["--weights", "int4"], "--weights 'int4'"),
    (["--weights", "int1-g128"], "intB-gG"),
    (["--precision", "17"], "1..16"),
    (["--precision", "7,7,7"], "got 3 values"),
    (["--model", "no-such-model"], "not a short name"),
    (["--threads", "0"], "--threads"),
])
def test_bad_arguments_exit_2_in_one_line(extra, message):
    args = ["evaluate", "--model", "smollm2-135m", "--precision", "6", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_help_states_the_protocol_options():
    result = CliRunner().invoke(main, ["evaluate", "--help"])
    assert result.exit_code == 0
    options = ("--weights", "--bos / --no-bos", "--seq-len", "--windows", "last:N", "heldout:N", "--json")
    for option in options:
        assert option in result.output
