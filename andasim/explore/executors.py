"""Where sweep batches run, behind one small interface: in this process, a process pool, or Dask.

An executor takes a function and a list of batches and yields each batch's result as soon as it
finishes (in completion order; the sweep's table is ordered by point, not by completion). The
local pool uses `spawn` worker processes that live for the whole sweep, so each one imports
andasim and loads the engine's numba kernels once. Dask is an existing distributed engine: point
it at a running scheduler (`tcp://host:8786`, e.g. one started by dask-jobqueue on SLURM/PBS), or
let it start a local cluster of separate worker processes and tear it down afterwards.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from andasim.errors import AndasimInputError

BACKENDS = ("local", "dask")
EXTRA_HINT = "pip install 'andasim[sweep]'"


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def require_dask() -> None:
    """Fail with the extra to install when Dask distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise AndasimInputError(f"--backend dask needs dask.distributed, which is not installed; {EXTRA_HINT}"
                                ) from None


def run_local(fn: Callable[[Any], Any], batches: Sequence[Any], workers: int) -> Iterator[Any]:
    """Run batches in this process (1 worker) or in a pool of `workers` spawned processes."""
    if workers <= 1 or len(batches) <= 1:
        for batch in batches:
            yield fn(batch)
        return
    from andasim.startup import prepare_worker_process

    ctx = multiprocessing.get_context("spawn")
    # the workers are andasim's own processes: no scipy.linalg at numba's start-up (0.2-0.4 s each), and
    # their import-time heap frozen (andasim/startup.py)
    with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=ctx,
                             initializer=prepare_worker_process) as pool:
        # Keep a bounded number of batches in flight so that results stream back in step.
        pending = iter(batches)
        running = set()
        for batch in pending:
            running.add(pool.submit(fn, batch))
            if len(running) >= 2 * workers:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                nxt = next(pending, None)
                if nxt is not None:
                    running.add(pool.submit(fn, nxt))


def run_dask(fn: Callable[[Any], Any], batches: Sequence[Any], workers: int,
             scheduler: str | None) -> Iterator[Any]:
    """Run batches on a Dask cluster: `scheduler`'s, or a local one of `workers` processes."""
    require_dask()
    from distributed import Client, LocalCluster, as_completed

    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    else:
        cluster = None
    try:
        try:
            client = Client(cluster if cluster is not None else scheduler, timeout="20s")
        except OSError as exc:
            raise AndasimInputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            futures = client.map(fn, list(batches), pure=False)
            for future in as_completed(futures):
                yield future.result()
                future.release()
    finally:
        if cluster is not None:
            cluster.close()


def run_batches(fn: Callable[[Any], Any], batches: Sequence[Any], *, backend: str, workers: int,
                scheduler: str | None = None) -> Iterator[Any]:
    """Each batch's `fn(batch)`, in completion order, on the chosen backend."""
    if backend == "local":
        if scheduler is not None:
            raise AndasimInputError("--scheduler needs --backend dask")
        return run_local(fn, batches, workers)
    if backend == "dask":
        return run_dask(fn, batches, workers, scheduler)
    raise AndasimInputError(f"--backend {backend!r}; valid: {', '.join(BACKENDS)}")
