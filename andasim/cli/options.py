"""The shared command-line vocabulary: one flag per idea, the same name, type and meaning in
every subcommand, and the resolvers that turn the values into typed objects.

- `--hw NAME_OR_PATH`: a design, a bundled name (`anda`, `pe64`, ...) or a YAML path; repeatable where
  several designs make sense.
- `--trace`/`--model NAME_OR_PATH`: a workload, a bundled trace or model card in either spelling
  (`llama7b`, `llama-7b`), a trace `.npz`, a card YAML, a Hugging Face `config.json`, a GeMM-list CSV.
- `--precision SPEC`: a profile name, a profile YAML, `M_qkv,M_o,M_up,M_down` or one uniform `M`.
- `--seq-len N`: tokens per sequence (prefill) or context length (decode); a window is `--window`.
- `--out DIR`: the output folder (always a folder). `--json FILE`: also the JSON report there.
- `--threads N`: threads for BLAS, OpenMP, numba and torch (`cli/threads_option.py`).

Old spellings (`compare --designs/--traces/--profile`, `tp --profile/--m-bits`, `offload --anda-m`)
keep working for one release: `UnifiedCommand` rewrites them before parsing and prints a one-line
deprecation notice. Commands declare them with `command(..., old_spellings=[Alias(...)])`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from andasim.cli.checks import NonEmptyPath
from andasim.errors import AndasimInputError

REMOVED_IN = "0.2"

HW_HELP = ("Design: a bundled name (anda, pe64, fp_fp, ...; `andasim validate --list`), a YAML path or a "
           "SCALE-Sim .cfg.")
TRACE_HELP = ("A model: a bundled one in either spelling (llama-7b or llama7b, opt-175b, smollm2-135m; "
              "`andasim trace list`) or a file: a trace .npz, a card YAML, a Hugging Face config.json, a "
              "GeMM-list CSV (name,M,K,N,module) or a SCALE-Sim topology CSV (GEMM or convolution form).")
PRECISION_HELP = ("Anda mantissa widths: a profile name of the trace, a profile YAML file (e.g. from "
                  "`andasim search`), M_qkv,M_o,M_up,M_down (e.g. 7,6,6,6) or one uniform M (e.g. 6).")
SEQ_LEN_HELP = "Tokens per sequence (prefill) or context length (decode)."
OUT_HELP = "Output folder (created)."
WEIGHTS_HELP = ("as-shipped: the decoder weights exactly as loaded (the bundled GGUF models are already "
                "4-5-bit quantized); intB-gG (e.g. int4-g128): re-quantize the decoder Linears on top of "
                "them.")
BOS_HELP = "Start every window with the tokenizer's BOS token."
JSON_HELP = "Also write the JSON report to this file."

REPEATABLE = " Repeatable; a comma list works too."

F = Callable[..., Any]
MAX_SEQ_LEN = 1 << 24  # 16M tokens: beyond any context window; catches 10**12 typos


def _help(shared: str, extra: str) -> str:
    """The shared meaning first (the flag-consistency test checks it), then what is command specific."""
    return f"{shared} {extra}" if extra else shared


# --- the options ----------------------------------------------------------------------------------


def hw_option(*, multiple: bool = False, required: bool = True, default: Any = None, extra: str = "",
              dest: str = "hw") -> F:
    """`--hw`: one design, or with `multiple` a repeatable option that also takes comma lists."""
    help_text = _help(HW_HELP + (REPEATABLE if multiple else ""), extra)
    return click.option("--hw", dest, multiple=multiple, required=required and default is None,
                        default=default, metavar="NAME_OR_PATH", show_default=default is not None,
                        help=help_text)


def trace_option(*, multiple: bool = False, required: bool = True,
                 names: Sequence[str] = ("--trace", "--model"), dest: str = "trace", extra: str = "") -> F:
    """`--trace`/`--model`: one workload (or several with `multiple`), by any accepted name."""
    help_text = _help(TRACE_HELP + (REPEATABLE if multiple else ""), extra)
    return click.option(*names, dest, multiple=multiple, required=required, metavar="NAME_OR_PATH",
                        help=help_text)


def precision_option(extra: str = "", dest: str = "precision") -> F:
    """`--precision SPEC` (default: the trace's default profile)."""
    return click.option("--precision", dest, default=None, metavar="SPEC",
                        help=_help(PRECISION_HELP, extra or "Default: the trace's default profile."))


def _writable_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Checked while parsing, before any work: a folder that can be created or written (cli/checks.py)."""
    from andasim.cli.checks import output_dir, output_file

    if value is None:
        return None
    if param.type.file_okay and Path(value).is_file():  # type: ignore[attr-defined]  # legacy_file
        return output_file(value, "--out")
    return output_dir(value, "--out")


def _writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    from andasim.cli.checks import output_file

    return None if value is None else output_file(value, "--json")


def seq_len_option(default: int = 2048, extra: str = "") -> F:
    """`--seq-len N`: one meaning everywhere (a calibration window is `--window`)."""
    return click.option("--seq-len", "seq_len", type=click.IntRange(min=1, max=MAX_SEQ_LEN),
                        default=default,
                        show_default=True, help=_help(SEQ_LEN_HELP, extra))


def weights_option(extra: str = "") -> F:
    """`--weights as-shipped|intB-gG` of the real-model commands (parsed by the perplexity evaluator)."""
    return click.option("--weights", default="as-shipped", show_default=True, help=_help(WEIGHTS_HELP, extra))


def bos_option(extra: str = "") -> F:
    """`--bos/--no-bos` of the real-model commands: part of the stated evaluation protocol."""
    return click.option("--bos/--no-bos", default=False, show_default=True, help=_help(BOS_HELP, extra))


def out_option(*, required: bool = True, extra: str = "", legacy_file: bool = False) -> F:
    """`--out DIR`: always a folder, checked before any work starts. `legacy_file`: the command used
    to take a file here and still accepts an existing one for a release (it tells the user so)."""
    return click.option("--out", "out_dir", required=required, metavar="DIR",
                        type=NonEmptyPath(file_okay=legacy_file, dir_okay=True, path_type=Path),
                        callback=_writable_dir,
                        help=_help(OUT_HELP, extra))


def json_option(extra: str = "") -> F:
    """`--json FILE`: a copy of the command's JSON report, checked before any work starts."""
    return click.option("--json", "json_file", default=None, metavar="FILE",
                        type=NonEmptyPath(file_okay=True, dir_okay=False, path_type=Path),
                        callback=_writable_file,
                        help=_help(JSON_HELP, extra))


def threads_option(expose_value: bool = False) -> F:
    """`--threads N` for BLAS, OpenMP, numba and torch (andasim/threads.py), set while parsing."""
    from andasim.cli.threads_option import threads_option as shared

    return shared(expose_value=expose_value)


# --- resolvers ------------------------------------------------------------------------------------


def split_values(option: str, values: str | Sequence[str]) -> list[str]:
    """Repeated values and comma lists as one list, refusing empty items."""
    raw = [values] if isinstance(values, str) else list(values)
    items = [item.strip() for value in raw for item in value.split(",")]
    if not items or any(not item for item in items):
        raise AndasimInputError(f"{option}: expected names or a comma-separated list without empty items, "
                                f"got {', '.join(raw)!r}")
    return items


def resolve_hw(value: str) -> Any:
    """A design by bundled name, YAML path or SCALE-Sim .cfg (a missing path is an error, never the stock
    design)."""
    from andasim.hw.config import load_hw

    return load_hw(value)


def resolve_trace(value: str) -> Any:
    """A workload by any accepted name or file (see `andasim.workload.loaders`)."""
    from andasim.workload.loaders import load_workload

    return load_workload(value)


def canonical_model(text: str) -> str:
    """`text` in the canonical spelling when it names a bundled model (`SmolLM2-135M` -> `smollm2-135m`),
    else unchanged (a path or a Hugging Face directory)."""
    from andasim.workload.loaders import canonical_name

    return canonical_name(text) or text


def resolve_precision(spec: str | None, trace: Any, hw: Any | None = None) -> Any:
    """The profile for `spec` on `trace`; without `spec` the trace's default (None for FP16 designs).

    An Anda design without any profile is an error that lists what `--precision` accepts.
    """
    from andasim.workload.precision import PRECISION_FORMS
    from andasim.workload.precision import resolve_precision as parse

    profiles = getattr(trace, "profiles", {}) or {}
    owner = f"trace {getattr(trace, 'trace_id', '?')}"
    if spec is not None:
        return parse(spec, profiles, owner=owner)
    default = getattr(trace, "default_profile", None)
    if default is not None:
        return profiles[default]
    if hw is not None and hw.activation_storage == "anda":
        names = ", ".join(sorted(profiles)) or "none"
        raise AndasimInputError(f"{owner} has no default precision profile and design {hw.name} needs one; "
                                f"give --precision: {PRECISION_FORMS} (profiles of the trace: {names})")
    return None


# --- deprecated spellings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    """An old flag spelling that maps to `new`; `split` turns a comma list into repeated `new` flags."""

    old: str
    new: str
    split: bool = False


class UnifiedCommand(click.Command):
    """A click command that accepts the deprecated spellings of its shared flags for one release."""

    def __init__(self, *args: Any, old_spellings: Sequence[Alias] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.old_spellings = {alias.old: alias for alias in old_spellings}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rewrite_deprecated(args, self.old_spellings, ctx.command_path))


def rewrite_deprecated(args: list[str], aliases: dict[str, Alias], where: str) -> list[str]:
    """`args` with every deprecated flag replaced by its new spelling (one notice per flag)."""
    out: list[str] = []
    noticed: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        flag, eq, inline = arg.partition("=")
        alias = aliases.get(flag)
        if alias is None:
            out.append(arg)
            i += 1
            continue
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(args):
            value, i = args[i + 1], i + 2
        else:
            out.append(arg)  # no value: let click report it under the old name
            i += 1
            continue
        if flag not in noticed:
            noticed.add(flag)
            click.echo(f"andasim: {where} {flag} is deprecated and will be removed in {REMOVED_IN}; "
                       f"use {alias.new}", err=True)
        values = [v for v in value.split(",")] if alias.split else [value]
        for v in values:
            out.extend([alias.new, v])
    return out


def command(name: str | None = None, *, old_spellings: Sequence[Alias] = (), **kwargs: Any) -> F:
    """`click.command` for a subcommand that uses the shared vocabulary (and accepts `old_spellings`)."""
    kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
    return click.command(name, cls=UnifiedCommand, old_spellings=old_spellings, **kwargs)
