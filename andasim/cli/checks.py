"""Checks of command-line values that several commands share, run before any work starts.

An output folder or file is checked first — not after a ten-minute simulation — so that `--out`
under a regular file, in /proc or /sys, in a read-only folder or given as "" is one line and
exit code 2, never a traceback after the work is done.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from andasim.errors import AndasimInputError
from andasim.safe_read import short

_PSEUDO_FS = ("/proc", "/sys", "/dev")


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_writable_parent(target: Path, option: str, shown: str) -> None:
    """`target` (a file to write) can be created: its folders exist or can be made, on disk."""
    where = f"{option} {short(shown, 60)}"
    real = Path(os.path.realpath(target))
    if any(real == Path(p) or Path(p) in real.parents for p in _PSEUDO_FS):
        raise AndasimInputError(f"{where}: is under /{real.parts[1]}, a kernel file system; give a folder "
                                "on disk")
    base = _nearest_existing(target.parent)
    if not base.is_dir():
        raise AndasimInputError(f"{where}: {short(str(base), 60)} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise AndasimInputError(f"{where}: folder {short(str(base), 60)} is not writable")


def output_dir(value: str | os.PathLike[str], option: str = "--out") -> Path:
    """`value` as a folder that can be created or written."""
    text = os.fspath(value)
    if not text.strip():
        raise AndasimInputError(f"{option} is empty; give a folder (use . for the current folder)")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise AndasimInputError(f"{option} {short(text, 60)}: exists and is not a folder")
    _check_writable_parent(path / "x", option, text)
    return path


def output_file(value: str | os.PathLike[str], option: str) -> Path:
    """`value` as a file that can be (re)written."""
    text = os.fspath(value)
    if not text.strip():
        raise AndasimInputError(f"{option} is empty; give a file name")
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise AndasimInputError(f"{option} {short(text, 60)}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise AndasimInputError(f"{option} {short(text, 60)}: exists and is not a regular file")
    _check_writable_parent(path, option, text)
    return path


def module_list(text: str, valid: tuple[str, ...], option: str = "--modules") -> tuple[str, ...]:
    """A comma list of distinct module names from `valid`, in the order given."""
    names = [m.strip() for m in text.split(",")]
    if not text.strip() or any(not m for m in names):
        raise AndasimInputError(f"{option} {short(text)}: give a comma list without empty entries from "
                                f"{','.join(valid)}")
    unknown = [m for m in names if m not in valid]
    if unknown:
        raise AndasimInputError(f"{option}: unknown module {short(unknown[0])}; valid: {', '.join(valid)}")
    dup = next((m for i, m in enumerate(names) if m in names[:i]), None)
    if dup is not None:
        raise AndasimInputError(f"{option}: module {dup!r} is listed twice")
    return tuple(names)


class FiniteFloatRange(click.FloatRange):
    """`click.FloatRange` that also refuses NaN and ±inf (NaN slips through every comparison)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


class NonEmptyPath(click.Path):
    """`click.Path` that refuses "" (which pathlib would silently turn into the current folder)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give a path (use . for the current folder)", param, ctx)
        return super().convert(value, param, ctx)
