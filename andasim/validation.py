"""`validate_file`: check any andasim YAML against the schema its content calls for.

A file is recognised by its top-level keys, so `andasim validate` works on every shipped YAML
without being told what it is: a hardware design (`pe_array`), an offload system preset (`memory`
and `links`), an energy/area cost table (`calibration`), a model card (`n_layers`), a precision
profile (`mantissa_bits`) or a proxy calibration (`coefficients`); a SCALE-Sim `.cfg` is a design
(`andasim.hw.scalesim_cfg`). Each kind is then parsed by its
own strict loader, so the errors are the loader's one-line messages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from andasim.errors import ConfigError
from andasim.strict_yaml import load_strict_yaml


def _design(path: str) -> str:
    from andasim.hw.config import load_hw

    hw = load_hw(path)
    arr = hw.pe_array
    return f"design {hw.name}, {arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz"


def _system(path: str) -> str:
    from andasim.system.offload.tiers import load_system

    system = load_system(path)
    return f"offload system preset {system.name}"


def _cost_table(path: str) -> str:
    from andasim.hw.energy import load_cost_table

    return f"cost table {load_cost_table(path).name}"


def _card(path: str) -> str:
    from andasim.workload.card import load_card

    card = load_card(path)
    return f"model card {card.name}, {card.n_layers} layers"


def _profile(path: str) -> str:
    from andasim.workload.precision import load_profile

    profile = load_profile(path)
    return f"precision profile {profile.name} {profile.as_list()}"


def _proxy(path: str) -> str:
    from andasim.search.evaluators.proxy import load_coefficients

    load_coefficients(path)
    return "proxy calibration"


# (kind, keys that identify it, validator); the first match wins
KINDS: tuple[tuple[str, frozenset[str], Callable[[str], str]], ...] = (
    ("design", frozenset({"pe_array"}), _design),
    ("system", frozenset({"memory", "links"}), _system),
    ("cost table", frozenset({"calibration"}), _cost_table),
    ("model card", frozenset({"n_layers", "hidden"}), _card),
    ("precision profile", frozenset({"mantissa_bits"}), _profile),
    ("proxy calibration", frozenset({"coefficients"}), _proxy),
)


def detect_kind(data: Any, file: str) -> tuple[str, Callable[[str], str]]:
    """The kind of a parsed YAML document, by its top-level keys."""
    if isinstance(data, dict):
        for kind, keys, check in KINDS:
            if keys <= set(data):
                return kind, check
    raise ConfigError("not an andasim file: expected the top-level keys of a design (pe_array), a system "
                      "preset (memory, links), a cost table (calibration), a model card (n_layers), a "
                      "precision profile (mantissa_bits) or a proxy calibration (coefficients)", file=file)


def validate_file(path: str | Path) -> str:
    """Validate one YAML file; the one-line description of what it is. Errors raise ConfigError."""
    name = str(path)
    from andasim.hw.scalesim_cfg import looks_like_cfg

    if Path(name).is_file() and looks_like_cfg(Path(name)):  # a SCALE-Sim .cfg: a design once translated
        return _design(name) + " (translated from a SCALE-Sim .cfg)"
    _, check = detect_kind(load_strict_yaml(path), name)
    return check(name)
