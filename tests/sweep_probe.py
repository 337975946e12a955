"""A function for a spawned sweep worker to run, in a module that does not import `andasim.cli` (whose
import would install the start-up hook in the worker by itself and hide what the executor does)."""

from __future__ import annotations

import sys


def numba_started_without_scipy_linalg(_batch: int) -> bool:
    """Start numba in this process (a cached format kernel); True if scipy.linalg stayed out."""
    import numpy as np

    from andasim.formats import anda_quantize

    anda_quantize(np.ones((1, 64), np.float16), 4)
    return "scipy.linalg" not in sys.modules


def heap_frozen(_batch: int) -> bool:
    """True if this worker's import-time heap was frozen before its first task (andasim/startup.py)."""
    import gc

    return gc.get_freeze_count() > 10000
