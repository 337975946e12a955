"""Keep scipy out of numba's start-up in andasim's own processes (the CLI).

Why: the first numba function a process compiles or loads from the cache initialises numba's CPU target,
which imports `numba.np.arraymath`; that module probes `import scipy.linalg.cython_blas` once, to decide
whether numba-compiled `np.dot` of 1-D float arrays may call BLAS. Importing scipy.linalg costs 0.2–0.4 s
(it drags in numpy.f2py), about a quarter of a warm `andasim run`, and andasim's kernels call no BLAS.

`keep_scipy_out_of_numba_init()` installs an import hook that refuses `scipy.linalg` only while
`numba.np.arraymath` is being imported and scipy.linalg is not loaded yet; numba then records "no BLAS" and
compiles 1-D `np.dot` as a plain loop (no andasim kernel uses it). Every other import of scipy — the
offloading LP solver, a user's code — goes through normally, before or after. (numba's own `import scipy`
for its version check stays: about 16 ms, without scipy.linalg.) Applied by the CLI and in the sweep's
spawned local worker processes only: a library user whose own numba code relies on BLAS-backed `np.dot`
is not affected (nor are Dask workers, which are the user's processes).
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

_PROBING_MODULE = "numba.np.arraymath"


class _NoScipyDuringNumbaInit(importlib.abc.MetaPathFinder):
    """Refuses `scipy.linalg` while numba's arraymath module is half-imported (its BLAS probe)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "scipy.linalg" and name not in sys.modules:
            probing = sys.modules.get(_PROBING_MODULE)
            if probing is not None and "_HAVE_BLAS" not in vars(probing):
                raise ModuleNotFoundError(
                    "scipy.linalg is not imported during numba's start-up (andasim/startup.py)", name=name)
        return None


def keep_scipy_out_of_numba_init() -> None:
    """Install the hook once (first in sys.meta_path); harmless when numba is already initialised."""
    if not any(isinstance(f, _NoScipyDuringNumbaInit) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoScipyDuringNumbaInit())


def freeze_startup_objects() -> None:
    """Move every object alive now (the imported modules: numpy's, numba's, andasim's) into the garbage
    collector's permanent generation.

    Why: the mapper allocates thousands of small objects per GeMM (candidate tilings), which triggers
    collections that scan every object the imports created. In a fresh `andasim run` that cost ~70 ms
    of a ~0.5 s command (measured: 0.51-0.59 s wall without, 0.44-0.47 s with; docs/performance.md).
    Objects created later are collected as usual; frozen ones are never freed, which for import-time
    objects of a short command is what would happen anyway. Called by CLI commands after their imports.
    """
    import gc

    gc.freeze()


def prepare_worker_process() -> None:
    """Initializer of the sweep's spawned local workers (andasim's own processes): scipy.linalg kept out of
    numba's start-up, the simulation's modules imported, and that import-time heap frozen, so that the
    mapper's allocations on every point do not rescan it (about 10-15% of a point's CPU, measured on
    100 LLaMA-7B points)."""
    import importlib

    keep_scipy_out_of_numba_init()
    for module in ("andasim.explore.worker", "andasim.hw.energy", "andasim.sim.simulate"):  # every task's
        importlib.import_module(module)
    freeze_startup_objects()
