"""Names, display labels and colours of the designs and models the reports compare.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), which stays
distinguishable under the common colour-vision deficiencies; designs also keep a fixed order so
that every figure lists them the same way.
"""

from __future__ import annotations

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
    "pe64": OKABE_ITO["yellow"],
}
_FALLBACK = list(OKABE_ITO.values())

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


def design_label(name: str) -> str:
    """Full display name of a design (its config name when andasim does not know it)."""
    return DESIGN_LABELS.get(name, name)


def design_colour(name: str, index: int = 0) -> str:
    return _DESIGN_COLOURS.get(name, _FALLBACK[index % len(_FALLBACK)])


def model_label(trace: str) -> str:
    return PAPER_MODELS.get(trace, trace)
