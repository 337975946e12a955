"""`andasim sweep`: the acceptance sweep, strict overrides, failures in the table, specs, Pareto."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from andasim.cli import main
from andasim.explore.pareto import pareto_mask
from andasim.explore.points import expand
from andasim.explore.spec import load_spec
from andasim.explore.store import JOURNAL, PointStore, journal_keys

ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE = ["--hw", "anda", "--trace", "llama7b", "--set", "pe_array.rows=8,16",
              "--set", "pe_array.cols=8,16", "--set", "dram.bw_gb_per_s=128,256,512"]
# A cheap workload for the tests that only need many points: SmolLM2-135M shapes, 64 tokens.
CHEAP = ["--hw", "pe64", "--model", "smollm2-135m", "--precision", "6", "--seq-len", "64"]


def _sweep(*args: str):
    return CliRunner().invoke(main, ["sweep", *args])


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def acceptance_sweep(tmp_path_factory) -> Path:
    """The issue's 12-point sweep, run once on a local pool of two worker processes."""
    out = tmp_path_factory.mktemp("sweep") / "local"
    res = _sweep(*ACCEPTANCE, "--workers", "2", "--no-figures", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


def _design_file(tmp_path: Path, rows: int, cols: int, bw: float) -> Path:
    data = yaml.safe_load((ROOT / "hw_configs" / "anda.yaml").read_text())
    data["pe_array"]["rows"], data["pe_array"]["cols"], data["dram"]["bw_gb_per_s"] = rows, cols, bw
    path = tmp_path / f"anda_{rows}x{cols}_{bw}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_acceptance_sweep_matches_standalone_runs(acceptance_sweep, tmp_path) -> None:
    rows = _rows(acceptance_sweep)
    assert len(rows) == 12
    swept = [(int(r["pe_array.rows"]), int(r["pe_array.cols"]), float(r["dram.bw_gb_per_s"])) for r in rows]
    assert swept == [(a, b, c) for a in (8, 16) for b in (8, 16) for c in (128.0, 256.0, 512.0)]
    assert len({r["hash"] for r in rows}) == 12 and not any(r["error"] for r in rows)
    for i in (0, 5, 10):  # a few points against a standalone `andasim run` of the same design
        r = rows[i]
        design = _design_file(tmp_path, int(r["pe_array.rows"]), int(r["pe_array.cols"]),
                              float(r["dram.bw_gb_per_s"]))
        res = CliRunner().invoke(main, ["run", "--hw", str(design), "--trace", "llama7b",
                                        "--out", str(tmp_path / f"run{i}")])
        assert res.exit_code == 0, res.output
        result = json.loads((tmp_path / f"run{i}" / "result.json").read_text())
        assert int(r["cycles"]) == result["totals"]["cycles"]
        assert float(r["roofline_cycles"]) == result["totals"]["roofline_cycles"] <= int(r["cycles"])
        assert float(r["energy_j"]) == pytest.approx(result["energy"]["energy_j"]["total"], rel=1e-12)
    # The unmodified design is recognised as the bundled one (marked in the figures).
    shipped = [r for r in rows if r["bundled_design"]]
    assert [(r["pe_array.rows"], r["pe_array.cols"], r["bundled_design"]) for r in shipped] == \
        [("16", "16", "anda")]


def test_dask_cluster_gives_the_identical_table(acceptance_sweep, tmp_path) -> None:
    """The same sweep on a real dask.distributed cluster of separate worker processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        res = _sweep(*ACCEPTANCE, "--backend", "dask", "--scheduler", cluster.scheduler_address,
                     "--no-figures", "--out", str(out))
        assert res.exit_code == 0, res.output
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
    assert (out / "results.csv").read_bytes() == (acceptance_sweep / "results.csv").read_bytes()
    assert (out / "results.parquet").read_bytes() == (acceptance_sweep / "results.parquet").read_bytes()


def test_rerun_reuses_every_point_and_writes_the_same_bytes(acceptance_sweep) -> None:
    before = (acceptance_sweep / "results.csv").read_bytes()
    res = _sweep(*ACCEPTANCE, "--workers", "1", "--no-figures", "--out", str(acceptance_sweep))
    assert res.exit_code == 0, res.output
    assert "simulated 0, reused 12" in res.output
    assert (acceptance_sweep / "results.csv").read_bytes() == before
    assert len(journal_keys(acceptance_sweep)) == 12


@pytest.mark.parametrize(("setting", "needle"), [
    ("pe_array.rowz=8", "pe_array.rowz"),                 # unknown key
    ("pe_array.rows=eight", "pe_array.rows"),             # wrong type
    ("pe_array.rows=0", "pe_array.rows"),                 # impossible value (was a ZeroDivisionError)
    ("dram.bw_gb_per_s=nan", "dram.bw_gb_per_s"),         # not finite
    ("buffers.weight.size_kib=0.0001", "size_kib"),       # below the schema's range
    ("compressor.lanes=4", "compressor"),                 # fp_fp has no compressor
    ("activation_group_size=48", "activation_group_size"),  # breaks a cross-key rule
    ("pe_array.rows", "pe_array.rows"),                   # no values
    ("pe_array.rows=8,8", "pe_array.rows"),               # listed twice
    ("pe_array.rows=1..4000", "--sample"),                # 8 million points: asks for a sample
])
def test_malformed_set_fails_before_any_point_runs(tmp_path, setting, needle) -> None:
    out = tmp_path / "bad"
    res = _sweep("--hw", "anda", "--hw", "fp_fp", "--trace", "llama7b", "--set", "pe_array.cols=1..1000",
                 "--set", setting, "--out", str(out))
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.strip().splitlines() if line]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output
    assert not (out / JOURNAL).exists()


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path) -> None:
    out = tmp_path / "fail"
    res = _sweep(*CHEAP, "--set", "buffers.weight.size_kib=0.0625,64", "--workers", "1", "--no-figures",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    bad, good = _rows(out)
    assert "too small" in bad["error"] and bad["cycles"] == ""
    assert good["error"] == "" and int(good["cycles"]) > 0


def test_precision_axis_and_fp16_designs_simulate_once(tmp_path) -> None:
    out = tmp_path / "prec"
    res = _sweep("--hw", "pe64", "--hw", "fp_fp", "--model", "smollm2-135m", "--seq-len", "64",
                 "--set", "precision=4..6", "--workers", "1", "--no-figures", "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = _rows(out)
    assert [r["precision_bits"] for r in rows] == ["4,4,4,4", "5,5,5,5", "6,6,6,6", "", "", ""]
    anda_cycles = [int(r["cycles"]) for r in rows[:3]]
    assert anda_cycles[0] < anda_cycles[1] < anda_cycles[2]  # bit-serial: fewer mantissa bits, fewer cycles
    assert len({r["hash"] for r in rows[3:]}) == 1  # FP16 storage ignores the profile: one simulation
    assert "6 points (4 distinct): simulated 4" in res.output


def test_sample_is_seeded_and_a_subset(tmp_path) -> None:
    args = [*CHEAP, "--set", "pe_array.rows=1..6", "--set", "pe_array.cols=1..6", "--sample", "7",
            "--workers", "1", "--no-figures"]
    a = _sweep(*args, "--seed", "3", "--out", str(tmp_path / "a"))
    b = _sweep(*args, "--seed", "3", "--out", str(tmp_path / "b"))
    c = _sweep(*args, "--seed", "4", "--out", str(tmp_path / "c"))
    assert a.exit_code == b.exit_code == c.exit_code == 0, a.output
    pa = [int(r["point"]) for r in _rows(tmp_path / "a")]
    assert len(pa) == 7 and pa == sorted(set(pa)) and all(0 <= p < 36 for p in pa)
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()
    assert pa != [int(r["point"]) for r in _rows(tmp_path / "c")]


def test_spec_file_example_and_strict_keys(tmp_path) -> None:
    spec = load_spec(ROOT / "examples" / "sweep.yaml")
    points = expand(spec)  # 2 designs x 3 x 3 x 2 x 2 precisions; FP-INT ignores the precision
    assert len(points) == 72 and len({p.key for p in points}) == 54 and spec.pareto
    bad = tmp_path / "bad.yaml"
    bad.write_text("hw: [pe64]\nmodel: smollm2-135m\nsett:\n  pe_array.rows: [8]\n")
    res = _sweep(str(bad), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "bad.yaml:3: key 'sett': unknown key" in res.output
    dup = tmp_path / "dup.yaml"
    dup.write_text("hw: [pe64]\nmodel: smollm2-135m\nhw: [anda]\n")
    res = _sweep(str(dup), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "duplicate key" in res.output
    small = tmp_path / "small.yaml"
    small.write_text("hw: [pe64]\nmodel: smollm2-135m\nprecision: [6]\nseq_len: 64\n"
                     "set:\n  pe_array.rows: [4, 8]\npareto: [latency_s, area_mm2]\n")
    res = _sweep(str(small), "--workers", "1", "--out", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "s")
    assert [r["pe_array.rows"] for r in rows] == ["4", "8"] and {r["pareto"] for r in rows} == {"True"}
    res = _sweep(str(small), "--hw", "anda", "--out", str(tmp_path / "s"))
    assert res.exit_code == 2 and "not both" in res.output


def test_pareto_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, size=(300, 3)).astype(float)  # many ties
    values[7] = np.nan  # a failed point is never on the front
    objectives = ("latency_s", "energy_j", "throughput_gops")  # the last one is maximised
    mask = pareto_mask(values, objectives)
    signed = values * np.array([1, 1, -1])
    for i in range(len(values)):
        if np.isnan(signed[i]).any():
            assert not mask[i]
            continue
        dominated = any(np.all(signed[j] <= signed[i]) and np.any(signed[j] < signed[i])
                        for j in range(len(values)) if not np.isnan(signed[j]).any())
        assert mask[i] == (not dominated)


def test_torn_journal_tail_is_cut_and_the_point_recomputed(tmp_path) -> None:
    with PointStore(tmp_path) as store:
        store.append([("a" * 32, {"metrics": {"cycles": 1}}), ("b" * 32, {"error": "E: x"})])
    with (tmp_path / JOURNAL).open("ab") as fh:
        fh.write(b'{"key":"' + b"c" * 32 + b'","metr')  # killed mid-write
    with PointStore(tmp_path) as store:
        assert set(store.done) == {"a" * 32, "b" * 32}
        store.append([("c" * 32, {"metrics": {"cycles": 3}})])
    assert journal_keys(tmp_path) == ["a" * 32, "b" * 32, "c" * 32]


def test_a_second_sweep_into_the_same_folder_is_refused(tmp_path) -> None:
    with PointStore(tmp_path):
        res = _sweep(*CHEAP, "--out", str(tmp_path))
    assert res.exit_code == 2 and "another andasim sweep" in res.output


def test_without_the_extra_csv_still_written_and_parquet_names_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    res = _sweep(*CHEAP, "--set", "pe_array.rows=4,8", "--workers", "1", "--out", str(tmp_path / "a"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a" / "results.csv").is_file() and not (tmp_path / "a" / "results.parquet").exists()
    res = _sweep(*CHEAP, "--parquet", "--out", str(tmp_path / "b"))
    assert res.exit_code == 2 and "andasim[sweep]" in res.output
    monkeypatch.setitem(sys.modules, "distributed", None)
    res = _sweep(*CHEAP, "--backend", "dask", "--out", str(tmp_path / "c"))
    assert res.exit_code == 2 and "andasim[sweep]" in res.output


def test_python_api_returns_the_table(tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    import andasim

    df = andasim.sweep("pe64", model="smollm2-135m", precision=6, seq_len=64,
                       overrides={"pe_array.rows": [4, 8]}, workers=1, out=tmp_path / "api",
                       pareto=["latency_s", "area_mm2"])
    assert list(df["pe_array.rows"]) == [4, 8] and df["cycles"].iloc[0] > df["cycles"].iloc[1]
    pd.testing.assert_frame_equal(df, pd.read_parquet(tmp_path / "api" / "results.parquet"))
    csv_df = pd.read_csv(tmp_path / "api" / "results.csv")
    assert list(csv_df.columns) == list(df.columns) and list(csv_df["cycles"]) == list(df["cycles"])
