"""`andasim validate`: check hardware config files."""

from __future__ import annotations

import click

from andasim.hw.config import bundled_config_names, load_hw


@click.command()
@click.argument("configs", nargs=-1)
@click.option("--list", "list_bundled", is_flag=True, help="List the bundled designs and exit.")
def validate(configs: tuple[str, ...], list_bundled: bool) -> None:
    """Validate hardware CONFIGS (YAML paths or bundled names) against the schema.

    Each config is parsed strictly: duplicate keys, unknown keys, wrong types, missing keys,
    non-positive sizes, unknown PE types and a group size that does not divide the activation
    port width are refused with the file, line and key. Exit code 0 when all are valid, 2 on
    the first invalid one. With no arguments, validates every bundled design.
    """
    if list_bundled:
        for name in bundled_config_names():
            hw = load_hw(name)
            click.echo(f"{name:10s} {hw.description}")
        return
    targets = configs or tuple(bundled_config_names())
    for target in targets:
        hw = load_hw(target)
        arr = hw.pe_array
        click.echo(f"ok  {target}: {hw.name}, {arr.rows}x{arr.cols} {arr.pe_type}, {hw.freq_mhz:g} MHz")
