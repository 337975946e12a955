"""`andasim tp --m-bits`: widths are taken in the paper's order M_qkv,M_o,M_u,M_d, never sorted.

Regression for issue 19: the list was sorted and de-duplicated, so `7,6,5,4` ran as qkv=4, o=5,
up=6, down=7, `6,5,6,7` was refused and `6,6` became a uniform 6.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.hw.config import load_hw
from andasim.system.tp.links import link_model
from andasim.system.tp.model import simulate_tp
from andasim.workload.card import load_card
from andasim.workload.precision import PrecisionProfile, parse_m_bits

_TP = ["tp", "--hw", "anda", "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "16",
       "--chips", "2", "--format", "bf16", "--no-plot"]


@pytest.mark.parametrize(("text", "widths"), [
    ("7,6,5,4", [7, 6, 5, 4]),
    ("7,6,6,6", [7, 6, 6, 6]),
    ("6,5,6,7", [6, 5, 6, 7]),
    (" 4, 5,6 ,7", [4, 5, 6, 7]),
    ("6", [6, 6, 6, 6]),
])
def test_parse_m_bits_keeps_order(text: str, widths: list[int]) -> None:
    assert parse_m_bits(text).as_list() == widths


def test_cli_m_bits_runs_in_the_given_order_and_reports_it(tmp_path) -> None:
    res = CliRunner().invoke(main, [*_TP, "--precision", "7,6,5,4", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "qkv=7, o=6, up=5, down=4" in res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["precision"]["mantissa_bits"] == {"qkv": 7, "o": 6, "up": 5, "down": 4}
    hw = load_hw("anda")
    expected = simulate_tp(hw, load_card("llama2-7b"), PrecisionProfile.from_list([7, 6, 5, 4]),
                           link_model(hw), n_chips=2, collective="allgather", payload="bf16",
                           phase="decode", seq_len=16, batch=1)
    reversed_ = simulate_tp(hw, load_card("llama2-7b"), PrecisionProfile.from_list([4, 5, 6, 7]),
                            link_model(hw), n_chips=2, collective="allgather", payload="bf16",
                            phase="decode", seq_len=16, batch=1)
    assert expected.step_latency_s != reversed_.step_latency_s   # the order matters to the engine
    assert report["timing"][0]["step_latency_s"] == expected.step_latency_s


@pytest.mark.parametrize("text", ["6,6", "7,6", "abc", "7,6,5,4,3", "", ",", "0", "17", "6,x,6,6", "1e3"])
def test_cli_m_bits_refused_with_one_line(text: str) -> None:
    res = CliRunner().invoke(main, [*_TP, "--precision", text])
    assert res.exit_code == 2, res.output
    assert "--precision" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_cli_unknown_profile_refused_even_with_m_bits() -> None:
    res = CliRunner().invoke(main, [*_TP, "--m-bits", "6", "--profile", "no-such-profile"])
    assert res.exit_code == 2, res.output
    assert "no-such-profile" in res.output
