"""Shared machinery of the fuzz suite (issue 19): hostile values, CLI argument strategies, the oracle.

The oracle is the promise every command makes: exit code 0, or exit code 2 with at most three
non-empty lines of output and no traceback, within a time bound. Commands run in-process (Click's
CliRunner) so that a case costs milliseconds; a SIGALRM timer turns a hang into a failure.

Arguments are generated from each command's own Click parameters (so a subcommand added later is
fuzzed without changes here): every option gets either a plausible value (from `PLAUSIBLE`, chosen
to make a valid run fast) or a hostile one (`HOSTILE_TEXT`, hostile paths, absurd numbers).
Outputs only ever go into the test's temporary folder, never over a real file.
"""

from __future__ import annotations

import os
import signal
import string
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from andasim.cli import SUBCOMMANDS, main

CASE_TIMEOUT_S = 120         # a case that runs longer is a hang (generous: the machine is shared and loaded)
MAX_ERROR_LINES = 3
# Documented result codes besides 0 and 2: `search` exits 1 when nothing met the tolerance.
RESULT_EXITS = {("search", 1): "no combination met the tolerance"}

HOSTILE_TEXT = ["", " ", ",", ",,", "-", "--", "abc", "0", "-1", "1e308", "-1e308", "nan", "inf", "-inf",
                "1000000000000", str(2**63), str(10**40), "0x10", "1_000", "7,6", "6,6", "qkv,qkv", "../x",
                "../../etc/passwd", "a" * 300, "ÿ\u202e", "%s%n", "{}", "[1]", "null", "~", "*a", "&a x",
                "!!python/object:os.system", "1;rm -rf /", "$(id)"]
# Small valid values that keep a valid run fast, keyed by option name (without leading dashes).
PLAUSIBLE: dict[str, list[str]] = {
    "hw": ["pe64", "anda", "fp_fp", "pe64,fp_fp"], "baseline": ["fp_fp"],
    "trace": ["llama2-7b", "opt1.3b"], "model": ["opt-125m", "opt-1.3b"],
    "preset": ["t4-flexgen", "anda-system"], "seq-len": ["1", "16", "64"], "batch": ["1", "2"],
    "kv-len": ["16", "64"], "chips": ["1", "2", "2,4"], "error-chips": ["1,2"], "m-bits": ["6", "7,6,5,4"],
    "precision": ["7,6,6,6", "anda-paper/wikitext2/1pct"], "modules": ["qkv,o", "qkv,o,up,down,vector"],
    "phase": ["decode", "prefill"], "tolerance": ["1%", "0.01"], "max-evals": ["1", "2"],
    "gpu-batch-size": ["1", "8"], "num-gpu-batches": ["1", "2"], "max-gpu-batch-size": ["4", "8"],
    "max-num-gpu-batches": ["2"], "prompt-len": ["16", "64"], "gen-len": ["4"], "format": ["bf16"],
    "group": ["64", "1"], "outlier-ratio": ["6", "1"], "threads": ["1"], "calib-frac": ["0.5"],
    "percent": ["100 0 100 0 100 0"], "workers": ["1", "2"], "chunk": ["1", "4"], "sample": ["2", "3"],
    "set": ["pe_array.rows=8,16", "dram.bw_gb_per_s=128,1e30", "clock.freq_mhz=nan", "precision=4..8",
            "pe_array.rows=0", "nokey=1", "buffers.output.size_kib=0.0001"],
    "pareto": ["latency_s,energy_j", "latency_s,nope"],
}
# Values that would start a long, valid run (a real model, the full paper evaluation): never used.
NEVER_VALID = {("search", "model"), ("trace record", "model"), ("reproduce", "paper")}
# Choices never drawn: a Dask cluster (processes, sockets) is not something to start from a test.
NEVER_CHOSEN = {("sweep", "backend"): {"dask"}}


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    output: str
    exception: BaseException | None


class CaseTimeout(BaseException):
    """A case ran past CASE_TIMEOUT_S (BaseException: CliRunner must not swallow it)."""


@contextmanager
def time_bound(seconds: float):
    def _raise(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def invoke(args: list[str], timeout_s: float = CASE_TIMEOUT_S) -> Outcome:
    from andasim.threads import THREAD_COUNT_ENV, current_threads, set_threads

    threads, env = current_threads(), {k: os.environ.get(k) for k in THREAD_COUNT_ENV}
    try:
        with time_bound(timeout_s):
            res = CliRunner().invoke(main, args, catch_exceptions=True)
    except CaseTimeout:  # an AssertionError, so that hypothesis reports the arguments
        raise AssertionError(f"andasim {' '.join(repr(a)[:80] for a in args)}: no answer within "
                             f"{timeout_s} s") from None
    finally:  # `--threads` changes this process's thread pools: put them back
        set_threads(threads)
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Outcome(res.exit_code, res.output, res.exception)


def check_outcome(args: list[str], out: Outcome) -> None:
    """The oracle: exit 0, or exit 2 with <= 3 non-empty lines and no traceback."""
    shown = " ".join(repr(a)[:80] for a in args)
    exc = out.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"andasim {shown}: crashed with {type(exc).__name__}: {str(exc)[:300]}")
    assert "Traceback" not in out.output, f"andasim {shown}: traceback in output"
    documented = RESULT_EXITS.get((args[0] if args else "", out.exit_code))
    if documented is not None and documented in out.output:
        return
    assert out.exit_code in (0, 2), f"andasim {shown}: exit code {out.exit_code}: {out.output[-500:]}"
    if out.exit_code == 2:  # deprecation notices of old spellings are warnings, not part of the error
        lines = [ln for ln in out.output.splitlines() if ln.strip() and " is deprecated " not in ln]
        assert len(lines) <= MAX_ERROR_LINES, f"andasim {shown}: {len(lines)} lines:\n{out.output[:2000]}"


