"""`andasim selftest`: compile and check every numba kernel once (andasim/selftest.py)."""

from __future__ import annotations

import sys

import click

from andasim.cli import options


@click.command("selftest")
@options.threads_option()
def selftest() -> None:
    """Compile every numba kernel once (cached for later processes) and check it bit for bit.

    Run it once after installing: later commands then start without compiling. Exit code 1 if a
    kernel disagrees with its reference.
    """
    from andasim.selftest import run_selftest

    if not run_selftest(echo=click.echo):
        click.echo("selftest FAILED", err=True)
        sys.exit(1)
    click.echo("all kernels compiled and exact")
