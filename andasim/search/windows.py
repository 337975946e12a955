"""Which token windows a perplexity is measured on: a stated, reproducible protocol.

A window selection is `WHERE:N`:

- `last:N`   the last N non-overlapping windows of the whole corpus token stream;
- `first:N`  the first N windows of the whole stream;
- `calib:N`  the first N windows of the calibration part (first 90% of the articles);
- `heldout:N` the first N windows of the held-out part (the remaining 10%), never seen by a search;
- `WHERE:N@K` skips K windows first (from the end for `last`), e.g. `heldout:32@32` is windows
  33..64 of the held-out part: a disjoint extension of an earlier `heldout:32` measurement.

Each part (`all`, `calib`, `eval` of `workload.corpus`) is tokenized once, whole, without special
tokens. A window is `seq_len` model input tokens: with BOS, [BOS] + seq_len − 1 text tokens; without,
seq_len text tokens. Either way it predicts seq_len − 1 tokens, and consecutive windows do not
overlap in text. `last:N` aligns its windows to the end of the stream (the final token is the last
target), `first:N` and the parts to the start.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from andasim.errors import AndasimInputError

_SPEC_RE = re.compile(r"^(last|first|calib|heldout):([0-9]+)(?:@([0-9]+))?$")
PART_OF = {"last": "all", "first": "all", "calib": "calib", "heldout": "eval"}
WINDOW_CHOICES = "last:N, first:N, calib:N or heldout:N, optionally @K to skip K windows"


@dataclass(frozen=True)
class WindowSpec:
    """A parsed `WHERE:N` window selection."""

    where: str
    count: int
    skip: int = 0

    @classmethod
    def parse(cls, text: str, option: str = "--windows") -> WindowSpec:
        match = _SPEC_RE.match(str(text).strip())
        if match is None or int(match.group(2)) < 1:
            raise AndasimInputError(f"{option} {text!r}: expected {WINDOW_CHOICES} with N >= 1 "
                                    "(e.g. last:10)")
        return cls(match.group(1), int(match.group(2)), int(match.group(3) or 0))

    @property
    def part(self) -> str:
        """The corpus part (`workload.corpus` split) the windows come from."""
        return PART_OF[self.where]

    def __str__(self) -> str:
        return f"{self.where}:{self.count}" + (f"@{self.skip}" if self.skip else "")


def cut_windows(ids: np.ndarray, seq_len: int, spec: WindowSpec, bos: int | None,
                where: str) -> tuple[np.ndarray, np.ndarray]:
    """(windows [N, seq_len] int64, stream offset of each window's first text token)."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise AndasimInputError(f"--seq-len must be an integer >= 2 (tokens per window), got {seq_len!r}")
    ids = np.asarray(ids, dtype=np.int64)
    body = seq_len - 1 if bos is not None else seq_len
    need = spec.count * body
    if len(ids) < need + spec.skip * body:
        raise AndasimInputError(f"{where}: {len(ids)} tokens hold only {len(ids) // body} windows of "
                                f"{seq_len}; asked for {spec}")
    start = len(ids) - need - spec.skip * body if spec.where == "last" else spec.skip * body
    rows = ids[start:start + need].reshape(spec.count, body)
    if bos is not None:
        rows = np.concatenate([np.full((spec.count, 1), bos, dtype=np.int64), rows], axis=1)
    offsets = start + body * np.arange(spec.count, dtype=np.int64)
    return np.ascontiguousarray(rows), offsets


def tokenize_part(tokenizer: Any, corpus: str, part: str) -> np.ndarray:
    """Token ids of one corpus part, tokenized whole and without special tokens."""
    from andasim.workload.corpus import load_text

    text = load_text(corpus, split=part)
    return np.asarray(tokenizer(text, add_special_tokens=False).input_ids, dtype=np.int64)


def select_windows(tokenizer: Any, corpus: str, spec: WindowSpec, seq_len: int, bos: bool,
                   cache: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """(windows, protocol record) for a window selection; `cache` keeps tokenized parts between calls."""
    bos_id = tokenizer.bos_token_id if bos else None
    if bos and bos_id is None:
        raise AndasimInputError("--bos: this tokenizer defines no BOS token; use --no-bos")
    cache = {} if cache is None else cache
    if spec.part not in cache:
        cache[spec.part] = tokenize_part(tokenizer, corpus, spec.part)
    ids = cache[spec.part]
    rows, offsets = cut_windows(ids, seq_len, spec, bos_id, f"corpus {corpus!r} part {spec.part!r}")
    record = {"windows": str(spec), "part": spec.part, "part_tokens": len(ids), "seq_len": seq_len,
              "bos": bos_id, "predicted_tokens_per_window": seq_len - 1,
              "first_offset": int(offsets[0]), "last_offset": int(offsets[-1]),
              "token_ids_sha256_16": hashlib.sha256(rows.tobytes()).hexdigest()[:16]}
    return rows, record