# --- hostile files ----------------------------------------------------------------------------


def hostile_files(base: Path) -> dict[str, list[str]]:
    """Prepared hostile inputs and outputs under `base` (inputs may also name read-only system files)."""
    base.mkdir(parents=True, exist_ok=True)
    fifo = base / "fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    (base / "binary.yaml").write_bytes(bytes(range(256)) * 8)
    (base / "plain.txt").write_text("just text\n", encoding="utf-8")
    (base / "passwd.yaml").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (base / "bomb.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                                    "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", encoding="utf-8")
    (base / "deep.yaml").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    (base / "empty.yaml").write_text("", encoding="utf-8")
    (base / "garbage.jsonl").write_bytes(b"\x00\xff{not json\n\x89PNG\r\n")
    (base / "a_dir").mkdir(exist_ok=True)
    inputs = [str(fifo), str(base / "binary.yaml"), str(base / "plain.txt"), str(base / "passwd.yaml"),
              str(base / "bomb.yaml"), str(base / "deep.yaml"), str(base / "empty.yaml"),
              str(base / "garbage.jsonl"), str(base / "a_dir"), str(base / "missing.yaml"), "/dev/zero",
              "/dev/null", "/proc/self/status", "/etc/passwd", "/"]
    outputs = [str(base / "plain.txt" / "sub"), str(base / "plain.txt"), str(base / "a_dir"), str(fifo),
               "/proc/andasim_fuzz", "/sys/andasim_fuzz", "/dev/null", "", str(base / "out" / "x.json")]
    return {"inputs": inputs, "outputs": outputs}


# --- CLI argument strategies ------------------------------------------------------------------


def leaf_commands() -> dict[str, click.Command]:
    """Every runnable (sub)command by its path after `andasim`, e.g. 'run', 'trace info'."""
    ctx = click.Context(main)
    out: dict[str, click.Command] = {}
    for name in SUBCOMMANDS:
        cmd = main.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                out[f"{name} {sub}"] = cmd.get_command(ctx, sub)  # type: ignore[assignment]
        else:
            out[name] = cmd
    return out


def _is_output(name: str) -> bool:
    """Options that name a file or folder to write (outputs never go over a real file)."""
    return name in ("out", "json", "journal", "cache") or name.endswith(("-out", "-dir", "-json"))


def _values(command: str, name: str, param: click.Parameter, files: dict[str, list[str]],
            out_dir: str) -> st.SearchStrategy[str]:
    """Plausible or hostile text for one parameter."""
    hostile = st.sampled_from(HOSTILE_TEXT) | st.text(string.printable, max_size=12)
    if _is_output(name):
        safe_out = [f"{out_dir}/{name}", f"{out_dir}/{name}.yaml"]
        # reproduce with a usable --out would start the whole paper evaluation: hostile outputs only
        choices = files["outputs"] if command == "reproduce" else files["outputs"] + safe_out
        return st.sampled_from(choices)
    plausible: list[str] = [] if (command, name) in NEVER_VALID else list(PLAUSIBLE.get(name, []))
    ptype = param.type
    numeric = isinstance(ptype, click.types.IntParamType | click.types.FloatParamType)
    if isinstance(ptype, click.Choice) and (command, name) not in NEVER_VALID:
        plausible += [str(c) for c in ptype.choices if str(c) not in NEVER_CHOSEN.get((command, name), ())]
    elif numeric:
        hostile = hostile | st.sampled_from(["0", "-1", "1", "3", "nan", "inf", str(10**12)])
        if not plausible and (command, name) not in NEVER_VALID:
            plausible = ["1", "2", "16"]
    inputs = st.sampled_from(files["inputs"])
    if not plausible:
        return st.one_of(hostile, inputs)
    # mostly plausible values, so that the commands get past parsing into their own checks
    return st.one_of(*[st.sampled_from(plausible)] * 4, hostile, *([] if numeric else [inputs]))


@st.composite
def cli_args(draw: Callable[..., Any], command: str, cmd: click.Command, files: dict[str, list[str]],
             out_dir: str, base: list[str]) -> list[str]:
    """`andasim COMMAND base... --opt value ...` with a few options drawn from the command's own."""
    args = [*command.split(), *base]
    params = [p for p in cmd.params if p.name not in ("help",)]
    chosen = draw(st.lists(st.sampled_from(params), max_size=4, unique_by=lambda p: p.name)) if params else []
    for param in chosen:
        if isinstance(param, click.Argument):
            name = param.name or "arg"
            args.append(draw(_values(command, name, param, files, out_dir)))
            continue
        assert isinstance(param, click.Option)
        flag = param.opts[0]
        name = flag.lstrip("-")
        if param.is_flag:
            args.append(draw(st.sampled_from([*param.opts, *param.secondary_opts])))
            continue
        values = [draw(_values(command, name, param, files, out_dir)) for _ in range(max(param.nargs, 1))]
        if param.nargs > 1 and name in PLAUSIBLE and draw(st.booleans()):
            values = draw(st.sampled_from(PLAUSIBLE[name])).split()
        args += [flag, *values]
    return [a for a in args if "\x00" not in a]  # argv cannot carry NUL bytes


def run_property(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int,
                 derandomize: bool = True, shrink: bool = True) -> None:
    """Run `check` on `examples` draws of `strategy` (derandomized: CI sees the same cases)."""
    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]
    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), print_blob=True, phases=phases)
    @given(strategy)
    def prop(value: Any) -> None:
        check(value)

    prop()
