"""`--threads N`: the one thread setting of every command that does numerical work (andasim/threads.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from andasim.threads import set_threads, usable_cores


def _apply(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
    return set_threads(value)


def threads_option(expose_value: bool = False) -> Callable[[Any], Any]:
    """The `--threads` option; applied while the command line is parsed, before the command imports
    numpy or torch. With `expose_value` the command receives the resolved count."""
    return click.option(
        "--threads", type=click.IntRange(min=1, max=1024), default=None, is_eager=True,
        expose_value=expose_value, callback=_apply,
        help=f"Threads for BLAS, OpenMP, numba and torch [default: the usable cores, {usable_cores()} here]. "
             "Small products run single-threaded regardless.")
