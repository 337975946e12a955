"""CPU thread counts for OpenMP, BLAS, numba and torch, with a passive OpenMP wait policy.

Why: on a shared, loaded machine an OpenMP runtime in its default (active) wait policy spins its
idle threads; an evaluation with `--threads 2` then competed with its own spinning workers and
finished nothing in 12 minutes until OMP_WAIT_POLICY=PASSIVE (issue 16). The policy is read once,
when an OpenMP runtime is loaded, so `configure_threads` must run before torch (or numba's OpenMP
layer) is imported; it then also limits runtimes already loaded: torch through
`torch.set_num_threads`, others through threadpoolctl when it is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from andasim.errors import AndasimInputError

_ENV_COUNTS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _check(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise AndasimInputError(f"--threads must be a positive integer, got {n!r}")
    return n


def configure_threads(n: int) -> None:
    """Use at most `n` threads from now on, with passive OpenMP waiting (process-wide)."""
    _check(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in _ENV_COUNTS:
        if name == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            continue  # numba reads it once at import; changing it afterwards is an error
        os.environ[name] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(n)


@contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Limit already-loaded thread pools (torch, BLAS/OpenMP via threadpoolctl) to `n` inside the block."""
    _check(n)
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    try:
        if torch is not None:
            torch.set_num_threads(n)
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(n):
                yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)
