"""Error types shared by every layer.

A user mistake (bad config, bad spec, bad trace file, bad CLI value) raises a subclass of
`AndasimInputError`; the CLI turns it into one line on stderr and exit code 2. Anything else is
a bug in andasim and keeps its traceback.
"""

from __future__ import annotations


class AndasimInputError(ValueError):
    """Invalid user input. The message is one line that names what is wrong and what is valid."""


class ConfigError(AndasimInputError):
    """A configuration file is malformed. Formats as `file:line: key 'a.b': message`."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = file or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        shown = key if key is None or len(key) <= 60 else key[:57] + "..."
        key_part = f" key '{shown}':" if key else ""
        super().__init__(f"{where}:{key_part} {message}")


class FormatSpecError(AndasimInputError):
    """A number-format spec string cannot be parsed or has invalid parameters."""


class TraceError(AndasimInputError):
    """A trace file is missing, corrupt, truncated or inconsistent."""
