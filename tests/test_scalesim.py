"""SCALE-Sim users at home: .cfg and topology readers, systolic closed forms, `andasim run` on them.

The closed forms are checked against SCALE-Sim 3.0's own compute reports, recorded by
benchmarks/bench_scalesim.py into tests/data/scalesim_recorded.csv (command, version and date in
its header). Fixtures are andasim's own small files in SCALE-Sim's formats.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from andasim.cli import main
from andasim.errors import AndasimInputError, ConfigError, TraceError
from andasim.hw.config import load_hw
from andasim.sim.dataflows import run_schedule, systolic
from andasim.sim.dataflows.systolic import systolic_counts
from andasim.sim.job import make_job
from andasim.sim.mapping import map_and_schedule
from andasim.sim.reference import simulate_reference
from andasim.workload.gemm import GeMM
from andasim.workload.loaders import load_workload
from andasim.workload.scalesim_topology import Topology, read_topology
from andasim.workload.trace import load_trace

HERE = Path(__file__).parent
FIX = HERE / "fixtures" / "scalesim"
RECORDED = HERE / "data" / "scalesim_recorded.csv"


def _recorded_rows() -> list[dict[str, str]]:
    lines = [ln for ln in RECORDED.read_text().splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


# --- closed forms against SCALE-Sim's recorded reports -------------------------------------------


def test_recorded_table_covers_the_acceptance_grid():
    rows = _recorded_rows()
    header = RECORDED.read_text().splitlines()[0]
    assert "SCALE-Sim 3.0" in header and "bench_scalesim.py" in header
    shapes = {(r["rows"], r["cols"]) for r in rows}
    assert {("8", "8"), ("16", "16"), ("32", "8")} <= shapes
    for shape in shapes:
        assert {r["dataflow"] for r in rows if (r["rows"], r["cols"]) == shape} == {"os", "ws", "is"}
    topologies = {r["topology"] for r in rows}
    assert {"test_mnk_input", "transformer_partial", "NCF"} <= topologies  # SCALE-Sim's GEMM samples
    assert {"andasim_conv_small"} <= topologies  # conv lowering, stride, DP


def test_closed_forms_equal_scalesim_compute_reports():
    rows = _recorded_rows()
    assert len(rows) >= 100
    for r in rows:
        got = systolic_counts(
            r["dataflow"], int(r["m"]), int(r["n"]), int(r["k"]), int(r["rows"]), int(r["cols"])
        )
        where = f"{r['topology']}:{r['layer']} {r['dataflow']} {r['rows']}x{r['cols']}"
        assert int(r["stall_cycles"]) == 0, where
        assert got.compute_cycles == int(r["compute_cycles"]), where
        assert got.overall_utilization * 100 == pytest.approx(float(r["overall_util_pct"]), rel=1e-9), where
        assert got.mapping_efficiency * 100 == pytest.approx(float(r["mapping_eff_pct"]), rel=1e-9), where
        assert got.compute_utilization * 100 == pytest.approx(float(r["compute_util_pct"]), rel=1e-9), where


def test_recorded_conv_layers_lower_as_scalesim_does():
    """The recorded M, N, K of the conv rows are what andasim's reader makes of the same file."""
    topo = load_workload(FIX / "conv_small.csv")
    ours = {layer.name: (layer.m, layer.n, layer.k) for layer in topo.layers}
    rec = {
        r["layer"]: (int(r["m"]), int(r["n"]), int(r["k"]))
        for r in _recorded_rows()
        if r["topology"] == "andasim_conv_small"
    }
    assert rec and rec.items() <= ours.items()


def test_worked_example_of_docs():
    """docs/engine.md's hand computation: M=20, N=12, K=30 on an 8x8 array."""
    assert [systolic_counts(df, 20, 12, 30, 8, 8).compute_cycles for df in ("os", "ws", "is")] == [
        263,
        335,
        407,
    ]


# --- topology CSV ---------------------------------------------------------------------------------


def test_conv_topology_lowering():
    topo = load_workload(FIX / "conv_small.csv")
    assert isinstance(topo, Topology) and topo.form == "conv"
    got = [(x.name, x.m, x.n, x.k) for x in topo.layers]
    # c2_s3: ofmap ceil((13-5+3)/3) x ceil((17-3+3)/3) = 4 x 6 (SCALE-Sim rounds up; floor would give 3 x 5)
    assert got == [
        ("c1_s2", 35, 10, 27),
        ("c2_s3", 24, 6, 60),
        ("DP_c3Channel_0", 49, 1, 9),
        ("DP_c3Channel_1", 49, 1, 9),
        ("DP_c3Channel_2", 49, 1, 9),
        ("pw", 49, 12, 20),
    ]
    assert any("DP_c3 (3 channels)" in note for note in topo.notes)


