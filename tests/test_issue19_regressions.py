"""Every input listed in issue 19 as a named regression test: exit 2 in one line, or exit 0 where valid.

Findings 2 (YAML bombs, FIFO, /dev/zero) and 3 (validate vs run, cost tables) live in
test_hostile_yaml.py and test_validate_paths.py; `tp --m-bits` in test_tp_m_bits.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from andasim.bundled import bundled_dir
from andasim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _one_line(res, *expected: str) -> str:
    """Exit 2, no traceback, one `Error:` line holding `expected`; at most two progress lines before it
    (e.g. search's "loading the evaluator ..."), deprecation notices of old spellings aside."""
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    lines = [ln for ln in res.output.splitlines() if ln.strip() and " is deprecated " not in ln]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0] and len(lines) <= 3, res.output
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def _design(tmp_path: Path, old: str, new: str, name: str = "d.yaml") -> Path:
    text = bundled_dir("hw_configs").joinpath("anda.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _system(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "hw_configs" / "systems" / "t4-flexgen.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "s.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# --- finding 1: numbers without ranges ----------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "key"), [
    ("size_kib: 1024, port", "size_kib: 1.0e30, port", "buffers.act_mantissa.size_kib"),
    ("rows: 16", "rows: 1000000000", "pe_array.rows"),
    ("freq_mhz: 285", "freq_mhz: 1.0e20", "clock.freq_mhz"),
    ("latency_ns: 100", "latency_ns: 1.0e15", "dram.latency_ns"),
    ("bw_gb_per_s: 256", "bw_gb_per_s: .inf", "dram.bw_gb_per_s"),
    ("scale_group_size: 128", "scale_group_size: 100", "weights.scale_group_size"),
])
def test_design_number_out_of_range_refused(tmp_path, old: str, new: str, key: str) -> None:
    path = _design(tmp_path, old, new)
    _one_line(_cli("validate", str(path)), str(path), f"key '{key}'")
    _one_line(_cli("run", "--hw", str(path), "--trace", "llama2-7b", "--seq-len", "8", "--out",
                   str(tmp_path / "o")), f"key '{key}'")


@pytest.mark.parametrize(("old", "new"), [
    ("rows: 16", "rows: 15"),                                        # no power of two needed
    ("lanes: 16", "lanes: 48"),                                      # a 48-lane compressor
    ("act_mantissa: {size_kib: 1024, port_width_bits: 1024}",
     "act_mantissa: {size_kib: 1024, port_width_bits: 960}"),        # 960 = 15 x 64
])
def test_documented_valid_non_power_of_two_shapes_run(tmp_path, old: str, new: str) -> None:
    path = _design(tmp_path, old, new)
    assert _cli("validate", str(path)).exit_code == 0
    res = _cli("run", "--hw", str(path), "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "8",
               "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("old", "new", "key"), [
    ("host_gib: 208", "host_gib: 1.0e15", "memory.host_gib"),
    ("host_to_device_gib_per_s: ", "host_to_device_gib_per_s: 1.0e12 #", "links.host_to_device_gib_per_s"),
    ("c2: 0.0328", "c2: -0.5", "compute.host_scaling.c2"),
])
def test_system_preset_out_of_range_refused(tmp_path, old: str, new: str, key: str) -> None:
    path = _system(tmp_path, old, new)
    _one_line(_cli("validate", str(path)), f"key '{key}'")
    _one_line(_cli("offload", "--model", "opt-125m", "--preset", str(path), "--search", "--out",
                   str(tmp_path / "o")), f"key '{key}'")


# --- finding 4: traces and cards ---------------------------------------------------------------

def _header_of(name: str = "llama2-7b") -> dict:
    from andasim.workload.trace import read_header

    return json.loads(json.dumps(read_header(name)))


