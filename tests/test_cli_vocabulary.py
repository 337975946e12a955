"""Finding 1 of issue 14: the same flag for the same idea in every subcommand.

Walks every subcommand (nested ones included, and whatever subcommands are added later) and
checks each shared flag has the same name, type, metavar and meaning (its help starts with the
shared sentence), and that the old spellings are gone from --help but still accepted with a notice.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from andasim.cli import main, options

OLD_SPELLINGS = ("--designs", "--traces", "--profile", "--m-bits", "--anda-m")


def _commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        path = (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, ctx, path)
        else:
            yield path, cmd


ALL = list(_commands(main, click.Context(main)))
IDS = [" ".join(path) for path, _ in ALL]


def _shared(flag: str, option: click.Option) -> tuple[type, str | None, str]:
    """What a flag must look like: (type class, metavar, help prefix)."""
    return {
        "--hw": (type(click.STRING), "NAME_OR_PATH", options.HW_HELP),
        "--trace": (type(click.STRING), "NAME_OR_PATH", options.TRACE_HELP),
        "--model": (type(click.STRING), "NAME_OR_PATH", options.TRACE_HELP),
        "--precision": (type(click.STRING), "SPEC", options.PRECISION_HELP),
        "--out": (click.Path, "DIR", options.OUT_HELP),
        "--json": (click.Path, "FILE", options.JSON_HELP),
    }[flag]


def test_walk_finds_every_subcommand():
    names = {" ".join(p) for p, _ in ALL}
    assert {"run", "compare", "tp", "offload", "search", "reproduce", "validate", "trace record",
            "trace info", "trace list", "sweep", "evaluate"} <= names


@pytest.mark.parametrize("path, cmd", ALL, ids=IDS)
def test_shared_flags_have_one_name_type_and_meaning(path, cmd):
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output
    for old in OLD_SPELLINGS:
        assert old not in res.output, f"{' '.join(path)} --help still shows {old}"
    reference_threads = options.threads_option()(lambda: None).__click_params__[0]
    for param in cmd.params:
        if not isinstance(param, click.Option):
            continue
        for flag in param.opts:
            if flag == "--seq-len":
                assert (param.help or "").startswith(options.SEQ_LEN_HELP), f"{' '.join(path)} --seq-len"
            elif flag in ("--weights", "--bos"):  # the real-model protocol: one meaning wherever it is taken
                shared = options.WEIGHTS_HELP if flag == "--weights" else options.BOS_HELP
                assert (param.help or "").startswith(shared), f"{' '.join(path)} {flag}"
            elif flag == "--threads":
                assert isinstance(param.type, click.IntRange) and param.type.min == 1
                assert param.help == reference_threads.help
            elif flag in ("--hw", "--trace", "--model", "--precision", "--out", "--json"):
                type_class, metavar, help_prefix = _shared(flag, param)
                where = f"{' '.join(path)} {flag}"
                assert isinstance(param.type, type_class), where
                assert param.metavar == metavar, where
                assert (param.help or "").startswith(help_prefix), where
                if flag == "--out":
                    assert param.type.dir_okay, where
                if flag == "--json":
                    assert param.type.file_okay and not param.type.dir_okay, where
    if path == ("search",):  # --seq-len meant a window there, tokens per sequence elsewhere
        assert "--seq-len" not in res.output


def test_every_command_with_results_takes_json():
    producers = {"run", "compare", "tp", "offload", "search", "reproduce", "validate", "trace info",
                 "trace list", "sweep", "evaluate"}
    for path, cmd in ALL:
        if " ".join(path) in producers:
            assert any("--json" in p.opts for p in cmd.params if isinstance(p, click.Option)), path


@pytest.mark.parametrize("command, old, new", [
    ("compare", "--designs", "--hw"), ("compare", "--traces", "--trace"),
    ("compare", "--profile", "--precision"), ("tp", "--profile", "--precision"),
    ("tp", "--m-bits", "--precision"), ("offload", "--anda-m", "--precision"),
    ("search", "--seq-len", "--window"),
])
def test_old_spellings_map_to_the_new_flag_with_one_notice(command, old, new, capsys):
    cmd = main.get_command(click.Context(main), command)
    assert isinstance(cmd, options.UnifiedCommand)
    args = options.rewrite_deprecated([old, "a,b", f"{old}=c"], cmd.old_spellings, f"andasim {command}")
    split = cmd.old_spellings[old].split
    assert args == ([new, "a", new, "b", new, "c"] if split else [new, "a,b", new, "c"])
    err = capsys.readouterr().err
    assert err.count("deprecated") == 1 and f"andasim {command} {old} is deprecated" in err
