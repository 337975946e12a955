"""Read a user-named input file without trusting it: regular files only, size capped.

Configs, journals and traces are named on the command line, so they may be anything: a FIFO
(reading it would block forever), `/dev/zero` (endless), a directory, or a multi-gigabyte file.
Every reader of user files goes through `read_regular_file`, which opens without blocking,
refuses anything that is not a regular file and reads at most `max_bytes`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from andasim.errors import AndasimInputError

MIB = 2**20


class InputFileError(AndasimInputError):
    """A user-named file cannot be read: missing, not a regular file, too large, unreadable."""

    def __init__(self, message: str, *, file: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


def regular_file_size(path: Path | str) -> int:
    """Size in bytes of `path`, refusing what is not a regular file (without opening it)."""
    name = str(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputFileError("file not found", file=name) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise InputFileError(f"cannot read file: {reason}", file=name) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, device or socket)"
        raise InputFileError(f"is {kind}; give a regular file", file=name)
    return st.st_size


def read_regular_file(path: Path | str, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of `path`, refused unless it is a regular file of at most `max_bytes`."""
    name = str(path)
    regular_file_size(name)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    try:
        st = os.fstat(fd)  # the file may have been swapped between stat and open
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError("is not a regular file; give a regular file", file=name)
        if st.st_size > max_bytes:
            raise InputFileError(f"is {st.st_size} bytes; a {what} may be at most {max_bytes} bytes",
                                 file=name)
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise InputFileError(f"grew past {max_bytes} bytes while being read", file=name)
    return data


def read_head(path: Path | str, n_bytes: int = 4096) -> bytes:
    """The first `n_bytes` of a regular file, for sniffing its format; b"" for anything else.

    Never blocks: a FIFO or device is not opened for reading at all.
    """
    try:
        regular_file_size(path)
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (AndasimInputError, OSError):
        return b""
    try:
        return os.read(fd, n_bytes) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def read_text_file(path: Path | str, *, max_bytes: int, what: str = "file") -> str:
    """`read_regular_file` decoded as UTF-8, with a one-line error for binary content."""
    data = read_regular_file(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"is not UTF-8 text (byte {exc.start}); a {what} is a text file",
                             file=str(path)) from None


def short(value: object, limit: int = 24) -> str:
    """`repr(value)` cut to `limit` characters: errors never echo a whole (maybe secret) value."""
    if isinstance(value, (dict, list, tuple, set)):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
