"""Design-space exploration: sweeps of designs, workloads and precisions, and their Pareto fronts.

This layer sits above `sim/` and below `report/` and `cli/`. It expands a sweep spec into points
(`spec.py`), applies design overrides by dotted key and validates them through the hardware
schema (`overrides.py`), evaluates points by calling `simulate` (`worker.py`) on an executor
(`executors.py`: in-process, a local process pool, or Dask), keeps every finished point in a
content-hashed journal (`store.py`), marks Pareto fronts (`pareto.py`) and lays the results out
as one tidy table (`table.py`). `run.py` ties them together; `api.py` is the Python entry point.
"""
