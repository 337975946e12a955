"""The Anda paper's published per-module mantissa widths (Fig. 14) and the shape-only traces carrying them.

Source: C. Fang et al., "Anda: Unlocking Efficient LLM Inference with a Variable-Length Grouped
Activation Data Format", HPCA 2025 (arXiv:2411.15982), Fig. 14: the widths
[M_qkv, M_o, M_u, M_d] found by the paper's search for each model, dataset (WikiText2, PTB, C4)
and accuracy-loss tolerance (0.1 %, 1 %). Values as decoded from the figure text and
cross-checked against the paper's Table II BOPs column (reference notes anda.md §3.5).
These are published figures, not andasim results; every trace and report using them says so.

`python -m andasim.workload.paper_profiles OUT_DIR` writes the bundled shape-only traces
(scripts/record_traces.sh runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from andasim.workload.card import load_card
from andasim.workload.precision import PrecisionProfile
from andasim.workload.trace import Trace, save_trace

PAPER = ("Fang et al., Anda, HPCA 2025 (arXiv:2411.15982)")
DATASETS = ("wikitext2", "ptb", "c4")
TOLERANCES = ("0.1pct", "1pct")
DEFAULT_PROFILE = "anda-paper/wikitext2/1pct"

# trace name -> (card name, {(dataset, tolerance): [M_qkv, M_o, M_u, M_d]}), Fig. 14 of PAPER.
FIG14: dict[str, tuple[str, dict[tuple[str, str], list[int]]]] = {}


_CARDS = {"opt1.3b": "opt-1.3b", "opt2.7b": "opt-2.7b", "opt6.7b": "opt-6.7b", "llama7b": "llama-7b",
          "llama2-7b": "llama2-7b", "opt13b": "opt-13b", "llama13b": "llama-13b", "llama2-13b": "llama2-13b",
          "opt30b": "opt-30b"}


def _row(trace: str, *widths: list[int]) -> None:
    keys = [(d, t) for d in DATASETS for t in TOLERANCES]
    FIG14[trace] = (_CARDS[trace], dict(zip(keys, widths, strict=True)))


# trace         WikiText2 0.1% WikiText2 1%  PTB 0.1%       PTB 1%        C4 0.1%       C4 1%
_row("opt1.3b", [8, 6, 5, 5], [8, 5, 5, 4], [11, 8, 10, 9], [8, 7, 7, 6], [9, 8, 9, 8], [7, 6, 7, 6])
_row("opt2.7b", [7, 5, 5, 5], [6, 5, 5, 4], [8, 6, 8, 7], [6, 5, 6, 6], [8, 7, 8, 7], [6, 5, 6, 5])
_row("opt6.7b", [7, 5, 5, 4], [6, 4, 5, 4], [8, 6, 7, 7], [6, 5, 6, 5], [8, 6, 7, 7], [6, 5, 6, 4])
_row("llama7b", [9, 8, 8, 7], [7, 6, 6, 6], [8, 7, 7, 7], [6, 7, 6, 7], [8, 6, 7, 8], [6, 5, 6, 6])
_row("llama2-7b", [9, 7, 8, 8], [7, 6, 6, 6], [7, 8, 8, 6], [7, 6, 7, 6], [8, 6, 8, 8], [6, 6, 6, 6])
_row("opt13b", [7, 6, 5, 5], [6, 6, 5, 4], [9, 9, 8, 9], [6, 6, 6, 6], [8, 6, 7, 7], [6, 5, 6, 5])
_row("llama13b", [10, 8, 8, 8], [7, 5, 6, 6], [8, 7, 6, 7], [6, 6, 6, 6], [8, 6, 7, 8], [6, 5, 6, 6])
_row("llama2-13b", [10, 10, 8, 9], [7, 7, 6, 7], [7, 4, 5, 6], [6, 5, 5, 6], [8, 7, 7, 8], [6, 5, 6, 6])
_row("opt30b", [7, 5, 5, 4], [6, 4, 5, 4], [8, 6, 8, 6], [6, 5, 6, 5], [7, 6, 7, 7], [6, 4, 6, 4])

_DATASET_NAMES = {"wikitext2": "WikiText2", "ptb": "PTB", "c4": "C4"}
_TOL_NAMES = {"0.1pct": "0.1%", "1pct": "1%"}


def paper_profiles(trace_name: str) -> dict[str, PrecisionProfile]:
    """The six published profiles of one model, named anda-paper/<dataset>/<tolerance>."""
    _, table = FIG14[trace_name]
    out = {}
    for (dataset, tol), widths in table.items():
        name = f"anda-paper/{dataset}/{tol}"
        source = (f"published figure: {PAPER}, Fig. 14, {_DATASET_NAMES[dataset]} at {_TOL_NAMES[tol]} "
                  f"accuracy-loss tolerance, [M_qkv, M_o, M_u, M_d] = {widths}")
        out[name] = PrecisionProfile.from_list(widths, name=name, source=source)
    return out


def paper_trace(trace_name: str) -> Trace:
    """The shape-only trace of one Anda-paper model, carrying its Fig. 14 profiles."""
    card_name, _ = FIG14[trace_name]
    card = load_card(card_name)
    provenance = {
        "kind": "shape-only",
        "model": card_name,
        "card_source": card.source,
        "profiles_source": f"{PAPER}, Fig. 14 (published figures, decoded from the figure text and "
                           f"cross-checked against Table II BOPs)",
        "activations": "none (shape-only trace)",
        "command": f"python -m andasim.workload.paper_profiles traces/  # writes {trace_name}.npz",
    }
    label = "shape-only; profiles are published figures (Anda paper Fig. 14)"
    return Trace(trace_id=trace_name, card=card, provenance=provenance, label=label,
                 profiles=paper_profiles(trace_name), default_profile=DEFAULT_PROFILE)


def write_paper_traces(out_dir: Path | str) -> list[Path]:
    return [save_trace(paper_trace(name), Path(out_dir) / name) for name in FIG14]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m andasim.workload.paper_profiles OUT_DIR")
    for written in write_paper_traces(sys.argv[1]):
        print(written)