def _write_trace(path: Path, header: dict, members: dict[str, bytes] | None = None) -> Path:
    """A trace whose header (checksum recomputed, as a forger would) and raw .npy members are given."""
    from andasim.workload.trace import _canonical

    body = {k: v for k, v in header.items() if k != "checksum"}
    header["checksum"] = hashlib.sha256(_canonical(body)).hexdigest()
    blob = io.BytesIO()
    np.lib.format.write_array(blob, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.npy", blob.getvalue())
        for name, data in (members or {}).items():
            zf.writestr(f"{name}.npy", data)
    return path


@pytest.mark.parametrize(("key", "value"), [
    ("card", "llama"), ("profiles", "none"), ("provenance", [1, 2]), ("default_profile", ["a"]),
    ("trace_id", "../../etc/x"), ("trace_id", "a/b"), ("label", 7), ("arrays", "x"),
])
def test_trace_header_of_wrong_type_refused(tmp_path, key: str, value) -> None:
    header = _header_of()
    header[key] = value
    path = _write_trace(tmp_path / "t.npz", header)
    _one_line(_cli("trace", "info", str(path)), str(path), key)


@pytest.mark.parametrize(("field", "value"), [("hidden", 10**9), ("n_layers", 10**6), ("ffn", 10**8)])
def test_trace_card_with_absurd_size_refused_fast(tmp_path, field: str, value: int) -> None:
    header = _header_of()
    header["card"][field] = value
    path = _write_trace(tmp_path / "t.npz", header)
    _one_line(_cli("run", "--hw", "pe64", "--trace", str(path), "--out", str(tmp_path / "o")), field)
    card = (ROOT / "andasim/workload/cards/llama2-7b.yaml").read_text(encoding="utf-8")
    (tmp_path / "c.yaml").write_text(card.replace("hidden: 4096", f"hidden: {value}"), encoding="utf-8")
    if field == "hidden":
        _one_line(_cli("validate", str(tmp_path / "c.yaml")), "hidden")


def test_trace_declared_shape_of_6e14_elements_refused_before_allocating(tmp_path) -> None:
    header = _header_of()
    header["shape_only"] = False
    header["label"] = "forged"
    shape = [600_000_000_000_000 // 4096, 4096]
    header["arrays"] = {"act/L0/qkv": {"dtype": "float16", "shape": shape, "sha256": "0" * 64}}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f2", "fortran_order": False, "shape": tuple(shape)})
    path = _write_trace(tmp_path / "big.npz", header, {"act/L0/qkv": npy.getvalue() + b"\0" * 64})
    _one_line(_cli("trace", "info", str(path)), "act/L0/qkv", "stored")


def test_zip_member_declaring_2_3_gb_refused_before_decompressing(tmp_path) -> None:
    header = _header_of()
    path = _write_trace(tmp_path / "zip.npz", header, {"act/L0/qkv": b"\x93NUMPY" + b"\0" * 64})
    raw = bytearray(path.read_bytes())
    entry = raw.rfind(b"PK\x01\x02")  # the central directory entry of the last member
    struct.pack_into("<I", raw, entry + 24, 2_300_000_000)  # its uncompressed size
    path.write_bytes(bytes(raw))
    _one_line(_cli("trace", "info", str(path)), "act/L0/qkv", "declares 2300000000 bytes")


@pytest.mark.parametrize("args", [["--group", "1000000000000"], ["--outlier-ratio", "nan"],
                                  ["--outlier-ratio", "inf"]])
def test_trace_info_absurd_options_refused(args: list[str]) -> None:
    _one_line(_cli("trace", "info", "gemma3-270m", *args), args[0])


# --- finding 5: CLI arguments and outputs ------------------------------------------------------

_RUN = ["run", "--hw", "pe64", "--trace", "llama2-7b", "--phase", "decode", "--seq-len", "8"]


@pytest.mark.parametrize(("extra", "text"), [
    (["--seq-len", str(10**12)], "--seq-len"),
    (["--seq-len", "16000000", "--phase", "prefill"], "--force"),   # in range, but a huge run
    (["--modules", ""], "--modules"), (["--modules", ","], "--modules"),
    (["--modules", "qkv,qkv"], "listed twice"),
])
def test_run_bad_arguments_refused(tmp_path, extra: list[str], text: str) -> None:
    _one_line(_cli(*_RUN, "--out", str(tmp_path / "o"), *extra), text)


def test_run_force_lifts_the_work_limit(monkeypatch, tmp_path) -> None:
    import andasim.sim.simulate as simulate_mod

    monkeypatch.setattr(simulate_mod, "MAX_TILE_STEPS", 10)
    _one_line(_cli(*_RUN, "--out", str(tmp_path / "o")), "--force")
    assert _cli(*_RUN, "--out", str(tmp_path / "o"), "--force").exit_code == 0


def _out_cases(tmp_path: Path) -> list[str]:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    return [str(tmp_path / "file" / "sub"), "/proc/andasim", "/sys/andasim", ""]


def test_output_paths_refused_before_any_work(tmp_path) -> None:
    for bad in _out_cases(tmp_path):
        _one_line(_cli(*_RUN, "--out", bad), "--out")
        _one_line(_cli("search", "--trace", "gemma3-270m", "--tolerance", "1%", "--out", bad), "--out")
        _one_line(_cli("tp", "--hw", "anda", "--trace", "llama2-7b", "--precision", "6", "--json",
                       bad + "/r.json" if bad else ""), "--json")
        _one_line(_cli("reproduce", "anda", "--out", str(tmp_path / "r"), "--json",
                       bad + "/r.json" if bad else ""), "--json")
        _one_line(_cli("offload", "--model", "opt-125m", "--preset", "t4-flexgen", "--search", "--out", bad),
                  "--out")
    assert not (tmp_path / "r").exists()  # reproduce refused before starting


def test_binary_reuse_and_journal_refused(tmp_path) -> None:
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    base = ["search", "--trace", "gemma3-270m", "--evaluator", "proxy", "--tolerance", "1%",
            "--max-evals", "1", "--out", str(tmp_path / "s")]
    for option in ("--reuse", "--journal"):
        _one_line(_cli(*base, option, str(binary)), str(binary))


def test_compare_garbage_journal_refused(tmp_path) -> None:
    garbage = tmp_path / "g.jsonl"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    _one_line(_cli("compare", "--hw", "pe64,fp_fp", "--trace", "llama2-7b", "--journals", str(garbage),
                   "--out", str(tmp_path / "c")), str(garbage))


@pytest.mark.slow
def test_offload_huge_search_bound_is_valid_and_costs_no_more_than_none(tmp_path) -> None:
    """Decided valid: the search stops where the memory constraints do (issue 15), so a bound of
    10**6 is the same search as no bound, not a 250,003-step one."""
    reports = []
    for extra in ([], ["--max-gpu-batch-size", "1000000"]):
        out = tmp_path / str(len(reports))
        res = _cli("offload", "--model", "opt-125m", "--preset", "t4-flexgen", "--search", "--out", str(out),
                   *extra)
        assert res.exit_code == 0, res.output
        reports.append(json.loads((out / "offload.json").read_text()))
    assert reports[0]["policy"] == reports[1]["policy"]
    assert len(reports[0]["pareto"]) == len(reports[1]["pareto"])


@pytest.mark.parametrize(("extra", "text"), [
    (["--max-gpu-batch-size", "0"], "--max-gpu-batch-size"),
    (["--alpha-g", "0"], "--alpha-g"),
    (["--gpu-batch-size", "0", "--num-gpu-batches", "1", "--percent", "100", "0", "100", "0", "100", "0"],
     "--gpu-batch-size"),
])
def test_offload_options_refused_naming_the_option(tmp_path, extra: list[str], text: str) -> None:
    args = ["offload", "--model", "opt-125m", "--preset", "t4-flexgen", "--out", str(tmp_path / "o"), *extra]
    if "--percent" not in extra:
        args.append("--search")
    _one_line(_cli(*args), text)


def test_search_perplexity_without_torch_names_the_extra(monkeypatch, tmp_path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    line = _one_line(_cli("search", "--model", "smollm2-135m", "--evaluator", "perplexity",
                          "--tolerance", "1%", "--out", str(tmp_path / "s")), "models extra")
    assert "pip install" in line


def test_search_names_the_trace_file(tmp_path) -> None:
    import shutil

    shutil.copy(ROOT / "traces" / "llama2-7b.npz", tmp_path / "mine.npz")
    _one_line(_cli("search", "--trace", str(tmp_path / "mine.npz"), "--evaluator", "proxy",
                   "--tolerance", "1%", "--out", str(tmp_path / "s")), str(tmp_path / "mine.npz"))


# --- finding 6: deterministic, atomic outputs ----------------------------------------------------

def test_atomic_writer_respects_the_umask(tmp_path) -> None:
    from andasim.atomic_io import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_reproduce_json_goes_through_the_atomic_writer(monkeypatch, tmp_path) -> None:
    import andasim.atomic_io
    import andasim.report.reproduce as rep

    def fake(out, sweep, progress=None):
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "reproduction.json").write_text('{"ok": 1}\n', encoding="utf-8")
        return {}, "text\n"

    written = []
    real = andasim.atomic_io.write_atomic
    monkeypatch.setattr(rep, "reproduce_anda", fake)
    monkeypatch.setattr("andasim.report.writers.write_atomic",
                        lambda p, d: written.append(Path(p)) or real(p, d))
    res = _cli("reproduce", "anda", "--out", str(tmp_path / "r"), "--json", str(tmp_path / "j" / "r.json"))
    assert res.exit_code == 0, res.output
    assert tmp_path / "j" / "r.json" in written
    assert (tmp_path / "j" / "r.json").read_text() == '{"ok": 1}\n'


# --- finding 7: messages name the file, key or option --------------------------------------------

@pytest.mark.parametrize(("old", "new", "key"), [
    ("rows: 16", "rows: 1000000000", "pe_array.rows"),
    ("output: {size_kib: 64", "output: {size_kib: 0.0001", "buffers.output.size_kib"),
    ("output: {size_kib: 64", "output: {size_kib: 0.07", "buffers.output.size_kib"),  # in range, too small
])
def test_design_messages_name_file_and_key(tmp_path, old: str, new: str, key: str) -> None:
    path = _design(tmp_path, old, new)
    _one_line(_cli("run", "--hw", str(path), "--trace", "llama2-7b", "--seq-len", "8",
                   "--out", str(tmp_path / "o")), str(path), f"key '{key}'")


# --- finding 8: offline, and Ctrl-C ---------------------------------------------------------------

def test_hf_offline_is_forced_over_the_environment(monkeypatch) -> None:
    from andasim.workload.hf_models import force_offline

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    force_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_ctrl_c_exits_130_with_one_line(monkeypatch) -> None:
    import andasim.validation

    def interrupted(target: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(andasim.validation, "validate_file", interrupted)
    res = _cli("validate", str(ROOT / "hw_configs" / "pe64.yaml"))
    assert res.exit_code == 130
    assert [ln for ln in res.output.splitlines() if ln.strip()] == [
        "andasim: interrupted; finished work is saved, rerun the same command to resume"]


@pytest.mark.slow
def test_sigint_leaves_the_same_resumable_state_as_sigkill(tmp_path) -> None:
    """A real Ctrl-C in the middle of a search: exit 130, one line; the rerun repeats nothing."""
    import signal
    import subprocess
    import sys
    import time

    def command(out: Path) -> list[str]:
        return [sys.executable, "-c", "from andasim.cli import main; main()", "search",
                "--trace", "gemma3-270m", "--evaluator", "proxy",
                "--tolerance", "1%", "--max-evals", "6", "--out", str(out)]

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reference = subprocess.run(command(tmp_path / "ref"), env=env, capture_output=True, text=True,
                               timeout=300)
    assert reference.returncode in (0, 1), reference.stderr
    journal = tmp_path / "int" / "profile.yaml.journal.jsonl"
    proc = subprocess.Popen(command(tmp_path / "int"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count('"type":"eval"') >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode != 130:
        pytest.skip(f"the search finished before the interrupt (exit {proc.returncode})")
    assert [ln for ln in err.splitlines() if ln.startswith("andasim: interrupted")], err
    assert "Traceback" not in err
    done = journal.read_text().count('"type":"eval"')
    resumed = subprocess.run(command(tmp_path / "int"), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == reference.returncode, resumed.stderr
    assert f"{done} from the journal" in resumed.stderr or done == 0, resumed.stderr
    if reference.returncode == 0:
        profiles = [(tmp_path / run / "profile.yaml").read_bytes() for run in ("int", "ref")]
        assert profiles[0] == profiles[1]


# --- found by the fuzz suite after the audit ------------------------------------------------------

@pytest.mark.parametrize("extra", [["--seq-len", str(10**40)], ["--set", f"seq_len={10**40}"],
                                   ["--batch", str(10**12)], ["--workers", "1000000"],
                                   ["--threads", str(10**40)]])
def test_sweep_absurd_sizes_refused_before_running(tmp_path, extra: list[str]) -> None:
    _one_line(_cli("sweep", "--hw", "pe64", "--trace", "llama2-7b", "--phase", "decode", "--workers", "1",
                   "--no-figures", "--out", str(tmp_path / "sw"), *extra))
    assert not (tmp_path / "sw" / "results.csv").exists()


def test_file_name_too_long_is_one_line(tmp_path) -> None:
    _one_line(_cli(*_RUN, "--out", str(tmp_path / "o"), "--hw", "a" * 300), "File name too long")


def test_control_characters_of_an_echoed_value_stay_on_one_line() -> None:
    line = _one_line(_cli("trace", "info", "llama2-7b", "\r0\r0\r", "--group", "64"), "extra argument")
    assert "\\r0\\r0\\r" in line
