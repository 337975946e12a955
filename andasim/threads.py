"""One thread setting for every numerical runtime in the process: BLAS, OpenMP, numba and torch.

Why: on a small shared machine the libraries' own defaults fight each other. numpy's OpenBLAS
starts one thread per core for every product, however small, and its idle threads spin for about
0.1 s after each call before they sleep; torch's and numba's OpenMP runtimes (libgomp) spin too.
Measured before this module existed (issue 17): the proxy precision search took 9.7–15.5 s wall
with OpenBLAS's default threads and 4.6–6.2 s with `OPENBLAS_NUM_THREADS=1`.

Three tools, all cheap to call:

* `set_threads(n)` — the `--threads N` of every numerical CLI command. Limits the BLAS and OpenMP
  pools already loaded (through threadpoolctl), exports `OMP_NUM_THREADS` / `OPENBLAS_NUM_THREADS` /
  `MKL_NUM_THREADS` for runtimes loaded later and for child processes, sets torch's intra-op
  threads when torch is already imported, and is what `numba_threads()` hands numba's `prange`
  kernels. Default: the cores this process may run on.
* `set_passive_wait_policy()` — idle OpenMP and OpenBLAS threads sleep instead of spinning.
  Environment variables that the runtimes read **once, when they are loaded**: it takes effect
  only for a runtime not yet loaded into the process (the CLI calls it before importing numpy or
  torch; a library user calls it first thing, or exports the variables). Once `import numpy` has
  run, OpenBLAS keeps its spin time; once `import torch` (or numba's first `prange` kernel) has
  loaded libgomp, OpenMP keeps its policy. It never overrides a value the user exported.
* `single_threaded()` — a context in which BLAS and OpenMP use one thread: for products so small
  that waking threads costs more than it saves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Variables that runtimes loaded after `set_threads` (or child processes) read for their pool size.
THREAD_COUNT_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Read by libgomp / LLVM libomp / Intel libiomp and by OpenBLAS when each is loaded; see module doc.
# OPENBLAS_THREAD_TIMEOUT is log2 of the cycles an idle OpenBLAS thread spins before it sleeps
# (default 28, about 0.1 s at 2.5 GHz); 4 is the smallest value OpenBLAS accepts.
PASSIVE_WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}

_requested: int | None = None
_controller: Any = None
_controller_key: int = -1


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def current_threads() -> int:
    """The setting in force: the last `set_threads` value, else the usable cores."""
    return _requested if _requested is not None else usable_cores()


def set_passive_wait_policy() -> dict[str, str]:
    """Ask OpenMP and OpenBLAS threads to sleep when idle (only for runtimes not loaded yet).

    Returns the variables this call set; a variable the user already exported is left alone.
    """
    applied = {}
    for name, value in PASSIVE_WAIT_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            applied[name] = value
    return applied


def _thread_controller() -> Any:
    """A threadpoolctl controller of the loaded libraries, rebuilt when modules were imported since."""
    global _controller, _controller_key
    if _controller is None or _controller_key != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _controller_key = len(sys.modules)
    return _controller


def set_threads(n: int | None = None) -> int:
    """Use `n` threads (None: the usable cores) in BLAS, OpenMP, numba and torch; returns n.

    Applies to what is loaded now and, through the environment, to what is loaded later and to
    child processes. Refuses n < 1.
    """
    global _requested
    if n is None:
        n = usable_cores()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        from andasim.errors import AndasimInputError

        raise AndasimInputError(f"threads must be an integer >= 1, got {n!r}")
    _requested = n
    for name in THREAD_COUNT_ENV:
        os.environ[name] = str(n)
    torch = sys.modules.get("torch")  # None also when an import of it failed
    if sys.modules.get("numpy") is not None or torch is not None:
        _thread_controller().limit(limits=n)
    if torch is not None:
        torch.set_num_threads(n)
    return n  # numba: applied per kernel launch by numba_threads(), so its pool starts only when used


def _numba_set(n: int) -> int:
    """Set numba's thread count for this thread, capped at its pool size (NUMBA_NUM_THREADS)."""
    import numba

    n = min(n, numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)
    return n


def numba_threads() -> int:
    """Threads a numba `prange` kernel should use now; sets numba's count to it (one included: the
    format kernels run their prange variants on one thread too, see `formats/anda.py`).

    Call right before launching a parallel kernel: numba's count is per calling thread.
    """
    return _numba_set(current_threads())


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS and OpenMP limited to one thread inside the block (restored after)."""
    with _thread_controller().limit(limits=1):
        yield
