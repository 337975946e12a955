"""The journal of finished points: nothing lost after a crash, nothing simulated twice.

`OUT/points.jsonl` holds one line per simulated point, `{"key": content hash, "metrics": {...}}`
or `{"key": ..., "error": "..."}`, appended once per finished batch and flushed to disk
(`fsync`). A line counts only when it is complete (newline-terminated, valid JSON), so a process
killed mid-write loses at most the points of the batch being written; the torn tail is cut off
before the next append. A rerun reads the journal, skips every key it holds and simulates only the
rest. Because each key is appended only when it is missing, the journal is also the proof that no
point ran twice. A lock file refuses a second sweep writing into the same folder at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError

JOURNAL = "points.jsonl"
LOCK = ".sweep.lock"


class PointStore:
    """Finished points of a sweep folder, keyed by content hash."""

    def __init__(self, out_dir: Path | str) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / JOURNAL
        self._lock_fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise AndasimInputError(f"--out {self.dir}: another andasim sweep is writing into this folder; "
                                    "wait for it or choose another --out") from None
        self.done: dict[str, dict[str, Any]] = {}
        self.appended = 0
        self._load()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _load(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        good_end = 0
        pos = 0
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:
                break  # a torn last line (killed mid-write): dropped below
            try:
                record = json.loads(data[pos:end])
                if isinstance(record, dict) and isinstance(record.get("key"), str) and (
                        "metrics" in record or "error" in record):
                    self.done.setdefault(record["key"], record)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                pass  # a damaged line: that point is simply simulated again
            pos = end + 1
            good_end = pos
        if good_end < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)

    def append(self, outcomes: list[tuple[str, dict[str, Any]]]) -> None:
        """Persist a finished batch: one write, then fsync."""
        lines = []
        for key, outcome in outcomes:
            if key in self.done:
                continue
            record = {"key": key, **outcome}
            self.done[key] = record
            lines.append(json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n")
        if not lines:
            return
        data = memoryview("".join(lines).encode())
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)
        self.appended += len(lines)

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._lock_fd)

    def __enter__(self) -> PointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_keys(out_dir: Path | str) -> list[str]:
    """Every key in a sweep folder's journal, in the order appended (duplicates included)."""
    path = Path(out_dir) / JOURNAL
    keys = []
    for line in path.read_bytes().split(b"\n"):
        if line.strip():
            keys.append(json.loads(line)["key"])
    return keys
