"""Dataflows: how a GeMM is cut into DRAM blocks and array tiles, one module per dataflow.

The interface (what a dataflow module provides; `DATAFLOWS` registers it by name):

- `NAME`: the key under the hardware config's `dataflow` section (its parameters are declared in
  `andasim.hw.dataflow_config.DATAFLOW_PARAMS`, the strict schema; add them there too);
- `SUMMARY`: one line for tables and `--help`;
- `candidates(job, params) -> list[Mapping]`: every tiling of this dataflow that fits the
  design's buffers (empty if none does), each with its DRAM read traffic (`tiling.make_mapping`);
- `compute_cycles(job, mapping) -> int`: the closed form of the array-busy cycles of that tiling
  (docs/engine.md), used by the mapper to rank candidates and by the tests against the schedule.

A `Mapping` is plain data (block sizes, loop order, tile kind, K ways, buffer slots), and one
schedule runs all of them: the numba recurrence `schedule.run_schedule`, and cycle by cycle
`andasim.sim.reference.simulate_reference`; the tests require the two to agree on every counter
for every dataflow. A dataflow whose tiles are neither `array` nor `streamed` adds a tile kind to
both (and to docs/engine.md §4). The mapper (`andasim.sim.mapping`) only chooses among candidates.
"""

from __future__ import annotations

from types import ModuleType

from andasim.sim.dataflows import gemv_k_split, gpu_tiled, output_stationary, systolic, weight_stationary
from andasim.sim.dataflows.schedule import RAW_KEYS, run_schedule
from andasim.sim.dataflows.tiling import Mapping

DATAFLOWS: dict[str, ModuleType] = {m.NAME: m for m in (output_stationary, gemv_k_split, weight_stationary,
                                                         gpu_tiled, systolic)}

__all__ = ["DATAFLOWS", "RAW_KEYS", "Mapping", "run_schedule"]