def test_gemm_topology_and_ignored_sparsity():
    topo = load_workload(FIX / "gemm_small.csv")
    assert [(x.m, x.n, x.k) for x in topo.layers] == [(20, 12, 30), (16, 16, 16), (9, 5, 7)]
    assert topo.ignored == ["sparsity ratios (andasim computes dense GeMMs): sparse_one 2:4"]
    assert topo.card is None  # shapes only, like a GeMM-list CSV


CONV_HEADER = (
    b"Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
)
HOSTILE_CSV = [
    (b"Layer, M, N, K,\n", "no layers"),
    (b"", "empty file"),
    (b"foo,bar\n1,2\n", "not a SCALE-Sim topology header"),
    (b"Layer, M, N, K,\nA, 4, 0, 4,\n", "column 'n': 0 out of range"),
    (b"Layer, M, N, K,\nA, 4, -3, 4,\n", "out of range"),
    (b"Layer, M, N, K,\nA, 4, nan, 4,\n", "'nan' is not an integer"),
    (b"Layer, M, N, K,\nA, 4, 1e3, 4,\n", "is not an integer"),
    (b"Layer, M, N, K,\nA, 4, 99999999999999999999, 4,\n", "out of range"),
    (b"Layer, M, N, K,\nA, 4,\n", "expected 4 values"),
    (b"Layer, M, N, K,\n, 4, 4, 4,\n", "printable name"),
    (b"Layer, M, N, K,\nA, 4, 4, 4, 5:4,\n", "N must not exceed M"),
    (b"Layer, M, N, K,\nA, 4, 4, 4, 2-4,\n", "not an N:M ratio"),
    (
        CONV_HEADER + b"c, 3, 3, 5, 5, 1, 1, 1,\n",
        "filter 5x5 larger than ifmap 3x3",
    ),
    (
        CONV_HEADER + b"AlphaGoZero,\n",
        "expected 8 values",
    ),
    (
        CONV_HEADER + b"DP_x, 9, 9, 3, 3, 16000000, 1, 1,\n",
        "more than 100000 layers",
    ),
    (b"\x00\x01\x02binary", "NUL bytes"),
    (b"\xff\xfe\xfaL", "not UTF-8"),
]


@pytest.mark.parametrize(("content", "message"), HOSTILE_CSV)
def test_hostile_topology_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "topo.csv"
    path.write_bytes(content)
    with pytest.raises(AndasimInputError) as info:
        read_topology(path)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text


