"""The `andasim` command line.

Each subcommand lives in its own module of this package and is imported only when it runs (or
when `--help` lists it), so `andasim validate` never pays for numba or torch imports. The
commands wire library calls together; the logic lives in the layers below.
"""

from __future__ import annotations

import importlib

import click

from andasim import __version__
from andasim.errors import AndasimInputError
from andasim.startup import keep_scipy_out_of_numba_init

keep_scipy_out_of_numba_init()  # numba's start-up would import scipy.linalg (0.2-0.4 s) for nothing

# name -> (module, attribute, one-line help shown by `andasim --help`)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("andasim.cli.validate", "validate",
                 "Check designs, system presets, cost tables and model cards."),
    "compare": ("andasim.cli.compare", "compare", "Compare designs on models against a baseline; figures."),
    "reproduce": ("andasim.cli.reproduce", "reproduce", "Rerun the Anda paper evaluation vs. its results."),
    "run": ("andasim.cli.run", "run", "Simulate a model trace on one design: result.json + per_layer.csv."),
    "offload": ("andasim.cli.offload", "offload", "FlexGen-style offloading: evaluate or search a policy."),
    "trace": ("andasim.cli.trace", "trace", "Record, inspect and list workload traces."),
    "tp": ("andasim.cli.tp", "tp", "Tensor parallelism over N chips with compressed all-reduces."),
    "evaluate": ("andasim.cli.evaluate", "evaluate",
                 "Perplexity of a real model under a precision profile, with a confidence interval."),
    "search": ("andasim.cli.search", "search",
               "Search Anda mantissa widths per module under an accuracy budget."),
    "selftest": ("andasim.cli.selftest", "selftest",
                 "Compile (once) and check every numba kernel; run after installing."),
    "sweep": ("andasim.cli.sweep", "sweep", "Sweep designs, workloads and precisions; Pareto fronts."),
}


class InputErrorExit(click.ClickException):
    """A user mistake: one line on stderr and exit code 2, never a traceback (Ctrl-C: 130)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # control characters of an echoed value (a \r, an escape sequence) would break the line
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


class InputErrorGroup(click.Group):
    """A click group whose commands end a user mistake with one line and exit code 2 (`InputErrorExit`),
    Ctrl-C with 130. Every andasim command line uses it: `andasim` itself and the developer groups run
    with `python -m` (`andasim.search.calibrate`)."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AndasimInputError as exc:  # one line even if a library's message had several
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise InputErrorExit(lines[0][:600] + (" ..." if len(lines) > 1 else "")) from None
        except KeyboardInterrupt:  # Ctrl-C: what is written is complete (atomic writes, fsynced journals)
            click.echo("andasim: interrupted; finished work is saved, rerun the same command to resume",
                       err=True)
            ctx.exit(130)
        except click.exceptions.NoArgsIsHelpError as exc:  # `andasim trace` alone: its help, exit 0
            click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
            ctx.exit(0)
        except OSError as exc:
            if exc.filename is None:  # not about a file the user named: a bug, keep the traceback
                raise
            name = str(exc.filename)
            name = name if len(name) <= 80 else name[:77] + "..."
            raise InputErrorExit(f"{name}: {exc.strerror or exc}") from None
        except click.UsageError as exc:  # one line, like every other input error
            where = exc.ctx.command_path if exc.ctx is not None else "andasim"
            raise InputErrorExit(f"{exc.format_message()} (see {where} --help)") from None


class _LazyGroup(InputErrorGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="andasim")
def main() -> None:
    """andasim: cycle-level simulator of Anda-style LLM inference accelerators.

    For a model, a hardware design and an accuracy budget it answers how fast, how much energy
    and how much area, and how that compares with the FP-FP, FP-INT, iFPU and FIGNA baselines.

    \b
    Quick start:
      andasim run --hw pe64 --trace llama7b --out out/
      andasim validate hw_configs/*.yaml

    Hardware designs (--hw) are a YAML path or a bundled name; see `andasim validate --list`.
    """
