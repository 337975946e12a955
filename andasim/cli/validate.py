"""`andasim validate`: check hardware designs and any other andasim YAML file."""

from __future__ import annotations

from pathlib import Path

import click

from andasim.cli import options


@options.command("validate")
@click.argument("configs", nargs=-1)
@click.option("--list", "list_bundled", is_flag=True, help="List the bundled designs and exit.")
@options.json_option(extra="(one entry per file: name, kind, description)")
def validate(configs: tuple[str, ...], list_bundled: bool, json_file: Path | None) -> None:
    """Validate CONFIGS (YAML paths or bundled design names) against their schema.

    The schema is chosen by the file's content: a hardware design, an offload system preset
    (hw_configs/systems/), a cost table, a model card, a precision profile or a proxy calibration.
    Each file is parsed strictly: duplicate keys, unknown keys, wrong types, missing keys, values
    outside their declared range and inconsistent sizes are refused with the file, line and key.
    Exit code 0 when all are valid, 2 on the first invalid one. With no arguments, validates every
    bundled design.
    """
    from andasim.hw.config import bundled_config_names, load_hw
    from andasim.validation import validate_file

    if list_bundled:
        for name in bundled_config_names():
            click.echo(f"{name:10s} {load_hw(name).description}")
        return
    entries = []
    for target in configs or tuple(bundled_config_names()):
        if Path(target).exists() or target.endswith((".yaml", ".yml")) or "/" in target:
            kind_line = validate_file(target)
        else:
            hw = load_hw(target)  # a bundled design name (or an error that suggests one)
            arr = hw.pe_array
            kind_line = f"design {hw.name}, {arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz"
        entries.append({"file": target, "description": kind_line})
        click.echo(f"ok  {target}: {kind_line}")
    if json_file is not None:
        from andasim.report.writers import write_json

        write_json(json_file, entries)
        click.echo(f"wrote {json_file}")
