"""Trace files: round trip, strict refusal of corrupt/truncated/NaN/mis-shaped files, bundled traces."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from andasim.errors import TraceError
from andasim.workload.card import ModelCard
from andasim.workload.paper_profiles import FIG14, paper_trace
from andasim.workload.precision import PrecisionProfile
from andasim.workload.trace import (
    Trace,
    WeightSample,
    bundled_trace_names,
    load_trace,
    read_header,
    save_trace,
)

TINY = ModelCard(name="tiny", family="llama", n_layers=2, hidden=8, ffn=12, gated=True, n_heads=2,
                 n_kv_heads=1, head_dim=4, vocab=16, tied_embeddings=True, qkv_bias=True, source="test")


def tiny_trace(seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    acts = {}
    weights = {}
    for layer in range(2):
        for module in ("qkv", "o", "up", "down"):
            k = TINY.module_in_features(module)
            acts[(layer, module)] = rng.standard_normal((5, k)).astype(np.float16)
            cols = np.array([0, 3], dtype=np.int64)
            bias = rng.standard_normal(2).astype(np.float32) if module == "qkv" else None
            values = rng.standard_normal((k, 2)).astype(np.float32)
            weights[(layer, module)] = WeightSample(cols, values, bias)
    prof = PrecisionProfile.from_list([6, 5, 5, 4], name="p", source="test")
    return Trace(trace_id="tiny", card=TINY, provenance={"model": "tiny", "tokens": 5}, label="real; test",
                 profiles={"p": prof}, default_profile="p", activations=acts, weights=weights)


def test_round_trip_identical(tmp_path):
    trace = tiny_trace()
    path = save_trace(trace, tmp_path / "t")
    assert path.name == "t.npz"
    back = load_trace(path)
    assert back.card == trace.card
    assert back.provenance == trace.provenance
    assert back.profiles == trace.profiles
    assert (back.label, back.default_profile, back.trace_id) == ("real; test", "p", "tiny")
    assert not back.shape_only
    assert back.checksum == trace.checksum and len(back.checksum) == 64
    assert set(back.activations) == set(trace.activations)
    for key, act in trace.activations.items():
        assert back.activations[key].dtype == np.float16
        assert np.array_equal(back.activations[key], act)
        w, bw = trace.weights[key], back.weights[key]
        assert np.array_equal(w.columns, bw.columns) and np.array_equal(w.values, bw.values)
        assert (w.bias is None) == (bw.bias is None)
        if w.bias is not None:
            assert np.array_equal(w.bias, bw.bias)
    assert read_header(path)["checksum"] == trace.checksum


def test_shape_only_round_trip_and_label(tmp_path):
    trace = Trace(trace_id="s", card=TINY, provenance={}, label="shape-only; test")
    back = load_trace(save_trace(trace, tmp_path / "s.npz"))
    assert back.shape_only and back.activations == {} and back.default_profile is None
    with pytest.raises(TraceError, match="no default precision profile"):
        back.profile()
    unlabeled = Trace(trace_id="s", card=TINY, provenance={}, label="test")
    with pytest.raises(TraceError, match="shape-only"):
        save_trace(unlabeled, tmp_path / "u.npz")


def _rewrite(path, out, mutate_arrays=None, mutate_header=None, fix_checksum=True):
    """Copy a trace, editing arrays/header without andasim's validation (to build bad fixtures)."""
    import hashlib

    from andasim.workload.trace import _canonical

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(arrays.pop("header").tobytes())
    if mutate_arrays:
        mutate_arrays(arrays)
    if mutate_header:
        mutate_header(header)
    if fix_checksum:
        body = {k: v for k, v in header.items() if k != "checksum"}
        header["checksum"] = hashlib.sha256(_canonical(body)).hexdigest()
    blob = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(out, header=blob, **arrays)
    return out


