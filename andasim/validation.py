"""One validation path for every input file: the schema is chosen by the file's content.

`andasim validate` and the commands that take the same files call the same loaders
(`load_hw`, `load_system`, `load_cost_table`, `load_card`), so a file that validates is a file
every command accepts, and the other way round. Detection looks at keys only a given kind has;
the loader then checks the whole file strictly.
"""

from __future__ import annotations

from pathlib import Path

from andasim.errors import ConfigError
from andasim.strict_yaml import load_strict_yaml

# kind -> a top-level key that only files of that kind have
_MARKERS = {"design": "pe_array", "system": "memory", "cost_table": "calibration", "card": "n_layers"}
KINDS = tuple(_MARKERS)


def detect_kind(data: object, file: str) -> str:
    """Which schema a parsed YAML file follows, from its top-level keys."""
    if isinstance(data, dict):
        found = [kind for kind, marker in _MARKERS.items() if marker in data]
        if len(found) == 1:
            return found[0]
    markers = ", ".join(f"{m} ({k.replace('_', ' ')})" for k, m in _MARKERS.items())
    raise ConfigError(f"not a design, system preset, cost table or model card: expected exactly one of "
                      f"the top-level keys {markers}", file=file)


def validate_target(target: str) -> str:
    """Check one file or bundled name completely; return a one-line summary of what it is."""
    kind, resolved = _resolve(target)
    if kind == "design":
        from andasim.hw.config import load_hw
        from andasim.hw.energy import table_for

        hw = load_hw(resolved)
        arr = hw.pe_array
        return (f"design {hw.name}: {arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz, "
                f"cost table {table_for(hw).name}")
    if kind == "system":
        from andasim.system.offload.tiers import load_system

        system = load_system(resolved)
        return (f"system preset {system.name}: device {system.device_gib:g} GiB, "
                f"host {system.host_gib:g} GiB, disk {system.disk_gib:g} GiB")
    if kind == "cost_table":
        from andasim.hw.energy import load_cost_table

        table = load_cost_table(resolved)
        return f"cost table {table.name}: {table.node_nm:g} nm, {table.voltage_v:g} V"
    from andasim.workload.card import load_card

    card = load_card(resolved)
    return (f"model card {card.name}: {card.n_layers} layers, hidden {card.hidden}, "
            f"{card.param_count():,} parameters")


def bundled_targets() -> list[str]:
    """Every bundled design, system preset, cost table and model card, by name."""
    from andasim.hw.config import bundled_config_names
    from andasim.hw.energy import cost_table_names
    from andasim.system.offload.tiers import bundled_system_names
    from andasim.workload.card import bundled_card_names

    return [*bundled_config_names(), *bundled_system_names(), *cost_table_names(), *bundled_card_names()]


def _resolve(target: str) -> tuple[str, str]:
    """(kind, what to hand the loader): a path by its content, a bundled name by where it lives."""
    from andasim.hw.config import bundled_config_names
    from andasim.hw.energy import cost_table_names
    from andasim.system.offload.tiers import bundled_system_names
    from andasim.workload.card import bundled_card_names

    for kind, names in (("design", bundled_config_names()), ("system", bundled_system_names()),
                        ("cost_table", cost_table_names()), ("card", bundled_card_names())):
        if target in names and not Path(target).exists():
            return kind, target
    path = Path(target)
    if not (path.exists() or path.is_symlink()) and path.suffix in (".yaml", ".yml") and \
            path.stem in bundled_config_names():
        return "design", target  # load_hw's documented fallback for old script paths
    if not (path.exists() or path.is_symlink()) and "/" not in target and path.suffix == "":
        raise ConfigError("no such file, and not a bundled design, system preset, cost table or card; "
                          "see `andasim validate --list`", file=target)
    return detect_kind(load_strict_yaml(path), str(path)), target
