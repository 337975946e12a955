"""Window selection (search/windows.py): last:N / first:N / calib:N / heldout:N, BOS, strict parsing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from andasim.errors import AndasimInputError
from andasim.search.windows import WindowSpec, cut_windows, select_windows


@pytest.mark.parametrize("text", ["last", "last:0", "last:-1", "end:3", "last:3:1", "", "heldout:x",
                                  "calib:2@", "calib:2@-1"])
def test_bad_window_specs_are_refused(text):
    with pytest.raises(AndasimInputError, match="--windows"):
        WindowSpec.parse(text)


def test_spec_parts():
    assert [WindowSpec.parse(f"{w}:2").part for w in ("last", "first", "calib", "heldout")] == \
        ["all", "all", "calib", "eval"]
    assert str(WindowSpec.parse(" last:10 ")) == "last:10"


def test_last_windows_end_at_the_stream_end_without_overlap():
    ids = np.arange(1000)
    rows, offsets = cut_windows(ids, 8, WindowSpec("last", 3), None, "t")
    assert rows.shape == (3, 8) and rows[-1, -1] == 999 and rows[0, 0] == 1000 - 24
    assert np.array_equal(rows.ravel(), np.arange(976, 1000))  # contiguous, non-overlapping
    assert offsets.tolist() == [976, 984, 992]


def test_skip_gives_the_next_disjoint_windows():
    ids = np.arange(1000)
    both, _ = cut_windows(ids, 8, WindowSpec.parse("first:4"), 1, "t")
    later, offsets = cut_windows(ids, 8, WindowSpec.parse("first:2@2"), 1, "t")
    assert np.array_equal(later, both[2:]) and offsets.tolist() == [14, 21]
    tail, _ = cut_windows(ids, 8, WindowSpec.parse("last:4"), None, "t")
    before, _ = cut_windows(ids, 8, WindowSpec.parse("last:2@2"), None, "t")
    assert np.array_equal(before, tail[:2]) and str(WindowSpec.parse("last:2@2")) == "last:2@2"
    with pytest.raises(AndasimInputError, match="asked for first:2@124"):
        cut_windows(ids, 8, WindowSpec.parse("first:2@124"), None, "t")


def test_bos_windows_hold_seq_len_minus_one_text_tokens():
    rows, offsets = cut_windows(np.arange(100), 8, WindowSpec("first", 3), 5, "t")
    assert rows.shape == (3, 8) and rows[:, 0].tolist() == [5, 5, 5]
    assert rows[1, 1] == 7 and offsets.tolist() == [0, 7, 14]  # stride 7 = seq_len - 1
    last, _ = cut_windows(np.arange(100), 8, WindowSpec("last", 2), 5, "t")
    assert last[-1, -1] == 99 and last[0, 1] == 100 - 14


def test_too_few_tokens_and_bad_seq_len():
    with pytest.raises(AndasimInputError, match="hold only 5 windows"):
        cut_windows(np.arange(40), 9, WindowSpec("first", 6), 1, "t")
    with pytest.raises(AndasimInputError, match="--seq-len"):
        cut_windows(np.arange(40), 1, WindowSpec("first", 1), None, "t")


class FakeTokenizer:
    """One token per character (code point), SYNTHETIC stand-in for a real tokenizer."""

    def __init__(self, bos=None):
        self.bos_token_id = bos
        self.calls = 0

    def __call__(self, text, add_special_tokens=True):
        assert add_special_tokens is False  # the stream is tokenized without special tokens
        self.calls += 1
        return SimpleNamespace(input_ids=[ord(c) for c in text])


def test_select_windows_tokenizes_each_part_once(monkeypatch):
    import andasim.workload.corpus as corpus

    texts = {"all": "abcdefghij" * 10, "calib": "abcdefghij" * 9, "eval": "ABCDEFGHIJ" * 2}
    monkeypatch.setattr(corpus, "load_text", lambda name, split: texts[split])
    tok, cache = FakeTokenizer(bos=1), {}
    rows, record = select_windows(tok, "wiki", WindowSpec("heldout", 2), 6, bos=False, cache=cache)
    assert "".join(chr(c) for c in rows.ravel()) == "ABCDEFGHIJAB"
    assert record["windows"] == "heldout:2" and record["bos"] is None and record["part_tokens"] == 20
    rows, record = select_windows(tok, "wiki", WindowSpec("heldout", 2), 6, bos=True, cache=cache)
    assert rows[:, 0].tolist() == [1, 1] and tok.calls == 1 and record["predicted_tokens_per_window"] == 5
    with pytest.raises(AndasimInputError, match="no BOS"):
        select_windows(FakeTokenizer(), "wiki", WindowSpec("last", 1), 6, bos=True)
