"""`andasim.sweep(...)`: a design-space sweep from Python, returned as a pandas DataFrame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from andasim.explore.spec import DEFAULT_MODULES, SweepSpec


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int):
        return (value,)
    return tuple(value)


def sweep(hw: str | Sequence[str], *, out: Path | str, trace: str | Sequence[str] | None = None,
          model: str | Sequence[str] | None = None,
          overrides: Mapping[str, Sequence[Any] | Any] | None = None,
          points: Sequence[Mapping[str, Any]] | None = None, precision: str | Sequence[str] = "default",
          phase: str | Sequence[str] = "prefill", seq_len: int | Sequence[int] = 2048,
          batch: int | Sequence[int] = 1, modules: Sequence[str] = DEFAULT_MODULES,
          sample: int | None = None, seed: int = 0, pareto: Sequence[str] = (), backend: str = "local",
          workers: int | None = None, scheduler: str | None = None) -> Any:
    """Run a sweep into the folder `out` (resumable) and return its table as a DataFrame.

    `overrides` maps dotted design keys to lists of values (the cross product), e.g.
    `{"pe_array.rows": [8, 16], "dram.bw_gb_per_s": [128, 256]}`; `points` lists override sets
    instead. Needs the `sweep` extra (pandas). Example:

        df = andasim.sweep("anda", trace="llama7b", overrides={"pe_array.rows": [8, 16]}, out="out/sw")
    """
    from andasim.explore.run import run_sweep
    from andasim.explore.table import dataframe, require_pandas

    require_pandas("andasim.sweep()")
    axes = tuple((k, _tuple(v)) for k, v in (overrides or {}).items())
    spec = SweepSpec(designs=_tuple(hw), workloads=_tuple(trace) + _tuple(model),
                     phases=_tuple(phase), seq_lens=_tuple(seq_len), batches=_tuple(batch),
                     precisions=tuple(str(p) for p in _tuple(precision)), modules=tuple(modules),
                     axes=axes, points=tuple(tuple(p.items()) for p in points or ()), sample=sample,
                     seed=seed, pareto=tuple(pareto), source="andasim.sweep()")
    outcome = run_sweep(spec, out, backend=backend, workers=workers, scheduler=scheduler)
    return dataframe(outcome.columns, outcome.rows)
