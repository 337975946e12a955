"""andasim: a cycle-level simulator of Anda-style LLM inference accelerators.

Public entry points (see docs and ARCHITECTURE.md):
`load_hw`, `load_trace`, `simulate`, `search_precision`, `sweep`, and `andasim.formats.get`.
Heavy layers are imported on first use so that `import andasim` stays cheap.
"""

from __future__ import annotations

from typing import Any

from andasim.threads import set_passive_wait_policy

__version__ = "0.1.0"

# Idle OpenMP/OpenBLAS threads sleep instead of spinning; effective only for runtimes not loaded yet,
# so `import andasim` before numpy/torch (the CLI does). See andasim/threads.py.
set_passive_wait_policy()

_LAZY = {
    "load_hw": "andasim.hw.config",
    "HardwareConfig": "andasim.hw.config",
    "PrecisionProfile": "andasim.workload.precision",
    "GeMM": "andasim.workload.gemm",
    "load_trace": "andasim.workload.trace",
    "load_card": "andasim.workload.card",
    "simulate": "andasim.api",
    "load_workload": "andasim.workload.loaders",
    "search_precision": "andasim.search.api",
    "sweep": "andasim.explore.api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'andasim' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
