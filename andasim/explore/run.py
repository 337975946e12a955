"""Run a sweep into a folder: resolve every point, simulate what the journal lacks, write the table.

Outputs in OUT: `results.csv` (always), `results.parquet` (with the `sweep` extra), `points.jsonl`
(the journal of simulated points) and `sweep.json` (the spec, the columns and what they mean).
Rerunning the same command after an interruption simulates only the missing points and writes
the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from andasim.atomic_io import write_atomic
from andasim.errors import AndasimInputError
from andasim.explore.executors import BACKENDS, default_workers, require_dask, run_batches
from andasim.explore.hashing import canonical_json, engine_version
from andasim.explore.pareto import check_objectives, pareto_mask
from andasim.explore.points import Point, Task, expand
from andasim.explore.spec import SweepSpec
from andasim.explore.store import PointStore
from andasim.explore.table import COLUMN_DOCS, build_rows, csv_text, have_parquet, write_parquet
from andasim.explore.worker import evaluate_batch

MAX_BATCH = 64  # points per executor task: big enough to hide task overhead, small enough to resume


@dataclass
class SweepOutcome:
    """What a sweep produced and how much of it was simulated now."""

    columns: list[str]
    rows: list[dict[str, Any]]
    points: list[Point]
    simulated: int  # points simulated by this call
    reused: int     # distinct points found in the journal
    failed: int     # rows with an error
    files: list[Path]


def batch_size(n_tasks: int, workers: int) -> int:
    """About eight tasks per worker, at most MAX_BATCH points each."""
    return max(1, min(MAX_BATCH, math.ceil(n_tasks / (8 * max(1, workers)))))


def run_sweep(spec: SweepSpec, out_dir: Path | str, *, backend: str = "local", workers: int | None = None,
              scheduler: str | None = None, chunk: int | None = None, parquet: bool | None = None,
              progress: Callable[[int, int], None] | None = None,
              on_start: Callable[[int, int], None] | None = None) -> SweepOutcome:
    """Run `spec` into `out_dir`; see the module docstring for what is written.

    `parquet`: None writes Parquet when pandas and pyarrow are installed, True requires it.
    `on_start(total, already_done)` is called once the points are resolved, `progress(done, total)`
    after each finished batch (both count distinct points).
    """
    if backend not in BACKENDS:
        raise AndasimInputError(f"--backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "dask":
        require_dask()
    elif scheduler is not None:
        raise AndasimInputError("--scheduler needs --backend dask")
    if parquet and not have_parquet():
        write_parquet(Path(out_dir) / "results.parquet", [], [])  # raises, naming the extra
    if workers is not None and workers < 1:
        raise AndasimInputError(f"--workers must be >= 1, got {workers}")
    if chunk is not None and chunk < 1:
        raise AndasimInputError(f"--chunk must be >= 1, got {chunk}")
    objectives = check_objectives(spec.pareto) if spec.pareto else ()
    n_workers = workers or default_workers()
    points = expand(spec)
    out = Path(out_dir)
    with PointStore(out) as store:
        tasks: dict[str, Task] = {}
        for p in points:
            if p.key not in store.done:
                tasks.setdefault(p.key, p.task)
        distinct = len({p.key for p in points})
        reused = distinct - len(tasks)
        if on_start is not None:
            on_start(distinct, reused)
        todo = list(tasks.values())
        size = chunk or batch_size(len(todo), n_workers)
        batches = [todo[i:i + size] for i in range(0, len(todo), size)]
        done = reused
        for outcomes in run_batches(evaluate_batch, batches, backend=backend, workers=n_workers,
                                    scheduler=scheduler):
            store.append(outcomes)
            done += len(outcomes)
            if progress is not None:
                progress(done, distinct)
        simulated = store.appended
        columns, rows = build_rows(points, store.done, spec.swept_keys)
    if objectives:
        values = np.array([[np.nan if r[o] is None else r[o] for o in objectives] for r in rows],
                          dtype=float).reshape(len(rows), len(objectives))
        mask = pareto_mask(values, objectives)
        for row, on_front in zip(rows, mask, strict=True):
            row["pareto"] = bool(on_front)
        columns.insert(columns.index("bundled_design"), "pareto")
    files = [write_atomic(out / "results.csv", csv_text(columns, rows))]
    if parquet or (parquet is None and have_parquet()):
        files.append(write_parquet(out / "results.parquet", columns, rows))
    meta = {"spec": spec.to_dict(), "engine_version": engine_version(), "points": len(rows),
            "distinct_points": len({p.key for p in points}), "columns": columns,
            "column_docs": {c: COLUMN_DOCS[c] for c in columns if c in COLUMN_DOCS},
            "pareto_objectives": list(objectives)}
    files.append(write_atomic(out / "sweep.json", canonical_json(meta) + "\n"))
    failed = sum(1 for r in rows if r["error"])
    return SweepOutcome(columns=columns, rows=rows, points=points, simulated=simulated, reused=reused,
                        failed=failed, files=files)


def front_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("pareto")]
