"""Append-only JSONL journal of a precision search, so that an interrupted search resumes.

Line 1 is a header with the full search configuration; every later line is one event (the
reference evaluation or one candidate evaluation), written with flush + fsync before the search
goes on, so a kill loses at most the evaluation in flight. Reopening a journal with the same
configuration replays its evaluations instead of recomputing them; a different configuration is
refused, because replaying measurements taken under other settings would silently mix results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError
from andasim.safe_read import read_regular_file, regular_file_size

JOURNAL_VERSION = 1
MAX_JOURNAL_BYTES = 64 * 2**20  # a 32-evaluation search writes ~20 KiB


def _is_header(record: dict[str, Any]) -> bool:
    return record.get("type") == "header" and isinstance(record.get("config"), dict)


def _parse_record(line: bytes, path: Path | str, number: int) -> dict[str, Any] | None:
    """One journal line as a record; None when it is not valid JSON (the caller decides)."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep for the parser
        return None
    if number == 1 and not _is_header(record if isinstance(record, dict) else {}):
        raise AndasimInputError(f"{path}: not a search journal (no header line); use another journal file")
    if not isinstance(record, dict) or not isinstance(record.get("type"), str) or (
            record["type"] in ("eval", "heldout") and not isinstance(record.get("key"), str)):
        raise AndasimInputError(f"{path}:{number}: not a search journal record; use another journal file")
    return record


def evaluation_key(combination: tuple[int, ...], per_layer: dict[int, dict[str, int]] | None) -> str:
    """Canonical identity of an evaluated profile (module widths + per-layer overrides)."""
    layers = {str(k): dict(sorted(v.items())) for k, v in sorted((per_layer or {}).items())}
    return json.dumps({"c": list(combination), "l": layers}, sort_keys=True, separators=(",", ":"))


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True))


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b or a[key] != b[key]:
                sub = f"{path}.{key}" if path else key
                if key in a and key in b:
                    return _first_difference(a[key], b[key], sub)
                return sub
    return path or "<config>"


class Journal:
    """One search's evaluations on disk. Use `Journal.open(path, config)`."""

    def __init__(self, path: Path, config: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self.path = path
        self.config = config
        self._events = events
        self._evals = {e["key"]: e for e in events if e["type"] == "eval"}
        self._reference = next((e for e in events if e["type"] == "reference"), None)
        self._shared: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, path: Path | str, config: dict[str, Any]) -> Journal:
        """Create the journal, or reopen it for replay after checking that its config matches."""
        path = Path(path)
        config = _canonical(config)
        if path.exists() or path.is_symlink():
            regular_file_size(path)  # a FIFO or device would block or never end
        if not path.exists() or path.stat().st_size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            journal = cls(path, config, [])
            journal._write({"type": "header", "version": JOURNAL_VERSION, "config": config})
            return journal
        raw = read_regular_file(path, max_bytes=MAX_JOURNAL_BYTES, what="search journal")
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            # A kill in the middle of a write leaves one unterminated line: drop it, keep the rest.
            lines.pop()
            with path.open("r+b") as fh:
                fh.truncate(len(raw) - len(raw.rsplit(b"\n", 1)[-1]))
        records = []
        for number, line in enumerate(lines, start=1):
            record = _parse_record(line, path, number)
            if record is None:
                raise AndasimInputError(f"{path}:{number}: journal line is not valid JSON; "
                                        "move the file away to start a fresh search")
            records.append(record)
        if not records or not _is_header(records[0]):
            raise AndasimInputError(f"{path}: not a search journal (no header line); use another --journal")
        if records[0].get("version") != JOURNAL_VERSION:
            raise AndasimInputError(f"{path}: journal version {records[0].get('version')!r}, "
                                    f"this andasim writes {JOURNAL_VERSION}")
        if records[0]["config"] != config:
            key = _first_difference(records[0]["config"], config)
            raise AndasimInputError(f"{path}: journal was written by a search with a different "
                                    f"configuration (first difference at '{key}'); rerun with the same "
                                    "options or use a new --journal")
        return cls(path, config, records[1:])

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    @property
    def reference(self) -> dict[str, Any] | None:
        return self._reference

    def record_reference(self, metric: float, wall_s: float, window_nll: list[float] | None = None) -> None:
        self._reference = {"type": "reference", "metric": metric, "wall_s": wall_s}
        if window_nll is not None:
            self._reference["window_nll"] = [float(v) for v in window_nll]
        self._write(self._reference)

    def lookup(self, key: str) -> dict[str, Any] | None:
        """This journal's evaluation of `key`, if any."""
        return self._evals.get(key)

    def lookup_shared(self, key: str) -> dict[str, Any] | None:
        """An evaluation of `key` in a reused journal (see `reuse`); it carries its `source` path."""
        return self._shared.get(key)

    def reuse(self, paths: list[str]) -> int:
        """Make the evaluations of other journals with the SAME evaluator settings available for replay.

        Measurements do not depend on the tolerance or the algorithm, so searches at several δ (or the
        published and improved procedures) can share them. Returns the number of shareable evaluations.
        """
        mine = self.config.get("evaluator")
        for path in paths:
            config, events = read_journal(path)
            if config.get("evaluator") != mine:
                key = _first_difference(config.get("evaluator"), mine)
                raise AndasimInputError(f"{path}: cannot reuse its evaluations: evaluator settings differ "
                                        f"(first difference at 'evaluator.{key}')")
            for e in events:
                if e["type"] == "eval" and e["key"] not in self._shared:
                    self._shared[e["key"]] = {**e, "source": str(e.get("reused_from", path))}
            ref = next((e for e in events if e["type"] == "reference"), None)
            if self._reference is None and ref is not None:
                self.record_reference(float(ref["metric"]), float(ref["wall_s"]), ref.get("window_nll"))
        return len(self._shared)

    def record_eval(self, record: dict[str, Any]) -> None:
        record = {"type": "eval", **record}
        self._evals[record["key"]] = record
        self._events.append(record)
        self._write(record)

    def lookup_heldout(self, key: str) -> dict[str, Any] | None:
        """A journaled held-out measurement (final report), by evaluation key or "reference"."""
        return next((e for e in self._events if e["type"] == "heldout" and e["key"] == key), None)

    def record_heldout(self, key: str, metric: float, wall_s: float, window_nll: list[float] | None = None,
                       ) -> None:
        record = {"type": "heldout", "key": key, "metric": metric, "wall_s": wall_s}
        if window_nll is not None:
            record["window_nll"] = [float(v) for v in window_nll]
        self._events.append(record)
        self._write(record)

    def evaluations(self) -> list[dict[str, Any]]:
        """The journaled evaluations, in the order they were made."""
        return [e for e in self._events if e["type"] == "eval"]


def read_journal(path: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config, events) of a journal, read-only (for reports and agreement studies)."""
    raw = read_regular_file(path, max_bytes=MAX_JOURNAL_BYTES, what="search journal")
    lines = [ln for ln in raw.split(b"\n") if ln.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        record = _parse_record(line, path, number)
        if record is None:
            if number < len(lines):
                raise AndasimInputError(f"{path}:{number}: journal line is not valid JSON")
            break  # a torn last line
        records.append(record)
    if not records or not _is_header(records[0]):
        raise AndasimInputError(f"{path}: not a search journal (no header line)")
    return records[0]["config"], records[1:]