def test_topology_csv_no_longer_leaks_numpy_pickle_message(tmp_path):
    """Regression: a topology CSV went to np.load and came back as 'pickled (object) data'."""
    assert isinstance(load_workload(FIX / "gemm_small.csv"), Topology)
    for path in (FIX / "gemm_small.csv", tmp_path / "net"):  # also without a suffix (no zip signature)
        path.write_text((FIX / "gemm_small.csv").read_text()) if not path.exists() else None
        with pytest.raises(TraceError) as info:
            load_trace(path)
        assert "pickle" not in str(info.value) and "not an andasim trace" in str(info.value)
    bad = tmp_path / "bad.csv"
    bad.write_text("Layer, M, N, K,\nA, x, 4, 4,\n")
    res = CliRunner().invoke(
        main, ["run", "--hw", str(FIX / "systolic_v3.cfg"), "--trace", str(bad), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "pickle" not in res.output and "not an integer" in res.output
    assert len(res.output.strip().splitlines()) == 1


# --- .cfg ---------------------------------------------------------------------------------------------


def test_cfg_becomes_a_native_design():
    hw = load_hw(FIX / "systolic_v3.cfg")
    arr = hw.pe_array
    assert (arr.rows, arr.cols, arr.pe_type, hw.dataflow.names) == (8, 4, "fp_fp", ("systolic",))
    assert hw.dataflow.params("systolic") == {"stationary": "ws"}
    assert arr.pe.lanes == arr.pe.cycles_per_group  # one MAC per cycle
    assert hw.buffers.weight.size_kib == 512 and hw.buffers.output.size_kib == 256
    assert hw.buffers.act_mantissa.size_kib + hw.buffers.act_exponent.size_kib == 512
    assert hw.dram.bw_gb_per_s == pytest.approx(64 * 2 * 285e6 / 1e9)
    for section in ("[layout]", "[sparsity]", "[run_presets]", "Bandwidth values after the first (64, 64)"):
        assert section in hw.provenance
    assert hw.to_dict()["dataflow"]["systolic"] == {"stationary": "ws"}


def test_cfg_keys_in_any_capitalisation():
    hw = load_hw(FIX / "systolic_v2_lowercase.cfg")
    assert (hw.pe_array.rows, hw.buffers.weight.size_kib, hw.dataflow.params("systolic")["stationary"]) == (
        16,
        64,
        "os",
    )


V3 = (FIX / "systolic_v3.cfg").read_text()
HOSTILE_CFG = [
    (V3.replace("Dataflow : ws", "Dataflow : rs"), "architecture_presets.Dataflow", "valid: os, ws, is"),
    (V3.replace("ArrayHeight:    8", "ArrayHeight:    0"), "arrayheight", "out of range"),
    (V3.replace("ArrayHeight:    8", "ArrayHeight:    8.0"), "arrayheight", "not an integer"),
    (V3.replace("ArrayWidth:     4", "ArrayWidth:     nan"), "arraywidth", "not an integer"),
    (V3.replace("FilterSramSzkB:  512", "FilterSramSzkB:  99999999999"), "filtersramszkb", "out of range"),
    (V3.replace("ArrayWidth:     4\n", ""), "arraywidth", "required key missing"),
    (V3.replace("ArrayWidth:     4\n", "ArrayWidth:     4\narraywidth: 8\n"), "arraywidth", "given twice"),
    (V3.replace("Dataflow : ws", "Dataflow : ws\nDataFlo : os"), "dataflo", "unknown key"),
    (V3 + "\n[turbo]\nx = 1\n", "", "unknown section [turbo]"),
    (V3.replace("OfmapSramSzkB:   256", "OfmapSramSzkB:   0"), "ofmapsramszkb", "out of range"),
    (V3.replace("Bandwidth : 64,64,64", "Bandwidth : fast"), "Bandwidth", "not an integer"),
    ("ArrayHeight: 8\n", "", "must start with a [section] header"),
    ("[general]\nrun_name = x\n", "", "no [architecture_presets]"),
]


@pytest.mark.parametrize(("text", "key", "message"), HOSTILE_CFG)
def test_hostile_cfg_is_one_line_error(tmp_path, text, key, message):
    path = tmp_path / "bad.cfg"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_hw(path)
    out = str(info.value)
    assert message in out and key in out and str(path) in out and "\n" not in out


def test_cfg_no_longer_refused_as_invalid_yaml(tmp_path):
    """Regression: `--hw X.cfg` was parsed as YAML and refused as 'invalid YAML'."""
    res = CliRunner().invoke(main, ["validate", str(FIX / "systolic_v2_lowercase.cfg")])
    assert res.exit_code == 0, res.output
    binary = tmp_path / "x.cfg"
    binary.write_bytes(b"[general]\x00\xff")
    res = CliRunner().invoke(main, ["validate", str(binary)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1


# --- the `systolic` dataflow in andasim's engine ---------------------------------------------------


def _design(tmp_path, dataflow: str, sram_kb: int = 512, bandwidth: int = 64):
    text = V3.replace("Dataflow : ws", f"Dataflow : {dataflow}").replace(
        "Bandwidth : 64,64,64", f"Bandwidth : {bandwidth}"
    )
    text = text.replace("IfmapSramSzkB:   512", f"IfmapSramSzkB:   {sram_kb}")
    text = text.replace("FilterSramSzkB:  512", f"FilterSramSzkB:  {sram_kb}")
    path = tmp_path / f"{dataflow}_{sram_kb}_{bandwidth}.cfg"
    path.write_text(text)
    return load_hw(path)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(("m", "n", "k"), [(20, 12, 30), (64, 64, 64), (5, 33, 7), (128, 1, 512)])
def test_engine_compute_equals_scalesim_plus_one(tmp_path, dataflow, m, n, k):
    """With SRAMs that hold the operands the mapper keeps SCALE-Sim's folds: its compute cycles + 1."""
    hw = _design(tmp_path, dataflow)
    job = make_job(hw, GeMM("g", "gemm", 0, m=m, k=k, n=n, weight_operand="fp16"), None, None)
    mp, raw = map_and_schedule(job, hw.dataflow)
    expect = systolic_counts(dataflow, m, n, k, 8, 4).compute_cycles + 1
    assert mp.dataflow == "systolic" and mp.tile_kind == f"fold_{dataflow}"
    assert raw["compute_cycles"] == systolic.compute_cycles(job, mp) == expect
    assert raw["pe_busy_cycles"] == m * n * k  # one MAC per busy PE-cycle
    assert raw["cycles"] == raw["compute_cycles"] + raw["stall_dram_cycles"]


def test_small_buffers_split_blocks_and_add_folds(tmp_path):
    hw = _design(tmp_path, "os", sram_kb=4)
    job = make_job(hw, GeMM("g", "gemm", 0, m=256, k=512, n=64, weight_operand="fp16"), None, None)
    mp, raw = map_and_schedule(job, hw.dataflow)
    assert mp.order == "k_split"
    assert raw["compute_cycles"] == systolic.compute_cycles(job, mp)
    assert raw["compute_cycles"] > systolic_counts("os", 256, 64, 512, 8, 4).compute_cycles + 1
    assert raw["pe_busy_cycles"] == 256 * 512 * 64


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(
    ("sram_kb", "bandwidth", "m", "n", "k"),
    [(512, 64, 20, 12, 30), (8, 1, 40, 9, 300), (2, 3, 17, 21, 64), (16, 2, 30, 4, 129), (4, 200, 33, 7, 5)],
)
def test_fold_tiles_agree_with_the_per_cycle_reference(tmp_path, dataflow, sram_kb, bandwidth, m, n, k):
    """Every candidate tiling (whole K, K split, DRAM-bound, ragged): the numba schedule and the
    per-cycle reference model agree on every counter."""
    hw = _design(tmp_path, dataflow, sram_kb, bandwidth)
    job = make_job(hw, GeMM("g", "gemm", 0, m=m, k=k, n=n, weight_operand="fp16"), None, None)
    cands = systolic.candidates(job, hw.dataflow.params("systolic"))
    assert cands
    picked = {mp.order: mp for mp in cands}  # one per loop order keeps the test short
    for mp in picked.values():
        assert run_schedule(job, mp) == simulate_reference(job, mp)[0], mp.label()
        assert run_schedule(job, mp)["compute_cycles"] == systolic.compute_cycles(job, mp), mp.label()


def test_generic_gemm_refused_on_anda():
    with pytest.raises(AndasimInputError, match="needs an FP16 design"):
        make_job(load_hw("pe64"), GeMM("g", "gemm", 0, m=4, k=64, n=4, weight_operand="fp16"), None, None)


def test_run_on_scalesim_files(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        [
            "run",
            "--hw",
            str(FIX / "systolic_v3.cfg"),
            "--trace",
            str(FIX / "conv_small.csv"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for needle in (
        "design from",
        "taken",
        "ignored",
        "[layout]",
        "[sparsity]",
        "trace from",
        "conv form, 6 GeMMs",
        "SCALE-Sim   ws on 8x4",
        "DRAM-aware",
    ):
        assert needle in res.output, needle
    assert "design from" in (out / "summary.txt").read_text()
    rows = list(csv.DictReader((out / "scalesim_compare.csv").read_text().splitlines()))
    assert [r["name"] for r in rows][:2] == ["c1_s2", "c2_s3"]
    for r in rows:
        expect = systolic_counts("ws", int(r["m"]), int(r["n"]), int(r["k"]), 8, 4).compute_cycles
        assert int(r["scalesim_compute_cycles"]) == expect
        assert int(r["andasim_compute_cycles"]) == expect + 1  # one block per layer here
        assert int(r["andasim_cycles"]) >= int(r["andasim_compute_cycles"])
    result = json.loads((out / "result.json").read_text())
    assert result["inputs"]["workload"]["source"]["format"] == "scalesim-topology-conv"
    assert result["inputs"]["hw"]["dataflow"]["systolic"] == {"stationary": "ws"}


def test_topology_on_an_anda_design_is_refused_in_one_line(tmp_path):
    res = CliRunner().invoke(
        main, ["run", "--hw", "pe64", "--trace", str(FIX / "gemm_small.csv"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "FP16 x FP16" in res.output and len(res.output.strip().splitlines()) == 1


def test_trace_info_lists_a_topology_like_a_gemm_list():
    res = CliRunner().invoke(main, ["trace", "info", str(FIX / "conv_small.csv")])
    assert res.exit_code == 0, res.output
    assert (
        "DP_c3Channel_2" in res.output
        and "SCALE-Sim topology CSV" in res.output
        and "m=24 k=60 n=6" in res.output
    )
