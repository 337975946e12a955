"""Names, display labels and colours of the designs and models the reports compare.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), which stays
distinguishable under the common colour-vision deficiencies; designs also keep a fixed order so
that every figure lists them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The seven designs of the Anda paper's system evaluation (§4.1), in the paper's order.
PAPER_DESIGNS = ("fp_fp", "fp_int", "ifpu", "figna", "figna_m11", "figna_m8", "anda")

DESIGN_LABELS = {
    "fp_fp": "FP-FP (GPU-like)",
    "fp_fp_least_traffic": "FP-FP (least traffic)",
    "fp_int": "FP-INT",
    "ifpu": "iFPU",
    "figna": "FIGNA",
    "figna_m11": "FIGNA-M11",
    "figna_m8": "FIGNA-M8",
    "anda": "Anda",
    "pe64": "Anda (8x8 APUs)",
}

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}

_DESIGN_COLOURS = {
    "fp_fp": OKABE_ITO["black"],
    "fp_fp_least_traffic": "#777777",
    "fp_int": OKABE_ITO["sky_blue"],
    "ifpu": OKABE_ITO["bluish_green"],
    "figna": OKABE_ITO["orange"],
    "figna_m11": OKABE_ITO["reddish_purple"],
    "figna_m8": OKABE_ITO["blue"],
    "anda": OKABE_ITO["vermillion"],
    "pe64": "#882255",  # Tol's wine: Okabe–Ito yellow nearly vanishes as a line on white
}
# Colours for designs beyond the eight above: Paul Tol's "muted" scheme (colour-blind safe,
# https://personal.sron.nl/~pault/), so that ten or more designs in one figure never repeat a colour.
TOL_MUTED = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
             "#AA4499")
_FALLBACK = [*(c for n, c in OKABE_ITO.items() if n != "yellow"), *TOL_MUTED, OKABE_ITO["yellow"]]

# Energy categories of the breakdown figures.
CATEGORY_LABELS = {"compute": "Compute (PEs, BPC, vector unit, control)", "sram": "On-chip SRAM",
                   "dram": "DRAM (HBM2)"}
CATEGORY_COLOURS = {"compute": OKABE_ITO["vermillion"], "sram": OKABE_ITO["sky_blue"],
                    "dram": OKABE_ITO["bluish_green"]}

# The nine models of the paper's system evaluation (§4.1): bundled trace name -> display label.
PAPER_MODELS = {
    "opt1.3b": "OPT-1.3B", "opt2.7b": "OPT-2.7B", "opt6.7b": "OPT-6.7B", "opt13b": "OPT-13B",
    "opt30b": "OPT-30B", "llama7b": "LLaMA-7B", "llama13b": "LLaMA-13B", "llama2-7b": "LLaMA2-7B",
    "llama2-13b": "LLaMA2-13B",
}


# The Anda paper's averages of Anda over FP-FP (abstract); figures mark them beside the simulated ones.
PUBLISHED_AVERAGES = {"speedup": 2.4, "area_efficiency": 4.0, "energy_efficiency": 3.1}
PUBLISHED_SOURCE = "Fang et al., Anda, HPCA 2025 (arXiv 2411.15982), abstract"


def published_marks(cmp: Any) -> dict[str, tuple[str, float]]:
    """The published averages to mark on a comparison: only for Anda over FP-FP."""
    if cmp.baseline != "fp_fp" or "anda" not in cmp.designs:
        return {}
    return {metric: ("anda", value) for metric, value in PUBLISHED_AVERAGES.items()}


def design_label(name: str) -> str:
    """Full display name of a design; a design given as a YAML path is named by its file stem."""
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        stem = name.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return DESIGN_LABELS.get(stem, stem)
    return DESIGN_LABELS.get(name, name)


def design_colours(names: list[str] | tuple[str, ...]) -> list[str]:
    """One distinct colour per design of a figure: the fixed colour of a known design, the next
    unused colour of the Okabe–Ito + Tol palettes otherwise (up to 17 designs without a repeat)."""
    fixed = [_DESIGN_COLOURS.get(n) for n in names]
    free = iter(c for c in _FALLBACK if c not in fixed)
    return [c if c is not None else next(free, _FALLBACK[i % len(_FALLBACK)]) for i, c in enumerate(fixed)]


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_HATCHES = ("", "//", "..", "xx", "\\\\", "oo")


def design_styles(names: list[str] | tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A colour, a marker and a bar hatch per design, for scatter and line figures of any size.

    Colours come from `design_colours` (distinct up to 17 designs); markers differ between
    neighbours in the list, and a colour used again gets the next hatch, so designs stay tellable
    apart without relying on colour alone.
    """
    names = list(dict.fromkeys(names))
    styles: dict[str, dict[str, str]] = {}
    used: dict[str, int] = {}
    for i, (name, colour) in enumerate(zip(names, design_colours(names), strict=True)):
        nth = used.get(colour, 0)
        used[colour] = nth + 1
        styles[name] = {"colour": colour, "marker": _MARKERS[i % len(_MARKERS)],
                        "hatch": _HATCHES[nth % len(_HATCHES)]}
    return styles


def model_label(trace: str) -> str:
    return PAPER_MODELS.get(trace, trace)


def design_looks(names: Mapping[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    """Design as given (bundled name or path) -> (display label, style), for any number of designs.

    `names` maps each design as given to its config's `name`. Labels come from that name (paper
    designs get their full label), never from a path; two designs with the same name are told
    apart by their file name.
    """
    labels = {d: design_label(n) for d, n in names.items()}
    values = list(labels.values())
    labels = {d: f"{lab} ({Path(d).name})" if values.count(lab) > 1 else lab for d, lab in labels.items()}
    unique = len(set(names.values())) == len(names)
    keys = [names[d] if unique else d for d in names]
    styles = design_styles(keys)
    return {d: (labels[d], styles[k]) for d, k in zip(names, keys, strict=True)}
