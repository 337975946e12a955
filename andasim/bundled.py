"""Where the bundled hardware configs and traces are.

They live at the top of the repository (`hw_configs/`, `traces/`). A regular install copies
them into the package as `andasim.bundled_hw_configs` / `andasim.bundled_traces`; a source
checkout or editable install reads them in place.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def bundled_dir(kind: str) -> Traversable:
    """The folder of bundled `hw_configs` or `traces`."""
    if kind not in ("hw_configs", "traces"):
        raise ValueError(f"unknown bundled folder {kind!r}")
    in_tree = _REPO_ROOT / kind
    if in_tree.is_dir() and (_REPO_ROOT / "pyproject.toml").is_file():
        return in_tree
    return resources.files(f"andasim.bundled_{kind}")
