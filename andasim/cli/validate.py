"""`andasim validate`: check designs, system presets, cost tables and model cards."""

from __future__ import annotations

import click

from andasim.validation import bundled_targets, validate_target


@click.command()
@click.argument("files", nargs=-1)
@click.option("--list", "list_bundled", is_flag=True,
              help="List the bundled designs, system presets, cost tables and model cards, and exit.")
def validate(files: tuple[str, ...], list_bundled: bool) -> None:
    """Validate FILES (YAML paths or bundled names) against their schema.

    The schema is chosen by the file's content: a hardware design (`pe_array`), an offloading
    system preset (`memory`), a cost table (`calibration`) or a model card (`n_layers`). Each file
    goes through the loader every command uses: duplicate, unknown or missing keys, wrong types,
    numbers outside their documented range (docs/hw_config.md), anchors/aliases, and for a design
    its cost table (which must exist, be a YAML cost table of the same node and voltage, and
    price the PE type; a relative path is taken relative to the design file) are refused with one
    line naming the file, line and key. Exit code 0 when all are valid, 2 on the first invalid
    one. With no arguments, validates everything bundled.
    """
    if list_bundled:
        for target in bundled_targets():
            click.echo(f"{target:24s} {validate_target(target)}")
        return
    for target in files or tuple(bundled_targets()):
        click.echo(f"ok  {target}: {validate_target(target)}")
