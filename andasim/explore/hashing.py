"""Content hashes of sweep points: same design, workload, profile and engine -> same key.

The key covers everything a point's numbers depend on: the validated design (every field), the
cost table that prices it, the workload (model shapes or trace checksum, phase, lengths, batch,
modules), the precision profile when the design uses one, andasim's version and a hash of the
source of the layers that compute the numbers (`sim/`, `hw/`, `workload/`). A changed engine
therefore never reuses stale points.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from andasim import __version__

_ENGINE_PACKAGES = ("sim", "hw", "workload")


@lru_cache(maxsize=1)
def engine_version() -> str:
    """andasim's version plus a short hash of the source that turns inputs into numbers."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _ENGINE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:16]}"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def content_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`, hex, 32 characters (128 bits)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:32]