def _set_meta(header, name, array):
    import hashlib

    header["arrays"][name] = {"dtype": str(array.dtype), "shape": list(array.shape),
                              "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()}


@pytest.fixture
def good(tmp_path):
    return save_trace(tiny_trace(), tmp_path / "good.npz")


def test_refuses_truncated(good, tmp_path):
    data = good.read_bytes()
    bad = tmp_path / "trunc.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match=r"trunc\.npz"):
        load_trace(bad)


def test_refuses_not_a_zip(tmp_path):
    bad = tmp_path / "junk.npz"
    bad.write_bytes(b"hello")
    with pytest.raises(TraceError, match="not a readable"):
        load_trace(bad)


def test_refuses_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no such trace"):
        load_trace(tmp_path / "nope.npz")


def test_refuses_nan(good, tmp_path):
    name = "act/L1/up"
    with np.load(good, allow_pickle=False) as data:
        nan_act = data[name].copy()
    nan_act[2, 3] = np.nan
    bad = _rewrite(good, tmp_path / "nan.npz", mutate_arrays=lambda a: a.__setitem__(name, nan_act),
                   mutate_header=lambda h: _set_meta(h, name, nan_act))
    with pytest.raises(TraceError, match=r"act/L1/up.*NaN"):
        load_trace(bad)


def test_refuses_mis_shaped(good, tmp_path):
    name = "act/L0/down"
    wrong = np.zeros((5, 7), dtype=np.float16)  # k of down is ffn = 12
    bad = _rewrite(good, tmp_path / "shape.npz", mutate_arrays=lambda a: a.__setitem__(name, wrong),
                   mutate_header=lambda h: _set_meta(h, name, wrong))
    with pytest.raises(TraceError, match=r"act/L0/down.*expected \[tokens>0, 12\]"):
        load_trace(bad)


def test_refuses_wrong_dtype(good, tmp_path):
    name = "act/L0/qkv"
    wrong = np.zeros((5, 8), dtype=np.float32)
    bad = _rewrite(good, tmp_path / "dtype.npz", mutate_arrays=lambda a: a.__setitem__(name, wrong),
                   mutate_header=lambda h: _set_meta(h, name, wrong))
    with pytest.raises(TraceError, match=r"act/L0/qkv.*dtype float32, expected float16"):
        load_trace(bad)


def test_refuses_bad_array_checksum(good, tmp_path):
    name = "w/L1/o/values"

    def flip(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][0, 0] += 1.0

    bad = _rewrite(good, tmp_path / "sum.npz", mutate_arrays=flip)
    with pytest.raises(TraceError, match=r"w/L1/o/values.*sha256"):
        load_trace(bad)


def test_refuses_edited_header(good, tmp_path):
    bad = _rewrite(good, tmp_path / "hdr.npz", mutate_header=lambda h: h["provenance"].update(tokens=6),
                   fix_checksum=False)
    with pytest.raises(TraceError, match="checksum"):
        load_trace(bad)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda h: h.update(format="other"), "format"),
    (lambda h: h.update(version=99), "version"),
    (lambda h: h.pop("provenance"), "provenance"),
    (lambda h: h.update(extra=1), "extra"),
    (lambda h: h["card"].update(hidden=9), "act/L0/qkv"),
    (lambda h: h.update(default_profile="zz"), "default_profile"),
    (lambda h: h.update(shape_only=True), "shape_only"),
])
def test_refuses_bad_header(good, tmp_path, edit, match):
    bad = _rewrite(good, tmp_path / "h.npz", mutate_header=edit)
    with pytest.raises(TraceError, match=match):
        load_trace(bad)


def test_refuses_unlisted_and_out_of_range(good, tmp_path):
    extra = np.zeros((5, 8), dtype=np.float16)
    bad = _rewrite(good, tmp_path / "x.npz", mutate_arrays=lambda a: a.__setitem__("act/L5/qkv", extra))
    with pytest.raises(TraceError, match=r"act/L5/qkv.*not in the header"):
        load_trace(bad)
    bad2 = _rewrite(good, tmp_path / "y.npz", mutate_arrays=lambda a: a.__setitem__("act/L5/qkv", extra),
                    mutate_header=lambda h: _set_meta(h, "act/L5/qkv", extra))
    with pytest.raises(TraceError, match="layer 5 out of range"):
        load_trace(bad2)


def test_save_refuses_bad_columns(tmp_path):
    trace = tiny_trace()
    sample = trace.weights[(0, "o")]
    trace.weights[(0, "o")] = WeightSample(np.array([0, 8], dtype=np.int64), sample.values)  # o has n = 8
    with pytest.raises(TraceError, match=r"w/L0/o/columns.*0\.\.7"):
        save_trace(trace, tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_bundled_traces_are_paper_traces():
    names = bundled_trace_names()
    for name in FIG14:
        assert name in names
        trace = load_trace(name)
        built = paper_trace(name)
        assert trace.shape_only and "shape-only" in trace.label and "published" in trace.label
        assert trace.card == built.card and trace.profiles == built.profiles
        assert trace.provenance == built.provenance and trace.label == built.label
        assert trace.default_profile == "anda-paper/wikitext2/1pct"
        assert len(trace.profiles) == 6
        assert all("Fig. 14" in p.source for p in trace.profiles.values())


def test_llama7b_published_profiles():
    # anda.md §3.5, Fig. 14 row LLaMA-7B
    trace = load_trace("llama7b")
    assert trace.profile().as_list() == [7, 6, 6, 6]
    assert trace.profile("anda-paper/ptb/0.1pct").as_list() == [8, 7, 7, 7]
    assert trace.profile("anda-paper/c4/1pct").as_list() == [6, 5, 6, 6]
    assert trace.card.name == "llama-7b"
    with pytest.raises(TraceError, match="valid"):
        trace.profile("anda-paper/c4/5pct")


def test_npz_member_is_plain_zip(good):
    # self-describing: the header can be read with zipfile + json, no andasim needed
    with zipfile.ZipFile(good) as zf:
        assert "header.npy" in zf.namelist()


def test_refuses_deeply_nested_header(tmp_path):
    """A header nested deeper than the JSON parser's recursion limit is a TraceError, not a crash."""
    path = tmp_path / "deep.npz"
    np.savez(path, header=np.frombuffer(("[" * 5000 + "]" * 5000).encode(), dtype=np.uint8))
    with pytest.raises(TraceError, match="invalid JSON"):
        load_trace(path)
